//===- Driver.h - What nnc's subcommands share ------------------*- C++ -*-===//
//
// Each subcommand of nnc lives in its own file (Compile.cpp, Train.cpp, ...)
// with its own `cl::SubCommand` and options. This header holds what several
// of them need: the option groups they instantiate for their subcommand, the
// checks of numeric flags, the compile-build-load helpers and the handling of
// Ctrl-C.
//
// Static initialization order: a subcommand file defines its `cl::SubCommand`
// before any option that names it, and registers its entry point with a
// `Command` object.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_NNC_DRIVER_H
#define NNC_TOOLS_NNC_DRIVER_H

#include "frontend/Diagnostics.h"
#include "frontend/Sema.h"
#include "runtime/Data.h"
#include "runtime/Model.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/SourceMgr.h"

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nnc::driver {

/// The option category of every nnc option; `--help` shows only these.
llvm::cl::OptionCategory &category();

/// Prints `nnc: error: <msg>` (an error with no place in the model file) and
/// returns 1, the exit status of every error.
int fail(const llvm::Twine &msg);

//===----------------------------------------------------------------------===//
// Subcommands
//===----------------------------------------------------------------------===//

/// A subcommand's entry point, registered by its file: `static Command
/// registration(trainCmd, runTrain);`. Returns the exit status.
class Command {
public:
  using RunFn = int (*)();
  Command(llvm::cl::SubCommand &sub, RunFn run);

  llvm::cl::SubCommand &sub;
  RunFn run;

  /// Every registered command, in registration order.
  static llvm::ArrayRef<Command *> all();
};

/// The path nnc was started as (argv[0]); finds the runtime library.
std::string &programPath();

//===----------------------------------------------------------------------===//
// Checks of numeric flags
//===----------------------------------------------------------------------===//
// Each check applies only to a flag the user gave (getNumOccurrences), prints
// one line naming the flag and the accepted range, and returns false.

/// An integer flag that must lie in [min, max].
bool checkRange(const llvm::cl::opt<int64_t> &flag, int64_t min,
                int64_t max = INT64_MAX);
bool checkRange(const llvm::cl::opt<int> &flag, int min, int max);
/// A finite real flag that must be > min (`strict`) or >= min, and <= max.
bool checkReal(const llvm::cl::opt<double> &flag, double min, bool strict,
               double max = INFINITY);
/// A string flag that must be one of `choices`.
bool checkChoice(const llvm::cl::opt<std::string> &flag,
                 llvm::ArrayRef<llvm::StringRef> choices);

//===----------------------------------------------------------------------===//
// Option groups
//===----------------------------------------------------------------------===//

/// The model file and what selects, shapes and compiles the model:
/// `<model.nn>`, --model, -D, --batch, --no-fuse, --generated-matmul.
struct ModelOptions {
  explicit ModelOptions(llvm::cl::SubCommand &sub);
  /// Checks the flags given; false after reporting.
  bool check() const;
  /// The batch to compile for: --batch if given, else `impliedBatch` if
  /// set, else the model's train section (`modelBatch`).
  int64_t batchFor(int64_t modelBatch) const;

  /// A batch the command derives from its inputs (predict: the number of
  /// images), used when --batch is not given.
  std::optional<int64_t> impliedBatch;

  llvm::cl::opt<std::string> input;
  llvm::cl::opt<std::string> modelName;
  llvm::cl::list<std::string> defines;
  llvm::cl::opt<int64_t> batch;
  /// One generated kernel per linalg op (-nn-fuse=enable=false), to measure
  /// what fusion saves.
  llvm::cl::opt<bool> noFuse;
  /// The linear layers as generated matmul kernels instead of library calls
  /// (the model module's `nn.generated_matmul`), to compare the two.
  llvm::cl::opt<bool> generatedMatmul;
  /// Hidden, for tests: build the CPU artifact from the GPU-mapped kernels
  /// (gpu.launch run as loops over block and thread ids).
  llvm::cl::opt<bool> gpuEmulate;
  /// Hidden, for tests: keep each reduction in one GPU thread (-nn-gpu-map
  /// block-reductions=false); with gpuEmulate equal to the CPU bit for bit.
  llvm::cl::opt<bool> gpuSerialReductions;
};

/// The optimizer flags of commands that add @train_step: --optimizer,
/// --weight-decay, --momentum, --nesterov.
struct OptimizerOptions {
  explicit OptimizerOptions(llvm::cl::SubCommand &sub);
  bool check() const;

  llvm::cl::opt<std::string> optimizer;
  llvm::cl::opt<double> weightDecay;
  llvm::cl::opt<double> momentum;
  llvm::cl::opt<bool> nesterov;
};

/// The optimizers nnc knows (--optimizer).
llvm::ArrayRef<llvm::StringRef> optimizerNames();

/// The data flags of commands that load a dataset (train, eval): --data,
/// --test-data, --holdout, --resize, --target and --seed (the held-out split
/// and synthetic data; train also seeds initialization, shuffling and
/// dropout with it). runtime/Data.h DataOptions; docs/data.md.
struct DataFlags {
  explicit DataFlags(llvm::cl::SubCommand &sub);
  /// Checks the flags given and fills `options`; false after reporting one
  /// line.
  bool toOptions(nnc::rt::DataOptions &options) const;

  llvm::cl::opt<std::string> data;
  llvm::cl::opt<std::string> testData;
  llvm::cl::opt<double> holdout;
  llvm::cl::opt<bool> resize;
  llvm::cl::opt<std::string> target;
  llvm::cl::opt<int64_t> seed;
};

/// --threads: kernel threads of commands that run the model.
struct ThreadsOption {
  explicit ThreadsOption(llvm::cl::SubCommand &sub);
  bool check() const;
  /// The thread count for the runtime (0: all cores).
  int value() const { return threads.getNumOccurrences() ? int(threads) : 0; }

  llvm::cl::opt<int> threads;
};

/// `cpu` or `gpu` as a device (--device), else none.
std::optional<nnc::rt::Device> parseDevice(llvm::StringRef text);

/// --device cpu|gpu: where the model is built for and runs (the CPU back end
/// or the GPU's, codegen/GPUPipeline.h), and, with `withArch`, --gpu-arch
/// sm_80|sm_90: the GPU architectures the GPU back end compiles for.
struct DeviceOptions {
  explicit DeviceOptions(llvm::cl::SubCommand &sub, bool withArch = true);
  /// Checks the flags given (a device name, --gpu-arch only with --device
  /// gpu); false after reporting one line. Enough for a command that only
  /// builds, or that loads an artifact (whose own device decides:
  /// Model::load says why it cannot run).
  bool check() const;
  /// check(), and for gpu that the GPU path can run here: without a usable
  /// GPU, prints the one line `nnc: error: cannot use the GPU: <reason>`
  /// (runtime/Gpu.h) and returns false, before anything is built or written.
  bool checkRunnable() const;
  /// Whether --device gpu was given.
  bool gpu() const { return device == "gpu"; }
  /// The device given (cpu if none).
  nnc::rt::Device value() const;
  /// Whether --device was given (an artifact then must be built for it).
  bool given() const { return device.getNumOccurrences() > 0; }
  /// --gpu-arch, or the default (sm_80) for a command without the flag.
  std::string arch() const { return gpuArch ? std::string(*gpuArch) : "sm_80"; }

  llvm::cl::opt<std::string> device;
  std::optional<llvm::cl::opt<std::string>> gpuArch;
};

/// --memory-budget: the most bytes the model's planned arena may take
/// (build, train, report); a training step recomputes activations in the
/// backward pass to fit (codegen/MemoryBudget.h).
struct MemoryBudgetOption {
  explicit MemoryBudgetOption(llvm::cl::SubCommand &sub);
  /// Checks the flag if given; false after reporting.
  bool check() const;
  /// The budget in bytes, if given and valid.
  std::optional<int64_t> value() const;

  llvm::cl::opt<std::string> budget;
};

/// Data-parallel training over `ranks` processes (docs/distributed.md):
/// each rank's artifact is built at the global batch / ranks, its
/// train_step reduces the gradients through the runtime's hooks
/// (runtime/DataParallel.h); `shard` "opt" (ZeRO-1) shards the optimizer
/// state. One rank without sharding changes nothing.
struct DataParallelConfig {
  int64_t ranks = 1;
  /// "none" or "opt".
  std::string shard = "none";
  bool enabled() const { return ranks > 1 || shard == "opt"; }
};

/// --ranks N and --shard none|opt (build; nnc train and nnc report may
/// instantiate them too).
struct DataParallelOptions {
  explicit DataParallelOptions(llvm::cl::SubCommand &sub);
  /// Checks the flags given (--ranks >= 1, --shard a known mode); false
  /// after reporting one line.
  bool check() const;
  DataParallelConfig value() const;

  llvm::cl::opt<int64_t> ranks;
  llvm::cl::opt<std::string> shard;
};

/// Marks the model module `model` for data-parallel lowering
/// (`nn.data_parallel = {ranks = N : i64, shard = "..."}`, read by
/// -nn-lower-to-buffers; nothing for one rank without sharding). Its batch
/// must already be the per-rank batch (Session::specializeBatch).
void setDataParallel(mlir::ModuleOp model, const DataParallelConfig &config);

/// Parses a byte count: an integer, optionally followed by B, kB/KB (1000),
/// KiB (1024), MB, MiB, GB or GiB; an integer part and a fraction are
/// accepted with a unit (1.5MiB). None if malformed, not positive or too
/// large.
std::optional<int64_t> parseByteCount(llvm::StringRef text);

//===----------------------------------------------------------------------===//
// Compiling, building and loading
//===----------------------------------------------------------------------===//

/// A model compiled into a temporary `nnc-*` directory and loaded; the
/// directory is removed when this goes away.
struct LoadedModel {
  std::unique_ptr<nnc::rt::Model> model;
  nnc::ModelGraph graph;
  /// The sample the forward pass expects (set by buildWithWeights).
  nnc::rt::SampleSpec spec;
  llvm::SmallString<128> tempDir;
  ~LoadedModel();
};

/// Knowledge distillation's loss (nnc distill): -nn-autodiff's
/// distill-temperature and distill-alpha.
struct DistillLoss {
  double temperature = 4.0;
  double alpha = 0.9;
};

/// What to build: the model, and with `optimizer` non-null, its @train_step.
struct BuildRequest {
  const ModelOptions &model;
  const OptimizerOptions *optimizer = nullptr;
  bool checkNumerics = false;
  /// --memory-budget: the most bytes the planned arena may take.
  std::optional<int64_t> memoryBudget;
  /// --device: the device to build for, and --gpu-arch for the GPU.
  nnc::rt::Device device = nnc::rt::Device::Cpu;
  std::string gpuArch = "sm_80";
  /// --quantize-table: the int8 quantization table (JSON, docs/quantization.md)
  /// that -nn-quantize applies to the inference model; empty: f32.
  std::string quantizeTable = {};
  /// A quantized weights file (nnc quantize; docs/abi.md "Quantized
  /// weights") whose table -nn-quantize applies (instead of quantizeTable).
  std::string quantizedWeights = {};
  /// Calibration: -nn-quantize{observe}, the f32 model with each layer's
  /// input as an extra output `observe.<layer>` (ignores quantizeTable).
  bool quantizeObserve = false;
  /// With `optimizer`: a @train_step for distillation (it takes the
  /// teacher's logits, docs/training.md).
  std::optional<DistillLoss> distill = std::nullopt;
  /// --ranks/--shard: data-parallel training (needs `optimizer`); the
  /// model's batch is then the global batch, divided by the ranks.
  DataParallelConfig dataParallel = {};
};

/// The model file read into a source manager, with an MLIR context whose
/// errors print located like the frontend's.
class Session {
public:
  /// Opens `options.input` (`-` for stdin); null after reporting.
  static std::unique_ptr<Session> open(const ModelOptions &options);

  /// Parses, checks and lowers the file to nn; null after reporting.
  mlir::OwningOpRef<mlir::ModuleOp>
  lowerToNN(std::vector<nnc::ModelGraph> *graphsOut = nullptr);

  /// Lowers the file to nn (into `module`, graphs into `graphs`) and returns
  /// its single model (--model selects one of several); failure after
  /// reporting.
  mlir::FailureOr<std::pair<mlir::ModuleOp, const nnc::ModelGraph *>>
  lowerSingleModel(mlir::OwningOpRef<mlir::ModuleOp> &module,
                   std::vector<nnc::ModelGraph> &graphs);

  /// Fixes the batch dimension of one model module: --batch, else the
  /// model's train section; with `ranks` > 1 that is the global batch and
  /// each rank's is a `ranks`-th of it (an error names both where it does
  /// not divide).
  mlir::LogicalResult specializeBatch(mlir::ModuleOp model, const nnc::ModelGraph &graph,
                                      int64_t ranks = 1);

  /// Quantizes every model to int8 with the table at `table`
  /// (-nn-quantize{table=...}); with `observe`, adds the calibration outputs
  /// instead (-nn-quantize{observe}). Messages name the table `tableName`
  /// if given (the quantized weights file it came from).
  mlir::LogicalResult quantize(mlir::ModuleOp module, llvm::StringRef table, bool observe = false,
                               llvm::StringRef tableName = "");

  /// Adds @train_step to every model (-nn-autodiff with the optimizer flags
  /// and, if given, the distillation loss).
  mlir::LogicalResult addTrainStep(mlir::ModuleOp module, const OptimizerOptions &optimizer,
                                   const DistillLoss *distill = nullptr);

  /// Compiles the single selected model to a shared library at `output`,
  /// written atomically. Returns the exit status.
  int buildModel(llvm::StringRef output, const BuildRequest &request,
                 nnc::ModelGraph *graphOut = nullptr);

  /// Builds into a temporary directory and loads the library; null after
  /// reporting or after Ctrl-C (see stopOnInterrupt).
  std::unique_ptr<LoadedModel> buildAndLoad(const BuildRequest &request,
                                            int threads);

  /// Builds the inference model, loads `weights` into it and works out the
  /// sample it expects; null after reporting.
  std::unique_ptr<LoadedModel> buildWithWeights(const ModelOptions &model, llvm::StringRef weights,
                                                int threads,
                                                nnc::rt::Device device = nnc::rt::Device::Cpu);

  nnc::DiagEngine &diag() { return diagEngine; }
  mlir::MLIRContext &context() { return mlirContext; }

private:
  Session(const ModelOptions &options);

  const ModelOptions &options;
  llvm::SourceMgr srcMgr;
  nnc::DiagEngine diagEngine;
  mlir::MLIRContext mlirContext;
  std::unique_ptr<mlir::SourceMgrDiagnosticHandler> handler;
};

/// Opens the model file and builds and loads the model
/// (Session::buildAndLoad); null after reporting.
std::unique_ptr<LoadedModel> loadModel(const BuildRequest &request, int threads);

/// Opens the model file, builds the inference model and loads `weights`
/// into it (Session::buildWithWeights); null after reporting.
std::unique_ptr<LoadedModel> loadModelWithWeights(const ModelOptions &model,
                                                  llvm::StringRef weights, int threads,
                                                  nnc::rt::Device device = nnc::rt::Device::Cpu);

/// Opens the model file, has `print` write the command's text and writes it
/// to `output` (`-`: stdout) only if `print` succeeded. Returns the exit
/// status.
int printToOutput(const ModelOptions &model, llvm::StringRef output,
                  llvm::function_ref<int(Session &, llvm::raw_ostream &)> print);

/// Whether `weights` is a quantized weights file: a safetensors file whose
/// metadata holds an int8 quantization table (false for anything else,
/// unreadable files included: loading them reports).
bool isQuantizedWeights(llvm::StringRef weights);

/// The model modules of `module` with their graphs, in order.
llvm::SmallVector<std::pair<mlir::ModuleOp, const nnc::ModelGraph *>>
modelsOf(mlir::ModuleOp module, const std::vector<nnc::ModelGraph> &graphs);

/// The input and output regions of the forward pass of a one-input model;
/// failure after reporting.
mlir::LogicalResult forwardIO(const nnc::rt::Model &model,
                              const nnc::rt::Region *&in,
                              const nnc::rt::Region *&out);

/// Writes `text` to `path` (`-`: stdout) through a temporary file renamed
/// into place, so an error never leaves a partial file. Returns the exit
/// status.
int writeOutput(llvm::StringRef path, llvm::StringRef text);

//===----------------------------------------------------------------------===//
// Ctrl-C
//===----------------------------------------------------------------------===//

/// From now on SIGINT/SIGTERM set a flag instead of killing nnc, so that the
/// command stops at its next check (the training loop polls between steps),
/// removes its temporary directory and exits with status 130. A second
/// signal kills nnc at once.
void stopOnInterrupt();

/// The flag SIGINT/SIGTERM set after stopOnInterrupt.
const volatile std::sig_atomic_t *interruptFlag();

/// Whether SIGINT/SIGTERM arrived since stopOnInterrupt.
inline bool interrupted() { return *interruptFlag() != 0; }

/// Set by a command that has said what an interrupt left behind; otherwise
/// main prints a plain "interrupted".
bool &interruptReported();

/// The exit status after an interrupt (128 + SIGINT, as shells report it).
constexpr int interruptedExitCode = 130;

/// Draws the metrics file `metrics` as an SVG chart at `output`, titled
/// "nnc training: <name>" (Plot.cpp). Returns the exit status.
int writePlot(llvm::StringRef metrics, llvm::StringRef output, llvm::StringRef name);

} // namespace nnc::driver

#endif // NNC_TOOLS_NNC_DRIVER_H
