//===- Report.cpp - nnc report: what a model costs ------------------------===//
//
//   nnc report model.nn [--batch N] [--optimizer O] [--dtype T]
//                       [--format table|json] [--kernels] [--model NAME]
//                       [-D name=value] [--memory-budget BYTES]
//                       [--data D [--limit N] [--test-limit N] ...]
//                       [--devices N [--shard none|opt|grad|param]]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Costs.h"
#include "tools/nnc/ReportTokens.h"

#include "codegen/CPUPipeline.h"
#include "codegen/KernelReport.h"
#include "codegen/MemoryBudget.h"
#include "codegen/MemoryReport.h"
#include "codegen/Passes.h"
#include "passes/ModelReport.h"
#include "passes/Passes.h"
#include "runtime/CommMPI.h"
#include "runtime/Data.h"
#include "runtime/DeviceArena.h"
#include "runtime/GpuKernels.h"

#include "mlir/Pass/PassManager.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <thread>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand reportCmd("report", "Print what a model costs: parameters, bytes, "
                                   "FLOPs, training and inference memory");

ModelOptions model(reportCmd);
DeviceOptions device(reportCmd, /*withArch=*/false);
MemoryBudgetOption memoryBudget(reportCmd);
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::sub(reportCmd), cl::cat(category()));
cl::opt<std::string> optimizerName(
    "optimizer",
    cl::desc("Optimizer whose state counts in training memory: sgd | momentum | adam | "
             "adamw (default: the model's)"),
    cl::sub(reportCmd), cl::cat(category()));
cl::opt<std::string> dtypeName("dtype", cl::desc("f32 | f16 | bf16 | int8 (default: the model's)"), cl::init("f32"),
                               cl::sub(reportCmd), cl::cat(category()));
enum class Format { Table, JSON };
cl::opt<Format> reportFormat("format", cl::desc("Report format"), cl::init(Format::Table),
                             cl::values(clEnumValN(Format::Table, "table", "a table"),
                                        clEnumValN(Format::JSON, "json", "JSON")),
                             cl::sub(reportCmd), cl::cat(category()));
DataFlags dataFlags(reportCmd);
cl::opt<int64_t> trainLimit("limit",
                            cl::desc("(with --data) only the first N training samples (N >= 1)"),
                            cl::init(0), cl::sub(reportCmd), cl::cat(category()));
cl::opt<int64_t> testLimit("test-limit",
                           cl::desc("(with --data) only the first N test samples (N >= 1)"),
                           cl::init(0), cl::sub(reportCmd), cl::cat(category()));
cl::opt<int64_t> devices("devices",
                         cl::desc("Memory per device and bytes communicated per step for N-way "
                                  "data parallelism (N >= 1; the batch is the global batch)"),
                         cl::init(0), cl::sub(reportCmd), cl::cat(category()));
cl::opt<std::string> shardFlag("shard",
                               cl::desc("With --devices: what is sharded over the devices: none | "
                                        "opt (ZeRO-1) | grad (ZeRO-2) | param (ZeRO-3)"),
                               cl::init("none"), cl::sub(reportCmd), cl::cat(category()));
cl::opt<bool> listKernels("kernels",
                          cl::desc("List every generated kernel and library call of each "
                                   "entry point (the JSON always has them)"),
                          cl::sub(reportCmd), cl::cat(category()));
} // namespace

mlir::ModuleOp nnc::driver::trainingCopy(Session &session, mlir::ModuleOp model,
                                         const nnc::ModelGraph &graph, StringRef optimizer,
                                         mlir::OwningOpRef<mlir::ModuleOp> &top) {
  mlir::OpBuilder b(&session.context());
  top = mlir::ModuleOp::create(model.getLoc());
  b.setInsertionPointToStart(top->getBody());
  auto copy = cast<mlir::ModuleOp>(b.clone(*model));
  nnc::NNAutodiffOptions autodiff;
  autodiff.optimizer = optimizer.str();
  mlir::PassManager pm(&session.context(), mlir::ModuleOp::getOperationName());
  pm.addPass(nnc::createNNAutodiff(autodiff));
  if (failed(pm.run(*top)) || failed(session.specializeBatch(copy, graph)))
    return nullptr;
  return copy;
}

/// Runs `compile`, whose errors are the report section's, not the report's:
/// returns empty on success, else the reason the section gives (the first
/// error).
/// Only the diagnostics of the calling thread: a context's handlers see
/// every thread's, and the report compiles the inference and training
/// artifacts on two threads at once (compiledCostsOf).
static std::string unlessCompiles(Session &session, function_ref<mlir::LogicalResult()> compile) {
  std::string firstError;
  const std::thread::id owner = std::this_thread::get_id();
  mlir::ScopedDiagnosticHandler capture(&session.context(), [&](mlir::Diagnostic &d) {
    if (std::this_thread::get_id() != owner)
      return mlir::failure(); // Another thread's: to the handler before this one.
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error && firstError.empty())
      firstError = d.str();
    return mlir::success();
  });
  if (succeeded(compile()))
    return "";
  return "the model does not compile: " +
         (firstError.empty() ? std::string("unknown error") : firstError);
}

/// The bytes of one input staging slot the runtime allocates for the GPU
/// artifact of `plan`: its entries' input regions (`<entry>.*`, kind
/// input), as runtime/Model.cpp passes them to DeviceArena.
static int64_t stagingSlotOf(const FailureOr<nnc::MemoryPlan> &plan) {
  if (failed(plan))
    return 0;
  std::vector<std::vector<nnc::rt::ArenaSpan>> inputs;
  for (const nnc::EntryPlan &e : plan->entries) {
    inputs.emplace_back();
    for (const nnc::PlannedBuffer &r : plan->regions)
      if (r.kind == "input" && StringRef(r.name).starts_with(e.entry + "."))
        inputs.back().push_back({r.offset, r.bytes});
  }
  return nnc::rt::inputStagingSlotBytes(inputs);
}

/// A copy of the model module `model`, alone in a module of its own.
static mlir::OwningOpRef<mlir::ModuleOp> copyOf(mlir::ModuleOp model) {
  mlir::OpBuilder b(model.getContext());
  mlir::OwningOpRef<mlir::ModuleOp> top(mlir::ModuleOp::create(model.getLoc()));
  b.setInsertionPointToStart(top->getBody());
  b.clone(*model);
  return top;
}

/// The memory of `plan`, or of its failure `why`.
static nnc::MemorySection memoryOf(const std::string &why, const FailureOr<nnc::MemoryPlan> &plan) {
  nnc::MemorySection section;
  section.unavailable = why;
  if (why.empty()) {
    section.breakdown = nnc::breakDownArena(*plan);
    section.runtime = nnc::runtimeCostsOf(*plan);
  }
  return section;
}

/// What `model` (a model module of `module`, not yet specialized) costs
/// compiled as `nnc build` compiles it: the training step (with the report's
/// optimizer: -nn-autodiff, then the batch, as `nnc build --train`), lowered
/// to linalg for its kernels and planned for its arena, and the model
/// without it (`nnc build`) planned; fused unless --no-fuse; with
/// `recompute` (--memory-budget), the training step recomputes what it
/// chose. A model nnc cannot compile (an f16 model, a training step that
/// cannot be built) is still reported: each section says why.
CompiledCosts nnc::driver::compiledCostsOf(Session &session, mlir::ModuleOp model,
                                           const nnc::ModelGraph &graph, StringRef optimizer,
                                           bool fuse, const nnc::RecomputePlan *recompute, bool gpu,
                                           bool kernels, bool inference) {
  CompiledCosts result;
  // The inference artifact: the model at the batch.
  mlir::OwningOpRef<mlir::ModuleOp> inferenceTop;
  mlir::ModuleOp inferenceModel;
  std::string inferenceWhy = "not planned";
  if (inference) {
    inferenceTop = copyOf(model);
    inferenceModel = cast<mlir::ModuleOp>(inferenceTop->getBody()->front());
    inferenceWhy =
        unlessCompiles(session, [&] { return session.specializeBatch(inferenceModel, graph); });
  }
  // The training artifact: the training step first, then the batch, then
  // what --memory-budget recomputes.
  mlir::OwningOpRef<mlir::ModuleOp> top;
  mlir::ModuleOp copy;
  std::string why = unlessCompiles(session, [&] {
    copy = trainingCopy(session, model, graph, optimizer, top);
    return mlir::success(copy && (!recompute || succeeded(nnc::applyRecomputePlan(copy, *recompute))));
  });
  // Both are lowered to linalg and planned, the inference artifact on a
  // second thread while this one lowers the training one: two modules of
  // one context, whose uniquing is thread-safe. Loading a dialect is not,
  // so the passes' dialects are loaded first.
  FailureOr<nnc::MemoryPlan> inferencePlan = failure();
  std::thread inferenceThread;
  if (inference && inferenceWhy.empty()) {
    nnc::loadLinalgPlanDialects(&session.context(), fuse, gpu);
    inferenceThread = std::thread([&] {
      inferenceWhy = unlessCompiles(session, [&] {
        // Planned in place, the copy being the report's own.
        if (failed(nnc::lowerToLinalg(inferenceModel, fuse, /*verify=*/false)))
          return mlir::failure();
        inferencePlan = nnc::planLinalgMemory(inferenceModel, gpu, /*verify=*/false);
        return mlir::LogicalResult(inferencePlan);
      });
      inferenceTop = nullptr;
    });
  }
  [&] {
    if (!why.empty()) {
      result.kernelsUnavailable = result.training.unavailable = why;
      return;
    }
    // -nn-autodiff ran -nn-autocast on the copy.
    if (auto precision = copy->getAttrOfType<mlir::StringAttr>("nn.precision"))
      result.precision = precision.getValue().str();
    // The training step lowered to linalg once, in place: its kernels are
    // read from that IR, which is then planned.
    why = unlessCompiles(session, [&] { return nnc::lowerToLinalg(copy, fuse, /*verify=*/false); });
    if (!why.empty()) {
      result.training.unavailable = why;
      result.kernelsUnavailable = kernels ? why : "not listed";
      return;
    }
    if (kernels)
      result.kernels = nnc::analyzeKernels(copy);
    else
      result.kernelsUnavailable = "not listed";
    FailureOr<nnc::MemoryPlan> plan = failure();
    why = unlessCompiles(session, [&] {
      plan = nnc::planLinalgMemory(copy, gpu, /*verify=*/false);
      return mlir::LogicalResult(plan);
    });
    result.training = memoryOf(why, plan);
    if (why.empty())
      result.trainingStagingSlot = stagingSlotOf(plan);
  }();
  if (inferenceThread.joinable())
    inferenceThread.join();
  if (inference) {
    result.inference = memoryOf(inferenceWhy, inferencePlan);
    if (inferenceWhy.empty())
      result.inferenceStagingSlot = stagingSlotOf(inferencePlan);
  } else {
    result.inference.unavailable = inferenceWhy;
  }
  return result;
}

/// The --memory-budget section of the table.
static void printBudget(const nnc::RecomputePlan &plan, const nnc::ModelReport &report,
                        raw_ostream &os) {
  os << "memory budget: " << nnc::formatBytesMiB(plan.budget) << "; planned arena "
     << nnc::formatBytesMiB(plan.arenaBytes) << "; without recomputation "
     << nnc::formatBytesMiB(plan.unconstrainedBytes) << "; parameters, state and inputs "
     << nnc::formatBytesMiB(plan.persistentBytes) << "\n";
  if (plan.recomputedLayers.empty()) {
    os << "recomputed in the backward pass: nothing (the plan fits)\n";
    return;
  }
  os << "recomputed in the backward pass: " << join(plan.recomputedLayers, ", ") << "\n";
  os << "extra FLOPs per training step: " << nnc::formatFlops(plan.extraFlops);
  if (report.trainingStepFlops > 0)
    os << formatv(" (+{0:F1}% of the training step)",
                  100.0 * double(plan.extraFlops) / double(report.trainingStepFlops));
  os << "\n";
}

/// The --memory-budget object of the JSON report.
static json::Value budgetToJSON(const nnc::RecomputePlan &plan, const nnc::ModelReport &report) {
  json::Array layers;
  for (const std::string &l : plan.recomputedLayers)
    layers.push_back(l);
  return json::Object{{"budget_bytes", plan.budget},
                      {"arena_bytes", plan.arenaBytes},
                      {"unconstrained_arena_bytes", plan.unconstrainedBytes},
                      {"persistent_bytes", plan.persistentBytes},
                      {"recomputed", std::move(layers)},
                      {"extra_flops", plan.extraFlops},
                      {"training_step_flops", report.trainingStepFlops}};
}

/// The runtime's fixed costs while it trains or runs a model, outside the
/// arena and the data: oneDNN's generated (JIT) code and the library pages
/// run for the first time. Measured by bench/memory_bench.py (whose
/// --fixed-mb default is this bound) at 4.2-10.2 MB for the examples at 1
/// and 2 threads (docs/training.md, *Memory*).
constexpr int64_t kRuntimeFixedBound = 12'000'000;

/// With --device gpu: the arena is one device allocation of the planned bytes
/// (cuDNN's workspaces are library scratch in it); outside it the device holds
/// cuBLAS's workspace (runtime/GpuKernels.h) and the two device buffers of
/// the double-buffered input uploads, and the host a pinned mirror of the
/// arena (what data()/dataAs() return, docs/abi.md) and the uploads' two
/// pinned buffers (runtime/DeviceArena.h: 2 x inputStagingSlotBytes each).
static int64_t arenaOf(const nnc::MemorySection &section) {
  return section.unavailable.empty() ? section.breakdown.arena : 0;
}

static void printGPUOutsideArena(const CompiledCosts &costs, raw_ostream &os) {
  int64_t arena = std::max(arenaOf(costs.training), arenaOf(costs.inference));
  int64_t staging = 2 * std::max(costs.trainingStagingSlot, costs.inferenceStagingSlot);
  os << "gpu: the arena is one device allocation; outside it on the device: cuBLAS workspace "
     << nnc::formatBytes(nnc_gpu_library_workspace_bytes()) << ", input upload buffers (2 slots) "
     << nnc::formatBytes(staging) << "; on the host (pinned): the arena's mirror, "
     << nnc::formatBytes(arena) << " (training artifact), input upload buffers (2 slots) "
     << nnc::formatBytes(staging)
     << "; not counted: the CUDA context and the libraries' device code (nnc-rt bench prints "
        "the device memory the arena took)\n";
}

static json::Object gpuOutsideArenaJSON(const CompiledCosts &costs) {
  return json::Object{
      {"device_arena_bytes", json::Object{{"training", arenaOf(costs.training)},
                                          {"inference", arenaOf(costs.inference)}}},
      {"cublas_workspace_bytes", nnc_gpu_library_workspace_bytes()},
      {"pinned_host_mirror_bytes", std::max(arenaOf(costs.training), arenaOf(costs.inference))},
      // Device and pinned host alike (2 slots each).
      {"input_staging_bytes", json::Object{{"training", 2 * costs.trainingStagingSlot},
                                           {"inference", 2 * costs.inferenceStagingSlot}}}};
}

/// The bytes `nnc train --data ...` holds for its data (runtime/Data.h
/// dataMemory: the splits as stored, u8 images, and the batch staging), with
/// the data loaded as training loads it; none without --data.
struct DataPipeline {
  nnc::rt::DataMemory memory;
  std::string line;
};

static FailureOr<std::optional<DataPipeline>> dataPipelineOf(const nnc::ModelGraph &graph,
                                                             int64_t batch) {
  if (!dataFlags.data.getNumOccurrences())
    return std::optional<DataPipeline>();
  nnc::rt::DataOptions options;
  if (!dataFlags.toOptions(options))
    return failure();
  options.trainLimit = trainLimit;
  options.testLimit = testLimit;
  if (graph.inputs.empty() || graph.outputs.empty()) {
    fail("--data: model '" + graph.name + "' has no input or output");
    return failure();
  }
  // What the model expects of a sample, as sampleSpecOf reads it from an
  // artifact.
  const nnc::TensorValue &in = graph.values[graph.inputs.front().value];
  const nnc::TensorValue &out = graph.values[graph.outputs.front().value];
  nnc::rt::SampleSpec spec;
  spec.shape.assign(in.shape.begin() + 1, in.shape.end());
  spec.tokenInputs = !nnc::isFloat(in.dtype);
  // Token ids index the (first) embedding table.
  for (const nnc::Layer &layer : graph.layers)
    if (spec.tokenInputs && layer.kind == nnc::LayerKind::Embedding && !layer.params.empty()) {
      spec.vocabSize = graph.params[layer.params.front()].shape.front();
      break;
    }
  int64_t outputWidth = 1;
  for (size_t d = 1; d < out.shape.size(); ++d)
    outputWidth *= out.shape[d];
  if (graph.train.loss == "mse")
    spec.targetWidth = outputWidth;
  else if (out.shape.size() == 2)
    spec.numClasses = out.shape[1];
  else if (out.shape.size() == 3 && graph.loss) {
    // Sequence logits [N, T, C]: T labels per sample.
    spec.numClasses = out.shape[2];
    spec.labelsPerSample = out.shape[1];
  }
  auto splits = nnc::rt::loadSplits(options, spec);
  if (!splits) {
    fail(splits.message());
    return failure();
  }
  DataPipeline pipeline;
  pipeline.memory = nnc::rt::dataMemory(splits->train, splits->test, batch, outputWidth);
  pipeline.line = "data pipeline (nnc train --data " + options.data +
                  "): " + nnc::rt::describeDataMemory(pipeline.memory, splits->train, splits->test);
  return std::optional<DataPipeline>(std::move(pipeline));
}

//===----------------------------------------------------------------------===//
// Data parallelism (--devices N --shard ...)
//===----------------------------------------------------------------------===//

StringRef nnc::driver::shardName(Shard shard) {
  switch (shard) {
  case Shard::None:
    return "none";
  case Shard::Opt:
    return "opt";
  case Shard::Grad:
    return "grad";
  case Shard::Param:
    return "param";
  }
  return "none";
}

std::optional<Shard> nnc::driver::parseShard(StringRef text) {
  for (Shard s : {Shard::None, Shard::Opt, Shard::Grad, Shard::Param})
    if (text == shardName(s))
      return s;
  return std::nullopt;
}

int64_t nnc::driver::stateColumnsOf(StringRef optimizer) {
  if (optimizer == "adam" || optimizer == "adamw")
    return 2;
  if (optimizer == "momentum" || optimizer == "nesterov")
    return 1;
  return 0;
}

BatchOverride::BatchOverride(ModelOptions &model, int64_t batch)
    : model(model), oldBatch(model.batch), oldImplied(model.impliedBatch) {
  if (model.batch.getNumOccurrences())
    model.batch.setValue(batch);
  else
    model.impliedBatch = batch;
}

BatchOverride::~BatchOverride() {
  model.batch.setValue(oldBatch);
  model.impliedBatch = oldImplied;
}

ModelFileOverride::ModelFileOverride(ModelOptions &model, StringRef path)
    : model(model), path(path.str()), oldInput(model.input), oldName(model.modelName),
      oldDefines(model.defines.begin(), model.defines.end()) {
  model.input.setValue(this->path);
  model.modelName.setValue("");
  model.defines.clear();
}

ModelFileOverride::~ModelFileOverride() {
  model.input.setValue(oldInput);
  model.modelName.setValue(oldName);
  model.defines.clear();
  for (const std::string &d : oldDefines)
    model.defines.push_back(d);
  (void)llvm::sys::fs::remove(path);
}

/// `bytes` of f32 elements split over `n` devices: each device's shard, in
/// bytes, the element count padded to a multiple of n (as the compiler pads
/// a ZeRO-1 flat group).
static int64_t shardOf(int64_t bytes, int64_t n) {
  int64_t elements = bytes / 4;
  return (elements + n - 1) / n * 4;
}

DataParallelMemory nnc::driver::dataParallelMemoryOf(const nnc::ArenaBreakdown &plan,
                                                     int64_t devices, Shard shard, int64_t batch,
                                                     int64_t gradientBytes, int64_t stateColumns,
                                                     int64_t largestLayerBytes) {
  DataParallelMemory dp;
  dp.devices = devices;
  dp.shard = shard;
  dp.batch = batch;
  dp.deviceBatch = batch / devices;
  dp.planArena = plan.arena;
  dp.parameters = plan.parameters + plan.buffers;
  dp.gradients = plan.gradients;
  dp.optimizerState = plan.optimizerState;
  int64_t n = devices;
  // One shard of the gradients (= of the trainable parameters), and the
  // padding that rounds the flat buffers up to N shards.
  int64_t gradShard = shardOf(gradientBytes, n);
  int64_t padding = gradShard * n - gradientBytes;
  switch (shard) {
  case Shard::None:
    // Ring all-reduce: a reduce-scatter then an all-gather, N-1 shards each.
    dp.commBytes = 2 * (n - 1) * gradShard;
    dp.collective = "all-reduce of the gradients";
    break;
  case Shard::Opt: {
    // Each state column (one per parameter's state tensor) becomes one
    // padded shard; the flat parameter and gradient buffers are padded.
    int64_t column = stateColumns > 0 ? plan.optimizerState / stateColumns : 0;
    int64_t sharded = stateColumns * shardOf(column, n);
    dp.removed = plan.optimizerState - sharded;
    dp.optimizerState = sharded;
    if (n > 1 || stateColumns > 0) {
      dp.parameters += padding;
      dp.gradients += plan.gradients > 0 ? padding : 0;
      dp.added = padding + (plan.gradients > 0 ? padding : 0);
    }
    dp.commBytes = 2 * (n - 1) * gradShard;
    dp.collective = "reduce-scatter of the gradients + all-gather of the parameters";
    break;
  }
  case Shard::Grad:
  case Shard::Param: {
    dp.trainable = false;
    int64_t column = stateColumns > 0 ? plan.optimizerState / stateColumns : 0;
    int64_t sharded = stateColumns * shardOf(column, n);
    dp.removed = plan.optimizerState - sharded;
    dp.optimizerState = sharded;
    // Gradients: this device's shard plus one bucket being reduced.
    int64_t grads =
        std::min(plan.gradients, gradShard + std::min(gradientBytes, kGradientBucketBytes));
    dp.removed += plan.gradients - grads;
    dp.gradients = grads;
    dp.commBytes = 2 * (n - 1) * gradShard;
    dp.collective = "reduce-scatter of the gradients + all-gather of the parameters";
    if (shard == Shard::Param) {
      // Parameters: this device's shard plus the largest layer gathered.
      int64_t params = std::min(plan.parameters, gradShard + largestLayerBytes);
      dp.removed += plan.parameters - params;
      dp.parameters = params + plan.buffers;
      // The parameters are gathered twice (forward and backward).
      dp.commBytes = 3 * (n - 1) * gradShard;
      dp.collective = "reduce-scatter of the gradients + all-gather of the parameters in the "
                      "forward and in the backward pass";
    }
    break;
  }
  }
  dp.rest = plan.arena - (plan.parameters + plan.buffers) - plan.gradients - plan.optimizerState;
  dp.arena = plan.arena - dp.removed + dp.added;
  // Sharded gradients are reduce-scattered through the communicator's
  // staging, which holds at most one bucket.
  if (shard != Shard::None)
    dp.commBuffer = nnc::rt::mpiStagingBytes((gradShard * n) / int64_t(sizeof(float)), n, true);
  dp.total = dp.arena + dp.commBuffer;
  return dp;
}

void nnc::driver::printDataParallel(const DataParallelMemory &dp, raw_ostream &os) {
  static const char *zero[] = {"plain replication", "ZeRO-1", "ZeRO-2", "ZeRO-3"};
  os << formatv("data parallel: {0} device(s), shard {1} ({2}{3}), global batch {4} = {0} x {5}\n",
                dp.devices, shardName(dp.shard), zero[int(dp.shard)],
                dp.trainable ? "" : "; analytical only: not trainable by nnc train", dp.batch,
                dp.deviceBatch);
  os << "  per device: parameters and buffers " << nnc::formatBytes(dp.parameters)
     << " + gradients " << nnc::formatBytes(dp.gradients) << " + optimizer state "
     << nnc::formatBytes(dp.optimizerState)
     << " + activations, temporaries, scratch, inputs and gaps " << nnc::formatBytes(dp.rest)
     << " = arena " << nnc::formatBytes(dp.arena) << "\n";
  os << "  the batch-" << dp.deviceBatch << " training plan's arena "
     << nnc::formatBytes(dp.planArena) << " - sharded away " << nnc::formatBytes(dp.removed)
     << " + padding and gathered " << nnc::formatBytes(dp.added) << "\n";
  if (dp.commBuffer)
    os << "  outside the arena: the communicator's reduce-scatter staging "
       << nnc::formatBytes(dp.commBuffer) << " (host, at most one 4 MiB bucket); per device "
       << nnc::formatBytes(dp.total) << "\n";
  os << "  communicated per step by each device: " << nnc::formatBytes(dp.commBytes) << " ("
     << dp.collective << ", ring)\n";
}

json::Value nnc::driver::dataParallelToJSON(const DataParallelMemory &dp) {
  return json::Object{{"devices", dp.devices},
                      {"shard", shardName(dp.shard)},
                      {"trainable", dp.trainable},
                      {"batch", dp.batch},
                      {"device_batch", dp.deviceBatch},
                      {"plan_arena_bytes", dp.planArena},
                      {"parameter_bytes", dp.parameters},
                      {"gradient_bytes", dp.gradients},
                      {"optimizer_state_bytes", dp.optimizerState},
                      {"other_bytes", dp.rest},
                      {"removed_bytes", dp.removed},
                      {"added_bytes", dp.added},
                      {"arena_bytes", dp.arena},
                      {"comm_buffer_bytes", dp.commBuffer},
                      {"total_bytes", dp.total},
                      {"comm_bytes_per_step", dp.commBytes},
                      {"collective", dp.collective}};
}

/// The --devices section of `model` (not yet specialized) whose report is
/// `report`: its training plan at the per-device batch; failure after
/// reporting.
static FailureOr<DataParallelMemory> dataParallelOf(Session &session, mlir::ModuleOp m,
                                                    const nnc::ModelGraph &graph,
                                                    const nnc::ModelReport &report,
                                                    StringRef optimizer, bool gpu) {
  int64_t batch = report.options.batch;
  if (batch % devices != 0) {
    fail(formatv("--devices {0} does not divide the global batch {1} (each device trains on "
                 "batch / devices samples)",
                 int64_t(devices), batch));
    return failure();
  }
  CompiledCosts perDevice;
  {
    BatchOverride override(model, batch / devices);
    perDevice = compiledCostsOf(session, m, graph, optimizer, !model.noFuse, nullptr, gpu,
                                /*kernels=*/false, /*inference=*/false);
  }
  if (!perDevice.training.unavailable.empty()) {
    fail("--devices: the training step at batch " + Twine(batch / devices) +
         " has no memory plan: " + perDevice.training.unavailable);
    return failure();
  }
  int64_t largestLayer = 0;
  for (const nnc::LayerReport &layer : report.layers)
    largestLayer = std::max(largestLayer, 4 * layer.params);
  return dataParallelMemoryOf(perDevice.training.breakdown, devices, *parseShard(shardFlag), batch,
                              4 * report.trainableParameters, stateColumnsOf(optimizer),
                              largestLayer);
}

/// Prints the report of every model to `os`; returns the exit status.
static int printReports(Session &session, raw_ostream &os) {
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = session.lowerToNN(&graphs);
  if (!module)
    return 1;
  json::Array jsonReports;
  unsigned index = 0;
  for (auto [m, graphPtr] : modelsOf(*module, graphs)) {
    const nnc::ModelGraph &graph = *graphPtr;
    ++index;
    nnc::ReportOptions options;
    options.batch = model.batchFor(graph.train.batch);
    options.optimizer =
        optimizerName.empty() ? graph.train.optimizer : std::string(optimizerName);
    // Without --dtype, the model's own floating-point type (its first float
    // input's): an f16 model's bytes are f16 bytes.
    options.dtype = dtypeName;
    if (!dtypeName.getNumOccurrences())
      for (const nnc::InputInfo &in : graph.inputs)
        if (nnc::isFloat(graph.values[in.value].dtype)) {
          options.dtype = nnc::dtypeName(graph.values[in.value].dtype).str();
          break;
        }
    // --memory-budget: what the training step recomputes to fit.
    std::optional<nnc::RecomputePlan> recompute;
    if (std::optional<int64_t> budget = memoryBudget.value()) {
      mlir::OwningOpRef<mlir::ModuleOp> top;
      mlir::ModuleOp copy = trainingCopy(session, m, graph, options.optimizer, top);
      if (!copy)
        return 1;
      mlir::FailureOr<nnc::RecomputePlan> fitted =
          nnc::planMemoryBudget(copy, *budget, /*checkNumerics=*/false, !model.noFuse, device.gpu());
      if (failed(fitted))
        return 1;
      recompute = std::move(*fitted);
    }
    FailureOr<std::optional<DataPipeline>> data = dataPipelineOf(graph, options.batch);
    if (failed(data))
      return 1;
    CompiledCosts costs = compiledCostsOf(session, m, graph, options.optimizer, !model.noFuse,
                                          recompute ? &*recompute : nullptr, device.gpu());
    // The report of the model specialized to the batch, from a copy: --devices
    // compiles the model again at another batch.
    mlir::OwningOpRef<mlir::ModuleOp> specialized = copyOf(m);
    auto specializedModel = cast<mlir::ModuleOp>(specialized->getBody()->front());
    if (failed(session.specializeBatch(specializedModel, graph)))
      return 1;
    FailureOr<nnc::ModelReport> report = nnc::computeReport(specializedModel, options);
    if (failed(report))
      return 1;
    std::optional<DataParallelMemory> dataParallel;
    if (devices.getNumOccurrences()) {
      FailureOr<DataParallelMemory> dp =
          dataParallelOf(session, m, graph, *report, options.optimizer, device.gpu());
      if (failed(dp))
        return 1;
      dataParallel = *dp;
    }
    std::optional<TokenReport> tokens = tokenReportOf(specializedModel, *report, costs.training);
    const bool fused = !model.noFuse;
    // The runtime's costs outside the arena: of the training library, or of
    // the inference one when training has no plan.
    const nnc::MemorySection &runtimeOf =
        costs.training.unavailable.empty() ? costs.training : costs.inference;
    if (reportFormat == Format::JSON) {
      json::Value value = nnc::reportToJSON(*report);
      json::Object &object = *value.getAsObject();
      object["training_memory"] = nnc::memorySectionToJSON(costs.training);
      object["inference_memory"] = nnc::memorySectionToJSON(costs.inference);
      if (runtimeOf.unavailable.empty())
        object["runtime_outside_arena"] = nnc::runtimeCostsToJSON(runtimeOf.runtime);
      object["runtime_fixed_bytes_bound"] = kRuntimeFixedBound;
      if (device.gpu())
        object["gpu"] = gpuOutsideArenaJSON(costs);
      if (*data)
        object["data_pipeline"] = json::Object{{"train", int64_t((*data)->memory.train)},
                                               {"test", int64_t((*data)->memory.test)},
                                               {"staging", int64_t((*data)->memory.staging)},
                                               {"total", int64_t((*data)->memory.total())}};
      if (!costs.precision.empty())
        object["precision"] = costs.precision;
      if (costs.kernelsUnavailable.empty())
        object["kernels"] = nnc::kernelsToJSON(costs.kernels, fused);
      if (dataParallel)
        object["data_parallel"] = dataParallelToJSON(*dataParallel);
      if (tokens)
        object["language_model"] = tokenReportToJSON(*tokens);
      if (recompute)
        object["memory_budget"] = budgetToJSON(*recompute, *report);
      else
        object["kernels_unavailable"] = costs.kernelsUnavailable;
      jsonReports.push_back(std::move(value));
    } else {
      if (index > 1)
        os << "\n";
      nnc::printReportTable(*report, os);
      if (recompute)
        printBudget(*recompute, *report, os);
      nnc::printMemorySection(
          formatv("training memory @ batch {0}, {1}", options.batch, options.optimizer).str(),
          costs.training, os);
      nnc::printMemorySection(formatv("inference memory @ batch {0}", options.batch).str(),
                              costs.inference, os);
      if (dataParallel)
        printDataParallel(*dataParallel, os);
      if (tokens)
        printTokenReport(*tokens, os);
      if (!costs.precision.empty())
        os << "mixed precision " << costs.precision
           << ": the arena holds f32 master weights, gradients, optimizer state and activations; "
              "conv2d/linear compute in "
           << costs.precision << " with f32 accumulation; the weights file stores "
           << costs.precision << " (docs/design.md)\n";
      if (costs.precision == "f16" && costs.training.unavailable.empty()) {
        const nnc::ArenaBreakdown &t = costs.training.breakdown;
        os << "f16 loss scaling (nnc train, not in the arena): a copy of the parameters, "
              "buffers and optimizer state, "
           << nnc::formatBytes(t.parameters + t.buffers + t.optimizerState)
           << " (docs/training.md)\n";
      }
      if (device.gpu()) {
        printGPUOutsideArena(costs, os);
      } else {
        nnc::printRuntimeCosts(runtimeOf, os);
        os << "runtime fixed costs (not in the arena): at most "
           << nnc::formatBytes(kRuntimeFixedBound)
           << " measured (oneDNN's generated code and library pages run for the first time; "
              "docs/training.md)\n";
      }
      if (*data)
        os << (*data)->line << "\n";
      if (!costs.kernelsUnavailable.empty())
        os << "kernels: none generated (" << costs.kernelsUnavailable << ")\n";
      else
        nnc::printKernelTable(costs.kernels, fused, listKernels, os);
    }
  }
  if (reportFormat == Format::JSON) {
    // One model: its report object; several: an array of them.
    if (jsonReports.size() == 1)
      os << formatv("{0:2}", json::Value(std::move(jsonReports[0]))) << "\n";
    else
      os << formatv("{0:2}", json::Value(std::move(jsonReports))) << "\n";
  }
  return 0;
}

static int runReport() {
  if (!model.check() || !memoryBudget.check() || !device.check() ||
      !checkChoice(optimizerName, optimizerNames()) ||
      !checkChoice(dtypeName, {"f32", "f16", "bf16", "int8"}) || !checkRange(trainLimit, 0) ||
      !checkRange(testLimit, 0) || !checkRange(devices, 1, 1 << 20) ||
      !checkChoice(shardFlag, {"none", "opt", "grad", "param"}))
    return 1;
  if (shardFlag.getNumOccurrences() && !devices.getNumOccurrences())
    return fail("--shard needs --devices N");
  if (devices.getNumOccurrences() && memoryBudget.value())
    return fail("--devices and --memory-budget cannot be combined");
  return printToOutput(model, outputFilename, printReports);
}

static Command registration(reportCmd, runReport);
