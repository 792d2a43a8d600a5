//===- Costs.h - What a compiled model costs (nnc report, nnc scale) -*- C++ -*-===//
//
// What `nnc report` computes for one model, shared with `nnc scale`, which
// computes it for every variant of a model: the cost report (parameters,
// FLOPs, checkpoint), the memory plans of the training and inference
// artifacts and the kernels of the training step; and the per-device memory
// and communication of N-way data parallelism (`--devices N --shard ...`,
// docs/report.md "Data parallelism").
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_NNC_COSTS_H
#define NNC_TOOLS_NNC_COSTS_H

#include "tools/nnc/Driver.h"

#include "codegen/KernelReport.h"
#include "codegen/MemoryBudget.h"
#include "codegen/MemoryReport.h"
#include "passes/ModelReport.h"

#include "llvm/Support/JSON.h"

#include <string>
#include <vector>

namespace nnc::driver {

/// What a model costs once compiled: what runs (its entry points' kernels)
/// and the memory plans of the artifacts `nnc build --train` and `nnc build`
/// make; for each, or why there is none.
struct CompiledCosts {
  std::vector<nnc::EntryKernels> kernels;
  std::string kernelsUnavailable;
  nnc::MemorySection training, inference;
  /// With --device gpu: the bytes of one input staging slot of each
  /// artifact (runtime/DeviceArena.h inputStagingSlotBytes; 0 unplanned).
  int64_t trainingStagingSlot = 0, inferenceStagingSlot = 0;
  /// "bf16" or "f16" for a reduced-precision model (-nn-autocast), else "".
  std::string precision;
};

/// A copy of `model` (not yet specialized) alone in `top`, with its training
/// step, specialized to the session's batch; null after an error.
mlir::ModuleOp trainingCopy(Session &session, mlir::ModuleOp model, const nnc::ModelGraph &graph,
                            llvm::StringRef optimizer, mlir::OwningOpRef<mlir::ModuleOp> &top);

/// What `model` (a model module, not yet specialized) costs compiled as `nnc
/// build` compiles it at the session's batch (Report.cpp). `kernels`: also
/// lower the training step to linalg and list its kernels; `inference`: also
/// plan the inference artifact.
CompiledCosts compiledCostsOf(Session &session, mlir::ModuleOp model, const nnc::ModelGraph &graph,
                              llvm::StringRef optimizer, bool fuse,
                              const nnc::RecomputePlan *recompute, bool gpu, bool kernels = true,
                              bool inference = true);

/// How N-way data parallelism shards the training state (--shard).
enum class Shard { None, Opt, Grad, Param };
/// `none`, `opt`, `grad`, `param`.
llvm::StringRef shardName(Shard shard);
/// Parses a --shard value.
std::optional<Shard> parseShard(llvm::StringRef text);

/// What one device holds and sends per step with N-way data parallelism,
/// from the training plan of the per-device batch B/N.
struct DataParallelMemory {
  int64_t devices = 1;
  Shard shard = Shard::None;
  /// The global batch and the per-device one.
  int64_t batch = 0, deviceBatch = 0;
  /// The plan at B/N: its arena and its persistent parts.
  int64_t planArena = 0;
  /// Per device: parameters (and buffers), gradients, optimizer state (the
  /// rest of the B/N plan is unchanged: activations, temporaries, scratch,
  /// inputs, fragmentation).
  int64_t parameters = 0, gradients = 0, optimizerState = 0, rest = 0;
  /// Bytes removed from the B/N plan by sharding; arena = planArena - removed.
  int64_t removed = 0;
  /// Bytes added (ZeRO-2's bucket, ZeRO-3's largest gathered layer).
  int64_t added = 0;
  int64_t arena = 0;
  /// Outside the arena: the host staging of the MPI communicator's
  /// reduce-scatter (runtime/CommMPI.h mpiStagingBytes; 0 for an all-reduce,
  /// which works in place), and arena + that.
  int64_t commBuffer = 0, total = 0;
  /// Bytes each device sends per step, and the collective's name.
  int64_t commBytes = 0;
  std::string collective;
  /// Whether `nnc train` can train this way (none and opt).
  bool trainable = true;
};

/// The per-device memory of `plan` (the training plan at batch B/N) for
/// N-way data parallelism with `shard`. `gradientBytes`: the bytes of all
/// trainable parameters' gradients (f32); `stateColumns`: optimizer state
/// tensors per parameter (adam 2, momentum 1, sgd 0); `largestLayerBytes`:
/// the bytes of the largest layer's parameters (ZeRO-3 gathers it).
DataParallelMemory dataParallelMemoryOf(const nnc::ArenaBreakdown &plan, int64_t devices,
                                        Shard shard, int64_t batch, int64_t gradientBytes,
                                        int64_t stateColumns, int64_t largestLayerBytes);

/// The gradient bucket ZeRO-2 keeps whole (the runtime's bucket size).
constexpr int64_t kGradientBucketBytes = 4 << 20;

/// The lines of --devices.
void printDataParallel(const DataParallelMemory &dp, llvm::raw_ostream &os);
/// The JSON object `data_parallel`.
llvm::json::Value dataParallelToJSON(const DataParallelMemory &dp);

/// Optimizer state tensors per parameter of `optimizer`.
int64_t stateColumnsOf(llvm::StringRef optimizer);

/// While alive, `model` compiles the model file `path` (a generated one:
/// no --model, no -D); when it goes away the input, model name and defines
/// are restored and `path` is removed.
class ModelFileOverride {
public:
  ModelFileOverride(ModelOptions &model, llvm::StringRef path);
  ~ModelFileOverride();

private:
  ModelOptions &model;
  std::string path, oldInput, oldName;
  std::vector<std::string> oldDefines;
};

/// Compiles at `batch` while alive (the session reads the batch from
/// `model`): sets --batch if it was given, else the implied batch; restores
/// it when it goes away.
class BatchOverride {
public:
  BatchOverride(ModelOptions &model, int64_t batch);
  ~BatchOverride();

private:
  ModelOptions &model;
  int64_t oldBatch;
  std::optional<int64_t> oldImplied;
};

} // namespace nnc::driver

#endif // NNC_TOOLS_NNC_COSTS_H
