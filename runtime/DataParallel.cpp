//===- DataParallel.cpp - The hooks of data-parallel training steps -------===//
//
// Part of nnc's runtime (runtime/DataParallel.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/DataParallel.h"

using namespace nnc::rt;

namespace {
Communicator *installed = nullptr;
int64_t batchRows = 1, batchGlobalRows = 1;
} // namespace

Communicator *nnc::rt::setCommunicator(Communicator *comm) {
  Communicator *old = installed;
  installed = comm;
  return old;
}

Communicator *nnc::rt::communicator() { return installed; }

void nnc::rt::setBatchRows(int64_t rows, int64_t globalRows) {
  batchRows = rows;
  batchGlobalRows = globalRows > 0 ? globalRows : 1;
}

extern "C" int64_t nnc_dp_rank(void) { return installed ? installed->rank() : 0; }

extern "C" int64_t nnc_dp_size(void) { return installed ? installed->size() : 1; }

// TODO(issue 13, runtime helper): scale by batchRows / batchGlobalRows,
// bucket, reduce through the communicator, record errors.
extern "C" void nnc_dp_reduce_gradients(int64_t group, float *grads, int64_t count,
                                        int64_t sharded) {
  (void)group, (void)grads, (void)count, (void)sharded;
}

extern "C" void nnc_dp_gather_parameters(int64_t group, float *params, int64_t count) {
  (void)group, (void)params, (void)count;
}
