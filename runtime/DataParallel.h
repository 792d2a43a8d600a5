//===- DataParallel.h - Data-parallel training over ranks ------*- C++ -*-===//
//
// Part of nnc's runtime. A training step built for N-way data parallelism
// (`nnc build --train --ranks N [--shard opt]`, the model table's
// `data_parallel`, docs/distributed.md) calls the C hooks below from its
// generated code: between its backward pass and its optimizer update it
// hands each flat gradient buffer (codegen/FlatUpdate.h) to
// nnc_dp_reduce_gradients, and with a sharded optimizer (ZeRO-1) it updates
// only this rank's shard of the parameters and calls
// nnc_dp_gather_parameters afterwards. The hooks forward to the installed
// Communicator (MPI for CPU processes, NCCL for GPUs); without one they act
// as the only rank of one (the gradients stay as they are).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_DATAPARALLEL_H
#define NNC_RUNTIME_DATAPARALLEL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// This process's rank in the data-parallel group (0 without a communicator).
int64_t nnc_dp_rank(void);
/// The number of ranks (1 without a communicator).
int64_t nnc_dp_size(void);
/// Called by train_step once its backward pass has written every gradient
/// of flat update group `group` (0, 1, ... in the model table's order) into
/// `grads`: `count` f32 elements (on the GPU a device pointer). On return
/// `grads` holds the gradient of the global batch: every rank's gradient
/// weighted by its share of the global batch's samples
/// (nnc_dp_set_batch_rows) and summed. `sharded` = 0: in all `count`
/// elements; 1 (ZeRO-1; count is a multiple of nnc_dp_size()): at least in
/// this rank's shard, elements [rank * count / size, (rank + 1) * count /
/// size). Errors are recorded (nnc_kernels_error) and the gradients set to
/// NaN.
void nnc_dp_reduce_gradients(int64_t group, float *grads, int64_t count, int64_t sharded);
/// ZeRO-1 only: called by train_step after it updated this rank's shard of
/// flat group `group`'s parameters `params` (`count` f32 elements, a
/// multiple of nnc_dp_size()); on return every rank holds every shard
/// (all-gather).
void nnc_dp_gather_parameters(int64_t group, float *params, int64_t count);

#ifdef __cplusplus
} // extern "C"

#include "runtime/Status.h"

#include <memory>
#include <string>

namespace nnc::rt {

/// A data-parallel group's collective operations on f32 buffers (host
/// pointers on the CPU, device pointers for a GPU communicator). Each call
/// is collective: every rank makes it with the same `count`. A failure
/// (e.g. a rank died) returns an error naming the peer if known; it must
/// not hang.
class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t size() const = 0;
  /// "mpi" or "nccl".
  virtual std::string engine() const = 0;
  /// In place: data = sum over ranks.
  virtual Status allReduceSum(float *data, int64_t count) = 0;
  /// In place: rank r's shard [r*count/size, (r+1)*count/size) of `data`
  /// receives the sum over ranks of that shard (other elements: undefined).
  virtual Status reduceScatterSum(float *data, int64_t count) = 0;
  /// In place: every rank's shard of `data` is copied to every rank.
  virtual Status allGather(float *data, int64_t count) = 0;
  /// data (host) from `root` to every rank.
  virtual Status broadcast(void *data, int64_t bytes, int64_t root) = 0;
  /// Waits until every rank reached it.
  virtual Status barrier() = 0;
  /// In place: data *= factor (this rank only; device memory for a GPU
  /// communicator). The host loop by default.
  virtual Status scale(float *data, int64_t count, float factor);
  /// In place on host doubles: data = sum over ranks (the training loop's
  /// figures). A GPU communicator leaves this to the MPI one beside it.
  virtual Status allReduceSumHost(double *data, int64_t count);
  /// The bytes the communicator holds for its collectives (bucket staging),
  /// for --memory-stats.
  virtual int64_t bufferBytes() const { return 0; }
};

/// Installs the communicator the hooks use (null: none, one rank); returns
/// the previous one. Not thread-safe: install before training starts.
Communicator *setCommunicator(Communicator *comm);
Communicator *communicator();

/// Before each train_step: this rank holds `rows` real samples of a global
/// batch of `globalRows` (the rest are padding). The hooks scale this rank's
/// gradient by rows / globalRows before summing, so the sum is the global
/// batch's mean gradient (the compiled loss is the mean over this rank's
/// rows).
void setBatchRows(int64_t rows, int64_t globalRows);

} // namespace nnc::rt
#endif // __cplusplus

#endif // NNC_RUNTIME_DATAPARALLEL_H
