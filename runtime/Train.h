//===- Train.h - The training loop over a compiled model --------*- C++ -*-===//
//
// Drives a compiled model (runtime/Model.h) through epochs of `train_step`,
// evaluates it with `forward`, and reads and writes checkpoints. Everything is
// deterministic for a seed: data order, initialization and dropout masks.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_TRAIN_H
#define NNC_RUNTIME_TRAIN_H

#include "runtime/Data.h"
#include "runtime/DataParallel.h"
#include "runtime/Model.h"
#include "runtime/Status.h"

#include <cmath>
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>

namespace nnc::rt {

struct TrainOptions {
  /// The data and its train/test split (runtime/Data.h loadSplits); the
  /// split's seed is `seed`.
  DataOptions dataset;
  int64_t epochs = 1;
  /// Stop after this many epochs (0: all); the schedule still spans
  /// `epochs`, so a later --resume continues the same run.
  int64_t stopAfter = 0;
  /// Base learning rate; `schedule` scales it per step.
  double lr = 1e-3;
  /// constant | step (x gamma every stepEpochs epochs) | cosine (to 0 over
  /// the run).
  std::string schedule = "constant";
  int64_t stepEpochs = 1;
  double gamma = 0.1;
  uint64_t seed = 1;
  /// Use only the first N training / test samples (0: all).
  int64_t trainLimit = 0, testLimit = 0;
  /// Write the weights here after every epoch (atomically), and the
  /// optimizer state to `<checkpoint>.state` for --resume. Empty: none.
  std::string checkpoint;
  /// Continue from this checkpoint (its `.state` file must exist).
  std::string resume;
  /// Start from these weights (no optimizer state).
  std::string weights;
  /// JSON-lines metrics file (docs/training.md): a "step" record every
  /// metricsEvery steps and an "epoch" record per epoch. Empty: none.
  std::string metrics;
  int64_t metricsEvery = 1;
  /// Write the run's memory figures here as one JSON object (docs/training.md:
  /// the process's resident baseline and peak, the arena, the data pipeline,
  /// resident sizes after each phase). Resets the process's resident peak
  /// when training starts, so the peak is training's. Empty: none.
  std::string memoryStats;
  /// Dynamic loss scaling of an f16 model (docs/training.md "Loss
  /// scaling"): the initial scale and the number of good steps after which
  /// it doubles (a step with an inf/NaN gradient is skipped and halves it).
  double lossScale = 65536.0;
  int64_t lossScaleGrowth = 2000;
  /// Kernel threads (0: all cores).
  int threads = 0;
  /// Print progress to this stream (null: quiet).
  std::FILE *progress = stderr;
  /// Polled between steps; when it becomes non-zero (a signal handler sets
  /// it on Ctrl-C) training stops without writing a partial epoch and
  /// returns with `stopped` set. Null: never.
  const volatile std::sig_atomic_t *stop = nullptr;
  /// Called once the starting weights are in place (initialized, loaded or
  /// resumed) and after every training step, before the next one starts and
  /// before any evaluation or checkpoint: nnc prune re-applies its masks here
  /// (docs/pruning.md). It may write parameters in the arena; on the GPU the
  /// caller must sync them itself (nnc prune runs on the CPU only). An error
  /// ends training. Null: none.
  std::function<Status(Model &)> afterStep;
  /// Called each time a training batch of `rows` samples (the rest of the
  /// batch is padding) was written into train_step's input regions, before
  /// the step that reads them starts: it may fill further inputs. nnc
  /// distill runs the teacher on the batch here and writes its logits into
  /// `train_step.teacher_logits`, which a train_step built for distillation
  /// takes (training such a step without a hook is refused). Its error stops
  /// training.
  std::function<Status(Model &model, int64_t rows)> batchHook;
  /// Data parallelism (`mpirun -np N nnc train`, docs/distributed.md): the
  /// ranks' host communicator (MPI). Every rank calls train() with the same
  /// options; the model's batch is this rank's part of a global batch of
  /// batch x N samples (strided shards of the same shuffled order), the loss,
  /// accuracy and test figures are reduced over the ranks, BatchNorm buffers
  /// are averaged before each evaluation and checkpoint, and rank 0 alone
  /// prints progress, writes metrics and checkpoints (gathering a sharded
  /// optimizer state first). Rank r > 0 writes --memory-stats to
  /// `<memoryStats>.rank<r>`. Null: one process.
  Communicator *comm = nullptr;
};

struct EvalResult {
  int64_t samples = 0;
  /// The labels scored (classifiers: one per sample; sequence logits
  /// [N, T, classes]: the positions with a label in [0, classes)). Accuracy
  /// and loss are means over them.
  int64_t positions = 0;
  double accuracy = 0;
  double loss = 0;
  /// Regression (mse): accuracy is meaningless; rmse is the root of loss.
  bool regression = false;
  double rmse = 0;
  /// Byte-level text (Dataset::byteText): the loss is also given in bits
  /// per character, loss / ln 2.
  bool byteText = false;
  double bitsPerChar() const { return loss / std::log(2.0); }
};

/// The test figures as one line: "test accuracy 85.1%  loss 0.4123" (byte
/// text: "loss 1.2345 (1.781 bits/char)") or, for regression, "test loss
/// (mse) 0.0123  rmse 0.1109".
std::string formatTestFigures(const EvalResult &test);

struct TrainResult {
  int64_t steps = 0;
  double lastEpochLoss = 0;
  double trainAccuracy = 0;
  double testAccuracy = -1;
  double testLoss = 0;
  /// The last epoch's test evaluation.
  EvalResult test;
  double samplesPerSecond = 0;
  /// Step time in milliseconds, averaged over the last epoch.
  double stepMs = 0;
  /// f16 models: the steps skipped for inf/NaN gradients (whole run) and the
  /// loss scale at the end (0: no loss scaling).
  int64_t skippedSteps = 0;
  double lossScale = 0;
  /// Whether `TrainOptions::stop` ended training early.
  bool stopped = false;
  /// What the data pipeline held (printed at the start as "memory: ...").
  DataMemory dataMemory;
  /// The newest complete checkpoint (written by this run, else the one it
  /// resumed from; empty: none) and the epoch it holds.
  std::string lastCheckpoint;
  int64_t lastCheckpointEpoch = 0;
};

/// Trains `model` (which must have the `train_step` and `forward` entries).
Result<TrainResult> train(Model &model, const TrainOptions &options);

/// Evaluates the model's `forward` entry on `data`: cross-entropy loss and
/// accuracy for class labels, mse and RMSE for float targets. With `comm`,
/// each rank evaluates its strided part of every batch of batch x ranks
/// samples and the figures are summed over the ranks (collective).
Result<EvalResult> evaluate(Model &model, const Dataset &data, Communicator *comm = nullptr);

/// Runs the model's `forward` entry on the first `maxBatches` batches of
/// `data` in file order (all of them if maxBatches <= 0) and calls
/// `afterBatch(n)` after each, n the batch's true number of samples (rows
/// n.. of the batch regions are padding): calibration reads the forward's
/// regions there. Stops at the first failed status and returns it.
Status forEachForwardBatch(Model &model, const Dataset &data, int64_t maxBatches,
                           const std::function<Status(int64_t)> &afterBatch);

/// Checks that the batch regions of an entry point can take what `data`
/// provides: `input` (batch dimension first) holds one batch of f32 samples
/// (or i64 or i32 token ids) of the data's sample shape, and `labels`, if
/// given, one i64 class label (or f32 target) per sample. train and evaluate
/// check this before the batcher writes into the arena, so data never goes
/// through a view of the wrong element type or size (e.g. f32 samples into an
/// f16 input).
Status checkBatchRegions(const Dataset &data, const Region &input,
                         const Region *labels);

/// The layer of `model` that normalizes over the batch dimension (the model
/// table's `batch_coupled`, docs/abi.md), or "" if none: its results for a
/// row depend on every row of the batch, padding rows included.
std::string batchCoupledLayer(const Model &model);

/// The sample the model's `forward` entry expects: its shape, class count
/// or (loss = mse) target width, token inputs and vocabulary size.
Result<SampleSpec> sampleSpecOf(const Model &model);

/// The `seed` nnc train gives `train_step` at global step `step` (1-based):
/// a mix of the run's seed and the step, so that every step draws new dropout
/// masks (a mask is a pure function of the seed, the layer and the element;
/// docs/abi.md) while a resumed run repeats the masks of an uninterrupted
/// one.
int64_t dropoutSeedForStep(uint64_t seed, int64_t step);

/// Loads weights (parameters and buffers) from a safetensors file, checking
/// every name, shape and dtype against the model.
Status loadWeights(Model &model, const std::string &path);

/// Writes parameters and buffers (PyTorch state_dict names and layouts) to
/// `path` atomically; returns the file size.
Result<int64_t> saveWeights(Model &model, const std::string &path);

/// Fills every input region of `model` with seeded synthetic values (floats in
/// [0, 1), class ids below the forward output's width, lr 1e-6 so repeated
/// train steps keep the weights sane, step and seed 1), for timing (nnc bench,
/// nnc-rt bench); returns the batch size (the first dimension of the first
/// input that is not labels).
int64_t fillSyntheticInputs(Model &model);

} // namespace nnc::rt

#endif // NNC_RUNTIME_TRAIN_H
