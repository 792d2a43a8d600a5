//===- Train.cpp - The training loop over a compiled model ----------------===//

#include "runtime/Train.h"

#include "runtime/Checkpoint.h"
#include "runtime/Json.h"
#include "runtime/Kernels.h"
#include "runtime/Memory.h"
#include "runtime/Progress.h"
#include "runtime/TrainDataParallel.h"

#include <sys/stat.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

using namespace nnc::rt;

namespace {

/// The arena regions one entry point reads and writes.
struct EntryIO {
  const Region *input = nullptr;  ///< The model input (images or token ids).
  const Region *labels = nullptr; ///< train_step only.
  const Region *lr = nullptr, *step = nullptr, *seed = nullptr;
  const Region *loss = nullptr, *correct = nullptr;
  const Region *output = nullptr; ///< forward only.
  /// train_step built for distillation: the teacher's logits.
  const Region *teacherLogits = nullptr;
};

Result<EntryIO> entryIO(const Model &model, const std::string &entry) {
  EntryIO io;
  std::string prefix = entry + ".";
  int inputs = 0;
  for (const Region &r : model.regions()) {
    if (r.name.compare(0, prefix.size(), prefix) != 0)
      continue;
    std::string local = r.name.substr(prefix.size());
    if (r.kind == "input") {
      if (local == "labels")
        io.labels = &r;
      else if (local == "lr")
        io.lr = &r;
      else if (local == "step")
        io.step = &r;
      else if (local == "seed")
        io.seed = &r;
      else if (local == "teacher_logits" && entry == "train_step")
        io.teacherLogits = &r;
      else if (inputs++ == 0)
        io.input = &r;
    } else if (r.kind == "output") {
      if (local == "loss")
        io.loss = &r;
      else if (local == "correct")
        io.correct = &r;
      else if (!io.output)
        io.output = &r;
    }
  }
  if (inputs != 1)
    return Status::error("model '" + model.name() + "': nnc train and eval support "
                         "models with exactly one input, '" + entry + "' has " +
                         std::to_string(inputs));
  if (entry == "train_step" &&
      (!io.labels || !io.lr || !io.step || !io.seed || !io.loss || !io.correct))
    return Status::error("model '" + model.name() +
                         "': its train_step entry lacks labels, lr, step, seed, "
                         "loss or correct");
  // The training loop writes lr, step and seed and reads loss and correct
  // through typed pointers.
  for (auto [r, dtype] : {std::pair{io.lr, "f32"}, {io.step, "i64"}, {io.seed, "i64"},
                          {io.loss, "f32"}, {io.correct, "i64"}})
    if (r && (r->dtype != dtype || r->numElements() != 1))
      return Status::error("model '" + model.name() + "': '" + r->name +
                           "' must be one " + dtype + " value, it is " + r->dtype);
  if (entry == "forward" && !io.output)
    return Status::error("model '" + model.name() + "': forward has no output");
  return io;
}

nnc::TensorDType tensorDType(const std::string &dtype) {
  if (dtype == "i64")
    return nnc::TensorDType::I64;
  if (dtype == "i32")
    return nnc::TensorDType::I32;
  if (dtype == "f16")
    return nnc::TensorDType::F16;
  if (dtype == "bf16")
    return nnc::TensorDType::BF16;
  if (dtype == "u8")
    return nnc::TensorDType::U8;
  if (dtype == "i8")
    return nnc::TensorDType::I8;
  return nnc::TensorDType::F32;
}

std::vector<uint64_t> shapeOf(const Region &r) {
  return std::vector<uint64_t>(r.shape.begin(), r.shape.end());
}

/// The regions of `kinds` as checkpoint tensors / load targets.
std::vector<const Region *> regionsOfKind(const Model &model,
                                          std::initializer_list<const char *> kinds) {
  std::vector<const Region *> out;
  for (const Region &r : model.regions())
    for (const char *k : kinds)
      if (r.kind == k)
        out.push_back(&r);
  return out;
}

/// How a file stores an arena region: under `name`, as `dtype` (converted
/// from and to the region's f32 when they differ).
struct Stored {
  const Region *region;
  std::string name;
  nnc::TensorDType dtype;
};

/// The weights file's tensors: the parameters and buffers, the f32 ones in
/// the model's precision (a bf16 or f16 model's weights file holds its
/// declared type: half the bytes, what inference needs).
std::vector<Stored> weightsFile(const Model &model) {
  std::vector<Stored> out;
  for (const Region *r : regionsOfKind(model, {"param", "buffer"}))
    out.push_back({r, r->name,
                   r->dtype == "f32" && !model.precision().empty() ? tensorDType(model.precision())
                                                                   : tensorDType(r->dtype)});
  return out;
}

/// The training state file's tensors: the optimizer state and, for a bf16 or
/// f16 model, its f32 master weights as `master.<name>` (the weights file
/// rounds them; --resume continues from these exactly).
std::vector<Stored> stateFile(const Model &model, const DataParallelPlan *plan = nullptr) {
  std::vector<Stored> out;
  for (const Region *r : regionsOfKind(model, {"state"}))
    if (!plan || !plan->isShardRegion(r))
      out.push_back({r, r->name, tensorDType(r->dtype)});
  if (!model.precision().empty())
    for (const Region *r : regionsOfKind(model, {"param", "buffer"}))
      if (r->dtype == "f32")
        out.push_back({r, "master." + r->name, nnc::TensorDType::F32});
  return out;
}

Result<int64_t> writeRegions(Model &model, const std::string &path,
                             const std::vector<Stored> &regions,
                             const nnc::SafetensorsMetadata &metadata,
                             const nnc::SafetensorsMetadata &reserve = {},
                             const std::vector<WriteTensor> &extra = {}) {
  // On the GPU the regions are copied from the device first.
  if (Status st = model.syncToHost(); st.failed())
    return st;
  std::vector<WriteTensor> tensors;
  for (const Stored &s : regions)
    tensors.push_back({s.name, s.dtype, shapeOf(*s.region), model.data(*s.region),
                       s.dtype != tensorDType(s.region->dtype)});
  tensors.insert(tensors.end(), extra.begin(), extra.end());
  if (Status st = writeCheckpoint(path, tensors, metadata, reserve); st.failed())
    return st;
  struct stat info;
  if (::stat(path.c_str(), &info) != 0)
    return Status::error(path + ": cannot read back the written checkpoint");
  return int64_t(info.st_size);
}

Status readRegions(Model &model, const std::string &path, const std::vector<Stored> &regions,
                   nnc::SafetensorsMetadata *metadata = nullptr,
                   const std::vector<LoadTarget> &extra = {}) {
  Result<Checkpoint> ckpt = readCheckpoint(path);
  if (!ckpt)
    return ckpt.status();
  std::vector<LoadTarget> targets;
  for (const Stored &s : regions)
    targets.push_back(
        {s.name, tensorDType(s.region->dtype), shapeOf(*s.region), model.data(*s.region)});
  targets.insert(targets.end(), extra.begin(), extra.end());
  if (Status st = loadCheckpoint(*ckpt, targets); st.failed())
    return st;
  model.hostChanged();
  if (metadata)
    *metadata = ckpt->metadata;
  return Status::success();
}

/// Dynamic loss scaling of an f16 model, as PyTorch's GradScaler: each step
/// runs with the f16 backward kernels' loss scale (nnc_set_loss_scale); a
/// step whose gradients had an inf or NaN leaves a non-finite parameter,
/// buffer or optimizer state (every optimizer's update propagates them), so
/// the loop restores them from the copy taken before the step, counts the
/// step as skipped and halves the scale; after `growth` good steps in a row
/// the scale doubles. The copy lives outside the arena (the persistent
/// regions' bytes once more).
class LossScaler {
public:
  LossScaler(Model &model, double scale, int64_t growth)
      : on(model.precision() == "f16"), scale(scale), growth(growth) {
    if (!on)
      return;
    for (const Region *r : regionsOfKind(model, {"param", "buffer", "state"}))
      saved.push_back({r, std::vector<char>(size_t(r->bytes))});
  }
  ~LossScaler() { nnc_set_loss_scale(1.0f); }
  bool enabled() const { return on; }
  double lossScale() const { return scale; }
  int64_t skippedSteps() const { return skipped; }
  void resume(double s) { scale = s > 0 ? s : scale; }

  /// Before a step: remember the persistent regions, set the scale.
  void before(Model &model) {
    if (!on)
      return;
    for (auto &[r, bytes] : saved)
      std::memcpy(bytes.data(), model.data(*r), bytes.size());
    nnc_set_loss_scale(float(scale));
  }
  /// After a step: whether it is skipped (then its effects are undone).
  bool after(Model &model) {
    if (!on)
      return false;
    bool finite = true;
    for (auto &[r, bytes] : saved) {
      if (r->dtype != "f32")
        continue;
      const float *p = model.dataAs<float>(*r);
      for (int64_t i = 0, n = r->numElements(); i < n && finite; ++i)
        finite = std::isfinite(p[i]);
    }
    if (finite) {
      if (++good >= growth) {
        scale *= 2;
        good = 0;
      }
      return false;
    }
    for (auto &[r, bytes] : saved)
      std::memcpy(model.data(*r), bytes.data(), bytes.size());
    model.hostChanged();
    scale /= 2;
    good = 0;
    ++skipped;
    return true;
  }

private:
  bool on;
  double scale;
  int64_t growth, good = 0, skipped = 0;
  std::vector<std::pair<const Region *, std::vector<char>>> saved;
};

std::string metadataValue(const nnc::SafetensorsMetadata &md, const std::string &key) {
  for (const auto &[k, v] : md)
    if (k == key)
      return v;
  return "";
}

/// Checks that the arena region `r` holds `elements` values of `dtype`, so
/// that the batcher's writes through a typed pointer stay inside it.
Status checkRegion(const Region &r, const std::string &dtype, int64_t elements,
                   const Dataset &data, const std::string &what) {
  if (r.dtype != dtype)
    return Status::error(
        "'" + r.name + "' has type " + r.dtype + ", but " + data.source +
        " provides " + dtype + " " + what +
        " (nnc trains and evaluates f32 models with f32 inputs or "
        "i64/i32 token ids only)");
  if (r.numElements() != elements)
    return Status::error("'" + r.name + "' holds " + std::to_string(r.numElements()) +
                         " values per batch, but " + data.source + " provides " +
                         std::to_string(elements) + " " + what);
  return Status::success();
}

/// Typed views of the batch regions (checked by checkBatchRegions).
Result<BatchBuffers> buffersFor(Model &model, const Dataset &data, const Region &input,
                                const Region *labels) {
  if (Status st = checkBatchRegions(data, input, labels); st.failed())
    return st;
  BatchBuffers b;
  if (data.tokenInputs && input.dtype == "i32")
    b.tokens32 = model.dataAs<int32_t>(input);
  else if (data.tokenInputs)
    b.tokens = model.dataAs<int64_t>(input);
  else
    b.inputs = model.dataAs<float>(input);
  if (labels && !data.labels.empty())
    b.labels = model.dataAs<int64_t>(*labels);
  else if (labels)
    b.targets = model.dataAs<float>(*labels);
  return b;
}

double now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

/// The model's training loss ("cross_entropy", "mse") from its model table.
std::string lossOf(const Model &model) {
  std::string error;
  std::optional<Json> info = parseJson(model.info(), error);
  const std::string *loss =
      jsonString(jsonMember(jsonMember(info, "train"), "loss"));
  return loss ? *loss : "cross_entropy";
}

/// Refuses a data set whose last, partial batch the model cannot take (the
/// artifact's batch limits, docs/abi.md): any partial batch when a layer
/// normalizes over the batch dimension (the padding rows would change the
/// real rows' results), and in training a batch of fewer samples than
/// `min_train_batch` (a batchnorm with one value per channel). With `ranks`
/// > 1 the batches are global ones of batch x ranks samples split over the
/// ranks: each rank must get a sample of the last one, and the smallest
/// part counts.
Status checkLastBatch(const Model &model, const Dataset &data, int64_t batch, bool training,
                      int64_t ranks = 1) {
  int64_t global = batch * ranks;
  int64_t lastGlobal = global > 0 ? data.size() % global : 0;
  if (lastGlobal == 0)
    return Status::success();
  int64_t last = lastGlobal / ranks;
  std::string error;
  std::optional<Json> info = parseJson(model.info(), error);
  std::string holds = data.source + ": the last " + (ranks > 1 ? "global " : "") + "batch holds " +
                      std::to_string(lastGlobal) + (lastGlobal == 1 ? " sample" : " samples") +
                      " (" + std::to_string(data.size()) + " samples, batch " +
                      std::to_string(global) +
                      (ranks > 1 ? " over " + std::to_string(ranks) + " ranks" : "") + "); ";
  if (lastGlobal < ranks)
    return Status::error(holds + "every rank needs at least one sample of it; choose "
                                 "another --batch (or --limit)");
  if (std::string coupled = batchCoupledLayer(model); !coupled.empty())
    return Status::error(
        holds + "layer '" + coupled +
        "' normalizes over the batch dimension, so the padding rows of a "
        "partial batch would change its results; choose a --batch that "
        "divides the sample count (or --limit)");
  const Json *limit = training ? jsonMember(info, "min_train_batch") : nullptr;
  std::optional<uint64_t> minBatch = jsonUInt64(jsonMember(limit, "batch"));
  const std::string *layer = jsonString(jsonMember(limit, "layer"));
  if (minBatch && uint64_t(last) < *minBatch)
    return Status::error(
        holds + "batchnorm '" + (layer ? *layer : std::string("?")) +
        "' needs more than one value per channel in training; choose "
        "another --batch (or --limit)");
  return Status::success();
}

/// The vocabulary of the model's token input: the rows of the embedding
/// that reads it (`vocab` in the model info, docs/abi.md); 0 if there is none.
int64_t vocabularyOf(const Model &model) {
  std::string error;
  std::optional<uint64_t> vocab = jsonUInt64(jsonMember(parseJson(model.info(), error), "vocab"));
  return vocab && *vocab <= uint64_t(INT64_MAX) ? int64_t(*vocab) : 0;
}

/// Where in training something happened, for messages.
std::string whereInTraining(int64_t epoch, int64_t step, int64_t globalStep) {
  return "epoch " + std::to_string(epoch + 1) + ", step " + std::to_string(step) +
         " (global step " + std::to_string(globalStep) + ")";
}

/// The one divergence check of every training path: `value` (a loss) must be
/// finite.
Status checkFinite(double value, const std::string &what, const std::string &where) {
  if (std::isfinite(value))
    return Status::success();
  return Status::error("training diverged: " + what + " is " + (std::isnan(value) ? "NaN" : "Inf") +
                       " at " + where +
                       "; stopped, the last checkpoint is kept (try a lower --lr)");
}

/// Checks that every f32 parameter is finite (before a checkpoint is written).
Status checkParameters(Model &model, const std::string &where) {
  if (Status st = model.syncToHost(); st.failed())
    return st;
  for (const Region &r : model.regions()) {
    if (r.kind != "param" || r.dtype != "f32")
      continue;
    const float *p = model.dataAs<float>(r);
    for (int64_t i = 0, n = r.numElements(); i < n; ++i)
      if (!std::isfinite(p[i]))
        return checkFinite(p[i], "parameter '" + r.name + "'", where);
  }
  return Status::success();
}

/// Resident memory at the phases of a run, for --memory-stats (-1: not
/// measured).
struct MemoryPhases {
  ResidentMemory start;     ///< train() entered: model loaded, no data yet.
  ResidentMemory loaded;    ///< The data loaded.
  ResidentMemory firstStep; ///< After the first train_step.
  ResidentMemory firstEval; ///< After the first test evaluation.
  bool peakReset = false;   ///< Whether the peak was reset at `start`.
  /// The peak before that reset: the compiler's, for nnc train.
  int64_t peakBefore = -1;
};

/// Writes --memory-stats: one JSON object (docs/training.md). `fixed_bytes`
/// is what the peak's growth over the baseline holds besides the arena and
/// the data pipeline: the runtime's fixed costs. The process's own peak is
/// the larger of `peak_rss_bytes` and `peak_before_training_bytes`.
Status writeMemoryStats(const std::string &path, const MemoryPhases &phases, const Model &model,
                        const DataMemory &data, Communicator *comm) {
  ResidentMemory now = residentMemory();
  int64_t baseline = model.residentBeforeArena();
  MetricsRecord record;
  record.add("baseline_rss_bytes", baseline)
      .add("peak_rss_bytes", now.peak)
      .add("peak_is_training", int64_t(phases.peakReset))
      .add("peak_before_training_bytes", phases.peakBefore)
      .add("arena_bytes", model.arenaBytes())
      .add("data_bytes", int64_t(data.total()))
      .add("data_train_bytes", int64_t(data.train))
      .add("data_test_bytes", int64_t(data.test))
      .add("data_staging_bytes", int64_t(data.staging));
  // Data parallelism: this rank's figures, its optimizer state (a shard of
  // it with ZeRO-1) and the communicators' buffers.
  int64_t stateBytes = 0, commBytes = comm ? comm->bufferBytes() : 0;
  for (const Region *r : regionsOfKind(model, {"state"}))
    stateBytes += r->bytes;
  if (Communicator *hooks = communicator(); hooks && hooks != comm)
    commBytes += hooks->bufferBytes();
  record.add("rank", comm ? comm->rank() : int64_t(0))
      .add("ranks", comm ? comm->size() : int64_t(1))
      .add("state_bytes", stateBytes)
      .add("comm_buffer_bytes", commBytes);
  for (auto [name, m] : {std::pair{"start", phases.start},
                         {"data_loaded", phases.loaded},
                         {"first_step", phases.firstStep},
                         {"first_eval", phases.firstEval},
                         {"end", now}})
    record.add(std::string("rss_") + name + "_bytes", m.current)
        .add(std::string("anon_") + name + "_bytes", m.anon);
  if (baseline >= 0 && now.peak >= 0) {
    int64_t growth = now.peak - baseline;
    record.add("growth_bytes", growth)
        .add("fixed_bytes", growth - model.arenaBytes() - int64_t(data.total()) - commBytes);
  }
  std::FILE *f = std::fopen(path.c_str(), "w");
  if (!f)
    return Status::error(path + ": cannot create: " + errnoText(errno));
  std::string text = record.json() + "\n";
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !ok)
    return Status::error(path + ": cannot write: " + errnoText(errno));
  return Status::success();
}

/// Drops the records of a metrics file after global step `step` (and any
/// cut-off last line), so that a resumed run continues it without
/// duplicates.
Status trimMetrics(const std::string &path, int64_t step) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::success(); // Nothing written yet.
  std::string kept, line;
  while (std::getline(in, line)) {
    if (in.eof())
      break; // No newline: cut off by a kill.
    std::string error;
    std::optional<Json> record = parseJson(line, error);
    std::optional<uint64_t> at = jsonUInt64(jsonMember(record, "step"));
    if (at && int64_t(*at) <= step)
      kept += line + "\n";
  }
  in.close();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << kept;
  out.close();
  if (!out)
    return Status::error(path + ": cannot rewrite the metrics file");
  return Status::success();
}
} // namespace

Status nnc::rt::checkBatchRegions(const Dataset &data, const Region &input,
                                  const Region *labels) {
  int64_t batch = input.shape.empty() ? 0 : input.shape[0];
  bool tokens = data.tokenInputs;
  // Token ids go into an i64 or an i32 input, as the model declares.
  std::string inputType = !tokens                ? "f32"
                          : input.dtype == "i32" ? "i32"
                                                 : "i64";
  if (Status st = checkRegion(input, inputType, batch * data.sampleElements(),
                              data, tokens ? "token ids" : "samples");
      st.failed())
    return st;
  if (inputType == "i32")
    for (int64_t id : data.tokens)
      if (id < INT32_MIN || id > INT32_MAX)
        return Status::error(data.source + ": token id " + std::to_string(id) +
                             " does not fit the i32 input '" + input.name +
                             "'");
  if (!labels)
    return Status::success();
  bool classes = !data.labels.empty();
  // A sequence model's labels are [N, T]: T per sample.
  if (classes && labels->dtype == "i64" && batch > 0 && labels->numElements() % batch == 0 &&
      labels->numElements() != batch * data.labelWidth)
    return Status::error(
        "'" + labels->name + "' takes " + std::to_string(labels->numElements() / batch) +
        " class labels per sample, but " + data.source + " has " + std::to_string(data.labelWidth) +
        " (a model with sequence logits [N, T, classes] needs T per sample)");
  return checkRegion(*labels, classes ? "i64" : "f32",
                     classes ? batch * data.labelWidth
                             : batch * std::max<int64_t>(data.targetWidth, 1),
                     data, classes ? "class labels" : "targets");
}

int64_t nnc::rt::dropoutSeedForStep(uint64_t seed, int64_t step) {
  // SplitMix64's finalizer over (seed, step): distinct steps of one run, and
  // the same step of different seeds, get unrelated values.
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + uint64_t(step);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return int64_t(z ^ (z >> 31));
}

Result<SampleSpec> nnc::rt::sampleSpecOf(const Model &model) {
  Result<EntryIO> io = entryIO(model, "forward");
  if (!io)
    return io.status();
  SampleSpec spec;
  spec.shape.assign(io->input->shape.begin() + 1, io->input->shape.end());
  spec.tokenInputs = io->input->dtype == "i64" || io->input->dtype == "i32";
  if (spec.tokenInputs)
    spec.vocabSize = vocabularyOf(model);
  const Region &out = *io->output;
  if (lossOf(model) == "mse") {
    spec.targetWidth = 1;
    for (size_t d = 1; d < out.shape.size(); ++d)
      spec.targetWidth *= out.shape[d];
  } else if (out.shape.size() == 2) {
    spec.numClasses = out.shape[1];
  } else if (out.shape.size() == 3) {
    // Sequence logits [N, T, C]: T labels per sample.
    spec.numClasses = out.shape[2];
    spec.labelsPerSample = out.shape[1];
  }
  return spec;
}

std::string nnc::rt::batchCoupledLayer(const Model &model) {
  std::string error;
  std::optional<Json> info = parseJson(model.info(), error);
  const std::string *coupled = jsonString(jsonMember(info, "batch_coupled"));
  return coupled ? *coupled : "";
}

Status nnc::rt::loadWeights(Model &model, const std::string &path) {
  return readRegions(model, path, weightsFile(model));
}

Result<int64_t> nnc::rt::saveWeights(Model &model, const std::string &path) {
  return writeRegions(model, path, weightsFile(model), {});
}

std::string nnc::rt::formatTestFigures(const EvalResult &test) {
  char buf[128];
  if (test.regression)
    std::snprintf(buf, sizeof(buf), "test loss (mse) %.4f  rmse %.4f", test.loss, test.rmse);
  else if (test.byteText)
    std::snprintf(buf, sizeof(buf), "test accuracy %.1f%%  loss %.4f (%.3f bits/char)",
                  100 * test.accuracy, test.loss, test.bitsPerChar());
  else
    std::snprintf(buf, sizeof(buf), "test accuracy %.1f%%  loss %.4f", 100 * test.accuracy,
                  test.loss);
  return buf;
}

Result<EvalResult> nnc::rt::evaluate(Model &model, const Dataset &data, Communicator *comm) {
  int64_t rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  Result<EntryIO> io = entryIO(model, "forward");
  if (!io)
    return io.status();
  const Region &out = *io->output;
  int64_t batch = io->input->shape[0];
  int64_t width = batch ? out.numElements() / batch : 0;
  EvalResult result;
  result.byteText = data.byteText;
  result.regression = data.targetWidth > 0;
  // Sequence logits [N, T, classes]: T labels per sample, each position
  // scored like a classifier's row.
  int64_t positions = out.shape.size() == 3 ? out.shape[1] : 1;
  if (result.regression ? width != data.targetWidth
                        : (out.shape.size() != 2 && out.shape.size() != 3) || data.labels.empty() ||
                              data.labelWidth != positions)
    return Status::error(data.source + ": evaluation needs a classifier ([N, classes] "
                                       "output, or [N, T, classes] with T labels per "
                                       "sample) and labelled data, or a regression "
                                       "model (loss = mse) with one target per output");
  if (Status st = checkLastBatch(model, data, batch, /*training=*/false, ranks); st.failed())
    return st;
  Result<Batcher> batcher = Batcher::create(data, batch, /*shuffle=*/false, 0);
  if (!batcher)
    return batcher.status();
  batcher->setShard(rank, ranks);
  batcher->beginEpoch(0);
  std::vector<int64_t> labels(batch * positions);
  if (out.dtype != "f32")
    return Status::error("model '" + model.name() + "': '" + out.name + "' has type " +
                         out.dtype + "; evaluation reads f32 outputs only");
  Result<BatchBuffers> buffersOr = buffersFor(model, data, *io->input, nullptr);
  if (!buffersOr)
    return buffersOr.status();
  BatchBuffers buffers = *buffersOr;
  std::vector<float> targets(batch * std::max<int64_t>(width, 1));
  buffers.labels = labels.data();
  buffers.targets = targets.data();
  double lossSum = 0;
  int64_t correct = 0;
  for (int64_t i = 0; i < batcher->numBatches(); ++i) {
    int64_t n = batcher->copyBatch(i, buffers);
    if (Status st = model.run("forward"); st.failed())
      return st;
    const float *y = model.dataAs<float>(out);
    if (result.regression) {
      for (int64_t k = 0; k < n * width; ++k)
        lossSum += (double(y[k]) - targets[k]) * (double(y[k]) - targets[k]);
      result.samples += n;
      continue;
    }
    int64_t classes = width / positions;
    for (int64_t r = 0; r < n * positions; ++r) {
      const float *row = y + r * classes;
      int64_t best = 0;
      double maxv = row[0];
      for (int64_t c = 1; c < classes; ++c)
        if (row[c] > row[best])
          best = c;
      for (int64_t c = 1; c < classes; ++c)
        maxv = std::max<double>(maxv, row[c]);
      double sum = 0;
      for (int64_t c = 0; c < classes; ++c)
        sum += std::exp(double(row[c]) - maxv);
      // Labels outside [0, classes) (ignored positions) count nowhere.
      if (labels[r] >= 0 && labels[r] < classes) {
        lossSum += std::log(sum) + maxv - row[labels[r]];
        ++result.positions;
      }
      correct += best == labels[r];
    }
    result.samples += n;
  }
  if (ranks > 1) {
    // Every rank's sums: the figures of the whole test set.
    double sums[4] = {lossSum, double(correct), double(result.samples), double(result.positions)};
    if (Status st = comm->allReduceSumHost(sums, 4); st.failed())
      return st;
    lossSum = sums[0];
    correct = int64_t(sums[1]);
    result.samples = int64_t(sums[2]);
    result.positions = int64_t(sums[3]);
  }
  if (result.regression) {
    double count = double(result.samples * width);
    result.loss = count ? lossSum / count : 0;
    result.rmse = std::sqrt(result.loss);
    return result;
  }
  result.accuracy = result.positions ? double(correct) / double(result.positions) : 0;
  result.loss = result.positions ? lossSum / double(result.positions) : 0;
  return result;
}

Status nnc::rt::forEachForwardBatch(Model &model, const Dataset &data, int64_t maxBatches,
                                    const std::function<Status(int64_t)> &afterBatch) {
  Result<EntryIO> io = entryIO(model, "forward");
  if (!io)
    return io.status();
  int64_t batch = io->input->shape[0];
  if (Status st = checkLastBatch(model, data, batch, /*training=*/false); st.failed())
    return st;
  Result<Batcher> batcher = Batcher::create(data, batch, /*shuffle=*/false, 0);
  if (!batcher)
    return batcher.status();
  batcher->beginEpoch(0);
  Result<BatchBuffers> buffersOr = buffersFor(model, data, *io->input, nullptr);
  if (!buffersOr)
    return buffersOr.status();
  BatchBuffers buffers = *buffersOr;
  // Labels and targets are copied but not used.
  std::vector<int64_t> labels(batch);
  std::vector<float> targets(batch * std::max<int64_t>(data.targetWidth, 1));
  buffers.labels = labels.data();
  buffers.targets = targets.data();
  int64_t batches = batcher->numBatches();
  if (maxBatches > 0)
    batches = std::min(batches, maxBatches);
  for (int64_t i = 0; i < batches; ++i) {
    int64_t n = batcher->copyBatch(i, buffers);
    if (Status st = model.run("forward"); st.failed())
      return st;
    if (Status st = afterBatch(n); st.failed())
      return st;
  }
  return Status::success();
}

Result<TrainResult> nnc::rt::train(Model &model, const TrainOptions &options) {
  if (!model.hasEntry("train_step"))
    return Status::error("model '" + model.name() + "' was built without train_step");
  Result<EntryIO> ioOr = entryIO(model, "train_step");
  if (!ioOr)
    return ioOr.status();
  EntryIO io = *ioOr;
  if (io.teacherLogits && !options.batchHook)
    return Status::error("model '" + model.name() +
                         "': its train_step takes teacher logits (built for distillation); "
                         "train it with nnc distill");
  Result<SampleSpec> spec = sampleSpecOf(model);
  if (!spec)
    return spec.status();
  nnc_set_num_threads(options.threads);

  // Data parallelism: this process is rank `rank` of `ranks`; rank 0 speaks.
  Communicator *comm = options.comm;
  const int64_t rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  std::FILE *progress = rank == 0 ? options.progress : nullptr;
  Result<DataParallelPlan> planOr = dataParallelPlan(model);
  if (!planOr)
    return planOr.status();
  const DataParallelPlan &plan = *planOr;
  if (plan.present && plan.ranks != ranks)
    return Status::error("model '" + model.name() + "' was built for " +
                         std::to_string(plan.ranks) + " data-parallel ranks, but " +
                         std::to_string(ranks) + (ranks == 1 ? " process runs" : " processes run") +
                         " it");
  if (!plan.present && ranks > 1 && progress)
    std::fprintf(progress,
                 "nnc: warning: model '%s' was built without data parallelism (no "
                 "data_parallel in its model table): its train_step does not reduce "
                 "the gradients, so each of the %lld ranks trains its own replica\n",
                 model.name().c_str(), (long long)ranks);

  // --memory-stats: the resident peak from here on is training's.
  MemoryPhases memory;
  bool measuring = !options.memoryStats.empty();
  if (measuring) {
    memory.peakBefore = residentMemory().peak;
    memory.peakReset = resetResidentPeak();
    memory.start = residentMemory();
  }

  // Pixels scaled to [0, 1]: the model's entry points apply its own
  // normalization (docs/abi.md). Only the samples within the limits are
  // read.
  DataOptions dataOptions = options.dataset;
  dataOptions.seed = options.seed;
  dataOptions.trainLimit = options.trainLimit;
  dataOptions.testLimit = options.testLimit;
  Result<DataSplits> splits = loadSplits(dataOptions, *spec, {});
  if (!splits)
    return splits.status();
  if (progress)
    for (const std::string &note : splits->notes)
      std::fprintf(progress, "%s\n", note.c_str());
  Dataset *trainData = &splits->train, *testData = &splits->test;
  if (options.metricsEvery < 1)
    return Status::error("--metrics-every must be at least 1");

  bool regression = spec->targetWidth > 0;
  int64_t batch = io.input->shape[0];
  if (Status st = checkLastBatch(model, *trainData, batch, /*training=*/true, ranks); st.failed())
    return st;
  if (Status st = checkLastBatch(model, *testData, batch, /*training=*/false, ranks); st.failed())
    return st;
  Result<Batcher> batcher = Batcher::create(*trainData, batch, /*shuffle=*/true,
                                            options.seed);
  if (!batcher)
    return batcher.status();
  // Every rank shuffles alike and takes its strided rows of each global batch.
  batcher->setShard(rank, ranks);
  Result<BatchBuffers> buffersOr = buffersFor(model, *trainData, *io.input, io.labels);
  if (!buffersOr)
    return buffersOr.status();
  BatchBuffers buffers = *buffersOr;

  TrainResult result;
  Result<EntryIO> forwardIO = entryIO(model, "forward");
  if (!forwardIO)
    return forwardIO.status();
  int64_t outputWidth = batch ? forwardIO->output->numElements() / batch : 0;
  result.dataMemory = dataMemory(*trainData, *testData, batch, outputWidth);
  if (progress)
    std::fprintf(progress, "memory: arena %s B, %s\n",
                 groupDigits(uint64_t(model.arenaBytes())).c_str(),
                 describeDataMemory(result.dataMemory, *trainData, *testData).c_str());
  if (measuring)
    memory.loaded = residentMemory();

  // Start: resume, given weights, or fresh initialization.
  int64_t startEpoch = 0, globalStep = 0;
  std::string resumedLossScale; // f16: the scale the checkpoint's run had reached
  std::vector<Stored> weights = weightsFile(model), state = stateFile(model, &plan);
  // ZeRO-1: the state file holds every parameter's state; each rank keeps
  // its shard, and rank 0 gathers them to write it.
  std::optional<ShardedState> sharded;
  if (plan.sharded)
    sharded.emplace(plan);
  auto shardTargets = [&] { return sharded ? sharded->targets() : std::vector<LoadTarget>(); };
  if (!options.resume.empty()) {
    nnc::SafetensorsMetadata weightsMd, md;
    if (Status st = readRegions(model, options.resume, weights, &weightsMd); st.failed())
      return st;
    std::string statePath = options.resume + ".state";
    if (Status st = readRegions(model, statePath, state, &md, shardTargets()); st.failed())
      return st;
    // A checkpoint interrupted between its weights and its state leaves the
    // new state in `.state.next` (see the checkpoint below): use it when it
    // belongs to the weights.
    if (metadataValue(weightsMd, "step") != metadataValue(md, "step")) {
      std::string nextPath = statePath + ".next";
      Result<Checkpoint> next = std::ifstream(nextPath).good()
                                    ? readCheckpoint(nextPath)
                                    : Result<Checkpoint>(Status::error("none"));
      if (next && metadataValue(next->metadata, "epoch") ==
                      metadataValue(weightsMd, "epoch") &&
          metadataValue(next->metadata, "step") == metadataValue(weightsMd, "step")) {
        if (Status st = readRegions(model, nextPath, state, &md, shardTargets()); st.failed())
          return st;
        statePath = nextPath;
      }
    }
    if (sharded)
      sharded->scatter(model, rank);
    resumedLossScale = metadataValue(md, "loss_scale");
    startEpoch = std::atoll(metadataValue(md, "epoch").c_str());
    result.lastCheckpoint = options.resume;
    result.lastCheckpointEpoch = startEpoch;
    globalStep = std::atoll(metadataValue(md, "step").c_str());
    if (metadataValue(md, "format") != "nnc-train-state" || startEpoch < 0 ||
        globalStep < 0)
      return Status::error(statePath + ": not an nnc training state");
    if (metadataValue(weightsMd, "epoch") != metadataValue(md, "epoch") ||
        metadataValue(weightsMd, "step") != metadataValue(md, "step"))
      return Status::error(options.resume + ": the weights (epoch " +
                           metadataValue(weightsMd, "epoch") + ") and " + statePath +
                           " (epoch " + metadataValue(md, "epoch") +
                           ") are from different points of training");
  } else if (!options.weights.empty()) {
    if (Status st = loadWeights(model, options.weights); st.failed())
      return st;
  } else {
    model.initialize(options.seed);
  }
  if (options.afterStep)
    if (Status st = options.afterStep(model); st.failed())
      return st;

  LossScaler scaler(model, options.lossScale, options.lossScaleGrowth);
  if (!options.resume.empty())
    scaler.resume(std::atof(resumedLossScale.c_str()));
  std::optional<MetricsLog> metrics;
  if (!options.metrics.empty() && rank == 0) {
    if (!options.resume.empty())
      if (Status st = trimMetrics(options.metrics, globalStep); st.failed())
        return st;
    Result<MetricsLog> log = MetricsLog::open(options.metrics, !options.resume.empty());
    if (!log)
      return log.status();
    metrics.emplace(std::move(*log));
  }

  int64_t stepsPerEpoch = batcher->numBatches();
  int64_t totalSteps = stepsPerEpoch * options.epochs;
  auto lrAt = [&](int64_t epoch, int64_t step) {
    if (options.schedule == "step")
      return options.lr * std::pow(options.gamma, double(epoch / std::max<int64_t>(
                                                                   options.stepEpochs, 1)));
    if (options.schedule == "cosine")
      return options.lr * 0.5 * (1 + std::cos(M_PI * double(step) / double(totalSteps)));
    return options.lr;
  };

  double trainStart = now();
  const int64_t startStep = globalStep; // Resumed runs start later.
  std::optional<ProgressBar> bar;
  if (progress)
    bar.emplace(progress);
  bool stopAgreed = false;
  int64_t lastEpoch = options.stopAfter > 0 ? std::min(options.stopAfter, options.epochs)
                                            : options.epochs;
  // Sequence labels: the accuracy is over every position.
  int64_t labelWidth = std::max<int64_t>(trainData->labelWidth, 1);
  for (int64_t epoch = startEpoch; epoch < lastEpoch; ++epoch) {
    batcher->beginEpoch(epoch);
    if (bar)
      bar->beginEpoch(epoch + 1, options.epochs, stepsPerEpoch);
    double lossSum = 0, start = now();
    int64_t correct = 0, seen = 0;
    // Ctrl-C: keep the last complete checkpoint, write nothing partial.
    // Checked before each step starts.
    // With several ranks they agree (each step's figures carry the flag), so
    // that all stop at the same step.
    auto stopRequested = [&] { return ranks > 1 ? stopAgreed : options.stop && *options.stop; };
    auto stopNow = [&] {
      if (bar)
        bar->endEpoch();
      result.stopped = true;
      result.steps = globalStep;
      return result;
    };
    // Writes batch `b` and the step inputs of global step `g` + 1 into the
    // input regions. Called for the next step while the device runs the
    // current one, then Model::prefetch takes them: on the GPU their upload
    // overlaps the current step (on the CPU it does nothing).
    int64_t stagedN = 0, stagedGlobal = 0;
    double stagedLr = 0;
    bool checking = !model.numericsOps().empty();
    auto stageStep = [&](int64_t b, int64_t g) -> Status {
      stagedN = batcher->copyBatch(b, buffers);
      stagedGlobal = batcher->globalBatchCount(b);
      if (stagedN == 0)
        return Status::error(trainData->source + ": its samples (" +
                             (trainData->tokenInputs ? "token ids" : "floats") + ", " +
                             (trainData->labels.empty() ? "float targets" : "class labels") +
                             ") do not fit the model's input '" + io.input->name + "' (" +
                             io.input->dtype + ") and labels (" + io.labels->dtype + ")");
      if (options.batchHook)
        if (Status st = options.batchHook(model, stagedN); st.failed())
          return st;
      stagedLr = lrAt(epoch, g);
      *model.dataAs<float>(*io.lr) = float(stagedLr);
      *model.dataAs<int64_t>(*io.step) = g + 1;
      // Dropout: rank 0 draws the masks a single process would; the other
      // ranks (other rows) draw their own.
      *model.dataAs<int64_t>(*io.seed) =
          dropoutSeedForStep(options.seed + uint64_t(rank) * 0x632be59bd9b4e019ULL, g + 1);
      return Status::success();
    };
    auto beginStep = [&] {
      if (checking)
        nnc_numerics_reset();
      scaler.before(model);
      // The hooks weight this rank's gradient by its share of the samples.
      setBatchRows(stagedN, stagedGlobal);
      return model.start("train_step");
    };
    if (stepsPerEpoch > 0) {
      if (stopRequested())
        return stopNow();
      if (Status st = stageStep(0, globalStep); st.failed())
        return st;
      if (Status st = beginStep(); st.failed())
        return st;
    }
    for (int64_t i = 0; i < stepsPerEpoch; ++i) {
      int64_t n = stagedN;
      double lr = stagedLr;
      // The next batch is prepared while the device runs this step; its
      // error, if any, is reported after this step's.
      Status nextStaged =
          i + 1 < stepsPerEpoch ? stageStep(i + 1, globalStep + 1) : Status::success();
      if (i + 1 < stepsPerEpoch && !nextStaged.failed())
        nextStaged = model.prefetch("train_step");
      if (Status st = model.finish(); st.failed())
        return st;
      if (options.afterStep)
        if (Status st = options.afterStep(model); st.failed())
          return st;
      if (measuring && globalStep == startStep)
        memory.firstStep = residentMemory();
      if (checking) {
        int64_t first = nnc_numerics_first();
        if (first >= 0 && first < int64_t(model.numericsOps().size()))
          return Status::error("numerics check: " + whereInTraining(epoch, i + 1, globalStep + 1) +
                               ": NaN or Inf first appeared in the output of " +
                               model.numericsOps()[first]);
      }
      double loss = *model.dataAs<float>(*io.loss);
      int64_t stepCorrect = *model.dataAs<int64_t>(*io.correct);
      // A skipped f16 step (inf/NaN gradients, or an f16 overflow in the
      // forward) changes nothing and is not counted in the epoch's figures.
      const bool skipped = scaler.after(model);
      if (ranks > 1) {
        // The global batch's figures: its mean loss and its correct count.
        double sums[4] = {loss * double(n), double(stepCorrect), double(n),
                          options.stop && *options.stop ? 1.0 : 0.0};
        if (Status st = comm->allReduceSumHost(sums, 4); st.failed())
          return st;
        n = int64_t(sums[2]);
        loss = n ? sums[0] / double(n) : 0.0;
        stepCorrect = int64_t(sums[1]);
        stopAgreed = sums[3] > 0;
      }
      if (!skipped) {
        if (Status st =
                checkFinite(loss, "the loss", whereInTraining(epoch, i + 1, globalStep + 1));
            st.failed())
          return st;
        lossSum += loss * double(n);
        correct += stepCorrect;
        seen += n;
      }
      ++globalStep;
      if (metrics && globalStep % options.metricsEvery == 0) {
        MetricsRecord record;
        record.add("kind", std::string("step"))
            .add("epoch", epoch + 1)
            .add("step", globalStep)
            .add("loss", loss)
            .add("lr", lr)
            .add("time_s", now() - trainStart);
        if (scaler.enabled())
          record.add("loss_scale", scaler.lossScale()).add("skipped", skipped ? 1 : 0);
        if (Status st = metrics->write(record); st.failed())
          return st;
      }
      if (bar)
        bar->update(i + 1, seen, lossSum / double(seen),
                    regression ? -1.0 : double(correct) / double(seen * labelWidth));
      if (nextStaged.failed())
        return nextStaged;
      if (i + 1 < stepsPerEpoch) {
        if (stopRequested())
          return stopNow();
        if (Status st = beginStep(); st.failed())
          return st;
      }
    }
    double elapsed = now() - start;
    if (bar)
      bar->endEpoch();
    result.steps = globalStep;
    result.lastEpochLoss = seen ? lossSum / double(seen) : std::numeric_limits<double>::quiet_NaN();
    result.trainAccuracy = seen ? double(correct) / double(seen * labelWidth) : 0.0;
    if (scaler.enabled()) {
      result.skippedSteps = scaler.skippedSteps();
      result.lossScale = scaler.lossScale();
    }
    result.samplesPerSecond = double(seen) / elapsed;
    result.stepMs = 1000.0 * elapsed / double(stepsPerEpoch);

    std::string endOfEpoch = whereInTraining(epoch, stepsPerEpoch, globalStep);
    if (Status st = checkParameters(model, endOfEpoch); st.failed())
      return st;
    if (Status st = averageBuffers(model, comm); st.failed())
      return st;
    Result<EvalResult> eval = evaluate(model, *testData, comm);
    if (!eval)
      return eval.status();
    if (measuring && epoch == startEpoch)
      memory.firstEval = residentMemory();
    if (Status st = checkFinite(eval->loss, "the test loss", endOfEpoch); st.failed())
      return st;
    result.test = *eval;
    result.testAccuracy = eval->accuracy;
    result.testLoss = eval->loss;
    if (progress && eval->regression)
      std::fprintf(progress,
                   "epoch %lld/%lld: train loss (mse) %.4f  %s  %.0f samples/s  %.2f "
                   "ms/step\n",
                   (long long)(epoch + 1), (long long)options.epochs, result.lastEpochLoss,
                   formatTestFigures(*eval).c_str(), result.samplesPerSecond, result.stepMs);
    else if (progress && eval->byteText)
      std::fprintf(progress,
                   "epoch %lld/%lld: train loss %.4f (%.3f bits/char) acc %.1f%%  test loss "
                   "%.4f (%.3f bits/char) acc %.1f%%  %.0f samples/s  %.2f ms/step\n",
                   (long long)(epoch + 1), (long long)options.epochs, result.lastEpochLoss,
                   result.lastEpochLoss / std::log(2.0), 100 * result.trainAccuracy, eval->loss,
                   eval->bitsPerChar(), 100 * eval->accuracy, result.samplesPerSecond,
                   result.stepMs);
    else if (progress)
      std::fprintf(progress,
                   "epoch %lld/%lld: train loss %.4f acc %.1f%%  test loss %.4f acc "
                   "%.1f%%  %.0f samples/s  %.2f ms/step\n",
                   (long long)(epoch + 1), (long long)options.epochs, result.lastEpochLoss,
                   100 * result.trainAccuracy, eval->loss, 100 * eval->accuracy,
                   result.samplesPerSecond, result.stepMs);
    if (progress && scaler.enabled())
      std::fprintf(progress, "loss scale %g, %lld step(s) skipped so far (inf/NaN f16 gradients)\n",
                   scaler.lossScale(), (long long)scaler.skippedSteps());
    if (metrics) {
      MetricsRecord record;
      record.add("kind", std::string("epoch"))
          .add("epoch", epoch + 1)
          .add("step", globalStep)
          .add("loss", result.lastEpochLoss);
      if (eval->regression)
        record.add("test_loss", eval->loss).add("test_rmse", eval->rmse);
      else
        record.add("train_accuracy", result.trainAccuracy)
            .add("test_loss", eval->loss)
            .add("test_accuracy", eval->accuracy);
      if (eval->byteText)
        record.add("test_bits_per_char", eval->bitsPerChar());
      record.add("samples_per_second", result.samplesPerSecond).add("step_ms", result.stepMs);
      if (scaler.enabled())
        record.add("loss_scale", scaler.lossScale()).add("skipped_steps", scaler.skippedSteps());
      if (Status st = metrics->write(record); st.failed())
        return st;
    }
    if (!options.checkpoint.empty()) {
      // Both files carry the epoch and step. Each write is atomic, and the
      // pair is too: the state goes to `.state.next` first, then the
      // weights replace the old ones, then `.state.next` becomes `.state`.
      // A crash before the weights' rename leaves the old pair; one after it
      // leaves new weights whose state is `.state.next`, which --resume
      // takes (a pair that disagrees otherwise is refused).
      // The weights' header has room for any epoch and step, so its size is
      // the one `nnc report` predicts.
      nnc::SafetensorsMetadata at = nnc::trainingProgress(epoch + 1, globalStep);
      nnc::SafetensorsMetadata md = {{"format", "nnc-train-state"}};
      md.insert(md.end(), at.begin(), at.end());
      if (scaler.enabled()) {
        char scaleText[32];
        std::snprintf(scaleText, sizeof(scaleText), "%.17g", scaler.lossScale());
        md.push_back({"loss_scale", scaleText});
      }
      std::string statePath = options.checkpoint + ".state";
      std::string nextPath = statePath + ".next";
      // Every rank holds the same weights; rank 0 writes them (and the
      // optimizer state, gathered from the ranks with ZeRO-1).
      if (sharded)
        if (Status st = sharded->gather(model, comm); st.failed())
          return st;
      if (rank == 0) {
        Result<int64_t> stateBytes =
            writeRegions(model, nextPath, state, md, {},
                         sharded ? sharded->tensors() : std::vector<WriteTensor>());
        if (!stateBytes)
          return stateBytes.status();
        Result<int64_t> bytes =
            writeRegions(model, options.checkpoint, weights, at, nnc::trainingProgressReserve());
        if (!bytes)
          return bytes.status();
        if (std::rename(nextPath.c_str(), statePath.c_str()) != 0)
          return Status::error("cannot rename " + nextPath + " to " + statePath + ": " +
                               std::strerror(errno));
      }
      result.lastCheckpoint = options.checkpoint;
      result.lastCheckpointEpoch = epoch + 1;
    }
  }
  if (metrics)
    if (Status st = metrics->close(); st.failed())
      return st;
  if (measuring)
    if (Status st = writeMemoryStats(
            rank == 0 ? options.memoryStats : options.memoryStats + ".rank" + std::to_string(rank),
            memory, model, result.dataMemory, comm);
        st.failed())
      return st;
  return result;
}

int64_t nnc::rt::fillSyntheticInputs(Model &m) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return double(state >> 11) * 0x1p-53;
  };
  int64_t classes = 1;
  for (const Region &r : m.regions())
    if (r.kind == "output" && r.name.rfind("forward.", 0) == 0 && r.shape.size() == 2)
      classes = r.shape[1];
  int64_t batch = 0;
  for (const Region &r : m.regions()) {
    if (r.kind != "input")
      continue;
    std::string_view name = r.name;
    std::string_view local = name.substr(name.find('.') + 1);
    int64_t n = r.numElements();
    if (local == "lr")
      *m.dataAs<float>(r) = 1e-6f;
    else if (local == "step" || local == "seed")
      *m.dataAs<int64_t>(r) = 1;
    else if (r.dtype == "i64")
      for (int64_t i = 0; i < n; ++i)
        m.dataAs<int64_t>(r)[i] = int64_t(next() * double(classes));
    else if (r.dtype == "i32")
      for (int64_t i = 0; i < n; ++i)
        m.dataAs<int32_t>(r)[i] = int32_t(next() * double(classes));
    else if (r.dtype == "f32")
      for (int64_t i = 0; i < n; ++i)
        m.dataAs<float>(r)[i] = float(next());
    if (local != "labels" && !r.shape.empty() && batch == 0)
      batch = r.shape[0];
  }
  return batch;
}
