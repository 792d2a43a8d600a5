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

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand trainCmd("train", "Compile a model and train it on the CPU");

ModelOptions model(trainCmd);
OptimizerOptions optimizer(trainCmd);
ThreadsOption threads(trainCmd);
cl::opt<std::string> outputFilename("o",
                                    cl::desc("Write the weights here after every epoch"),
                                    cl::value_desc("W.safetensors"), cl::sub(trainCmd),
                                    cl::cat(category()));
cl::opt<bool> checkNumerics("check-numerics",
                            cl::desc("Check every op result for NaN/Inf and name the first "
                                     "layer where one appears"),
                            cl::sub(trainCmd), cl::cat(category()));

// Training flags.
cl::opt<std::string> dataName("data", cl::desc("Dataset: fashion-mnist, synthetic, an IDX or "
                                               "image-folder directory, a CSV or token file"),
                              cl::init("fashion-mnist"), cl::sub(trainCmd),
                              cl::cat(category()));
cl::opt<int64_t> epochs("epochs", cl::desc("Epochs (default: the model's)"), cl::init(0),
                        cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> stopAfter("stop-after",
                           cl::desc("Stop after epoch N of the --epochs schedule (resume "
                                    "later with --resume)"),
                           cl::init(0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<double> learningRate("lr", cl::desc("Learning rate (default: the model's)"),
                             cl::init(0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<std::string> schedule("schedule",
                              cl::desc("constant | step | cosine (default: the model's)"),
                              cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> seed("seed", cl::desc("Seed for initialization, shuffling and dropout"),
                      cl::init(1), cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> trainLimit("limit", cl::desc("Use only the first N training samples"),
                            cl::init(0), cl::sub(trainCmd), cl::cat(category()));
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples"),
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
} // namespace

/// `nnc train`: compile with @train_step, train, evaluate, save.
static int runTrain() {
  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return 1;
  std::unique_ptr<LoadedModel> loaded =
      session->buildAndLoad({model, &optimizer, checkNumerics}, threads.value());
  if (!loaded)
    return 1;
  const nnc::ModelGraph &graph = loaded->graph;
  nnc::rt::TrainOptions options;
  options.data = dataName;
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
  options.threads = threads.value();
  if (options.schedule != "constant" && options.schedule != "step" &&
      options.schedule != "cosine")
    return fail("--schedule must be constant, step or cosine");
  auto result = nnc::rt::train(*loaded->model, options);
  if (!result)
    return fail(result.message());
  outs() << formatv("test accuracy {0:F1}%", 100 * result->testAccuracy);
  if (!options.checkpoint.empty()) {
    uint64_t size = 0;
    sys::fs::file_size(options.checkpoint, size);
    outs() << "   (saved " << options.checkpoint << ", " << nnc::formatCount(size) << " B)";
  }
  outs() << "\n";
  return 0;
}

static Command registration(trainCmd, runTrain);
