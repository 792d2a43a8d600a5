//===- Scale.cpp - nnc scale: what growing a model costs ------------------===//
//
//   nnc scale model.nn --vary NAME=v1,v2,... [--vary ...] [--batch B]
//                      [--optimizer O] [--dtype D] [--format table|json|csv]
//                      [--measure [--steps K] [--threads N]] [--svg FILE]
//                      [--fit BYTES|DEVICE] [--devices N [--shard S]]
//
// Compiles every variant (the cartesian product of the --vary values, each
// a -D override) through the code of `nnc report` (tools/nnc/Costs.h) and
// tabulates its costs, fits growth exponents, and optionally measures the
// training step and predicts it from a calibrated machine model
// (docs/scale.md).
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Costs.h"
#include "tools/nnc/SVGPlot.h"
#include "tools/nnc/ScaleMachine.h"

#include "runtime/Kernels.h"
#include "runtime/Train.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <unistd.h>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand scaleCmd("scale", "Compile every variant of a model over hyperparameter values "
                                 "and tabulate what growing it costs");

ModelOptions model(scaleCmd);
OptimizerOptions optimizer(scaleCmd);
ThreadsOption threads(scaleCmd);
cl::list<std::string> vary("vary",
                           cl::desc("A hyperparameter and its values: NAME=v1,v2,... "
                                    "(repeatable; every combination is compiled; NAME batch "
                                    "varies the batch)"),
                           cl::value_desc("NAME=v1,v2,..."), cl::sub(scaleCmd),
                           cl::cat(category()));
cl::opt<std::string> dtypeName("dtype",
                               cl::desc("Storage type of the parameter bytes: f32 | f16 | bf16 "
                                        "| int8 (default: the model's)"),
                               cl::sub(scaleCmd), cl::cat(category()));
enum class Format { Table, JSON, CSV };
cl::opt<Format> outputFormat("format", cl::desc("Output format"), cl::init(Format::Table),
                             cl::values(clEnumValN(Format::Table, "table", "a table"),
                                        clEnumValN(Format::JSON, "json", "JSON"),
                                        clEnumValN(Format::CSV, "csv", "CSV, one row per variant")),
                             cl::sub(scaleCmd), cl::cat(category()));
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"), cl::sub(scaleCmd),
                                    cl::cat(category()));
cl::opt<bool> measure("measure",
                      cl::desc("Build each variant's training artifact, time its training step "
                               "and compare with the calibrated prediction"),
                      cl::sub(scaleCmd), cl::cat(category()));
cl::opt<int64_t> steps("steps",
                       cl::desc("With --measure: timed training steps per variant "
                                "(after 2 untimed ones), the fastest counts, 1 to 1000 (default: "
                                "the fastest of 5 rounds of 0.2 s or one step each)"),
                       cl::init(0), cl::sub(scaleCmd), cl::cat(category()));
cl::opt<std::string> svgFile("svg",
                             cl::desc("Draw the quantities against the first varied "
                                      "hyperparameter, log-log, as an SVG"),
                             cl::value_desc("file.svg"), cl::sub(scaleCmd), cl::cat(category()));
cl::opt<std::string> fitTarget("fit",
                               cl::desc("The largest batch (or value of the varied "
                                        "hyperparameter) whose training plan fits in BYTES or a "
                                        "device: h100-80g, a100-40g, a100-80g, h200-141g, "
                                        "rtx4090-24g, this-cpu"),
                               cl::value_desc("BYTES|DEVICE"), cl::sub(scaleCmd),
                               cl::cat(category()));
cl::opt<int64_t> devices("devices",
                         cl::desc("Per-device memory for N-way data parallelism (N >= 1; the "
                                  "batch is global; --fit also answers with it)"),
                         cl::init(0), cl::sub(scaleCmd), cl::cat(category()));
cl::opt<std::string> shardFlag("shard",
                               cl::desc("With --devices: none | opt | grad | param (default opt "
                                        "with --fit, else none)"),
                               cl::init("none"), cl::sub(scaleCmd), cl::cat(category()));
} // namespace

//===----------------------------------------------------------------------===//
// Variants
//===----------------------------------------------------------------------===//

namespace {
/// One varied hyperparameter.
struct Knob {
  std::string name;
  std::vector<int64_t> values;
};

/// What one variant costs.
struct Variant {
  /// The value of each knob, in --vary order.
  std::vector<int64_t> values;
  int64_t batch = 0;
  std::string optimizer;
  /// "bf16" or "f16" for a mixed-precision model, else "".
  std::string precision;
  int64_t parameters = 0, parameterBytesF32 = 0, parameterBytesF16 = 0, parameterBytesInt8 = 0;
  int64_t parameterBytes = 0, bufferBytes = 0;
  int64_t forwardFlops = 0, trainingFlops = 0, checkpointBytes = 0;
  /// The training plan, split (empty `unavailable`), or why there is none.
  nnc::MemorySection training;
  std::optional<DataParallelMemory> dataParallel;
  /// --measure: milliseconds per training step, measured and predicted.
  double measuredMs = 0, predictedMs = 0;
  /// The median wall time of a step (measuredMs is CPU time with one
  /// thread).
  double wallMs = 0;
};

} // namespace

/// Parses the --vary flags; false after reporting.
static bool parseKnobs(std::vector<Knob> &knobs) {
  for (StringRef flag : vary) {
    auto [name, list] = flag.split('=');
    name = name.trim();
    if (name.empty() || list.empty())
      return fail("--vary expects NAME=v1,v2,... (got '" + flag + "')"), false;
    for (const Knob &k : knobs)
      if (k.name == name)
        return fail("--vary names '" + name + "' twice"), false;
    Knob knob{name.str(), {}};
    SmallVector<StringRef> items;
    list.split(items, ',');
    for (StringRef item : items) {
      int64_t v = 0;
      if (item.trim().getAsInteger(10, v) || v < 1)
        return fail("--vary " + name + ": '" + item + "' is not an integer >= 1"), false;
      if (llvm::is_contained(knob.values, v))
        return fail("--vary " + name + ": the value " + Twine(v) + " is listed twice"), false;
      knob.values.push_back(v);
    }
    knobs.push_back(std::move(knob));
  }
  return true;
}

/// The -D overrides the user gave, without those the knobs set.
static std::vector<std::string> baseDefines;

/// Compiles the variant with `values` of `knobs` (and `batch` if > 0) and
/// fills in its costs; with `kernels`, also the training step's kernels
/// (for the prediction); with `ranks` > 0, the per-device memory of
/// `ranks`-way data parallelism. Failure after reporting.
static FailureOr<Variant> costVariant(ArrayRef<Knob> knobs, ArrayRef<int64_t> values, int64_t batch,
                                      std::vector<nnc::EntryKernels> *kernels,
                                      std::vector<nnc::LayerReport> *layers, int64_t ranks,
                                      LibraryLayers *libraryLayers = nullptr) {
  model.defines.clear();
  for (const std::string &d : baseDefines) {
    StringRef name = StringRef(d).split('=').first.trim();
    if (llvm::none_of(knobs, [&](const Knob &k) { return k.name == name; }))
      model.defines.push_back(d);
  }
  for (auto [knob, v] : llvm::zip(knobs, values)) {
    if (knob.name == "batch")
      batch = v;
    else
      model.defines.push_back(knob.name + "=" + std::to_string(v));
  }
  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return failure();
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  auto single = session->lowerSingleModel(module, graphs);
  if (failed(single))
    return failure();
  auto [m, graph] = *single;
  Variant variant;
  variant.values.assign(values.begin(), values.end());
  variant.batch = batch > 0 ? batch : model.batchFor(graph->train.batch);
  BatchOverride override(model, variant.batch);
  variant.optimizer = optimizer.optimizer.getNumOccurrences() ? std::string(optimizer.optimizer)
                                                              : graph->train.optimizer;
  CompiledCosts costs = compiledCostsOf(*session, m, *graph, variant.optimizer, !model.noFuse,
                                        nullptr, /*gpu=*/false, kernels != nullptr,
                                        /*inference=*/false);
  variant.training = costs.training;
  variant.precision = costs.precision;
  if (kernels)
    *kernels = costs.kernels;

  nnc::ReportOptions options;
  options.batch = variant.batch;
  options.optimizer = variant.optimizer;
  options.dtype = dtypeName.empty() ? "f32" : std::string(dtypeName);
  if (dtypeName.empty())
    for (const nnc::InputInfo &in : graph->inputs)
      if (nnc::isFloat(graph->values[in.value].dtype)) {
        options.dtype = nnc::dtypeName(graph->values[in.value].dtype).str();
        break;
      }
  // The report of a copy specialized to the batch (--devices compiles the
  // model again at B/N).
  mlir::OpBuilder b(&session->context());
  mlir::OwningOpRef<mlir::ModuleOp> top(mlir::ModuleOp::create(m.getLoc()));
  b.setInsertionPointToStart(top->getBody());
  auto copy = cast<mlir::ModuleOp>(b.clone(*m));
  if (failed(session->specializeBatch(copy, *graph)))
    return failure();
  FailureOr<nnc::ModelReport> report = nnc::computeReport(copy, options);
  if (failed(report))
    return failure();
  variant.parameters = report->parameters;
  variant.parameterBytesF32 = report->parameterBytesF32;
  variant.parameterBytesF16 = report->parameterBytesF16;
  variant.parameterBytesInt8 = report->parameterBytesInt8;
  variant.parameterBytes = report->parameterBytes;
  variant.bufferBytes = report->bufferBytes;
  variant.forwardFlops = report->forwardFlops;
  variant.trainingFlops = report->trainingStepFlops;
  variant.checkpointBytes = report->checkpointBytes;
  if (layers)
    *layers = report->layers;
  if (libraryLayers)
    for (const nnc::Layer &layer : graph->layers) {
      if (layer.params.empty() || layer.inputs.empty())
        continue;
      const nnc::Shape &w = graph->params[layer.params.front()].shape;
      LibraryLayer lib;
      int64_t weightElements = 1;
      for (int64_t d : w)
        weightElements *= d;
      lib.weightBytes = 4 * weightElements;
      const nnc::Shape &x = graph->values[layer.inputs.front()].shape;
      const nnc::LayerAttrs &a = layer.attrs;
      if (layer.kind == nnc::LayerKind::Conv2d && w.size() == 4 && x.size() == 4) {
        lib.kind = LibraryLayer::Conv;
        lib.c = x[1], lib.h = x[2], lib.w = x[3], lib.o = w[0], lib.kh = w[2], lib.kw = w[3];
        lib.sh = a.stride[0], lib.sw = a.stride[1], lib.ph = a.padding[0], lib.pw = a.padding[1];
        lib.dh = a.dilation[0], lib.dw = a.dilation[1], lib.groups = a.groups;
      } else if (layer.kind == nnc::LayerKind::Linear && w.size() == 2 && x.size() >= 2) {
        lib.kind = LibraryLayer::Linear;
        for (size_t i = 1; i + 1 < x.size(); ++i)
          lib.rows *= x[i];
        lib.in = w[1], lib.out = w[0];
      } else if ((layer.kind == nnc::LayerKind::Lstm || layer.kind == nnc::LayerKind::Gru ||
                  layer.kind == nnc::LayerKind::Rnn) &&
                 w.size() == 2) {
        lib.kind = LibraryLayer::Recurrent;
        lib.in = w[1] + a.hidden, lib.out = w[0];
        lib.op = layer.kind == nnc::LayerKind::Lstm  ? "lstm"
                 : layer.kind == nnc::LayerKind::Gru ? "gru"
                                                     : "rnn";
        lib.steps = x.size() == 3 ? x[1] : 1, lib.features = x.back(), lib.hidden = a.hidden;
        lib.layers = a.numLayers, lib.bidirectional = a.bidirectional;
        lib.sequences = a.sequences, lib.nonlinearity = a.nonlinearity;
        lib.shape =
            formatv("{0} {1}x{2}x{3} hidden {4}{5}{6}{7}", lib.op, variant.batch, lib.steps,
                    lib.features, lib.hidden,
                    lib.layers > 1 ? " layers " + std::to_string(lib.layers) : "",
                    lib.bidirectional ? " bidirectional" : "", lib.sequences ? " sequence" : "")
                .str();
      } else {
        continue;
      }
      (*libraryLayers)[layer.name] = lib;
    }

  if (ranks > 0) {
    if (variant.batch % ranks != 0) {
      fail(formatv("--devices {0} does not divide the global batch {1}", ranks, variant.batch));
      return failure();
    }
    BatchOverride perDevice(model, variant.batch / ranks);
    CompiledCosts dp = compiledCostsOf(*session, m, *graph, variant.optimizer, !model.noFuse,
                                       nullptr, false, false, false);
    if (!dp.training.unavailable.empty()) {
      fail("--devices: the training step at batch " + Twine(variant.batch / devices) +
           " has no memory plan: " + dp.training.unavailable);
      return failure();
    }
    int64_t largestLayer = 0;
    for (const nnc::LayerReport &layer : report->layers)
      largestLayer = std::max(largestLayer, 4 * layer.params);
    variant.dataParallel = dataParallelMemoryOf(
        dp.training.breakdown, ranks, *parseShard(shardFlag), variant.batch,
        4 * report->trainableParameters, stateColumnsOf(variant.optimizer), largestLayer);
  }
  return variant;
}

/// The name of `knobs`' values of `v`: `width=16 depth=2`.
static std::string labelOf(ArrayRef<Knob> knobs, const Variant &v) {
  std::string label;
  for (auto [knob, value] : llvm::zip(knobs, v.values))
    label += (label.empty() ? "" : " ") + knob.name + "=" + std::to_string(value);
  return label;
}

//===----------------------------------------------------------------------===//
// The machine model (--measure)
//===----------------------------------------------------------------------===//

/// Builds the variant's training artifact (the defines of the last
/// costVariant call), runs 2 untimed training steps on synthetic data, then
/// times it as the calibration times a library call: 5 rounds of enough
/// steps to take 0.2 s (at least one), the fastest round's mean step in
/// milliseconds on clockSeconds; with --steps K, the fastest of K single
/// steps. In `wallMs` the median wall time of a round's step. Negative after
/// reporting.
static double measureVariant(int64_t batch, StringRef label, size_t index, size_t count,
                             double &wallMs) {
  BatchOverride override(model, batch);
  BuildRequest request{model, &optimizer, false, std::nullopt};
  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return -1;
  errs() << formatv("\r[{0}/{1}] {2}: building...          ", index + 1, count, label);
  std::unique_ptr<LoadedModel> loaded = session->buildAndLoad(request, nnc_get_num_threads());
  if (!loaded)
    return -1;
  nnc::rt::Model &m = *loaded->model;
  m.initialize(1);
  nnc::rt::fillSyntheticInputs(m);
  nnc::rt::Model *mp = &m;
  auto step = [&]() -> bool {
    if (auto st = mp->run("train_step"); st.failed()) {
      fail(st.message());
      return false;
    }
    return true;
  };
  // The untimed steps; the second one's time sizes the rounds.
  double first = 0;
  for (int i = 0; i < 2; ++i) {
    errs() << formatv("\r[{0}/{1}] {2}: step {3}          ", index + 1, count, label, i + 1);
    double start = clockSeconds();
    if (interrupted() || !step())
      return -1;
    first = clockSeconds() - start;
  }
  const bool fixed = steps.getNumOccurrences() > 0;
  const int64_t rounds = fixed ? int64_t(steps) : 5;
  const int64_t perRound =
      fixed ? 1 : std::max<int64_t>(1, int64_t(std::ceil(0.2 / std::max(first, 1e-7))));
  std::vector<double> times, walls;
  for (int64_t r = 0; r < rounds; ++r) {
    errs() << formatv("\r[{0}/{1}] {2}: round {3}/{4} of {5} step(s)          ", index + 1, count,
                      label, r + 1, rounds, perRound);
    double start = clockSeconds();
    auto wallStart = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < perRound; ++i)
      if (interrupted() || !step())
        return -1;
    times.push_back(1000 * (clockSeconds() - start) / double(perRound));
    walls.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wallStart)
            .count() /
        double(perRound));
  }
  std::sort(walls.begin(), walls.end());
  wallMs = walls[walls.size() / 2];
  // The fastest round, as the calibration keeps the fastest of its rounds:
  // both estimate the time without interference from other processes
  // (which on a shared machine slows even the CPU time: caches, a sibling
  // hyperthread).
  return *std::min_element(times.begin(), times.end());
}

/// Calibrates the recurrent layer `l` at its shape: builds a model of one
/// such layer (the variant's batch, steps, features, hidden size, layers and
/// directions) and a linear layer on its output, predicts its training step
/// from its timestep GEMMs and measures it; stores the recurrent part's
/// measured over predicted time in the machine under `l.shape`. Failure
/// after reporting.
static LogicalResult calibrateRecurrent(Machine &machine, const LibraryLayer &l, int64_t batch) {
  SmallString<128> path;
  int fd = -1;
  if (std::error_code ec = sys::fs::createTemporaryFile("nnc-calibrate", "nn", fd, path))
    return fail("cannot create a temporary file: " + ec.message()), failure();
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << formatv("model calibrate {{\n  input x: f32[N, {0}, {1}]\n  h = {2}(x, {3}, layers={4}, "
                  "bidirectional={5}, sequence={6}{7})\n  output y = linear(h, 10)\n"
                  "  train {{ loss = mse; optimizer = sgd; lr = 0.01; batch = {8}; epochs = 1 "
                  "}\n}\n",
                  l.steps, l.features, l.op, l.hidden, l.layers, l.bidirectional ? "true" : "false",
                  l.sequences ? "true" : "false",
                  l.op == "rnn" ? ", nonlinearity=\"" + l.nonlinearity + "\"" : std::string(),
                  batch);
  }
  ModelFileOverride file(model, path);
  std::vector<std::string> oldBase = baseDefines;
  scope_exit restore([&] { baseDefines = oldBase; });
  baseDefines.clear();
  std::vector<nnc::EntryKernels> kernels;
  std::vector<nnc::LayerReport> layers;
  LibraryLayers library;
  FailureOr<Variant> v = costVariant({}, {}, batch, &kernels, &layers, 0, &library);
  if (failed(v))
    return failure();
  machine.recurrentFactor.erase(l.shape);
  double recurrent = 0;
  double predicted = predictSeconds(machine, kernels, layers, library, "", batch, &recurrent);
  double wall = 0;
  double measured = measureVariant(batch, "calibrating " + l.op, 0, 1, wall);
  if (measured < 0)
    return failure();
  if (recurrent > 0)
    machine.recurrentFactor[l.shape] =
        std::max(0.1, (measured / 1000 - (predicted - recurrent)) / recurrent);
  return success();
}

//===----------------------------------------------------------------------===//
// Growth laws
//===----------------------------------------------------------------------===//

namespace {
/// A quantity tabulated per variant.
struct Quantity {
  const char *name;
  double (*of)(const Variant &);
};

const Quantity quantities[] = {
    {"params", [](const Variant &v) { return double(v.parameters); }},
    {"flops", [](const Variant &v) { return double(v.trainingFlops); }},
    {"activations",
     [](const Variant &v) {
       return v.training.unavailable.empty() ? double(v.training.breakdown.activations) : 0.0;
     }},
    {"arena",
     [](const Variant &v) {
       return v.training.unavailable.empty() ? double(v.training.breakdown.arena) : 0.0;
     }},
    {"checkpoint", [](const Variant &v) { return double(v.checkpointBytes); }},
    {"step_time", [](const Variant &v) { return v.measuredMs; }},
    {"predicted_time", [](const Variant &v) { return v.predictedMs; }},
};

/// One fitted growth law: quantity ∝ knob^exponent with the other knobs
/// fixed at `fixed`.
struct Law {
  size_t knob;
  std::string fixed;
  std::string quantity;
  double exponent;
  /// The (value, quantity) points, in order of the value.
  nnc::plot::Series points;
};
} // namespace

/// The least-squares slope of log(y) over log(x); NaN with fewer than two
/// distinct x or a non-positive y.
static double logLogSlope(const nnc::plot::Series &points) {
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (auto [x, y] : points) {
    if (x <= 0 || y <= 0)
      return NAN;
    double lx = std::log(x), ly = std::log(y);
    n += 1, sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  double d = n * sxx - sx * sx;
  if (n < 2 || d <= 0)
    return NAN;
  return (n * sxy - sx * sy) / d;
}

/// The growth law of each quantity per knob, per combination of the other
/// knobs' values.
static std::vector<Law> fitLaws(ArrayRef<Knob> knobs, ArrayRef<Variant> variants) {
  std::vector<Law> laws;
  for (size_t k = 0; k < knobs.size(); ++k) {
    if (knobs[k].values.size() < 2)
      continue;
    // Group the variants by the other knobs' values, in first-seen order.
    std::vector<std::pair<std::vector<int64_t>, std::vector<const Variant *>>> groups;
    for (const Variant &v : variants) {
      std::vector<int64_t> key = v.values;
      key.erase(key.begin() + k);
      auto it = llvm::find_if(groups, [&](auto &g) { return g.first == key; });
      if (it == groups.end())
        groups.push_back({key, {&v}});
      else
        it->second.push_back(&v);
    }
    for (auto &[key, members] : groups) {
      std::string fixed;
      for (size_t j = 0, i = 0; j < knobs.size(); ++j)
        if (j != k)
          fixed += (fixed.empty() ? "" : " ") + knobs[j].name + "=" + std::to_string(key[i++]);
      for (const Quantity &q : quantities) {
        nnc::plot::Series points;
        for (const Variant *v : members)
          points.push_back({double(v->values[k]), q.of(*v)});
        llvm::sort(points);
        double slope = logLogSlope(points);
        if (!std::isnan(slope))
          laws.push_back({k, fixed, q.name, slope, points});
      }
    }
  }
  return laws;
}

//===----------------------------------------------------------------------===//
// --fit
//===----------------------------------------------------------------------===//

namespace {
struct NamedDevice {
  const char *name;
  int64_t bytes;
};
// Usable memory as the vendors state it (GB = 10^9 B).
const NamedDevice namedDevices[] = {
    {"h100-80g", 80'000'000'000},   {"a100-40g", 40'000'000'000},    {"a100-80g", 80'000'000'000},
    {"h200-141g", 141'000'000'000}, {"rtx4090-24g", 24'000'000'000},
};

/// One --fit answer: the largest value that fits, or why none.
struct FitAnswer {
  std::string how;
  int64_t largest = 0;
  int64_t arena = 0;
  std::string note;
};
} // namespace

/// The bytes --fit names; none after reporting.
static std::optional<int64_t> fitBytes() {
  for (const NamedDevice &d : namedDevices)
    if (fitTarget == d.name)
      return d.bytes;
  if (fitTarget == "this-cpu") {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || size <= 0) {
      fail("--fit this-cpu: cannot read the physical memory size");
      return std::nullopt;
    }
    return int64_t(pages) * int64_t(size);
  }
  if (std::optional<int64_t> bytes = parseByteCount(fitTarget))
    return bytes;
  fail("--fit expects a byte count (80GB, 512MiB) or a device: h100-80g, a100-40g, a100-80g, "
       "h200-141g, rtx4090-24g, this-cpu (got '" +
       fitTarget + "')");
  return std::nullopt;
}

//===----------------------------------------------------------------------===//
// Output
//===----------------------------------------------------------------------===//

static std::string mib(int64_t bytes) { return formatv("{0:F2}", double(bytes) / 1048576.0); }

static const nnc::ArenaBreakdown &planOf(const Variant &v) {
  static const nnc::ArenaBreakdown none;
  return v.training.unavailable.empty() ? v.training.breakdown : none;
}

static json::Value variantToJSON(ArrayRef<Knob> knobs, const Variant &v) {
  json::Object values;
  for (auto [knob, value] : llvm::zip(knobs, v.values))
    values[knob.name] = value;
  json::Object o{{"values", std::move(values)},
                 {"batch", v.batch},
                 {"parameters", v.parameters},
                 {"parameter_bytes", json::Object{{"f32", v.parameterBytesF32},
                                                  {"f16", v.parameterBytesF16},
                                                  {"bf16", v.parameterBytesF16},
                                                  {"int8", v.parameterBytesInt8}}},
                 {"forward_flops", v.forwardFlops},
                 {"training_step_flops", v.trainingFlops},
                 {"checkpoint_bytes", v.checkpointBytes}};
  if (v.training.unavailable.empty()) {
    const nnc::ArenaBreakdown &t = v.training.breakdown;
    o["training_memory"] = json::Object{{"weights", t.parameters + t.buffers},
                                        {"gradients", t.gradients},
                                        {"optimizer_state", t.optimizerState},
                                        {"activations", t.activations},
                                        {"temporaries", t.temporaries},
                                        {"scratch", t.scratch},
                                        {"io", t.io},
                                        {"results", t.results},
                                        {"fragmentation", t.fragmentation},
                                        {"arena", t.arena}};
  } else {
    o["training_memory"] = json::Object{{"unavailable", v.training.unavailable}};
  }
  if (v.dataParallel)
    o["data_parallel"] = dataParallelToJSON(*v.dataParallel);
  if (measure) {
    o["measured_ms"] = v.measuredMs;
    o["wall_ms"] = v.wallMs;
    o["predicted_ms"] = v.predictedMs;
    o["error"] = v.predictedMs / v.measuredMs - 1;
  }
  return o;
}

static void printCSV(ArrayRef<Knob> knobs, ArrayRef<Variant> variants, raw_ostream &os) {
  for (const Knob &k : knobs)
    os << k.name << ",";
  os << "batch,parameters,bytes_f32,bytes_f16,bytes_int8,forward_flops,training_step_flops,"
        "weights,gradients,optimizer_state,activations,temporaries,scratch,io,other,arena,"
        "checkpoint";
  if (variants.front().dataParallel)
    os << ",device_arena,comm_bytes";
  if (measure)
    os << ",wall_ms,measured_ms,predicted_ms,error";
  os << "\n";
  for (const Variant &v : variants) {
    for (int64_t value : v.values)
      os << value << ",";
    const nnc::ArenaBreakdown &t = planOf(v);
    os << v.batch << "," << v.parameters << "," << v.parameterBytesF32 << "," << v.parameterBytesF16
       << "," << v.parameterBytesInt8 << "," << v.forwardFlops << "," << v.trainingFlops << ","
       << t.parameters + t.buffers << "," << t.gradients << "," << t.optimizerState << ","
       << t.activations << "," << t.temporaries << "," << t.scratch << "," << t.io << ","
       << t.results + t.fragmentation << "," << t.arena << "," << v.checkpointBytes;
    if (v.dataParallel)
      os << "," << v.dataParallel->arena << "," << v.dataParallel->commBytes;
    if (measure)
      os << formatv(",{3:F3},{0:F3},{1:F3},{2:F4}", v.measuredMs, v.predictedMs,
                    v.predictedMs / v.measuredMs - 1, v.wallMs);
    os << "\n";
  }
}

static void printTable(ArrayRef<Knob> knobs, ArrayRef<Variant> variants, raw_ostream &os) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header;
  for (const Knob &k : knobs)
    header.push_back(k.name);
  for (const char *h : {"batch", "params", "bytes", "train GFLOP", "weights", "grads", "opt state",
                        "activations", "temps", "scratch", "arena", "checkpoint"})
    header.push_back(h);
  if (variants.front().dataParallel)
    for (const char *h : {"dev arena", "comm/step"})
      header.push_back(h);
  if (measure)
    for (const char *h : {"measured ms", "predicted ms", "error"})
      header.push_back(h);
  rows.push_back(header);
  for (const Variant &v : variants) {
    std::vector<std::string> row;
    for (int64_t value : v.values)
      row.push_back(std::to_string(value));
    const nnc::ArenaBreakdown &t = planOf(v);
    row.push_back(std::to_string(v.batch));
    row.push_back(nnc::formatCount(v.parameters));
    row.push_back(mib(v.parameterBytes));
    row.push_back(formatv("{0:F3}", double(v.trainingFlops) * 1e-9));
    for (int64_t bytes : {t.parameters + t.buffers, t.gradients, t.optimizerState, t.activations,
                          t.temporaries, t.scratch, t.arena, v.checkpointBytes})
      row.push_back(mib(bytes));
    if (v.dataParallel) {
      row.push_back(mib(v.dataParallel->arena));
      row.push_back(mib(v.dataParallel->commBytes));
    }
    if (measure) {
      row.push_back(formatv("{0:F2}", v.measuredMs));
      row.push_back(formatv("{0:F2}", v.predictedMs));
      row.push_back(formatv("{0:+F1}%", 100 * (v.predictedMs / v.measuredMs - 1)));
    }
    rows.push_back(row);
  }
  std::vector<size_t> widths(header.size(), 0);
  for (auto &row : rows)
    for (size_t i = 0; i < row.size(); ++i)
      widths[i] = std::max(widths[i], row[i].size());
  for (auto &row : rows) {
    for (size_t i = 0; i < row.size(); ++i)
      os << (i ? "  " : "") << std::string(widths[i] - row[i].size(), ' ') << row[i];
    os << "\n";
  }
}

//===----------------------------------------------------------------------===//
// --fit
//===----------------------------------------------------------------------===//

/// The training plan's arena of the variant `values` at `batch` (0: the
/// model's) in each way --fit answers; the plain arena, or failure after
/// reporting. `budget`: with recomputation, whether it fits (the arena with
/// the recomputation chosen).
namespace {
struct FitProbe {
  int64_t plain = 0, bf16 = 0, sharded = 0;
  /// With recomputation: the arena within the budget, or 0 if even
  /// recomputing everything does not fit.
  int64_t recomputed = 0;
};
} // namespace

static FailureOr<FitProbe> probe(ArrayRef<Knob> knobs, ArrayRef<int64_t> values, int64_t batch,
                                 int64_t budget, bool withRecompute, int64_t ranks) {
  FailureOr<Variant> v = costVariant(knobs, values, batch, nullptr, nullptr, ranks);
  if (failed(v))
    return failure();
  if (!v->training.unavailable.empty()) {
    fail("--fit: the training step has no memory plan: " + v->training.unavailable);
    return failure();
  }
  FitProbe p;
  const nnc::ArenaBreakdown &t = v->training.breakdown;
  p.plain = t.arena;
  // bf16 activations (analytical): the transient values stored in 2 bytes,
  // the master weights, gradients and optimizer state in f32.
  p.bf16 = t.arena - (t.activations + t.temporaries) / 2;
  p.sharded = v->dataParallel ? v->dataParallel->arena : t.arena;
  if (withRecompute) {
    if (t.arena <= budget) {
      p.recomputed = t.arena;
    } else {
      std::unique_ptr<Session> session = Session::open(model);
      if (!session)
        return failure();
      std::vector<nnc::ModelGraph> graphs;
      mlir::OwningOpRef<mlir::ModuleOp> module;
      auto single = session->lowerSingleModel(module, graphs);
      if (failed(single))
        return failure();
      BatchOverride override(model, v->batch);
      mlir::OwningOpRef<mlir::ModuleOp> top;
      mlir::ModuleOp copy =
          trainingCopy(*session, single->first, *single->second, v->optimizer, top);
      if (!copy)
        return failure();
      // "Does not fit even recomputing everything" is an answer, not an
      // error.
      mlir::ScopedDiagnosticHandler quiet(&session->context(),
                                          [](mlir::Diagnostic &) { return mlir::success(); });
      auto plan = nnc::planMemoryBudget(copy, budget, false, !model.noFuse, false);
      p.recomputed = succeeded(plan) ? plan->arenaBytes : 0;
    }
  }
  return p;
}

/// The largest integer x >= 1 with fits(x) (fits is monotone), starting the
/// search at `start`: doubling, then bisecting; 0 if not even 1 fits;
/// failure after reporting. Stops doubling at `limit`.
static FailureOr<int64_t> largestFitting(int64_t start, int64_t limit,
                                         function_ref<FailureOr<bool>(int64_t)> fits) {
  int64_t lo = 0, hi = 0; // fits(lo) (or lo == 0), !fits(hi)
  FailureOr<bool> f = fits(start);
  if (failed(f))
    return failure();
  if (*f) {
    lo = start;
    for (int64_t x = start * 2;; x *= 2) {
      if (x > limit)
        return lo;
      FailureOr<bool> g = fits(x);
      if (failed(g))
        return failure();
      if (!*g) {
        hi = x;
        break;
      }
      lo = x;
    }
  } else {
    hi = start;
  }
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    FailureOr<bool> g = fits(mid);
    if (failed(g))
      return failure();
    (*g ? lo : hi) = mid;
  }
  return lo;
}

//===----------------------------------------------------------------------===//
// The command
//===----------------------------------------------------------------------===//

static int runScale() {
  if (!model.check() || !optimizer.check() || !threads.check() || !checkRange(steps, 1, 1000) ||
      !checkRange(devices, 1, 1 << 20) ||
      !checkChoice(shardFlag, {"none", "opt", "grad", "param"}) ||
      !checkChoice(dtypeName, {"f32", "f16", "bf16", "int8"}))
    return 1;
  if (shardFlag.getNumOccurrences() && !devices.getNumOccurrences())
    return fail("--shard needs --devices N");
  std::vector<Knob> knobs;
  if (!parseKnobs(knobs))
    return 1;
  if (!fitTarget.empty() && knobs.size() > 1)
    return fail("--fit searches one hyperparameter: give at most one --vary");
  if (!svgFile.empty() && knobs.empty())
    return fail("--svg needs --vary");
  std::optional<int64_t> fitLimit;
  if (!fitTarget.empty() && !(fitLimit = fitBytes()))
    return 1;
  baseDefines.assign(model.defines.begin(), model.defines.end());

  std::optional<Machine> machine;
  if (measure) {
    // One kernel thread unless --threads says otherwise: the machine model
    // is calibrated at the thread count the steps run with.
    nnc_set_num_threads(threads.threads.getNumOccurrences() ? threads.value() : 1);
    errs() << "calibrating the machine model...";
    machine = calibrate(model);
    if (machine->bandwidth <= 0)
      return 1;
    errs() << "\r";
  }

  // Every combination, the first knob varying slowest.
  std::vector<std::vector<int64_t>> combos(1);
  for (const Knob &k : knobs) {
    std::vector<std::vector<int64_t>> next;
    for (const auto &c : combos)
      for (int64_t v : k.values) {
        next.push_back(c);
        next.back().push_back(v);
      }
    combos = std::move(next);
  }
  // Without --vary: the model as it is, one variant.
  std::vector<Variant> variants;
  if (!knobs.empty() || fitTarget.empty())
    for (auto [i, combo] : llvm::enumerate(combos)) {
      std::vector<nnc::EntryKernels> kernels;
      std::vector<nnc::LayerReport> layers;
      LibraryLayers library;
      FailureOr<Variant> v =
          costVariant(knobs, combo, 0, measure ? &kernels : nullptr, measure ? &layers : nullptr,
                      devices.getNumOccurrences() ? int64_t(devices) : 0, &library);
      if (failed(v))
        return 1;
      if (measure) {
        if (!v->training.unavailable.empty())
          return fail("--measure: " + labelOf(knobs, *v) + ": " + v->training.unavailable);
        // The recurrent layer shapes of the variant, once each.
        for (auto &[name, lib] : library)
          if (lib.kind == LibraryLayer::Recurrent && !machine->recurrentFactor.count(lib.shape) &&
              failed(calibrateRecurrent(*machine, lib, v->batch)))
            return 1;
        v->predictedMs =
            1000 * predictSeconds(*machine, kernels, layers, library, v->precision, v->batch);
        v->measuredMs = measureVariant(v->batch, labelOf(knobs, *v), i, combos.size(), v->wallMs);
        if (v->measuredMs < 0)
          return interrupted() ? interruptedExitCode : 1;
      }
      variants.push_back(std::move(*v));
    }
  if (measure)
    errs() << "\r" << std::string(60, ' ') << "\r";
  std::vector<Law> laws = fitLaws(knobs, variants);
  if (!measure)
    llvm::erase_if(laws, [](const Law &l) {
      return l.quantity == "step_time" || l.quantity == "predicted_time";
    });

  // --fit: the largest batch (no --vary) or value of the knob that fits.
  std::vector<FitAnswer> answers;
  std::string fitWhat;
  if (fitLimit) {
    int64_t budget = *fitLimit;
    fitWhat = knobs.empty() ? "batch" : knobs.front().name;
    int64_t start = knobs.empty() ? 1 : knobs.front().values.front();
    // Sharding: per device, the global batch a multiple of N.
    int64_t n = devices.getNumOccurrences() ? int64_t(devices) : 8;
    if (!shardFlag.getNumOccurrences())
      shardFlag.setValue("opt");
    const int64_t limit = int64_t(1) << 24;
    enum Mode { Plain, Recompute, BF16, Sharded };
    const char *names[] = {"plain", "with recomputation (--memory-budget)",
                           "with bf16 activations (analytical)", nullptr};
    std::string shardedName =
        formatv("with {0}-way data parallelism, shard {1} (per device)", n, StringRef(shardFlag))
            .str();
    for (int mode = Plain; mode <= Sharded; ++mode) {
      int64_t arena = 0;
      auto fits = [&](int64_t x) -> FailureOr<bool> {
        std::vector<int64_t> values;
        int64_t batch = 0;
        if (knobs.empty())
          batch = mode == Sharded ? x * n : x;
        else
          values.push_back(x);
        FailureOr<FitProbe> p =
            probe(knobs, values, batch, budget, mode == Recompute, mode == Sharded ? n : 0);
        if (failed(p))
          return failure();
        int64_t a = mode == Plain       ? p->plain
                    : mode == Recompute ? p->recomputed
                    : mode == BF16      ? p->bf16
                                        : p->sharded;
        bool ok = a > 0 && a <= budget;
        if (ok)
          arena = a;
        return ok;
      };
      // Each way fits at least what the plain plan fits: start there.
      int64_t startHere = mode == Plain ? start : std::max<int64_t>(answers.front().largest, 1);
      errs() << "fitting " << fitWhat << " " << (names[mode] ? names[mode] : shardedName.c_str())
             << "...\r";
      FailureOr<int64_t> largest = largestFitting(startHere, limit, fits);
      if (failed(largest))
        return 1;
      FitAnswer answer;
      answer.how = names[mode] ? names[mode] : shardedName;
      answer.largest = knobs.empty() && mode == Sharded ? *largest * n : *largest;
      // The arena of the answer (the last probe that fit may be another).
      if (*largest > 0 && succeeded(fits(*largest)))
        answer.arena = arena;
      if (*largest >= limit)
        answer.note = "the search stopped at " + std::to_string(limit);
      answers.push_back(answer);
    }
    errs() << std::string(80, ' ') << "\r";
  }

  // The output.
  std::string text;
  raw_string_ostream os(text);
  const Variant *first = variants.empty() ? nullptr : &variants.front();
  if (outputFormat == Format::JSON) {
    json::Array vs, ls, fs;
    for (const Variant &v : variants)
      vs.push_back(variantToJSON(knobs, v));
    for (const Law &l : laws)
      ls.push_back(json::Object{{"hyperparameter", knobs[l.knob].name},
                                {"fixed", l.fixed},
                                {"quantity", l.quantity},
                                {"exponent", l.exponent}});
    for (const FitAnswer &a : answers)
      fs.push_back(json::Object{{"how", a.how}, {"largest", a.largest}, {"arena_bytes", a.arena}});
    json::Object root{{"model", sys::path::stem(model.input).str()},
                      {"variants", std::move(vs)},
                      {"exponents", std::move(ls)}};
    if (first)
      root["optimizer"] = first->optimizer;
    if (machine) {
      json::Object recurrentFactors;
      for (auto &[op, f] : machine->recurrentFactor)
        recurrentFactors[op] = f;
      // Each library call timed at its shape.
      json::Array calls;
      for (auto &[key, c] : machine->calls)
        calls.push_back(json::Object{
            {"call", c.what}, {"seconds", c.seconds}, {"flops_per_s", c.flops / c.seconds}});
      root["machine"] =
          json::Object{{"threads", machine->threads},
                       {"library_calls", std::move(calls)},
                       {"kernel_bandwidth_bytes_per_s", machine->bandwidth},
                       {"kernel_cached_bandwidth_bytes_per_s", machine->cachedBandwidth},
                       {"call_overhead_s", machine->callOverhead},
                       {"recurrent_factor", std::move(recurrentFactors)}};
    }
    if (fitLimit)
      root["fit"] =
          json::Object{{"bytes", *fitLimit}, {"searched", fitWhat}, {"answers", std::move(fs)}};
    os << formatv("{0:2}", json::Value(std::move(root))) << "\n";
  } else if (outputFormat == Format::CSV) {
    if (!variants.empty())
      printCSV(knobs, variants, os);
  } else {
    if (first) {
      os << "nnc scale " << model.input << ": optimizer " << first->optimizer
         << ", training memory from each variant's memory plan (MiB), FLOPs per training step\n";
      printTable(knobs, variants, os);
      for (size_t i = 0; i < laws.size();) {
        const Law &head = laws[i];
        os << "growth with " << knobs[head.knob].name
           << (head.fixed.empty() ? "" : " (" + head.fixed + ")") << ":";
        for (; i < laws.size() && laws[i].knob == head.knob && laws[i].fixed == head.fixed; ++i)
          os << formatv("{0} {1} ∝ {2}^{3:F3}", &laws[i] == &head ? "" : ",", laws[i].quantity,
                        knobs[head.knob].name, laws[i].exponent);
        os << "\n";
      }
      if (machine) {
        double sumAbs = 0, worst = 0;
        for (const Variant &v : variants) {
          double e = std::abs(v.predictedMs / v.measuredMs - 1);
          sumAbs += e;
          worst = std::max(worst, e);
        }
        double lo = INFINITY, hi = 0;
        for (auto &[key, c] : machine->calls) {
          lo = std::min(lo, c.flops / c.seconds);
          hi = std::max(hi, c.flops / c.seconds);
        }
        os << "machine model (" << machine->threads << " thread(s)): " << machine->calls.size()
           << " library call shape(s) timed alone";
        if (!machine->calls.empty())
          os << formatv(" ({0:F1}-{1:F1} GFLOP/s)", lo * 1e-9, hi * 1e-9);
        os << formatv("; generated kernels {0:F1} GB/s (in the caches {1:F1}); {2:F1} us per "
                      "library call",
                      machine->bandwidth * 1e-9, machine->cachedBandwidth * 1e-9,
                      machine->callOverhead * 1e6);
        for (auto &[op, f] : machine->recurrentFactor)
          os << formatv("; {0}: {1:F2}x its timestep GEMMs", op, f);
        os << "\n";
        os << formatv(
            "prediction error: mean |error| {0:F1}%, worst {1:F1}% over {2} variant(s) "
            "(measured after 2 untimed steps: {3}, {4})\n",
            100 * sumAbs / double(variants.size()), 100 * worst, variants.size(),
            steps.getNumOccurrences()
                ? formatv("the fastest of {0} timed steps", int64_t(steps)).str()
                : std::string("the fastest of 5 rounds' mean step, each round 0.2 s or one step"),
            machine->threads == 1 ? "CPU time of the process with one kernel thread" : "wall time");
      }
      if (first->dataParallel)
        os << "dev arena: per-device arena for " << first->dataParallel->devices
           << "-way data parallelism, shard " << shardName(first->dataParallel->shard)
           << "; comm/step: bytes each device sends per step (nnc report --devices)\n";
    }
    if (fitLimit) {
      os << "fit in " << nnc::formatBytes(*fitLimit) << " (" << fitTarget << "): the largest "
         << fitWhat << " whose training plan fits\n";
      for (const FitAnswer &a : answers) {
        os << "  " << a.how << ": ";
        if (a.largest == 0)
          os << "none (not even 1)";
        else
          os << fitWhat << " " << a.largest << " (arena " << nnc::formatBytes(a.arena) << ")";
        if (!a.note.empty())
          os << "; " << a.note;
        os << "\n";
      }
    }
  }
  if (!svgFile.empty()) {
    // The first knob, the others at their first values.
    std::vector<nnc::plot::LogLogLine> lines;
    std::string fixed;
    for (const Law &l : laws) {
      if (l.knob != 0)
        continue;
      if (lines.empty())
        fixed = l.fixed;
      if (l.fixed != fixed)
        continue;
      lines.push_back({l.quantity, l.exponent, l.points});
    }
    std::string title = "nnc scale: " + sys::path::stem(model.input).str() + ", growth with " +
                        knobs.front().name + (fixed.empty() ? "" : " (" + fixed + ")");
    if (int rc = writeOutput(svgFile, nnc::plot::renderLogLogSVG(lines, title, knobs.front().name)))
      return rc;
  }
  return writeOutput(outputFilename, text);
}

static Command registration(scaleCmd, runScale);
