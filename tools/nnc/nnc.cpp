//===- nnc.cpp - The nnc compiler driver ----------------------------------===//
//
//   nnc compile model.nn -emit=ast|nn|nn-autodiff|buffers|llvm [-o out]
//               [--model NAME] [-D name=value] [--batch N] [--train]
//   nnc build   model.nn -o model.so [--batch N] [--train]
//   nnc report  model.nn [--batch N] [--optimizer O] [--dtype T]
//                        [--format table|json] [--model NAME] [-D name=value]
//
// Every error is located in the model file and makes nnc exit with status 1;
// an output file is only written (atomically) when everything succeeded.
//
//===----------------------------------------------------------------------===//

#include "codegen/CPUPipeline.h"
#include "codegen/Passes.h"
#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "passes/ModelReport.h"
#include "passes/Passes.h"
#include "runtime/Checkpoint.h"
#include "runtime/Kernels.h"
#include "runtime/Train.h"
#include "tools/common/Registration.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/ScopeExit.h"
#include <chrono>
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::SubCommand compileCmd("compile", "Parse a model file and print a compiler stage");
cl::SubCommand buildCmd("build", "Compile a model ahead of time into a shared library "
                                 "that needs only nnc's runtime");
cl::SubCommand trainCmd("train", "Compile a model and train it on the CPU");
cl::SubCommand evalCmd("eval", "Evaluate trained weights on a dataset's test split");
cl::SubCommand benchCmd("bench", "Time the compiled model's forward and training "
                                 "step on synthetic data");
cl::SubCommand runCmd("run", "Run the forward pass on inputs from a safetensors file");
cl::SubCommand predictCmd("predict", "Classify PNG images with trained weights");
cl::SubCommand reportCmd("report", "Print what a model costs: parameters, bytes, "
                                   "FLOPs, training and inference memory");

cl::OptionCategory nncCategory("nnc options");

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model.nn>"), cl::sub(cl::SubCommand::getAll()), cl::cat(nncCategory));
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"), cl::sub(cl::SubCommand::getAll()),
                                    cl::cat(nncCategory));
cl::opt<std::string> modelName("model", cl::desc("The model to compile (default: all)"),
                               cl::value_desc("name"), cl::sub(cl::SubCommand::getAll()), cl::cat(nncCategory));
cl::list<std::string> defines("D", cl::desc("Override a hyperparameter: -D name=value"),
                              cl::value_desc("name=value"), cl::Prefix, cl::sub(cl::SubCommand::getAll()),
                              cl::cat(nncCategory));

enum class Emit { AST, NN, NNAutodiff, Buffers, LLVM };
cl::opt<Emit> emitAction(
    "emit", cl::desc("The stage to print"), cl::init(Emit::NN),
    cl::values(clEnumValN(Emit::AST, "ast", "the syntax tree"),
               clEnumValN(Emit::NN, "nn", "the nn dialect"),
               clEnumValN(Emit::NNAutodiff, "nn-autodiff",
                          "nn with @train_step (-nn-autodiff)"),
               clEnumValN(Emit::Buffers, "buffers",
                          "memref code over one planned arena (static batch)"),
               clEnumValN(Emit::LLVM, "llvm", "the LLVM dialect (static batch)")),
                         cl::sub(compileCmd), cl::cat(nncCategory));
cl::opt<bool> printLocations("locations",
                             cl::desc("Print the model-file location of every op"),
                             cl::sub(compileCmd), cl::cat(nncCategory));

cl::opt<int64_t> batchSize("batch",
                           cl::desc("Batch size (default: the model's train section)"),
                           cl::init(0), cl::sub(cl::SubCommand::getAll()), cl::cat(nncCategory));
cl::opt<std::string> optimizerName(
    "optimizer", cl::desc("sgd | momentum | adam | adamw (default: the model's)"), cl::sub(cl::SubCommand::getAll()),
    cl::cat(nncCategory));
cl::opt<bool> withTraining("train",
                           cl::desc("Include @train_step (autodiff + optimizer update)"),
                           cl::sub(compileCmd), cl::sub(buildCmd), cl::cat(nncCategory));
cl::opt<double> weightDecay("weight-decay", cl::desc("Weight decay (default: the model's)"),
                            cl::init(-1), cl::sub(cl::SubCommand::getAll()), cl::cat(nncCategory));
cl::opt<double> momentumValue("momentum", cl::desc("Momentum (default: the model's)"),
                              cl::init(-1), cl::sub(cl::SubCommand::getAll()), cl::cat(nncCategory));
cl::opt<bool> nesterov("nesterov", cl::desc("Nesterov momentum"), cl::sub(cl::SubCommand::getAll()), cl::cat(nncCategory));
// Training and evaluation.
cl::opt<std::string> dataName("data", cl::desc("Dataset: fashion-mnist, synthetic, an IDX or "
                                               "image-folder directory, a CSV or token file"),
                              cl::init("fashion-mnist"), cl::sub(cl::SubCommand::getAll()),
                              cl::cat(nncCategory));
cl::opt<int64_t> epochs("epochs", cl::desc("Epochs (default: the model's)"), cl::init(0),
                        cl::sub(trainCmd), cl::cat(nncCategory));
cl::opt<bool> checkNumerics("check-numerics",
                            cl::desc("Check every op result for NaN/Inf and name the first "
                                     "layer where one appears"),
                            cl::sub(trainCmd), cl::sub(buildCmd), cl::cat(nncCategory));
cl::opt<int64_t> stopAfter("stop-after",
                           cl::desc("Stop after epoch N of the --epochs schedule (resume "
                                    "later with --resume)"),
                           cl::init(0), cl::sub(trainCmd), cl::cat(nncCategory));
cl::opt<double> learningRate("lr", cl::desc("Learning rate (default: the model's)"),
                             cl::init(0), cl::sub(trainCmd), cl::cat(nncCategory));
cl::opt<std::string> schedule("schedule",
                              cl::desc("constant | step | cosine (default: the model's)"),
                              cl::sub(trainCmd), cl::cat(nncCategory));
cl::opt<int64_t> seed("seed",
                      cl::desc("Seed for initialization, shuffling, dropout and "
                               "the --holdout split"),
                      cl::init(1), cl::sub(trainCmd), cl::sub(evalCmd), // data-options
                      cl::cat(nncCategory));
cl::opt<int64_t> trainLimit("limit", cl::desc("Use only the first N training samples"),
                            cl::init(0), cl::sub(trainCmd), cl::cat(nncCategory));
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples"),
                           cl::init(0), cl::sub(cl::SubCommand::getAll()),
                           cl::cat(nncCategory));
cl::opt<std::string> resumePath("resume", cl::desc("Continue training from a checkpoint"),
                                cl::sub(trainCmd), cl::cat(nncCategory));
cl::opt<std::string> weightsPath("weights", cl::desc("Weights (safetensors) to start from "
                                                     "or to evaluate"), cl::sub(cl::SubCommand::getAll()),
                                 cl::cat(nncCategory));
cl::opt<std::string> inputsPath("inputs",
                                cl::desc("safetensors file whose '__input' tensor is the batch"),
                                cl::sub(runCmd), cl::cat(nncCategory));
cl::opt<bool> checkOutput("check",
                          cl::desc("Compare the output with the inputs file's '__output'"),
                          cl::sub(runCmd), cl::cat(nncCategory));
cl::opt<double> tolerance("tolerance", cl::desc("--check: max |difference| / (1 + |expected|)"),
                          cl::init(1e-4), cl::sub(runCmd), cl::cat(nncCategory));
cl::list<std::string> imagePaths(cl::Positional, cl::desc("<image.png>..."),
                                 cl::sub(predictCmd), cl::cat(nncCategory));
cl::opt<std::string> classNames("labels",
                                cl::desc("Comma-separated class names for predict "
                                         "(default: Fashion-MNIST's for 10 classes)"),
                                cl::sub(predictCmd), cl::cat(nncCategory));
cl::opt<std::string> metricsPath("metrics", cl::desc("Write metrics as JSON lines here"),
                                 cl::sub(trainCmd), cl::cat(nncCategory));
cl::opt<int> threads("threads", cl::desc("Kernel threads (default: all cores)"), cl::init(0), cl::sub(trainCmd), cl::sub(evalCmd), cl::sub(benchCmd), cl::sub(runCmd),
                     cl::cat(nncCategory));
cl::opt<int64_t> iterations("iterations", cl::desc("Timed iterations per entry point"),
                            cl::init(50), cl::sub(benchCmd), cl::cat(nncCategory));
cl::opt<std::string> dtypeName("dtype", cl::desc("f32 | f16 | bf16 | int8"),
                               cl::init("f32"), cl::sub(reportCmd),
                               cl::cat(nncCategory));
// data-options: the train/test split, image conversion, CSV targets and
// per-step metrics (runtime/Data.h DataOptions, runtime/Train.h TrainOptions).
cl::opt<std::string> testDataName("test-data",
                                  cl::desc("A separate test set (same formats as --data)"),
                                  cl::value_desc("path"), cl::sub(trainCmd), cl::sub(evalCmd),
                                  cl::cat(nncCategory));
cl::opt<double> holdoutFraction("holdout",
                                cl::desc("Fraction of a dataset without a test split held "
                                         "out as the test split, in (0, 1) (default 0.1)"),
                                cl::init(0.1), cl::sub(trainCmd), cl::sub(evalCmd),
                                cl::cat(nncCategory));
cl::opt<bool> resizeImages("resize",
                           cl::desc("Convert and resize PNGs of another size or colour "
                                    "type to the model's"),
                           cl::sub(trainCmd), cl::sub(evalCmd), cl::sub(predictCmd),
                           cl::cat(nncCategory));
cl::opt<std::string> targetColumns("target",
                                   cl::desc("CSV label/target column(s) by header name or "
                                            "0-based index (default: the last one(s))"),
                                   cl::value_desc("col[,col...]"), cl::sub(trainCmd),
                                   cl::sub(evalCmd), cl::cat(nncCategory));
cl::opt<int64_t> metricsEvery("metrics-every",
                              cl::desc("Write a --metrics step record every K steps "
                                       "(default 1)"),
                              cl::value_desc("K"), cl::init(1), cl::sub(trainCmd),
                              cl::cat(nncCategory));

/// The data flags as DataOptions; a one-line error (and false) for a bad
/// value.
bool dataOptionsFromFlags(nnc::rt::DataOptions &options) {
  options.data = dataName;
  options.testData = testDataName;
  if (holdoutFraction.getNumOccurrences()) {
    if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
      char got[32];
      std::snprintf(got, sizeof(got), "%g", double(holdoutFraction));
      WithColor::error(errs(), "nnc")
          << "--holdout must be a fraction in (0, 1), got " << got << "\n";
      return false;
    }
    options.holdout = holdoutFraction;
  }
  options.seed = uint64_t(seed);
  options.image.resize = resizeImages;
  SmallVector<StringRef> columns;
  if (!targetColumns.empty())
    StringRef(targetColumns).split(columns, ',');
  for (StringRef c : columns) {
    if (c.trim().empty()) {
      WithColor::error(errs(), "nnc")
          << "--target: empty column name in '" << targetColumns << "'\n";
      return false;
    }
    options.csv.targetColumns.push_back(c.trim().str());
  }
  if (metricsEvery < 1) {
    WithColor::error(errs(), "nnc")
        << "--metrics-every must be an integer >= 1, got " << metricsEvery << "\n";
    return false;
  }
  return true;
}
// end data-options

enum class Format { Table, JSON };
cl::opt<Format> reportFormat("format", cl::desc("Report format"), cl::init(Format::Table),
                       cl::values(clEnumValN(Format::Table, "table", "a table"),
                                  clEnumValN(Format::JSON, "json", "JSON")),
                       cl::sub(reportCmd), cl::cat(nncCategory));
} // namespace

/// Prints an error that has no location in the model file.
static int fail(const Twine &msg) {
  WithColor::error(errs(), "nnc") << msg << "\n";
  return 1;
}

/// Parses, checks and lowers the input to nn. Null after reporting errors.
static mlir::OwningOpRef<mlir::ModuleOp>
lowerToNN(mlir::MLIRContext &context, nnc::DiagEngine &diag,
          std::vector<nnc::ModelGraph> *graphsOut = nullptr) {
  std::unique_ptr<nnc::ast::Module> ast = nnc::parseModelFile(diag);
  if (!ast)
    return nullptr;
  auto graphs = nnc::analyzeModule(*ast, modelName, defines, diag);
  if (!graphs)
    return nullptr;
  auto module = nnc::mlirGen(context, *graphs, diag.getSourceMgr());
  if (graphsOut)
    *graphsOut = std::move(*graphs);
  return module;
}

/// Fixes the batch dimension of one model module: --batch, else the model's
/// train section.
static LogicalResult specializeBatch(mlir::ModuleOp model, const nnc::ModelGraph &graph) {
  nnc::NNInferShapesOptions shapeOptions;
  shapeOptions.batch = batchSize ? int64_t(batchSize) : graph.train.batch;
  mlir::PassManager pm(model.getContext(), mlir::ModuleOp::getOperationName());
  pm.addPass(nnc::createNNInferShapes(shapeOptions));
  return pm.run(model);
}

/// The model modules of `module` with their graphs, in order.
static SmallVector<std::pair<mlir::ModuleOp, const nnc::ModelGraph *>>
modelsOf(mlir::ModuleOp module, const std::vector<nnc::ModelGraph> &graphs) {
  SmallVector<std::pair<mlir::ModuleOp, const nnc::ModelGraph *>> result;
  unsigned index = 0;
  for (auto model : module.getBody()->getOps<mlir::ModuleOp>())
    result.push_back({model, &graphs[index++]});
  return result;
}

/// Adds @train_step to every model (-nn-autodiff with the optimizer flags).
static LogicalResult addTrainStep(mlir::ModuleOp module) {
  nnc::NNAutodiffOptions options;
  options.optimizer = optimizerName;
  options.weightDecay = weightDecay;
  options.momentum = momentumValue;
  options.nesterov = nesterov;
  mlir::PassManager pm(module.getContext(), mlir::ModuleOp::getOperationName());
  pm.addPass(nnc::createNNAutodiff(options));
  return pm.run(module);
}

static int runCompile(nnc::DiagEngine &diag, mlir::MLIRContext &context,
                      raw_ostream &os) {
  if (emitAction == Emit::AST) {
    std::unique_ptr<nnc::ast::Module> ast = nnc::parseModelFile(diag);
    if (!ast)
      return 1;
    nnc::ast::dumpAST(*ast, diag.getSourceMgr(), os);
    return 0;
  }
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = lowerToNN(context, diag, &graphs);
  if (!module)
    return 1;
  auto flags = mlir::OpPrintingFlags().enableDebugInfo(printLocations, /*prettyForm=*/false);
  if ((emitAction == Emit::NNAutodiff || withTraining) && failed(addTrainStep(*module)))
    return 1;
  if (emitAction == Emit::NN || emitAction == Emit::NNAutodiff) {
    module->print(os, flags);
    os << "\n";
    return 0;
  }
  for (auto [model, graph] : modelsOf(*module, graphs)) {
    if (failed(specializeBatch(model, *graph)))
      return 1;
    if (emitAction == Emit::LLVM) {
      auto lowered = nnc::lowerModelToLLVM(model);
      if (failed(lowered))
        return 1;
      (*lowered)->print(os, flags);
      os << "\n";
    }
  }
  if (emitAction == Emit::Buffers) {
    mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
    pm.addPass(nnc::createNNLowerToBuffers());
    pm.addPass(nnc::createNNPlanMemory());
    if (failed(pm.run(*module)))
      return 1;
    module->print(os, flags);
    os << "\n";
  }
  return 0;
}

/// Compiles the (single selected) model to a shared library at `output`,
/// written atomically; with `training`, including @train_step.
static int buildModel(nnc::DiagEngine &diag, mlir::MLIRContext &context,
                      StringRef argv0, StringRef output, bool training,
                      nnc::ModelGraph *graphOut = nullptr) {
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = lowerToNN(context, diag, &graphs);
  if (!module)
    return 1;
  auto models = modelsOf(*module, graphs);
  if (models.size() != 1)
    return fail("the file defines " + Twine(models.size()) +
                " models; choose one with --model NAME");
  if (training && failed(addTrainStep(*module)))
    return 1;
  auto [model, graph] = models.front();
  if (graphOut)
    *graphOut = *graph;
  if (failed(specializeBatch(model, *graph)))
    return 1;
  std::string exe = sys::fs::getMainExecutable(argv0.data(), (void *)&fail);
  SmallString<256> libDir(sys::path::parent_path(sys::path::parent_path(exe)));
  sys::path::append(libDir, "lib");
  nnc::ArtifactOptions options;
  options.runtimeLibDir = std::string(libDir);
  options.checkNumerics = checkNumerics;
  std::string temp = (output + ".tmp." + Twine(sys::Process::getProcessId())).str();
  if (failed(nnc::buildArtifact(model, temp, options))) {
    sys::fs::remove(temp);
    return 1;
  }
  if (std::error_code ec = sys::fs::rename(temp, output)) {
    sys::fs::remove(temp);
    return fail("cannot write '" + output + "': " + ec.message());
  }
  return 0;
}

/// `nnc build`: one model to a shared library.
static int runBuild(nnc::DiagEngine &diag, mlir::MLIRContext &context, StringRef argv0) {
  if (outputFilename == "-")
    return fail("nnc build needs an output file: -o model.so");
  return buildModel(diag, context, argv0, outputFilename, withTraining);
}

/// A model compiled into a temporary directory and loaded; the directory is
/// removed when this goes away.
struct LoadedModel {
  std::unique_ptr<nnc::rt::Model> model;
  nnc::ModelGraph graph;
  /// The sample the forward pass expects (set by buildWithWeights).
  nnc::rt::SampleSpec spec;
  SmallString<128> tempDir;
  ~LoadedModel() {
    model.reset();
    if (!tempDir.empty())
      sys::fs::remove_directories(tempDir);
  }
};

/// Builds the selected model (with @train_step if `training`) and loads it;
/// null model after reporting an error.
static std::unique_ptr<LoadedModel> buildAndLoad(nnc::DiagEngine &diag,
                                                 mlir::MLIRContext &context,
                                                 StringRef argv0, bool training) {
  auto loaded = std::make_unique<LoadedModel>();
  if (std::error_code ec = sys::fs::createUniqueDirectory("nnc", loaded->tempDir)) {
    fail("cannot create a temporary directory: " + ec.message());
    return nullptr;
  }
  SmallString<128> lib(loaded->tempDir);
  sys::path::append(lib, "model.so");
  if (buildModel(diag, context, argv0, lib, training, &loaded->graph) != 0)
    return nullptr;
  auto model = nnc::rt::Model::load(std::string(lib));
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

/// Builds the inference model, loads --weights into it and works out the
/// sample it expects; null after reporting an error.
static std::unique_ptr<LoadedModel> buildWithWeights(nnc::DiagEngine &diag,
                                                     mlir::MLIRContext &context,
                                                     StringRef argv0) {
  std::unique_ptr<LoadedModel> loaded =
      buildAndLoad(diag, context, argv0, /*training=*/false);
  if (!loaded)
    return nullptr;
  if (auto st = nnc::rt::loadWeights(*loaded->model, weightsPath); st.failed()) {
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

/// The input and output regions of the forward pass of a one-input model.
static LogicalResult forwardIO(const nnc::rt::Model &model, const nnc::rt::Region *&in,
                               const nnc::rt::Region *&out) {
  in = out = nullptr;
  for (const nnc::rt::Region &r : model.regions()) {
    if (!StringRef(r.name).starts_with("forward."))
      continue;
    if (r.kind == "input") {
      if (in) {
        fail("this command supports models with one input");
        return failure();
      }
      in = &r;
    } else if (r.kind == "output" && !out) {
      out = &r;
    }
  }
  if (!in || !out) {
    fail("the model has no forward input or output");
    return failure();
  }
  return success();
}

/// `nnc train`: compile with @train_step, train, evaluate, save.
static int runTrain(nnc::DiagEngine &diag, mlir::MLIRContext &context, StringRef argv0) {
  nnc::rt::DataOptions dataOptions; // data-options
  if (!dataOptionsFromFlags(dataOptions))
    return 1;
  std::unique_ptr<LoadedModel> loaded =
      buildAndLoad(diag, context, argv0, /*training=*/true);
  if (!loaded)
    return 1;
  nnc::rt::Model &model = *loaded->model;
  const nnc::ModelGraph &graph = loaded->graph;
  nnc::rt::TrainOptions options;
  options.dataset = dataOptions;       // data-options
  options.metricsEvery = metricsEvery; // data-options
  options.epochs = epochs ? int64_t(epochs) : graph.train.epochs;
  options.stopAfter = stopAfter;
  options.lr = learningRate > 0 ? double(learningRate) : graph.train.lr;
  options.schedule = schedule.empty() ? graph.train.schedule : std::string(schedule);
  options.seed = uint64_t(seed);
  options.trainLimit = trainLimit;
  options.testLimit = testLimit;
  options.checkpoint = outputFilename == "-" ? "" : std::string(outputFilename);
  options.resume = resumePath;
  options.weights = weightsPath;
  options.metrics = metricsPath;
  options.threads = threads;
  if (options.schedule != "constant" && options.schedule != "step" &&
      options.schedule != "cosine")
    return fail("--schedule must be constant, step or cosine");
  auto result = nnc::rt::train(model, options);
  if (!result)
    return fail(result.message());
  if (result->test.regression) // data-options
    outs() << formatv("test loss (mse) {0:F4}  rmse {1:F4}", result->test.loss, result->test.rmse);
  else
    outs() << formatv("test accuracy {0:F1}%", 100 * result->testAccuracy);
  if (!options.checkpoint.empty()) {
    uint64_t size = 0;
    sys::fs::file_size(options.checkpoint, size);
    outs() << "   (saved " << options.checkpoint << ", " << nnc::formatCount(size) << " B)";
  }
  outs() << "\n";
  return 0;
}

/// `nnc eval`: test-split accuracy of trained weights.
static int runEval(nnc::DiagEngine &diag, mlir::MLIRContext &context, StringRef argv0) {
  if (weightsPath.empty())
    return fail("nnc eval needs --weights FILE.safetensors");
  nnc::rt::DataOptions dataOptions; // data-options
  if (!dataOptionsFromFlags(dataOptions))
    return 1;
  std::unique_ptr<LoadedModel> loaded = buildWithWeights(diag, context, argv0);
  if (!loaded)
    return 1;
  nnc::rt::Model &model = *loaded->model;
  const nnc::rt::SampleSpec *spec = &loaded->spec;
  auto splits = nnc::rt::loadSplits(dataOptions, *spec, nnc::rt::normalizationOf(model));
  if (!splits)
    return fail(splits.message());
  for (const std::string &note : splits->notes)
    errs() << note << "\n";
  nnc::rt::truncateDataset(splits->test, testLimit);
  auto eval = nnc::rt::evaluate(model, splits->test);
  if (!eval)
    return fail(eval.message());
  outs() << nnc::rt::formatTestFigures(*eval) << formatv("  ({0} samples)\n", eval->samples);
  return 0;
}

/// `nnc bench`: milliseconds per forward and per training step, median of
/// --iterations runs after warm-up, on seeded synthetic inputs.
static int runBench(nnc::DiagEngine &diag, mlir::MLIRContext &context, StringRef argv0) {
  std::unique_ptr<LoadedModel> loaded =
      buildAndLoad(diag, context, argv0, /*training=*/true);
  if (!loaded)
    return 1;
  nnc::rt::Model &model = *loaded->model;
  model.initialize(1);
  // Inputs in [0, 1), labels in range, lr tiny so the weights stay sane.
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return double(state >> 11) * 0x1p-53;
  };
  int64_t classes = 1;
  for (const nnc::rt::Region &r : model.regions())
    if (r.kind == "output" && r.name.rfind("forward.", 0) == 0 && r.shape.size() == 2)
      classes = r.shape[1];
  int64_t batch = 0;
  for (const nnc::rt::Region &r : model.regions()) {
    if (r.kind != "input")
      continue;
    StringRef local = StringRef(r.name).split('.').second;
    int64_t n = r.numElements();
    if (local == "lr")
      *model.dataAs<float>(r) = 1e-6f;
    else if (local == "step" || local == "seed")
      *model.dataAs<int64_t>(r) = 1;
    else if (r.dtype == "i64")
      for (int64_t i = 0; i < n; ++i)
        model.dataAs<int64_t>(r)[i] = int64_t(next() * double(classes));
    else if (r.dtype == "f32")
      for (int64_t i = 0; i < n; ++i)
        model.dataAs<float>(r)[i] = float(next());
    if (local != "labels" && !r.shape.empty() && batch == 0)
      batch = r.shape[0];
  }
  outs() << "model " << model.name() << ", batch " << batch << ", "
         << nnc_get_num_threads() << " thread(s), arena " << nnc::formatBytes(model.arenaBytes())
         << "\n";
  for (StringRef entry : {"forward", "train_step"}) {
    if (!model.hasEntry(entry))
      continue;
    std::vector<double> times;
    for (int64_t i = 0; i < iterations + 3; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (auto st = model.run(entry); st.failed())
        return fail(st.message());
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      if (i >= 3)
        times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    outs() << formatv("{0,-11} {1,9:F3} ms   {2,10:F0} samples/s\n", entry, median,
                      1000.0 * double(batch) / median);
  }
  return 0;
}

/// Copies tensor `name` of `ckpt` into `region`, checking dtype and shape.
static LogicalResult copyTensor(const nnc::rt::Checkpoint &ckpt, StringRef name,
                                nnc::rt::Model &model, const nnc::rt::Region &region) {
  int64_t index = ckpt.find(name.str());
  if (index < 0) {
    fail(ckpt.path + ": has no tensor '" + name + "'");
    return failure();
  }
  const nnc::TensorEntry &t = ckpt.tensors[index];
  std::vector<uint64_t> shape(region.shape.begin(), region.shape.end());
  bool dtypeOk = (region.dtype == "f32" && t.dtype == nnc::TensorDType::F32) ||
                 (region.dtype == "i64" && t.dtype == nnc::TensorDType::I64);
  if (!dtypeOk || t.shape != shape) {
    fail(ckpt.path + ": tensor '" + name + "' is " +
         nnc::safetensorsDTypeName(t.dtype) + " " + nnc::rt::formatShape(t.shape) +
         ", the model expects " + region.dtype + " " + nnc::rt::formatShape(shape));
    return failure();
  }
  std::memcpy(model.data(region), ckpt.tensorData(index), region.bytes);
  return success();
}

/// `nnc run`: weights and an input batch from safetensors files, the forward
/// output printed (or, with --check, compared with the file's `__output`).
static int runRun(nnc::DiagEngine &diag, mlir::MLIRContext &context, StringRef argv0) {
  if (weightsPath.empty() || inputsPath.empty())
    return fail("nnc run needs --weights FILE and --inputs FILE");
  std::unique_ptr<LoadedModel> loaded =
      buildAndLoad(diag, context, argv0, /*training=*/false);
  if (!loaded)
    return 1;
  nnc::rt::Model &model = *loaded->model;
  auto weights = nnc::rt::readCheckpoint(weightsPath);
  if (!weights)
    return fail(weights.message());
  auto inputs = nnc::rt::readCheckpoint(inputsPath);
  if (!inputs)
    return fail(inputs.message());
  const nnc::rt::Region *in, *out;
  if (failed(forwardIO(model, in, out)))
    return 1;
  for (const nnc::rt::Region &r : model.regions())
    if ((r.kind == "param" || r.kind == "buffer") &&
        failed(copyTensor(*weights, r.name, model, r)))
      return 1;
  if (failed(copyTensor(*inputs, "__input", model, *in)))
    return 1;
  if (auto st = model.run("forward"); st.failed())
    return fail(st.message());
  const float *y = model.dataAs<float>(*out);
  int64_t n = out->numElements();
  if (!checkOutput) {
    for (int64_t i = 0; i < n; ++i)
      outs() << formatv("{0:g}", y[i]) << (i + 1 == n ? "\n" : " ");
    return 0;
  }
  int64_t index = inputs->find("__output");
  if (index < 0 || inputs->sizes[index] != uint64_t(out->bytes))
    return fail(inputsPath + ": no '__output' tensor of " + Twine(n) + " f32 values");
  std::vector<float> expected(n);
  std::memcpy(expected.data(), inputs->tensorData(index), out->bytes);
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    worst = std::max(worst, std::abs(double(y[i]) - expected[i]) / (1 + std::abs(expected[i])));
  outs() << formatv("{0}: {1} outputs, max |difference| / (1 + |expected|) = {2:e}\n",
                    model.name(), n, worst);
  if (worst > tolerance)
    return fail(formatv("the output differs from the expected one by {0:e} (tolerance {1:e})",
                        worst, double(tolerance))
                    .str());
  outs() << "outputs match\n";
  return 0;
}

/// `nnc predict`: the class of each PNG image.
static int runPredict(nnc::DiagEngine &diag, mlir::MLIRContext &context, StringRef argv0) {
  if (weightsPath.empty() || imagePaths.empty())
    return fail("nnc predict needs --weights FILE and at least one image");
  // One batch holds all images.
  if (!batchSize.getNumOccurrences())
    batchSize = int64_t(imagePaths.size());
  if (batchSize < int64_t(imagePaths.size()))
    return fail("--batch must be at least the number of images");
  std::unique_ptr<LoadedModel> loaded = buildWithWeights(diag, context, argv0);
  if (!loaded)
    return 1;
  nnc::rt::Model &model = *loaded->model;
  const nnc::rt::SampleSpec *spec = &loaded->spec;
  const nnc::rt::Region *in, *out;
  if (failed(forwardIO(model, in, out)))
    return 1;
  if (out->shape.size() != 2 || in->dtype != "f32")
    return fail("nnc predict needs an image classifier (f32 images in, [N, classes] out)");
  int64_t perImage = in->numElements() / in->shape[0], classes = out->shape[1];
  for (auto [i, path] : llvm::enumerate(imagePaths)) {
    nnc::rt::ImageOptions imageOptions; // data-options
    imageOptions.resize = resizeImages;
    auto pixels = nnc::rt::loadImage(path, *spec, nnc::rt::normalizationOf(model), imageOptions);
    if (!pixels)
      return fail(pixels.message());
    std::memcpy(model.dataAs<float>(*in) + i * perImage, pixels->data(),
                perImage * sizeof(float));
  }
  if (auto st = model.run("forward"); st.failed())
    return fail(st.message());
  SmallVector<StringRef> names;
  StringRef(classNames).split(names, ',');
  static const char *const fashion[] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                        "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                        "Bag",         "Ankle boot"};
  if (classNames.empty() && classes == 10)
    names.assign(std::begin(fashion), std::end(fashion));
  for (auto [i, path] : llvm::enumerate(imagePaths)) {
    const float *row = model.dataAs<float>(*out) + i * classes;
    int64_t best = std::max_element(row, row + classes) - row;
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c)
      sum += std::exp(double(row[c]) - row[best]);
    outs() << formatv("{0}: class {1}", path, best);
    if (best < int64_t(names.size()) && !names[best].empty())
      outs() << " (" << names[best] << ")";
    outs() << formatv("  p = {0:F3}\n", 1.0 / sum);
  }
  return 0;
}

static int runReport(nnc::DiagEngine &diag, mlir::MLIRContext &context,
                     raw_ostream &os) {
  if (batchSize.getNumOccurrences() && batchSize < 1)
    return fail("--batch must be at least 1");
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = lowerToNN(context, diag, &graphs);
  if (!module)
    return 1;

  json::Array jsonReports;
  unsigned index = 0;
  for (auto [model, graphPtr] : modelsOf(*module, graphs)) {
    const nnc::ModelGraph &graph = *graphPtr;
    ++index;
    nnc::ReportOptions options;
    options.batch = batchSize ? int64_t(batchSize) : graph.train.batch;
    options.optimizer =
        optimizerName.empty() ? graph.train.optimizer : std::string(optimizerName);
    options.dtype = dtypeName;

    if (failed(specializeBatch(model, graph)))
      return 1;
    FailureOr<nnc::ModelReport> report = nnc::computeReport(model, options);
    if (failed(report))
      return 1;
    if (reportFormat == Format::JSON) {
      jsonReports.push_back(nnc::reportToJSON(*report));
    } else {
      if (index > 1)
        os << "\n";
      nnc::printReportTable(*report, os);
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

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(nncCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "nnc - a compiler for neural-net models\n\n"
      "  nnc compile model.nn -emit=ast|nn\n"
      "  nnc report model.nn --batch 64 --optimizer adam\n");
  if (!compileCmd && !reportCmd && !buildCmd && !trainCmd && !evalCmd && !benchCmd &&
      !runCmd && !predictCmd)
    return fail("expected a command: compile, report, build, train, eval, predict, bench "
                "or run "
                "(see nnc --help)");
  if (inputFilename.empty())
    return fail("no input file (see nnc --help)");

  auto fileOrErr = MemoryBuffer::getFileOrSTDIN(inputFilename, /*IsText=*/true);
  if (std::error_code ec = fileOrErr.getError())
    return fail("cannot open '" + inputFilename + "': " + ec.message());

  SourceMgr srcMgr;
  srcMgr.AddNewSourceBuffer(std::move(*fileOrErr), SMLoc());
  nnc::DiagEngine diag(srcMgr);

  mlir::DialectRegistry registry;
  nnc::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Errors from passes print like frontend errors: located, with a caret.
  mlir::SourceMgrDiagnosticHandler handler(srcMgr, &context);

  nnc::registerAllPasses();
  if (buildCmd)
    return runBuild(diag, context, argv[0]);
  if (trainCmd)
    return runTrain(diag, context, argv[0]);
  if (evalCmd)
    return runEval(diag, context, argv[0]);
  if (benchCmd)
    return runBench(diag, context, argv[0]);
  if (runCmd)
    return runRun(diag, context, argv[0]);
  if (predictCmd)
    return runPredict(diag, context, argv[0]);

  // The output is built in memory and written (through a temporary file that
  // is renamed into place) only on success, so an error never clobbers it.
  std::string buffer;
  raw_string_ostream os(buffer);
  int rc = compileCmd ? runCompile(diag, context, os) : runReport(diag, context, os);
  if (rc != 0)
    return rc;
  if (Error err = writeToOutput(outputFilename, [&](raw_ostream &out) {
        out << buffer;
        return Error::success();
      }))
    return fail("cannot write '" + outputFilename + "': " + toString(std::move(err)));
  return 0;
}
