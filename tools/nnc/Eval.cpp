//===- Eval.cpp - nnc eval: test accuracy of trained weights --------------===//
//
//   nnc eval model.nn --weights W.safetensors [--data D] [--test-limit N]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "runtime/Train.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand evalCmd("eval", "Evaluate trained weights on a dataset's test split");

ModelOptions model(evalCmd);
ThreadsOption threads(evalCmd);
cl::opt<std::string> weightsPath("weights", cl::desc("The weights (safetensors) to evaluate"),
                                 cl::sub(evalCmd), cl::cat(category()));
cl::opt<std::string> outputFilename(
    "o",
    cl::desc("Also write the result as JSON: model, weights, data, samples, accuracy (0..1), "
             "loss (- for stdout)"),
    cl::value_desc("result.json"), cl::sub(evalCmd), cl::cat(category()));

// Evaluation flags.
cl::opt<std::string> dataName("data", cl::desc("Dataset: fashion-mnist, synthetic, an IDX or "
                                               "image-folder directory, a CSV or token file"),
                              cl::init("fashion-mnist"), cl::sub(evalCmd),
                              cl::cat(category()));
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples (N >= 1)"),
                           cl::init(0), cl::sub(evalCmd), cl::cat(category()));
} // namespace

/// `nnc eval`: test-split accuracy of trained weights.
static int runEval() {
  if (!model.check() || !threads.check() || !checkRange(testLimit, 1))
    return 1;
  if (weightsPath.empty())
    return fail("nnc eval needs --weights FILE.safetensors");
  std::unique_ptr<LoadedModel> loaded =
      loadModelWithWeights(model, weightsPath, threads.value());
  if (!loaded)
    return 1;
  nnc::rt::Model &m = *loaded->model;
  auto data = nnc::rt::loadDataset(dataName, nnc::rt::Split::Test, loaded->spec, {});
  if (!data)
    return fail(data.message());
  if (testLimit > 0 && testLimit < data->count) {
    data->count = testLimit;
    data->labels.resize(testLimit);
    data->inputs.resize(testLimit * data->sampleElements());
  }
  auto eval = nnc::rt::evaluate(m, *data);
  if (!eval)
    return fail(eval.message());
  outs() << formatv("test accuracy {0:F1}%  loss {1:F4}  ({2} samples)\n",
                    100 * eval->accuracy, eval->loss, eval->samples);
  if (!outputFilename.getNumOccurrences())
    return 0;
  json::Object result{{"model", m.name()},
                      {"weights", std::string(weightsPath)},
                      {"data", std::string(dataName)},
                      {"samples", eval->samples},
                      {"accuracy", eval->accuracy},
                      {"loss", eval->loss}};
  return writeOutput(outputFilename,
                     formatv("{0:2}\n", json::Value(std::move(result))).str());
}

static Command registration(evalCmd, runEval);
