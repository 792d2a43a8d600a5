//===- TrainDataParallel.h - The training loop's data parallelism -*- C++ -*-===//
//
// Part of nnc's runtime, used by runtime/Train.cpp (docs/distributed.md):
// the model table's `data_parallel` object, ZeRO-1's optimizer state in the
// state file's per-parameter layout (gathered for rank 0's checkpoint,
// scattered on resume), and the averaging of BatchNorm buffers over ranks.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_TRAINDATAPARALLEL_H
#define NNC_RUNTIME_TRAINDATAPARALLEL_H

#include "runtime/Checkpoint.h"
#include "runtime/DataParallel.h"
#include "runtime/Model.h"

#include <string>
#include <vector>

namespace nnc::rt {

/// The model table's `data_parallel` object (docs/abi.md): the ranks the
/// artifact was built for and, with a sharded optimizer (ZeRO-1), the flat
/// update groups whose state columns are one region per rank's shard.
struct DataParallelPlan {
  bool present = false;
  int64_t ranks = 1;
  bool sharded = false;
  struct Column {
    std::string suffix;   ///< "exp_avg": the state file's `<param>.exp_avg`.
    const Region *region; ///< This rank's shard: count / ranks elements.
  };
  struct Group {
    int64_t count = 0;                  ///< Elements, padded to a multiple of the ranks.
    std::vector<const Region *> params; ///< In flat order.
    std::vector<Column> columns;
  };
  std::vector<Group> groups;

  /// Whether `r` is a shard of a state column.
  bool isShardRegion(const Region *r) const;
};

/// Reads `data_parallel` from the model's table (present = false without
/// one); an error names what is malformed.
Result<DataParallelPlan> dataParallelPlan(const Model &model);

/// ZeRO-1's optimizer state in the state file's per-parameter layout: for
/// each group and state column a buffer of `count` elements (every rank's
/// shard), whose slices are the `<param>.<suffix>` tensors.
class ShardedState {
public:
  explicit ShardedState(const DataParallelPlan &plan);
  /// Collective: every rank's shards into the buffers.
  Status gather(Model &model, Communicator *comm);
  /// The gathered state as the state file's tensors.
  std::vector<WriteTensor> tensors() const;
  /// Where a state file's per-parameter tensors go: the buffers (then
  /// scatter() keeps this rank's shards).
  std::vector<LoadTarget> targets();
  /// This rank's shard of each loaded buffer into its region.
  void scatter(Model &model, int64_t rank);

private:
  template <typename Fn> void forEachSlice(Fn fn) const;

  const DataParallelPlan &plan;
  std::vector<std::vector<float>> buffers;
};

/// Averages the f32 `buffer` regions (BatchNorm's running statistics, which
/// each rank updates from its own rows) over the ranks, so that evaluation
/// and the checkpoint see the same statistics everywhere. Collective; does
/// nothing without `comm` or with one rank.
Status averageBuffers(Model &model, Communicator *comm);

} // namespace nnc::rt

#endif // NNC_RUNTIME_TRAINDATAPARALLEL_H
