//===- Driver.cpp - What nnc's subcommands share ---------------------------===//

#include "tools/nnc/Driver.h"

#include "codegen/CPUPipeline.h"
#include "codegen/GPUPipeline.h"
#include "codegen/MemoryBudget.h"
#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "passes/Passes.h"
#include "runtime/Checkpoint.h"
#include "runtime/Gpu.h"
#include "runtime/Kernels.h"
#include "runtime/QuantizeModel.h"
#include "runtime/Train.h"
#include "tools/common/Registration.h"

#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include "llvm/Support/Signals.h"

#include <cmath>
#include <cstdio>
#include <unistd.h>

using namespace llvm;
using namespace nnc::driver;

cl::OptionCategory &nnc::driver::category() {
  static cl::OptionCategory nncCategory("nnc options");
  return nncCategory;
}

int nnc::driver::fail(const Twine &msg) {
  WithColor::error(errs(), "nnc") << msg << "\n";
  return 1;
}

static std::vector<Command *> &registry() {
  static std::vector<Command *> commands;
  return commands;
}

Command::Command(cl::SubCommand &sub, RunFn run) : sub(sub), run(run) {
  registry().push_back(this);
}

ArrayRef<Command *> Command::all() { return registry(); }

std::string &nnc::driver::programPath() {
  static std::string path;
  return path;
}

//===----------------------------------------------------------------------===//
// Checks of numeric flags
//===----------------------------------------------------------------------===//

bool nnc::driver::checkRange(const cl::opt<int64_t> &flag, int64_t min, int64_t max) {
  if (!flag.getNumOccurrences() || (flag >= min && flag <= max))
    return true;
  if (max == INT64_MAX)
    fail(formatv("--{0} must be an integer >= {1} (got {2})", flag.ArgStr, min,
                 int64_t(flag)));
  else
    fail(formatv("--{0} must be an integer from {1} to {2} (got {3})", flag.ArgStr, min,
                 max, int64_t(flag)));
  return false;
}

bool nnc::driver::checkRange(const cl::opt<int> &flag, int min, int max) {
  if (!flag.getNumOccurrences() || (flag >= min && flag <= max))
    return true;
  fail(formatv("--{0} must be an integer from {1} to {2} (got {3})", flag.ArgStr, min, max,
               int(flag)));
  return false;
}

/// A real number as the user would write it (%g).
static std::string formatReal(double v) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", v);
  return text;
}

bool nnc::driver::checkReal(const cl::opt<double> &flag, double min, bool strict,
                            double max) {
  double v = flag;
  if (!flag.getNumOccurrences() ||
      (std::isfinite(v) && (strict ? v > min : v >= min) && v <= max))
    return true;
  std::string range = (strict ? "> " : ">= ") + formatReal(min);
  if (std::isfinite(max))
    range = "in " + std::string(strict ? "(" : "[") + formatReal(min) + ", " + formatReal(max) +
            "]";
  fail("--" + flag.ArgStr + " must be a finite number " + range + " (got " + formatReal(v) +
       ")");
  return false;
}

bool nnc::driver::checkChoice(const cl::opt<std::string> &flag,
                              ArrayRef<StringRef> choices) {
  if (!flag.getNumOccurrences() || llvm::is_contained(choices, StringRef(flag)))
    return true;
  std::string list;
  for (auto [i, c] : llvm::enumerate(choices))
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + c.str();
  fail(formatv("--{0} must be {1} (got '{2}')", flag.ArgStr, list, StringRef(flag)));
  return false;
}

//===----------------------------------------------------------------------===//
// Option groups
//===----------------------------------------------------------------------===//

ModelOptions::ModelOptions(cl::SubCommand &sub)
    : input(cl::Positional, cl::desc("<model.nn>"), cl::sub(sub), cl::cat(category())),
      modelName("model", cl::desc("The model to compile (default: the only one)"),
                cl::value_desc("name"), cl::sub(sub), cl::cat(category())),
      defines("D", cl::desc("Override a hyperparameter: -D name=value"),
              cl::value_desc("name=value"), cl::Prefix, cl::sub(sub), cl::cat(category())),
      batch("batch", cl::desc("Batch size, >= 1 (default: the model's train section)"), cl::init(0),
            cl::sub(sub), cl::cat(category())),
      noFuse("no-fuse",
             cl::desc("Do not fuse: one generated kernel per linalg op, no library "
                      "epilogues, no batchnorm folding"),
             cl::sub(sub), cl::cat(category())),
      generatedMatmul("generated-matmul",
                      cl::desc("Generate the linear layers' matmul kernels instead of calling "
                               "the library (oneDNN, cuBLAS), to compare the two"),
                      cl::sub(sub), cl::cat(category())),
      gpuEmulate("gpu-emulate",
                 cl::desc("Run the GPU-mapped kernels on the CPU, their block and thread "
                          "ids as loop indices (a test of the GPU mapping)"),
                 cl::Hidden, cl::sub(sub), cl::cat(category())),
      gpuSerialReductions("gpu-serial-reductions",
                          cl::desc("Map each reduction to one GPU thread, without block "
                                   "reductions (with --gpu-emulate: the CPU's sums bit for bit)"),
                          cl::Hidden, cl::sub(sub), cl::cat(category())) {}

bool ModelOptions::check() const { return checkRange(batch, 1); }

int64_t ModelOptions::batchFor(int64_t modelBatch) const {
  if (batch.getNumOccurrences())
    return batch;
  return impliedBatch ? *impliedBatch : modelBatch;
}

ArrayRef<StringRef> nnc::driver::optimizerNames() {
  static const StringRef names[] = {"sgd", "momentum", "adam", "adamw"};
  return names;
}

OptimizerOptions::OptimizerOptions(cl::SubCommand &sub)
    : optimizer("optimizer", cl::desc("sgd | momentum | adam | adamw (default: the model's)"),
                cl::sub(sub), cl::cat(category())),
      weightDecay("weight-decay", cl::desc("Weight decay, >= 0 (default: the model's)"),
                  cl::sub(sub), cl::cat(category())),
      momentum("momentum", cl::desc("Momentum, in (0, 1] (default: the model's)"),
               cl::sub(sub), cl::cat(category())),
      nesterov("nesterov", cl::desc("Nesterov momentum"), cl::sub(sub),
               cl::cat(category())) {}

bool OptimizerOptions::check() const {
  return checkChoice(optimizer, optimizerNames()) &&
         checkReal(weightDecay, 0, /*strict=*/false) &&
         checkReal(momentum, 0, /*strict=*/true, 1);
}

DataFlags::DataFlags(cl::SubCommand &sub)
    : data("data",
           cl::desc("Dataset: fashion-mnist, synthetic, an IDX or image-folder directory, a "
                    "CSV or token file, or text:PATH (raw text for a byte-level language "
                    "model) (docs/data.md)"),
           cl::init("fashion-mnist"), cl::sub(sub), cl::cat(category())),
      testData("test-data", cl::desc("A separate test set (same formats as --data)"),
               cl::value_desc("path"), cl::sub(sub), cl::cat(category())),
      holdout("holdout",
              cl::desc("Fraction of a dataset without a test split held out as the test "
                       "split, in (0, 1) (default 0.1)"),
              cl::init(0.1), cl::sub(sub), cl::cat(category())),
      resize("resize",
             cl::desc("Convert and resize PNGs of another size or colour type to the "
                      "model's"),
             cl::sub(sub), cl::cat(category())),
      target("target",
             cl::desc("CSV label/target column(s) by header name or 0-based index "
                      "(default: the last one(s))"),
             cl::value_desc("col[,col...]"), cl::sub(sub), cl::cat(category())),
      seed("seed",
           cl::desc("Seed, >= 0, of the --holdout split and synthetic data (train: also of "
                    "initialization, shuffling and dropout)"),
           cl::init(1), cl::sub(sub), cl::cat(category())) {}

bool DataFlags::toOptions(nnc::rt::DataOptions &options) const {
  if (!checkRange(seed, 0))
    return false;
  if (holdout.getNumOccurrences() && !(holdout > 0 && holdout < 1)) {
    fail("--holdout must be a fraction in (0, 1) (got " + formatReal(holdout) + ")");
    return false;
  }
  options.data = data;
  options.testData = testData;
  if (holdout.getNumOccurrences())
    options.holdout = holdout;
  options.seed = uint64_t(int64_t(seed));
  options.image.resize = resize;
  SmallVector<StringRef> columns;
  if (!target.empty())
    StringRef(target).split(columns, ',');
  for (StringRef c : columns) {
    if (c.trim().empty()) {
      fail("--target: empty column name in '" + target + "'");
      return false;
    }
    options.csv.targetColumns.push_back(c.trim().str());
  }
  return true;
}

ThreadsOption::ThreadsOption(cl::SubCommand &sub)
    : threads("threads", cl::desc("Kernel threads, 1 to 1024 (default: all cores)"),
              cl::init(0), cl::sub(sub), cl::cat(category())) {}

bool ThreadsOption::check() const { return checkRange(threads, 1, 1024); }

DeviceOptions::DeviceOptions(cl::SubCommand &sub, bool withArch)
    : device("device", cl::desc("Where the model runs: cpu (default) or gpu"),
             cl::value_desc("cpu|gpu"), cl::init("cpu"), cl::sub(sub), cl::cat(category())) {
  if (withArch)
    gpuArch.emplace("gpu-arch",
                    cl::desc("With --device gpu: sm_80 (default: sm_80 PTX, sm_80 and sm_90 "
                             "cubins) or sm_90 (sm_90 PTX and cubin)"),
                    cl::value_desc("sm_80|sm_90"), cl::init("sm_80"), cl::sub(sub),
                    cl::cat(category()));
}

std::optional<nnc::rt::Device> nnc::driver::parseDevice(StringRef text) {
  if (text == "cpu")
    return nnc::rt::Device::Cpu;
  if (text == "gpu")
    return nnc::rt::Device::Gpu;
  return std::nullopt;
}

bool DeviceOptions::check() const {
  if (!checkChoice(device, {"cpu", "gpu"}) ||
      (gpuArch && !checkChoice(*gpuArch, nnc::gpuArchNames())))
    return false;
  if (gpuArch && gpuArch->getNumOccurrences() && !gpu()) {
    fail("--gpu-arch applies only with --device gpu");
    return false;
  }
  return true;
}

bool DeviceOptions::checkRunnable() const {
  if (!check())
    return false;
  if (gpu() && !nnc::rt::gpu::unavailableReason().empty()) {
    fail("cannot use the GPU: " + nnc::rt::gpu::unavailableReason());
    return false;
  }
  return true;
}

nnc::rt::Device DeviceOptions::value() const {
  return parseDevice(device).value_or(nnc::rt::Device::Cpu);
}

MemoryBudgetOption::MemoryBudgetOption(cl::SubCommand &sub)
    : budget("memory-budget",
             cl::desc("Fit the planned arena into BYTES (e.g. 4000000, 8MiB, 10MB): the "
                      "training step recomputes activations in the backward pass"),
             cl::value_desc("BYTES"), cl::sub(sub), cl::cat(category())) {}

DataParallelOptions::DataParallelOptions(cl::SubCommand &sub)
    : ranks("ranks",
            cl::desc("Build the training step for N-way data parallelism (mpirun -np N; the "
                     "batch is the global one, each rank's is batch/N)"),
            cl::value_desc("N"), cl::init(1), cl::sub(sub), cl::cat(category())),
      shard("shard",
            cl::desc("With --ranks: none (every rank keeps all optimizer state) or opt (ZeRO-1: "
                     "each rank keeps and updates 1/N of it)"),
            cl::value_desc("none|opt"), cl::init("none"), cl::sub(sub), cl::cat(category())) {}

bool DataParallelOptions::check() const {
  return checkRange(ranks, 1, 1 << 20) && checkChoice(shard, {"none", "opt"});
}

DataParallelConfig DataParallelOptions::value() const { return {ranks, shard}; }

void nnc::driver::setDataParallel(mlir::ModuleOp model, const DataParallelConfig &config) {
  if (!config.enabled())
    return;
  mlir::Builder b(model.getContext());
  model->setAttr("nn.data_parallel",
                 b.getDictionaryAttr({b.getNamedAttr("ranks", b.getI64IntegerAttr(config.ranks)),
                                      b.getNamedAttr("shard", b.getStringAttr(config.shard))}));
}

std::optional<int64_t> nnc::driver::parseByteCount(StringRef text) {
  StringRef number = text.trim();
  size_t end = number.find_first_not_of("0123456789.");
  StringRef unit = number.substr(end == StringRef::npos ? number.size() : end).trim();
  number = number.take_front(end);
  static const std::pair<StringRef, double> units[] = {
      {"", 1},          {"B", 1},         {"kB", 1e3},
      {"KB", 1e3},      {"KiB", 1 << 10}, {"MB", 1e6},
      {"MiB", 1 << 20}, {"GB", 1e9},      {"GiB", double(1 << 30)}};
  const auto *u = llvm::find_if(units, [&](const auto &e) { return e.first == unit; });
  if (u == std::end(units) || number.empty() || number.count('.') > 1)
    return std::nullopt;
  double value;
  if (number.contains('.')) {
    if (unit.empty() || unit == "B" || number.getAsDouble(value))
      return std::nullopt;
  } else {
    uint64_t whole;
    if (number.getAsInteger(10, whole) || whole > uint64_t(INT64_MAX))
      return std::nullopt;
    if (u->second == 1)
      return whole > 0 ? std::optional<int64_t>(int64_t(whole)) : std::nullopt;
    value = double(whole);
  }
  double bytes = std::floor(value * u->second);
  if (!(bytes >= 1 && bytes < 9.0e18))
    return std::nullopt;
  return int64_t(bytes);
}

bool MemoryBudgetOption::check() const {
  if (!budget.getNumOccurrences() || value())
    return true;
  fail("--memory-budget must be a positive byte count such as 4000000, 8MiB or 10MB (got '" +
       budget + "')");
  return false;
}

std::optional<int64_t> MemoryBudgetOption::value() const {
  if (!budget.getNumOccurrences())
    return std::nullopt;
  return parseByteCount(budget);
}

//===----------------------------------------------------------------------===//
// Compiling, building and loading
//===----------------------------------------------------------------------===//

LoadedModel::~LoadedModel() {
  model.reset();
  if (!tempDir.empty())
    sys::fs::remove_directories(tempDir);
}

SmallVector<std::pair<mlir::ModuleOp, const nnc::ModelGraph *>>
nnc::driver::modelsOf(mlir::ModuleOp module, const std::vector<nnc::ModelGraph> &graphs) {
  SmallVector<std::pair<mlir::ModuleOp, const nnc::ModelGraph *>> result;
  unsigned index = 0;
  for (auto model : module.getBody()->getOps<mlir::ModuleOp>())
    result.push_back({model, &graphs[index++]});
  return result;
}

static mlir::DialectRegistry &dialects() {
  static mlir::DialectRegistry registry = [] {
    mlir::DialectRegistry r;
    nnc::registerAllDialects(r);
    return r;
  }();
  return registry;
}

Session::Session(const ModelOptions &options)
    : options(options), diagEngine(srcMgr), mlirContext(dialects()) {}

std::unique_ptr<Session> Session::open(const ModelOptions &options) {
  if (options.input.empty()) {
    fail("no input file (see nnc --help)");
    return nullptr;
  }
  auto fileOrErr = MemoryBuffer::getFileOrSTDIN(options.input, /*IsText=*/true);
  if (std::error_code ec = fileOrErr.getError()) {
    fail("cannot open '" + options.input + "': " + ec.message());
    return nullptr;
  }
  std::unique_ptr<Session> session(new Session(options));
  session->srcMgr.AddNewSourceBuffer(std::move(*fileOrErr), SMLoc());
  session->mlirContext.loadAllAvailableDialects();
  // Errors from passes print like frontend errors: located, with a caret
  // (without a note dumping the op's IR).
  session->mlirContext.printOpOnDiagnostic(false);
  session->handler = std::make_unique<mlir::SourceMgrDiagnosticHandler>(
      session->srcMgr, &session->mlirContext);
  nnc::registerAllPasses();
  return session;
}

mlir::OwningOpRef<mlir::ModuleOp>
Session::lowerToNN(std::vector<nnc::ModelGraph> *graphsOut) {
  std::unique_ptr<nnc::ast::Module> ast = nnc::parseModelFile(diagEngine);
  if (!ast)
    return nullptr;
  auto graphs = nnc::analyzeModule(*ast, options.modelName, options.defines, diagEngine);
  if (!graphs)
    return nullptr;
  auto module = nnc::mlirGen(mlirContext, *graphs, srcMgr);
  if (graphsOut)
    *graphsOut = std::move(*graphs);
  return module;
}

mlir::LogicalResult Session::specializeBatch(mlir::ModuleOp model, const nnc::ModelGraph &graph,
                                             int64_t ranks) {
  nnc::NNInferShapesOptions shapeOptions;
  shapeOptions.batch = options.batchFor(graph.train.batch);
  if (ranks > 1) {
    if (shapeOptions.batch % ranks != 0) {
      fail("the global batch " + Twine(shapeOptions.batch) + " is not a multiple of the " +
           Twine(ranks) +
           " ranks: each rank trains on batch / ranks samples; choose another "
           "--batch");
      return mlir::failure();
    }
    shapeOptions.batch /= ranks;
  }
  mlir::PassManager pm(&mlirContext, mlir::ModuleOp::getOperationName());
  pm.addPass(nnc::createNNInferShapes(shapeOptions));
  // Read by -nn-lower-to-linalg wherever the model is lowered.
  if (options.generatedMatmul)
    model->setAttr("nn.generated_matmul", mlir::UnitAttr::get(&mlirContext));
  return pm.run(model);
}

mlir::LogicalResult Session::quantize(mlir::ModuleOp module, StringRef table, bool observe,
                                      StringRef tableName) {
  nnc::NNQuantizeOptions quantize;
  quantize.table = table.str();
  quantize.tableName = tableName.str();
  quantize.observe = observe;
  mlir::PassManager pm(&mlirContext, mlir::ModuleOp::getOperationName());
  pm.addPass(nnc::createNNQuantize(quantize));
  return pm.run(module);
}

mlir::LogicalResult Session::addTrainStep(mlir::ModuleOp module, const OptimizerOptions &optimizer,
                                          const DistillLoss *distill) {
  // Flags not given keep the pass's "the model's train section" values.
  nnc::NNAutodiffOptions autodiff;
  if (optimizer.optimizer.getNumOccurrences())
    autodiff.optimizer = optimizer.optimizer;
  if (optimizer.weightDecay.getNumOccurrences())
    autodiff.weightDecay = optimizer.weightDecay;
  if (optimizer.momentum.getNumOccurrences())
    autodiff.momentum = optimizer.momentum;
  autodiff.nesterov = optimizer.nesterov;
  if (distill) {
    autodiff.distillTemperature = distill->temperature;
    autodiff.distillAlpha = distill->alpha;
  }
  mlir::PassManager pm(&mlirContext, mlir::ModuleOp::getOperationName());
  pm.addPass(nnc::createNNAutodiff(autodiff));
  return pm.run(module);
}

mlir::FailureOr<std::pair<mlir::ModuleOp, const nnc::ModelGraph *>>
Session::lowerSingleModel(mlir::OwningOpRef<mlir::ModuleOp> &module,
                          std::vector<nnc::ModelGraph> &graphs) {
  module = lowerToNN(&graphs);
  if (!module)
    return mlir::failure();
  auto models = modelsOf(*module, graphs);
  if (models.size() != 1) {
    fail("the file defines " + Twine(models.size()) + " models; choose one with --model NAME");
    return mlir::failure();
  }
  return models.front();
}

int Session::buildModel(StringRef output, const BuildRequest &request,
                        nnc::ModelGraph *graphOut) {
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  auto single = lowerSingleModel(module, graphs);
  if (failed(single))
    return 1;
  if (request.optimizer && failed(addTrainStep(*module, *request.optimizer,
                                               request.distill ? &*request.distill : nullptr)))
    return 1;
  std::string table = request.quantizeTable;
  SmallString<128> tableFile;
  scope_exit removeTable([&] {
    if (!tableFile.empty())
      sys::fs::remove(tableFile);
  });
  if (!request.quantizedWeights.empty()) {
    // The pass reads its table from a file: the weights file's, copied out.
    auto weights = nnc::rt::readQuantizedWeights(request.quantizedWeights);
    if (!weights)
      return fail(weights.message());
    int fd = -1;
    if (std::error_code ec = sys::fs::createTemporaryFile("nnc-table", "json", fd, tableFile))
      return fail("cannot create a temporary file: " + ec.message());
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << nnc::rt::quantizationTableToJson(weights->table);
    os.close();
    if (os.has_error())
      return fail("cannot write '" + tableFile + "': " + os.error().message());
    table = std::string(tableFile);
  }
  if ((request.quantizeObserve || !table.empty()) &&
      failed(quantize(*module, table, request.quantizeObserve, request.quantizedWeights)))
    return 1;
  auto [model, graph] = *single;
  if (graphOut)
    *graphOut = *graph;
  const DataParallelConfig &dp = request.dataParallel;
  if (dp.enabled()) {
    // Each rank reduces the flat gradient buffer of the fused update.
    if (!request.optimizer)
      return fail("--ranks and --shard build a data-parallel training step: add --train");
    if (request.model.noFuse)
      return fail("--no-fuse cannot be combined with data-parallel training (" + Twine(dp.ranks) +
                  (dp.ranks == 1 ? " rank" : " ranks") +
                  (dp.shard == "opt" ? ", --shard opt" : "") +
                  "): it reduces the fused optimizer update's flat gradient buffer");
    if (request.checkNumerics)
      return fail("--check-numerics cannot be combined with data-parallel training: it needs "
                  "the fused optimizer update, which --check-numerics turns off");
  }
  if (failed(specializeBatch(model, *graph, dp.ranks)))
    return 1;
  setDataParallel(model, dp);
  if (dp.shard == "opt") {
    std::string optimizerName = request.optimizer->optimizer.getNumOccurrences()
                                    ? std::string(request.optimizer->optimizer)
                                    : graph->train.optimizer;
    if (optimizerName == "sgd")
      errs() << "nnc: note: --shard opt: the optimizer sgd keeps no state, so there is nothing "
                "to shard (each rank still updates 1/"
             << dp.ranks << " of the parameters and gathers them)\n";
  }
  if (request.memoryBudget) {
    mlir::FailureOr<nnc::RecomputePlan> plan = nnc::planMemoryBudget(
        model, *request.memoryBudget, request.checkNumerics, !request.model.noFuse,
        request.device == nnc::rt::Device::Gpu);
    if (failed(plan) || failed(nnc::applyRecomputePlan(model, *plan)))
      return 1;
    if (!plan->recomputedLayers.empty())
      errs() << "nnc: memory budget " << *request.memoryBudget << " B: planned arena "
             << plan->arenaBytes << " B (" << plan->unconstrainedBytes
             << " B without recomputation), recomputing " << join(plan->recomputedLayers, ", ")
             << " (+" << plan->extraFlops << " FLOPs per step)\n";
  }
  std::string exe = sys::fs::getMainExecutable(programPath().c_str(), (void *)&fail);
  SmallString<256> libDir(sys::path::parent_path(sys::path::parent_path(exe)));
  sys::path::append(libDir, "lib");
  nnc::ArtifactOptions artifact;
  artifact.runtimeLibDir = std::string(libDir);
  artifact.checkNumerics = request.checkNumerics;
  artifact.fuse = !request.model.noFuse;
  artifact.gpuEmulate = request.model.gpuEmulate;
  artifact.gpuBlockReductions = !request.model.gpuSerialReductions;
  std::string temp = (output + ".tmp." + Twine(sys::Process::getProcessId())).str();
  // Ctrl-C from here on lets the build finish its temporary files and
  // remove them; nothing is written.
  stopOnInterrupt();
  nnc::GPUOptions gpu;
  gpu.arch = request.gpuArch;
  gpu.blockReductions = !request.model.gpuSerialReductions;
  if (failed(request.device == nnc::rt::Device::Gpu
                 ? nnc::buildGPUArtifact(model, temp, artifact, gpu)
                 : nnc::buildArtifact(model, temp, artifact)) ||
      interrupted()) {
    sys::fs::remove(temp);
    return 1;
  }
  if (std::error_code ec = sys::fs::rename(temp, output)) {
    sys::fs::remove(temp);
    return fail("cannot write '" + output + "': " + ec.message());
  }
  return 0;
}

std::unique_ptr<LoadedModel> Session::buildAndLoad(const BuildRequest &request,
                                                   int threads) {
  stopOnInterrupt();
  auto loaded = std::make_unique<LoadedModel>();
  if (std::error_code ec = sys::fs::createUniqueDirectory("nnc", loaded->tempDir)) {
    fail("cannot create a temporary directory: " + ec.message());
    return nullptr;
  }
  SmallString<128> lib(loaded->tempDir);
  sys::path::append(lib, "model.so");
  if (buildModel(lib, request, &loaded->graph) != 0)
    return nullptr;
  if (interrupted())
    return nullptr;
  auto model = nnc::rt::Model::load(std::string(lib), request.device);
  if (!model) {
    fail(model.message());
    return nullptr;
  }
  loaded->model = std::move(*model);
  // Kernel threads for every command that runs the model (0: all cores);
  // train sets them again from its options.
  nnc_set_num_threads(threads);
  return loaded;
}

bool nnc::driver::isQuantizedWeights(StringRef weights) {
  auto ckpt = nnc::rt::readCheckpoint(weights.str());
  if (!ckpt)
    return false;
  for (const auto &[key, value] : ckpt->metadata)
    if (key == nnc::rt::kQuantizationMetadataKey)
      return true;
  return false;
}

std::unique_ptr<LoadedModel> Session::buildWithWeights(const ModelOptions &model, StringRef weights,
                                                       int threads, nnc::rt::Device device) {
  BuildRequest request{model, nullptr, false, std::nullopt, device};
  // int8 weights (nnc quantize) build the int8 model of their table.
  if (isQuantizedWeights(weights))
    request.quantizedWeights = weights.str();
  std::unique_ptr<LoadedModel> loaded = buildAndLoad(request, threads);
  if (!loaded)
    return nullptr;
  if (auto st = nnc::rt::loadWeights(*loaded->model, weights.str()); st.failed()) {
    fail(st.message());
    return nullptr;
  }
  auto spec = nnc::rt::sampleSpecOf(*loaded->model);
  if (!spec) {
    fail(spec.message());
    return nullptr;
  }
  loaded->spec = *spec;
  return loaded;
}

std::unique_ptr<LoadedModel> nnc::driver::loadModel(const BuildRequest &request,
                                                   int threads) {
  std::unique_ptr<Session> session = Session::open(request.model);
  return session ? session->buildAndLoad(request, threads) : nullptr;
}

std::unique_ptr<LoadedModel> nnc::driver::loadModelWithWeights(const ModelOptions &model,
                                                               StringRef weights, int threads,
                                                               nnc::rt::Device device) {
  std::unique_ptr<Session> session = Session::open(model);
  return session ? session->buildWithWeights(model, weights, threads, device) : nullptr;
}

int nnc::driver::printToOutput(const ModelOptions &model, StringRef output,
                               function_ref<int(Session &, raw_ostream &)> print) {
  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return 1;
  // Built in memory, written only on success.
  std::string buffer;
  raw_string_ostream os(buffer);
  if (int rc = print(*session, os))
    return rc;
  return writeOutput(output, buffer);
}

mlir::LogicalResult nnc::driver::forwardIO(const nnc::rt::Model &model,
                                           const nnc::rt::Region *&in,
                                           const nnc::rt::Region *&out) {
  in = out = nullptr;
  for (const nnc::rt::Region &r : model.regions()) {
    if (!StringRef(r.name).starts_with("forward."))
      continue;
    if (r.kind == "input") {
      if (in) {
        fail("this command supports models with one input");
        return mlir::failure();
      }
      in = &r;
    } else if (r.kind == "output" && !out) {
      out = &r;
    }
  }
  if (!in || !out) {
    fail("the model has no forward input or output");
    return mlir::failure();
  }
  return mlir::success();
}

int nnc::driver::writeOutput(StringRef path, StringRef text) {
  if (Error err = writeToOutput(path, [&](raw_ostream &out) {
        out << text;
        return Error::success();
      }))
    return fail("cannot write '" + path + "': " + toString(std::move(err)));
  return 0;
}

//===----------------------------------------------------------------------===//
// Ctrl-C
//===----------------------------------------------------------------------===//

static volatile std::sig_atomic_t interruptSignal = 0;

/// Runs in the signal handler: only async-signal-safe calls. LLVM's handler
/// has already restored the default action, so a second Ctrl-C kills nnc.
static void onInterrupt() {
  interruptSignal = 1;
  static const char message[] =
      "\nnnc: stopping (press Ctrl-C again to quit at once, leaving temporary files)\n";
  ssize_t ignored = ::write(STDERR_FILENO, message, sizeof(message) - 1);
  (void)ignored;
}

void nnc::driver::stopOnInterrupt() {
  // Once: after the first signal LLVM has restored the default action, which
  // must stay so that a second Ctrl-C kills nnc.
  static bool installed = false;
  if (!installed)
    sys::SetInterruptFunction(onInterrupt);
  installed = true;
}

const volatile std::sig_atomic_t *nnc::driver::interruptFlag() { return &interruptSignal; }

bool &nnc::driver::interruptReported() {
  static bool reported = false;
  return reported;
}
