//===- Prune.cpp - nnc prune: magnitude and channel pruning ---------------===//
//
//   nnc prune model.nn --weights W --sparsity S [--scope global|layer]
//             [--structured channels] [--finetune-epochs K] -o OUT
//
// Unstructured: masks over the conv2d/linear weights (runtime/Prune.h),
// re-applied after every fine-tuning step through TrainOptions::afterStep.
// Structured: a smaller model file OUT.nn (frontend/PruneChannels.h) that
// the rest of the run, and every other command, treats as an ordinary model.
// Both write OUT.safetensors and fine-tune with nnc train's loop.
// docs/pruning.md.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "frontend/PruneChannels.h"
#include "passes/ModelReport.h"
#include "runtime/Checkpoint.h"
#include "runtime/Prune.h"
#include "runtime/Train.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand pruneCmd("prune", "Prune trained weights (magnitude or whole channels) and "
                                 "fine-tune them on the CPU");

ModelOptions model(pruneCmd);
OptimizerOptions optimizer(pruneCmd);
ThreadsOption threads(pruneCmd);
DeviceOptions device(pruneCmd, /*withArch=*/false);
cl::opt<std::string> outputBase("o",
                                cl::desc("Write OUT.safetensors (the pruned, fine-tuned weights; "
                                         "checkpointed every epoch with OUT.safetensors.state) "
                                         "and, with --structured, the model OUT.nn"),
                                cl::value_desc("OUT"), cl::sub(pruneCmd), cl::cat(category()));
cl::opt<std::string> weightsPath("weights", cl::desc("The trained weights (safetensors) to prune"),
                                 cl::sub(pruneCmd), cl::cat(category()));
cl::opt<double> sparsity("sparsity",
                         cl::desc("The fraction of the conv2d/linear weights to set to zero, "
                                  "in [0, 1] (with --structured: of the channels to remove, "
                                  "in [0, 1))"),
                         cl::init(0), cl::sub(pruneCmd), cl::cat(category()));
cl::opt<std::string> scope("scope",
                           cl::desc("global (one magnitude threshold over all layers, the "
                                    "default) | layer (each layer loses the same fraction)"),
                           cl::sub(pruneCmd), cl::cat(category()));
cl::opt<std::string> structured("structured",
                                cl::desc("channels: remove whole output channels of conv2d "
                                         "layers and neurons of linear layers, and write a "
                                         "smaller model OUT.nn"),
                                cl::sub(pruneCmd), cl::cat(category()));
cl::opt<std::string> zeroedPath("zeroed-weights",
                                cl::desc("With --structured: also write the original model's "
                                         "weights with the removed channels set to zero (the "
                                         "pruned model computes the same)"),
                                cl::value_desc("Z.safetensors"), cl::Hidden, cl::sub(pruneCmd),
                                cl::cat(category()));

// Fine-tuning flags (as nnc train's).
DataFlags dataFlags(pruneCmd);
cl::opt<int64_t> finetuneEpochs("finetune-epochs",
                                cl::desc("Epochs of fine-tuning after pruning, >= 0 (default 0)"),
                                cl::init(0), cl::sub(pruneCmd), cl::cat(category()));
cl::opt<double> learningRate("lr",
                             cl::desc("Fine-tuning learning rate, > 0 (default: a tenth of the "
                                      "model's)"),
                             cl::init(0), cl::sub(pruneCmd), cl::cat(category()));
cl::opt<std::string> schedule("schedule",
                              cl::desc("constant | step | cosine (default: the model's)"),
                              cl::sub(pruneCmd), cl::cat(category()));
cl::opt<int64_t> trainLimit("limit", cl::desc("Use only the first N training samples (N >= 1)"),
                            cl::init(0), cl::sub(pruneCmd), cl::cat(category()));
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples (N >= 1)"),
                           cl::init(0), cl::sub(pruneCmd), cl::cat(category()));
cl::opt<std::string> resumePath("resume",
                                cl::desc("Continue an interrupted fine-tuning from its "
                                         "checkpoint (unstructured: the masks are its zeros)"),
                                cl::value_desc("OUT.safetensors"), cl::sub(pruneCmd),
                                cl::cat(category()));
cl::opt<std::string> metricsPath("metrics", cl::desc("Write fine-tuning metrics as JSON lines"),
                                 cl::sub(pruneCmd), cl::cat(category()));
} // namespace

/// OUT without a .safetensors or .nn extension.
static std::string outputStem() {
  StringRef out = outputBase;
  if (out.ends_with(".safetensors"))
    return out.drop_back(strlen(".safetensors")).str();
  if (out.ends_with(".nn"))
    return out.drop_back(strlen(".nn")).str();
  return out.str();
}

/// Checks the flags given; false after reporting one line.
static bool checkFlags() {
  if (!model.check() || !optimizer.check() || !threads.check() || !device.check() ||
      !checkReal(sparsity, 0, /*strict=*/false, 1) || !checkRange(finetuneEpochs, 0) ||
      !checkReal(learningRate, 0, /*strict=*/true) ||
      !checkChoice(schedule, {"constant", "step", "cosine"}) ||
      !checkChoice(scope, {"global", "layer"}) || !checkChoice(structured, {"channels"}) ||
      !checkRange(trainLimit, 1) || !checkRange(testLimit, 1))
    return false;
  if (device.gpu())
    return fail("nnc prune runs on the CPU only: the masks are re-applied by the host after "
                "every fine-tuning step, in the CPU arena"),
           false;
  if (weightsPath.empty() && resumePath.empty())
    return fail("nnc prune needs --weights W.safetensors (the trained weights to prune)"), false;
  if (!sparsity.getNumOccurrences() && resumePath.empty())
    return fail("nnc prune needs --sparsity S, the fraction to remove"), false;
  if (outputBase.empty() || outputBase == "-" || outputStem().empty())
    return fail("nnc prune needs -o OUT: it writes OUT.safetensors (and OUT.nn with "
                "--structured)"),
           false;
  if (!structured.empty()) {
    if (sparsity >= 1)
      return fail("--sparsity must be below 1 with --structured (every group keeps a "
                  "channel; got " +
                  formatv("{0}", format("%g", double(sparsity))).str() + ")"),
             false;
    if (scope.getNumOccurrences())
      return fail("--scope applies to unstructured pruning; --structured removes the same "
                  "fraction of every group of channels"),
             false;
    if (!resumePath.empty())
      return fail("--resume is for unstructured pruning; continue a structured one with nnc "
                  "train OUT.nn --resume OUT.safetensors"),
             false;
  }
  if (!resumePath.empty() && finetuneEpochs < 1)
    return fail("--resume continues fine-tuning: it needs --finetune-epochs K, the epochs of "
                "the whole run"),
           false;
  return true;
}

/// The weights pruning acts on: those of the conv2d and linear layers, f32.
static Expected<std::vector<nnc::rt::PruneTensor>> maskedWeights(nnc::rt::Model &m,
                                                                 const nnc::ModelGraph &graph) {
  std::vector<nnc::rt::PruneTensor> tensors;
  for (const nnc::Layer &layer : graph.layers) {
    if (layer.kind != nnc::LayerKind::Conv2d && layer.kind != nnc::LayerKind::Linear)
      continue;
    const std::string &name = graph.params[layer.params[0]].name;
    const nnc::rt::Region *r = m.region(name);
    if (!r || r->dtype != "f32")
      return createStringError("pruning needs f32 weights; '" + name + "' is " +
                               (r ? r->dtype : std::string("missing")));
    tensors.push_back({name, m.dataAs<float>(*r), r->numElements()});
  }
  if (tensors.empty())
    return createStringError("model '" + graph.name + "' has no conv2d or linear weights to prune");
  return tensors;
}

/// Prints each tensor's sparsity (its exact zeros) and the total.
static void printSparsity(const std::vector<nnc::rt::PruneTensor> &tensors) {
  outs() << formatv("{0,-28} {1,12} {2,12} {3,9}\n", "weights", "elements", "zeros", "sparsity");
  int64_t total = 0, zeros = 0;
  for (const nnc::rt::PruneTensor &t : tensors) {
    int64_t z = nnc::rt::countZeros(t);
    total += t.size, zeros += z;
    outs() << formatv("{0,-28} {1,12} {2,12} {3,8:F1}%\n", t.name, nnc::formatCount(t.size),
                      nnc::formatCount(z), 100.0 * double(z) / double(t.size));
  }
  outs() << formatv("{0,-28} {1,12} {2,12} {3,8:F1}%\n", "total", nnc::formatCount(total),
                    nnc::formatCount(zeros), 100.0 * double(zeros) / double(total));
}

/// The test split, as nnc eval reads it; null after reporting.
static std::optional<nnc::rt::Dataset> testSplit(const LoadedModel &loaded,
                                                 const nnc::rt::DataOptions &dataOptions) {
  nnc::rt::DataOptions options = dataOptions;
  options.testLimit = testLimit;
  options.needTrain = false;
  auto splits = nnc::rt::loadSplits(options, loaded.spec, {});
  if (!splits)
    return fail(splits.message()), std::nullopt;
  for (const std::string &note : splits->notes)
    errs() << note << "\n";
  return std::move(splits->test);
}

/// Test accuracy (or loss for regression) as "89.1%"; empty after reporting.
static std::optional<std::string> testFigure(nnc::rt::Model &m, const nnc::rt::Dataset &test) {
  auto eval = nnc::rt::evaluate(m, test);
  if (!eval)
    return fail(eval.message()), std::nullopt;
  if (eval->regression)
    return formatv("loss {0:F4}", eval->loss).str();
  return formatv("{0:F2}%", 100 * eval->accuracy).str();
}

/// Fine-tunes `loaded` for --finetune-epochs from `start` (or --resume),
/// checkpointing to `checkpoint`, with `afterStep` after every step.
/// Returns the exit status.
static int fineTune(LoadedModel &loaded, const nnc::rt::DataOptions &dataOptions,
                    const std::string &start, const std::string &checkpoint,
                    std::function<nnc::rt::Status(nnc::rt::Model &)> afterStep,
                    nnc::rt::TrainResult &result) {
  const nnc::ModelGraph &graph = loaded.graph;
  nnc::rt::TrainOptions options;
  options.dataset = dataOptions;
  options.epochs = finetuneEpochs;
  options.lr = learningRate.getNumOccurrences() ? double(learningRate) : graph.train.lr / 10;
  options.schedule = schedule.getNumOccurrences() ? std::string(schedule) : graph.train.schedule;
  options.seed = dataOptions.seed;
  options.trainLimit = trainLimit;
  options.testLimit = testLimit;
  options.checkpoint = checkpoint;
  options.resume = resumePath;
  if (resumePath.empty())
    options.weights = start;
  options.metrics = metricsPath;
  options.threads = threads.value();
  options.stop = interruptFlag();
  options.afterStep = std::move(afterStep);
  auto trained = nnc::rt::train(*loaded.model, options);
  if (!trained)
    return fail(trained.message());
  if (trained->stopped) {
    errs() << "nnc: interrupted; the last checkpoint is "
           << (trained->lastCheckpoint.empty() ? std::string("none") : trained->lastCheckpoint)
           << " (continue with --resume)\n";
    interruptReported() = true;
    return interruptedExitCode;
  }
  result = *trained;
  return 0;
}

/// Unstructured magnitude pruning with fixed masks.
static int pruneWeights(const nnc::rt::DataOptions &dataOptions, const std::string &stem) {
  std::unique_ptr<LoadedModel> loaded =
      loadModel({model, &optimizer, false, std::nullopt, nnc::rt::Device::Cpu}, threads.value());
  if (!loaded)
    return 1;
  nnc::rt::Model &m = *loaded->model;
  auto spec = nnc::rt::sampleSpecOf(m);
  if (!spec)
    return fail(spec.message());
  loaded->spec = *spec;
  auto tensors = maskedWeights(m, loaded->graph);
  if (!tensors)
    return fail(toString(tensors.takeError()));
  std::string out = stem + ".safetensors";
  nnc::rt::PruneMasks masks;
  std::optional<std::string> dense, pruned;
  if (resumePath.empty()) {
    std::optional<nnc::rt::Dataset> test = testSplit(*loaded, dataOptions);
    if (!test)
      return 1;
    if (nnc::rt::Status st = nnc::rt::loadWeights(m, weightsPath); st.failed())
      return fail(st.message());
    if (!(dense = testFigure(m, *test)))
      return 1;
    nnc::rt::PruneScope s =
        scope == "layer" ? nnc::rt::PruneScope::Layer : nnc::rt::PruneScope::Global;
    masks = nnc::rt::magnitudeMasks(*tensors, sparsity, s);
    nnc::rt::applyMasks(*tensors, masks);
    outs() << formatv("pruned {0:F1}% of the conv2d/linear weights ({1} threshold)\n",
                      100 * double(sparsity), scope.empty() ? "global" : std::string(scope));
    printSparsity(*tensors);
    outs().flush();
    if (!(pruned = testFigure(m, *test)))
      return 1;
    if (auto size = nnc::rt::saveWeights(m, out); !size)
      return fail(size.message());
  }
  if (finetuneEpochs > 0) {
    // The masks are re-applied after every optimizer step (docs/pruning.md):
    // a resumed run takes them from the checkpoint's zeros.
    auto afterStep = [&](nnc::rt::Model &) {
      if (masks.empty())
        masks = nnc::rt::nonZeroMasks(*tensors);
      nnc::rt::applyMasks(*tensors, masks);
      return nnc::rt::Status::success();
    };
    nnc::rt::TrainResult result;
    if (int rc = fineTune(*loaded, dataOptions, out, out, afterStep, result))
      return rc;
    outs() << "after fine-tuning:\n";
    printSparsity(*tensors);
    if (result.test.samples == 0) {
      outs() << "no fine-tuning epoch was left to run: the checkpoint holds all "
             << int64_t(finetuneEpochs) << "\n";
    } else {
      outs() << "test accuracy: ";
      if (dense)
        outs() << "dense " << *dense << "  pruned " << *pruned << "  ";
      outs() << formatv("fine-tuned {0:F2}%\n", 100 * result.testAccuracy);
    }
  } else {
    outs() << "test accuracy: dense " << *dense << "  pruned " << *pruned << "\n";
  }
  outs() << "wrote " << out << "\n";
  return 0;
}

/// Structured pruning: a smaller model and its weights.
static int pruneChannels(const nnc::rt::DataOptions &dataOptions, const std::string &stem) {
  std::unique_ptr<LoadedModel> original =
      loadModelWithWeights(model, weightsPath, threads.value(), nnc::rt::Device::Cpu);
  if (!original)
    return 1;
  nnc::rt::Model &m = *original->model;
  const nnc::ModelGraph &graph = original->graph;
  // The channels are ranked by the L1 norms of f32 weights.
  if (auto weights = maskedWeights(m, graph); !weights)
    return fail(toString(weights.takeError()));
  auto plan = nnc::planChannelPruning(graph, sparsity, [&](const nnc::ParamInfo &p) {
    const nnc::rt::Region *r = m.region(p.name);
    return r && r->dtype == "f32" ? m.dataAs<const float>(*r) : nullptr;
  });
  if (!plan)
    return fail(toString(plan.takeError()));
  std::optional<nnc::rt::Dataset> test = testSplit(*original, dataOptions);
  if (!test)
    return 1;
  std::optional<std::string> dense = testFigure(m, *test);
  if (!dense)
    return 1;

  // The new weights, and with --zeroed-weights the old ones with the
  // removed channels zeroed.
  std::vector<std::vector<char>> newData(plan->params.size()), zeroData(plan->params.size());
  std::vector<nnc::rt::WriteTensor> newTensors, zeroTensors;
  int64_t oldCount = 0, newCount = 0;
  for (size_t i = 0; i < plan->params.size(); ++i) {
    const nnc::PrunedParam &p = plan->params[i];
    const nnc::rt::Region *r = m.region(p.oldName);
    if (!r)
      return fail("internal error: no region for " + p.oldName);
    std::optional<nnc::TensorDType> dtype = nnc::parseSafetensorsDType(StringRef(r->dtype).upper());
    if (!dtype)
      return fail("internal error: no safetensors type for " + r->dtype);
    nnc::slicePrunedParam(p, static_cast<const char *>(m.data(*r)),
                          size_t(r->bytes / std::max<int64_t>(1, r->numElements())), newData[i],
                          zeroedPath.empty() ? nullptr : &zeroData[i]);
    std::vector<uint64_t> newShape(p.newShape.begin(), p.newShape.end()),
        oldShape(p.oldShape.begin(), p.oldShape.end());
    newTensors.push_back({p.newName, *dtype, newShape, newData[i].data(), false});
    zeroTensors.push_back({p.oldName, *dtype, oldShape, zeroData[i].data(), false});
    if (!graph.params[i].buffer) {
      int64_t o = 1, n = 1;
      for (int64_t d : p.oldShape)
        o *= d;
      for (int64_t d : p.newShape)
        n *= d;
      oldCount += o, newCount += n;
    }
  }
  std::string outModel = stem + ".nn", outWeights = stem + ".safetensors";
  if (int rc = writeOutput(outModel, plan->modelText))
    return rc;
  if (nnc::rt::Status st = nnc::rt::writeCheckpoint(outWeights, newTensors); st.failed())
    return fail(st.message());
  if (!zeroedPath.empty())
    if (nnc::rt::Status st = nnc::rt::writeCheckpoint(zeroedPath, zeroTensors); st.failed())
      return fail(st.message());

  outs() << formatv("removed {0:F1}% of the channels of each group\n", 100 * double(sparsity));
  outs() << formatv("{0,-6} {1,9} {2,7}  {3}\n", "group", "channels", "kept", "layers");
  for (size_t g = 0; g < plan->groups.size(); ++g) {
    const nnc::ChannelGroup &group = plan->groups[g];
    outs() << formatv("{0,-6} {1,9} {2,7}  {3}\n", g + 1, group.channels, group.kept,
                      join(group.layers, ", "));
  }
  outs() << "parameters: " << nnc::formatCount(oldCount) << " -> " << nnc::formatCount(newCount)
         << formatv(" ({0:F1}%)\n",
                    100.0 * double(newCount) / double(std::max<int64_t>(1, oldCount)));

  // From here on the pruned model is the model: evaluated, fine-tuned.
  model.input = outModel;
  model.defines.clear();
  model.modelName = "";
  std::unique_ptr<LoadedModel> loaded =
      loadModel({model, &optimizer, false, std::nullopt, nnc::rt::Device::Cpu}, threads.value());
  if (!loaded)
    return 1;
  if (nnc::rt::Status st = nnc::rt::loadWeights(*loaded->model, outWeights); st.failed())
    return fail(st.message());
  std::optional<std::string> pruned = testFigure(*loaded->model, *test);
  if (!pruned)
    return 1;
  std::string figures = "test accuracy: dense " + *dense + "  pruned " + *pruned;
  if (finetuneEpochs > 0) {
    outs().flush();
    nnc::rt::TrainResult result;
    if (int rc = fineTune(*loaded, dataOptions, outWeights, outWeights, nullptr, result))
      return rc;
    figures += formatv("  fine-tuned {0:F2}%", 100 * result.testAccuracy).str();
  }
  outs() << figures << "\nwrote " << outModel << " and " << outWeights << " (nnc report "
         << outModel << " shows its size and FLOPs)\n";
  return 0;
}

/// `nnc prune`.
static int runPrune() {
  nnc::rt::DataOptions dataOptions;
  if (!checkFlags() || !dataFlags.toOptions(dataOptions))
    return 1;
  std::string stem = outputStem();
  return structured.empty() ? pruneWeights(dataOptions, stem) : pruneChannels(dataOptions, stem);
}

static Command registration(pruneCmd, runPrune);
