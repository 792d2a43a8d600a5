//===- DataParallel.cpp - The hooks of data-parallel training steps -------===//
//
// Part of nnc's runtime (runtime/DataParallel.h). The hooks scale this
// rank's gradient by its share of the global batch and reduce it through
// the installed communicator, which splits the buffer into buckets
// (runtime/CommMPI.h). They run after the whole backward pass (the
// generated step calls them between its backward pass and its update), so
// the reduction does not overlap the backward pass.
//
//===----------------------------------------------------------------------===//

#include "runtime/DataParallel.h"
#include "runtime/KernelsInternal.h"

#include <limits>
#include <string>

using namespace nnc::rt;

namespace {
Communicator *installed = nullptr;
int64_t batchRows = 1, batchGlobalRows = 1;

/// Reports a failed collective as the kernels' error (Model::run fails the
/// step with it) and poisons `data` so nothing reads it as a gradient.
void fail(const Status &st, const char *what, int64_t group, float *data, int64_t count) {
  nnc::kernels::reportError(std::string(what) + " of flat group " + std::to_string(group) + ": " +
                            st.message());
  if (installed && installed->engine() == "mpi")
    for (int64_t i = 0; i < count; ++i)
      data[i] = std::numeric_limits<float>::quiet_NaN();
}
} // namespace

Status Communicator::scale(float *data, int64_t count, float factor) {
  for (int64_t i = 0; i < count; ++i)
    data[i] *= factor;
  return Status::success();
}

Status Communicator::allReduceSumHost(double *, int64_t) {
  return Status::error(engine() + " communicator: host reductions go through MPI");
}

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

extern "C" void nnc_dp_reduce_gradients(int64_t group, float *grads, int64_t count,
                                        int64_t sharded) {
  if (!installed || count <= 0)
    return;
  // The compiled loss is the mean over this rank's rows: weighted by the
  // rank's share, the sum over ranks is the global batch's mean.
  if (batchRows != batchGlobalRows) {
    float share = float(double(batchRows) / double(batchGlobalRows));
    if (Status st = installed->scale(grads, count, share); st.failed())
      return fail(st, "scaling the gradients", group, grads, count);
  }
  if (installed->size() == 1)
    return;
  Status st =
      sharded ? installed->reduceScatterSum(grads, count) : installed->allReduceSum(grads, count);
  if (st.failed())
    fail(st, "reducing the gradients", group, grads, count);
}

extern "C" void nnc_dp_gather_parameters(int64_t group, float *params, int64_t count) {
  if (!installed || installed->size() == 1 || count <= 0)
    return;
  if (Status st = installed->allGather(params, count); st.failed())
    fail(st, "gathering the parameters", group, params, count);
}
