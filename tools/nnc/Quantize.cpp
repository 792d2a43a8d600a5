//===- Quantize.cpp - nnc quantize: post-training static int8 quantization -===//
//
//   nnc quantize model.nn --weights W.safetensors --calibrate D
//                [--method minmax|percentile|entropy|all] [--keep-f32 first,last,NAME]
//                [--calibration-batches K] [--validation N] -o Q.safetensors
//
// Calibrates the activation ranges of the f32 model on K batches of the
// training split, quantizes the weights per output channel (batchnorms
// folded first), builds the int8 model for each method tried and measures
// it, and writes the chosen method's weights with the quantization table in
// the file's metadata (docs/quantization.md, docs/abi.md "Quantized weights").
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "passes/Quantize.h"
#include "runtime/Checkpoint.h"
#include "runtime/Kernels.h"
#include "runtime/Quantize.h"
#include "runtime/QuantizeModel.h"
#include "runtime/Train.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

#include "mlir/IR/BuiltinAttributes.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand quantizeCmd("quantize",
                           "Quantize trained weights to int8 (post-training, static): calibrate "
                           "on a dataset, measure each method, write the int8 weights");

ModelOptions model(quantizeCmd);
ThreadsOption threads(quantizeCmd);
cl::opt<std::string> weightsPath("weights", cl::desc("The trained f32 weights (safetensors)"),
                                 cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<std::string> calibrate("calibrate",
                               cl::desc("Dataset to calibrate on (its training split) and "
                                        "measure on (its test split): fashion-mnist, synthetic, "
                                        "a directory or file as for nnc train --data"),
                               cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<std::string> method("method",
                            cl::desc("Calibration method: minmax | percentile | entropy | all "
                                     "(default: all, keeping the best on the validation samples)"),
                            cl::init("all"), cl::sub(quantizeCmd), cl::cat(category()));
cl::list<std::string> keepF32("keep-f32",
                              cl::desc("Conv/linear layers to keep in f32: first, last or layer "
                                       "names (comma-separated or repeated)"),
                              cl::CommaSeparated, cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<int64_t> calibrationBatches("calibration-batches",
                                    cl::desc("Training batches to calibrate on, >= 1 (default 16)"),
                                    cl::init(16), cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<int64_t> validation("validation",
                            cl::desc("The last N training samples choose the method with "
                                     "--method all, N >= 1 (default 5000)"),
                            cl::init(5000), cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<double> percentile("percentile",
                           cl::desc("The fraction of values the percentile method keeps, in "
                                    "(0, 1] (default 0.9999)"),
                           cl::init(0.9999), cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<int64_t> trainLimit("limit",
                            cl::desc("Use only the first N training samples (N >= 1): the "
                                     "calibration batches and the validation samples"),
                            cl::init(0), cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples (N >= 1)"),
                           cl::init(0), cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<int64_t> timingRuns("timing-runs",
                            cl::desc("Forward passes timed per model for the speed line, "
                                     "0 to 10000 (default 20; 0: no timing)"),
                            cl::init(20), cl::sub(quantizeCmd), cl::cat(category()));
cl::opt<std::string> outputPath("o", cl::desc("The int8 weights to write (safetensors)"),
                                cl::value_desc("Q.safetensors"), cl::sub(quantizeCmd),
                                cl::cat(category()));
} // namespace

/// The f32 file's tensors as a map (runtime/QuantizeModel.h).
static nnc::rt::Result<nnc::rt::TensorMap> readTensors(const std::string &path) {
  auto ckpt = nnc::rt::readCheckpoint(path);
  if (!ckpt)
    return ckpt.status();
  nnc::rt::TensorMap tensors;
  for (size_t i = 0; i < ckpt->tensors.size(); ++i) {
    nnc::rt::HostTensor t;
    t.dtype = ckpt->tensors[i].dtype;
    t.shape = ckpt->tensors[i].shape;
    const uint8_t *data = ckpt->tensorData(i);
    t.bytes.assign(data, data + ckpt->sizes[i]);
    tensors[ckpt->tensors[i].name] = std::move(t);
  }
  return tensors;
}

/// The summed bytes of the parameter and buffer regions: the model's weights.
static int64_t weightBytes(const nnc::rt::Model &m) {
  int64_t bytes = 0;
  for (const nnc::rt::Region &r : m.regions())
    if (r.kind == "param" || r.kind == "buffer")
      bytes += r.bytes;
  return bytes;
}

/// The median time of `runs` forward passes, in ms (after one warm-up run);
/// the inputs are whatever the last batch left.
static double forwardMs(nnc::rt::Model &m, int64_t runs) {
  std::vector<double> times;
  if (m.run("forward").failed())
    return -1;
  for (int64_t i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    if (m.run("forward").failed())
      return -1;
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  if (times.empty())
    return 0;
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

namespace {
/// One method tried: its table, its int8 model and what it measured.
struct Candidate {
  std::string method;
  nnc::rt::QuantizationTable table;
  nnc::rt::TensorMap tensors;
  std::unique_ptr<LoadedModel> loaded;
  double validationAccuracy = 0, testAccuracy = 0, testLoss = 0;
};
} // namespace

/// The activation quantization of one observed input: u8 with zero point 0
/// for a non-negative input (after relu), else asymmetric u8.
static nnc::rt::QuantParams paramsFor(const nnc::rt::HistogramObserver &obs, StringRef method,
                                      double p) {
  auto scheme = nnc::rt::QuantScheme::Asymmetric;
  if (method == "minmax")
    return obs.minMax(scheme);
  if (method == "percentile")
    return obs.percentile(p, scheme);
  return obs.entropy(scheme);
}

/// `nnc quantize`.
static int runQuantize() {
  if (!model.check() || !threads.check() || !checkRange(calibrationBatches, 1) ||
      !checkRange(validation, 1) || !checkRange(testLimit, 1) || !checkRange(trainLimit, 1) ||
      !checkRange(timingRuns, 0, 10000) ||
      !checkChoice(method, {"minmax", "percentile", "entropy", "all"}) ||
      !checkReal(percentile, 0, /*strict=*/true, 1))
    return 1;
  if (weightsPath.empty())
    return fail("nnc quantize needs --weights FILE.safetensors (the trained f32 weights)");
  if (calibrate.empty())
    return fail("nnc quantize needs --calibrate DATA (e.g. fashion-mnist)");
  if (outputPath.empty())
    return fail("nnc quantize needs -o Q.safetensors");
  std::vector<std::string> keep(keepF32.begin(), keepF32.end());

  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return 1;
  // The plan: which layers, which batchnorms fold into them (and their eps).
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  auto single = session->lowerSingleModel(module, graphs);
  if (failed(single))
    return 1;
  mlir::FailureOr<nnc::QuantizationPlan> plan = nnc::planQuantization(single->first, keep);
  if (failed(plan))
    return 1;
  if (plan->layers.empty())
    return fail("nothing to quantize: every conv2d/linear layer is kept in f32");
  std::map<std::string, double> eps;
  for (const nnc::QuantLayer &l : plan->layers)
    if (l.bn)
      if (auto attr = l.bn->getAttrOfType<mlir::FloatAttr>("eps"))
        eps[l.batchnorm] = attr.getValueAsDouble();

  auto f32Tensors = readTensors(weightsPath);
  if (!f32Tensors)
    return fail(f32Tensors.message());

  // The f32 model with the planned layers' inputs as extra outputs.
  BuildRequest observeRequest{model};
  observeRequest.quantizeObserve = true;
  std::unique_ptr<LoadedModel> f32 = session->buildAndLoad(observeRequest, threads.value());
  if (!f32)
    return 1;
  if (auto st = nnc::rt::loadWeights(*f32->model, weightsPath); st.failed())
    return fail(st.message());
  auto spec = nnc::rt::sampleSpecOf(*f32->model);
  if (!spec)
    return fail(spec.message());

  nnc::rt::DataOptions dataOptions;
  dataOptions.data = calibrate;
  dataOptions.testLimit = testLimit;
  dataOptions.trainLimit = trainLimit;
  auto splits = nnc::rt::loadSplits(dataOptions, *spec, {});
  if (!splits)
    return fail(splits.message());
  for (const std::string &note : splits->notes)
    errs() << note << "\n";
  if (validation >= splits->train.size())
    return fail(formatv("--validation {0} leaves no training sample to calibrate on ({1} "
                        "training samples)",
                        int64_t(validation), splits->train.size()));
  std::vector<uint32_t> tail;
  for (int64_t i = splits->train.size() - validation; i < splits->train.size(); ++i)
    tail.push_back(uint32_t(i));
  nnc::rt::Dataset validationSet = nnc::rt::selectSamples(splits->train, tail);
  std::vector<uint32_t> head;
  for (int64_t i = 0; i < splits->train.size() - validation; ++i)
    head.push_back(uint32_t(i));
  nnc::rt::Dataset calibrationSet = nnc::rt::selectSamples(splits->train, head);

  // The plain f32 model: the accuracy and speed to compare with.
  std::unique_ptr<LoadedModel> plain = session->buildAndLoad(BuildRequest{model}, threads.value());
  if (!plain)
    return 1;
  if (auto w = nnc::rt::loadWeights(*plain->model, weightsPath); w.failed())
    return fail(w.message());
  auto f32Test = nnc::rt::evaluate(*plain->model, splits->test);
  if (!f32Test)
    return fail(f32Test.message());

  // Calibration: one observer per planned layer's input.
  std::vector<const nnc::rt::Region *> observed;
  std::vector<nnc::rt::HistogramObserver> observers(plan->layers.size());
  for (const nnc::QuantLayer &l : plan->layers) {
    const nnc::rt::Region *r = f32->model->region("forward.observe." + l.layer);
    if (!r)
      return fail("internal error: the calibration model has no output 'forward.observe." +
                  l.layer + "'");
    observed.push_back(r);
  }
  auto start = std::chrono::steady_clock::now();
  int64_t calibrated = 0;
  nnc::rt::Status st =
      nnc::rt::forEachForwardBatch(*f32->model, calibrationSet, calibrationBatches, [&](int64_t n) {
        for (size_t i = 0; i < observed.size(); ++i) {
          const nnc::rt::Region &r = *observed[i];
          int64_t rows = r.shape.empty() ? 1 : r.shape[0];
          int64_t perRow = rows ? r.numElements() / rows : 0;
          observers[i].observe(f32->model->dataAs<float>(r), size_t(n * perRow));
        }
        calibrated += n;
        return nnc::rt::Status::success();
      });
  if (st.failed())
    return fail(st.message());
  double calibrationSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  errs() << formatv("calibrated {0} layer inputs on {1} training samples in {2:F1} s\n",
                    observed.size(), calibrated, calibrationSeconds);
  for (size_t i = 0; i < observers.size(); ++i)
    if (observers[i].nonFiniteCount())
      return fail(formatv("the input of layer '{0}' had {1} NaN or infinite values during "
                          "calibration; the f32 weights are not usable",
                          plan->layers[i].layer, observers[i].nonFiniteCount()));

  // One int8 model per method.
  SmallVector<StringRef, 3> methods;
  if (method == "all")
    methods = {"minmax", "percentile", "entropy"};
  else
    methods = {method};
  SmallString<128> tempDir;
  if (std::error_code ec = sys::fs::createUniqueDirectory("nnc-quantize", tempDir))
    return fail("cannot create a temporary directory: " + ec.message());
  scope_exit cleanup([&] { sys::fs::remove_directories(tempDir); });
  std::vector<Candidate> candidates;
  for (StringRef m : methods) {
    Candidate c;
    c.method = m.str();
    c.table.method = c.method;
    c.table.f32Layers = keep;
    for (size_t i = 0; i < plan->layers.size(); ++i) {
      nnc::rt::QuantizedLayer ql;
      ql.layer = plan->layers[i].layer;
      if (!plan->layers[i].batchnorm.empty())
        ql.batchnorm = plan->layers[i].batchnorm;
      ql.input = paramsFor(observers[i], m, percentile);
      c.table.layers.push_back(ql);
    }
    auto tensors = nnc::rt::buildQuantizedTensors(*f32Tensors, c.table, eps);
    if (!tensors)
      return fail(tensors.message());
    c.tensors = std::move(*tensors);
    SmallString<128> qPath(tempDir), tablePath(tempDir);
    sys::path::append(qPath, c.method + ".safetensors");
    sys::path::append(tablePath, c.method + ".json");
    if (auto w = nnc::rt::writeQuantizedWeights(std::string(qPath), c.tensors, c.table); w.failed())
      return fail(w.message());
    if (int rc = writeOutput(tablePath, nnc::rt::quantizationTableToJson(c.table)))
      return rc;
    BuildRequest request{model};
    request.quantizeTable = std::string(tablePath);
    c.loaded = session->buildAndLoad(request, threads.value());
    if (!c.loaded)
      return 1;
    if (auto w = nnc::rt::loadWeights(*c.loaded->model, std::string(qPath)); w.failed())
      return fail(w.message());
    auto val = nnc::rt::evaluate(*c.loaded->model, validationSet);
    if (!val)
      return fail(val.message());
    auto test = nnc::rt::evaluate(*c.loaded->model, splits->test);
    if (!test)
      return fail(test.message());
    c.validationAccuracy = val->accuracy;
    c.testAccuracy = test->accuracy;
    c.testLoss = test->loss;
    candidates.push_back(std::move(c));
  }

  // Report: accuracy per method, then size and speed of the chosen one.
  outs() << formatv("{0,-12} {1,14} {2,10} {3,10}\n", "method", "validation acc", "test acc",
                    "test loss");
  outs() << formatv("{0,-12} {1,14} {2,9:F2}% {3,10:F4}\n", "f32", "", 100 * f32Test->accuracy,
                    f32Test->loss);
  size_t best = 0;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const Candidate &c = candidates[i];
    outs() << formatv("{0,-12} {1,13:F2}% {2,9:F2}% {3,10:F4}\n", c.method,
                      100 * c.validationAccuracy, 100 * c.testAccuracy, c.testLoss);
    if (c.validationAccuracy > candidates[best].validationAccuracy)
      best = i;
  }
  Candidate &chosen = candidates[best];
  if (auto w = nnc::rt::writeQuantizedWeights(outputPath, chosen.tensors, chosen.table); w.failed())
    return fail(w.message());
  uint64_t f32FileBytes = 0, qFileBytes = 0;
  sys::fs::file_size(weightsPath, f32FileBytes);
  sys::fs::file_size(outputPath, qFileBytes);
  int64_t f32Weights = weightBytes(*plain->model), qWeights = weightBytes(*chosen.loaded->model);
  double change = 100 * (chosen.testAccuracy - f32Test->accuracy);
  outs() << formatv("chosen: {0} (best validation accuracy); accuracy {1:F2}% -> {2:F2}% "
                    "({3}{4:F2} points)\n",
                    chosen.method, 100 * f32Test->accuracy, 100 * chosen.testAccuracy,
                    change < 0 ? "-" : "+", std::fabs(change));
  outs() << formatv("size: weights {0} B -> {1} B ({2:F2}x smaller); file {3} B -> {4} B\n",
                    f32Weights, qWeights, qWeights ? double(f32Weights) / double(qWeights) : 0.0,
                    f32FileBytes, qFileBytes);
  if (timingRuns > 0) {
    // Alternating, so both see the same machine.
    double f32Ms = 1e300, qMs = 1e300;
    for (int round = 0; round < 3; ++round) {
      f32Ms = std::min(f32Ms, forwardMs(*plain->model, timingRuns));
      qMs = std::min(qMs, forwardMs(*chosen.loaded->model, timingRuns));
    }
    outs() << formatv("speed: forward {0:F3} ms -> {1:F3} ms per batch ({2:F2}x), {3} "
                      "thread(s), best of 3 alternating medians\n",
                      f32Ms, qMs, qMs > 0 ? f32Ms / qMs : 0.0, nnc_get_num_threads());
  }
  if (const char *impl = nnc_int8_implementations(); impl && *impl)
    outs() << "int8 library: " << impl << "\n";
  outs() << "wrote " << outputPath << "\n";
  return 0;
}

static Command registration(quantizeCmd, runQuantize);
