//===- Train.cpp - nnc train: compile with autodiff and train -------------===//
//
//   nnc train model.nn [--data D] [-o W.safetensors] [--epochs N] [--lr X] ...
//   mpirun -np N nnc train model.nn [--shard none|opt] ...   (docs/distributed.md)
//
// The training flags are listed together below; runtime/Train.h's
// TrainOptions receives them in runTrain.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"
#include "tools/nnc/TrainDataParallel.h"

#include "passes/ModelReport.h"
#include "runtime/CommMPI.h"
#include "runtime/CommNCCL.h"
#include "runtime/Train.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>
#include <vector>

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
cl::opt<std::string> shard("shard",
                           cl::desc("Under mpirun: none (every rank holds the whole optimizer "
                                    "state) or opt (ZeRO-1: each rank holds 1/N of it); "
                                    "docs/distributed.md"),
                           cl::init("none"), cl::sub(trainCmd), cl::cat(category()));
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
         checkChoice(shard, {"none", "opt"}) && device.checkRunnable();
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

/// The data-parallel group of `mpirun -np N nnc train`: the MPI
/// communicator (host figures, checkpoints) and the one the train step's
/// hooks use (the same, or NCCL for a GPU artifact), installed while this
/// lives.
struct Ranks {
  std::unique_ptr<nnc::rt::Communicator> mpi, nccl;
  ~Ranks() {
    nnc::rt::setCommunicator(nullptr);
    nccl.reset();
  }
  int64_t rank() const { return mpi ? mpi->rank() : 0; }
  int64_t size() const { return mpi ? mpi->size() : 1; }
  /// After an error on this rank (reported): exit status 1, MPI left
  /// unfinalized so that mpirun ends the other ranks.
  int abandon() {
    if (mpi)
      nnc::rt::abandonMpi(*mpi);
    return 1;
  }
  /// Collective: whether every rank's `ok` is true; `failedRank` is the
  /// lowest rank whose `ok` was false (-1: none). False only if MPI failed.
  bool agreeAllOk(bool ok, int64_t &failedRank) {
    failedRank = ok ? -1 : rank();
    if (!mpi || size() == 1)
      return true;
    // One slot per rank, 1 where that rank failed; summed over the ranks.
    std::vector<double> failed(size_t(size()), 0.0);
    failed[size_t(rank())] = ok ? 0.0 : 1.0;
    if (!mpi->allReduceSumHost(failed.data(), size()).ok())
      return false;
    failedRank = -1;
    for (int64_t r = 0; r < size() && failedRank < 0; ++r)
      if (failed[size_t(r)] != 0.0)
        failedRank = r;
    return true;
  }
  /// An error on this rank: "nnc: error: rank R: ..." (exit status 1), and
  /// MPI is left unfinalized so that mpirun ends the other ranks.
  int fail(const std::string &message) {
    if (!mpi)
      return nnc::driver::fail(message);
    nnc::rt::abandonMpi(*mpi);
    if (message.rfind("rank ", 0) == 0)
      return nnc::driver::fail(message);
    return nnc::driver::fail("rank " + std::to_string(rank()) + ": " + message);
  }
};

/// While alive (if `quiet`): the process's stderr goes to /dev/null.
class QuietStderr {
public:
  explicit QuietStderr(bool quiet) {
    if (!quiet)
      return;
    std::fflush(stderr);
    llvm::errs().flush();
    saved = dup(STDERR_FILENO);
    int null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0)
      dup2(null, STDERR_FILENO);
    if (null >= 0)
      close(null);
  }
  ~QuietStderr() {
    if (saved < 0)
      return;
    std::fflush(stderr);
    llvm::errs().flush();
    dup2(saved, STDERR_FILENO);
    close(saved);
  }
  QuietStderr(const QuietStderr &) = delete;
  QuietStderr &operator=(const QuietStderr &) = delete;

private:
  int saved = -1;
};

/// Under an MPI launcher: joins the ranks (and, for the GPU, gives each rank
/// of a node its own GPU unless CUDA_VISIBLE_DEVICES is set, then joins
/// NCCL). False after reporting.
static bool joinRanks(Ranks &ranks) {
  if (!nnc::rt::launchedByMpi())
    return true;
  auto mpi = nnc::rt::createMpiCommunicator();
  if (!mpi) {
    fail(mpi.message());
    return false;
  }
  ranks.mpi = std::move(*mpi);
  if (device.gpu()) {
    auto nccl = nnc::rt::createNcclCommunicator(*ranks.mpi);
    if (!nccl) {
      ranks.fail(nccl.message());
      return false;
    }
    ranks.nccl = std::move(*nccl);
  }
  nnc::rt::setCommunicator(ranks.nccl ? ranks.nccl.get() : ranks.mpi.get());
  return true;
}

/// What a rank says when mpirun ends the job (SIGTERM), prepared before the
/// handler is installed: it may be waiting for a dead rank in a collective,
/// so it exits at once.
static char endedByMpirun[160];

static void onMpirunTerm(int) {
  ssize_t ignored = ::write(STDERR_FILENO, endedByMpirun, std::strlen(endedByMpirun));
  (void)ignored;
  ::_exit(1);
}

/// Under mpirun: SIGTERM is mpirun ending the job because a rank failed (it
/// kills the others after a grace period), not a request to finish the
/// epoch, which would wait for the failed rank.
static void exitWhenMpirunEndsTheJob(int64_t rank) {
  std::snprintf(endedByMpirun, sizeof(endedByMpirun),
                "nnc: error: rank %lld: ended by mpirun because another rank failed (see "
                "mpirun's message); the last checkpoint is kept\n",
                (long long)rank);
  struct sigaction action = {};
  action.sa_handler = onMpirunTerm;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
}

/// `nnc train`: compile with @train_step, train, evaluate, save.
static int runTrain() {
  // Each rank of a node on its own GPU: before anything touches the driver.
  if (nnc::rt::launchedByMpi() && device.gpu() && !std::getenv("CUDA_VISIBLE_DEVICES"))
    if (const char *local = std::getenv("OMPI_COMM_WORLD_LOCAL_RANK"))
      setenv("CUDA_VISIBLE_DEVICES", local, 1);
  nnc::rt::DataOptions dataOptions;
  if (!checkFlags() || !dataFlags.toOptions(dataOptions))
    return 1;
  if (outputFilename == "-" || (outputFilename.getNumOccurrences() && outputFilename.empty()))
    return fail("-o must name a file: the weights are written as safetensors");
  Ranks ranks;
  if (!joinRanks(ranks))
    return 1;
  if (!ranks.mpi && shard != "none")
    return fail("--shard opt shards the optimizer state over the ranks of mpirun -np N "
                "nnc train (docs/distributed.md); this process was not started by mpirun");
  BuildRequest request{model, &optimizer, checkNumerics, memoryBudget.value(), device.value()};
  if (!setDataParallelBuild(model, request, ranks.size(), shard))
    return ranks.abandon();
  // Every rank compiles the same model; only rank 0 prints the compiler's
  // notes and errors, which are the same on every rank.
  std::unique_ptr<LoadedModel> loaded;
  {
    QuietStderr quiet(ranks.rank() != 0);
    loaded = loadModel(request, threads.value());
  }
  // Every rank learns whether every build succeeded before any rank exits:
  // a rank that failed and exited at once would have mpirun end rank 0
  // before it printed why.
  int64_t failedRank = -1;
  if (!ranks.agreeAllOk(loaded != nullptr, failedRank))
    return ranks.fail("cannot agree on the build with the other ranks: MPI failed");
  if (failedRank >= 0) {
    if (ranks.rank() == 0)
      return loaded ? ranks.fail("the build failed on rank " + std::to_string(failedRank))
                    : ranks.abandon();
    return ranks.fail("the build failed (rank 0 prints why)");
  }
  // A CUDA graph would replay the hooks' calls with the batch-rows scale of
  // the step it captured, wrong for a partial last batch: data-parallel GPU
  // steps run without graphs.
  if (ranks.size() > 1 && device.gpu())
    loaded->model->setCudaGraphs(false);
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
  options.comm = ranks.mpi.get();
  const bool lead = ranks.rank() == 0;
  if (stopAfter > options.epochs)
    return fail(formatv("--stop-after must be an integer from 1 to the number of epochs, {0} "
                        "(got {1})",
                        options.epochs, int64_t(stopAfter)));
  if (!outputFilename.getNumOccurrences() && lead)
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

  if (ranks.mpi)
    exitWhenMpirunEndsTheJob(ranks.rank());
  auto result = nnc::rt::train(*loaded->model, options);
  if (!result)
    return ranks.fail(result.message());
  // Rank 0 reports; the others only train.
  if (!lead)
    return result->stopped ? interruptedExitCode : 0;
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
  else if (result->test.byteText)
    outs() << formatv("test loss {0:F4} ({1:F3} bits/char)", result->test.loss,
                      result->test.bitsPerChar());
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
