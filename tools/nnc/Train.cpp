//===- Train.cpp - nnc train: compile with autodiff and train -------------===//
//
//   nnc train model.nn [--data D] [-o W.safetensors] [--epochs N] [--lr X] ...
//
// The training flags are listed together below; runtime/Train.h's
// TrainOptions receives them in runTrain.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "passes/ModelReport.h"
#include "runtime/Train.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand trainCmd("train", "Compile a model and train it on the CPU");

ModelOptions model(trainCmd);
OptimizerOptions optimizer(trainCmd);
MemoryBudgetOption memoryBudget(trainCmd);
ThreadsOption threads(trainCmd);
DeviceOptions device(trainCmd, /*withArch=*/false);
cl::opt<std::string> outputFilename("o",
                                    cl::desc("Write the weights here after every epoch, and "
                                             "the optimizer state to <file>.state for "
                                             "--resume (default: <model>.safetensors, here)"),
                                    cl::value_desc("W.safetensors"), cl::sub(trainCmd),
                                    cl::cat(category()));
cl::opt<bool> checkNumerics("check-numerics",
                            cl::desc("Check every op result for NaN/Inf and name the first "
                                     "layer where one appears"),
                            cl::sub(trainCmd), cl::cat(category()));

// Training flags.
DataFlags dataFlags(trainCmd);
cl::opt<int64_t> epochs("epochs", cl::desc("Epochs, >= 1 (default: the model's)"), cl::init(0),
                        cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> stopAfter("stop-after",
                           cl::desc("Stop after epoch N of the --epochs schedule (resume "
                                    "later with --resume)"),
                           cl::init(0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<double> learningRate("lr", cl::desc("Learning rate, > 0 (default: the model's)"),
                             cl::init(0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<std::string> schedule("schedule",
                              cl::desc("constant | step | cosine (default: the model's)"),
                              cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> trainLimit("limit", cl::desc("Use only the first N training samples (N >= 1)"),
                            cl::init(0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples (N >= 1)"),
                           cl::init(0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<std::string> resumePath("resume",
                                cl::desc("Continue training from a checkpoint (and its "
                                         ".state file)"),
                                cl::value_desc("W.safetensors"), cl::sub(trainCmd),
                                cl::cat(category()));
cl::opt<std::string> weightsPath("weights", cl::desc("Weights (safetensors) to start from"),
                                 cl::sub(trainCmd), cl::cat(category()));
cl::opt<std::string> metricsPath("metrics", cl::desc("Write metrics as JSON lines here"),
                                 cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> metricsEvery("metrics-every",
                              cl::desc("Write a --metrics step record every K steps, K >= 1 "
                                       "(default 1)"),
                              cl::value_desc("K"), cl::init(1), cl::sub(trainCmd),
                              cl::cat(category()));
cl::opt<std::string> memoryStatsPath(
    "memory-stats",
    cl::desc("Write the run's memory figures (resident baseline and peak, arena, data "
             "pipeline) as JSON here; the resident peak is then training's own"),
    cl::value_desc("memory.json"), cl::sub(trainCmd), cl::cat(category()));
cl::opt<double> lossScale("loss-scale",
                          cl::desc("f16 models: the initial dynamic loss scale (default 65536; "
                                   "docs/training.md, \"Loss scaling\")"),
                          cl::init(65536.0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> lossScaleGrowth("loss-scale-growth",
                                 cl::desc("f16 models: double the loss scale after K good steps "
                                          "in a row (default 2000)"),
                                 cl::value_desc("K"), cl::init(2000), cl::sub(trainCmd),
                                 cl::cat(category()));
cl::opt<std::string> plotPath("plot",
                              cl::desc("After training, draw the loss and accuracy curves "
                                       "as an SVG chart here (as nnc plot)"),
                              cl::value_desc("loss.svg"), cl::sub(trainCmd),
                              cl::cat(category()));
} // namespace

/// Checks the training flags given (before anything is compiled); false after
/// reporting one line.
static bool checkFlags() {
  return model.check() && optimizer.check() && memoryBudget.check() && threads.check() &&
         checkRange(epochs, 1) && checkRange(stopAfter, 1) &&
         checkReal(learningRate, 0, /*strict=*/true) &&
         checkChoice(schedule, {"constant", "step", "cosine"}) && checkRange(trainLimit, 1) &&
         checkRange(testLimit, 1) && checkRange(metricsEvery, 1) &&
         checkReal(lossScale, 0, /*strict=*/true, 3.0e38) && checkRange(lossScaleGrowth, 1) &&
         device.checkRunnable();
}

/// Where the weights go: -o, else `<model-file stem>.safetensors` here.
static std::string checkpointPath() {
  if (outputFilename.getNumOccurrences())
    return outputFilename;
  StringRef stem = sys::path::stem(model.input);
  return ((stem.empty() || stem == "-" ? StringRef("model") : stem) + ".safetensors").str();
}

/// Says on stderr what a Ctrl-C left: the last complete checkpoint.
static void reportStop(const nnc::rt::TrainResult &result, int64_t epochs) {
  errs() << "nnc: interrupted after " << result.steps << " training steps; ";
  if (result.lastCheckpoint.empty())
    errs() << "no checkpoint was written (no epoch finished)\n";
  else
    errs() << "the last checkpoint is " << result.lastCheckpoint << " (epoch "
           << result.lastCheckpointEpoch << " of " << epochs << "; continue with --resume "
           << result.lastCheckpoint << ")\n";
  interruptReported() = true;
}

/// `nnc train`: compile with @train_step, train, evaluate, save.
static int runTrain() {
  nnc::rt::DataOptions dataOptions;
  if (!checkFlags() || !dataFlags.toOptions(dataOptions))
    return 1;
  if (outputFilename == "-" || (outputFilename.getNumOccurrences() && outputFilename.empty()))
    return fail("-o must name a file: the weights are written as safetensors");
  std::unique_ptr<LoadedModel> loaded = loadModel(
      {model, &optimizer, checkNumerics, memoryBudget.value(), device.value()}, threads.value());
  if (!loaded)
    return 1;
  const nnc::ModelGraph &graph = loaded->graph;
  nnc::rt::TrainOptions options;
  options.dataset = dataOptions;
  options.metricsEvery = metricsEvery;
  options.epochs = epochs.getNumOccurrences() ? int64_t(epochs) : graph.train.epochs;
  options.stopAfter = stopAfter;
  options.lr = learningRate.getNumOccurrences() ? double(learningRate) : graph.train.lr;
  options.schedule = schedule.getNumOccurrences() ? std::string(schedule) : graph.train.schedule;
  options.seed = dataOptions.seed;
  options.trainLimit = trainLimit;
  options.testLimit = testLimit;
  options.checkpoint = checkpointPath();
  options.resume = resumePath;
  options.weights = weightsPath;
  options.metrics = metricsPath;
  options.memoryStats = memoryStatsPath;
  options.threads = threads.value();
  options.lossScale = lossScale;
  options.lossScaleGrowth = lossScaleGrowth;
  options.stop = interruptFlag();
  if (stopAfter > options.epochs)
    return fail(formatv("--stop-after must be an integer from 1 to the number of epochs, {0} "
                        "(got {1})",
                        options.epochs, int64_t(stopAfter)));
  if (!outputFilename.getNumOccurrences())
    errs() << "nnc: no -o given: writing the weights to " << options.checkpoint << "\n";

  // --plot draws the metrics, kept in a temporary file if --metrics is not
  // given.
  SmallString<128> tempMetrics;
  llvm::scope_exit removeTempMetrics([&] {
    if (!tempMetrics.empty())
      sys::fs::remove(tempMetrics);
  });
  if (!plotPath.empty() && options.metrics.empty()) {
    if (std::error_code ec = sys::fs::createTemporaryFile("nnc-metrics", "jsonl", tempMetrics))
      return fail("cannot create a temporary file: " + ec.message());
    options.metrics = std::string(tempMetrics);
  }

  auto result = nnc::rt::train(*loaded->model, options);
  if (!result)
    return fail(result.message());
  if (!plotPath.empty() && (!result->stopped || result->steps > 0)) {
    std::string name = loaded->model->name();
    if (!options.dataset.data.empty())
      name += " on " + sys::path::filename(options.dataset.data).str();
    if (int rc = writePlot(options.metrics, plotPath, name))
      return rc;
    errs() << "nnc: wrote " << plotPath << "\n";
  }
  if (result->stopped) {
    reportStop(*result, options.epochs);
    return interruptedExitCode;
  }
  if (result->test.regression)
    outs() << formatv("test loss (mse) {0:F4}  rmse {1:F4}", result->test.loss, result->test.rmse);
  else
    outs() << formatv("test accuracy {0:F1}%", 100 * result->testAccuracy);
  uint64_t size = 0;
  sys::fs::file_size(options.checkpoint, size);
  outs() << "   (saved " << options.checkpoint << ", " << nnc::formatCount(size) << " B)\n";
  if (interrupted()) {
    // Ctrl-C after the last step: the run finished, its checkpoint is whole.
    errs() << "nnc: interrupted after the last epoch; training finished and the last "
              "checkpoint is "
           << options.checkpoint << " (epoch " << options.epochs << " of " << options.epochs
           << ")\n";
    interruptReported() = true;
  }
  return 0;
}

static Command registration(trainCmd, runTrain);
