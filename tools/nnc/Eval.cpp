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
DeviceOptions device(evalCmd, /*withArch=*/false);
cl::opt<std::string> weightsPath("weights", cl::desc("The weights (safetensors) to evaluate"),
                                 cl::sub(evalCmd), cl::cat(category()));
cl::opt<std::string> outputFilename(
    "o",
    cl::desc("Also write the result as JSON: model, weights, data, samples, accuracy (0..1), "
             "loss (- for stdout)"),
    cl::value_desc("result.json"), cl::sub(evalCmd), cl::cat(category()));

// Evaluation flags.
DataFlags dataFlags(evalCmd);
cl::opt<int64_t> testLimit("test-limit", cl::desc("Use only the first N test samples (N >= 1)"),
                           cl::init(0), cl::sub(evalCmd), cl::cat(category()));
} // namespace

/// `nnc eval`: test-split accuracy of trained weights.
static int runEval() {
  nnc::rt::DataOptions dataOptions;
  if (!model.check() || !threads.check() || !checkRange(testLimit, 1) ||
      !dataFlags.toOptions(dataOptions) || !device.checkRunnable())
    return 1;
  if (weightsPath.empty())
    return fail("nnc eval needs --weights FILE.safetensors");
  std::unique_ptr<LoadedModel> loaded =
      loadModelWithWeights(model, weightsPath, threads.value(), device.value());
  if (!loaded)
    return 1;
  nnc::rt::Model &m = *loaded->model;
  // The same split as nnc train (same data flags and --seed): test figures
  // are never computed on training samples. Only the test split is kept, and
  // only its first --test-limit samples are read.
  dataOptions.testLimit = testLimit;
  dataOptions.needTrain = false;
  auto splits = nnc::rt::loadSplits(dataOptions, loaded->spec, {});
  if (!splits)
    return fail(splits.message());
  for (const std::string &note : splits->notes)
    errs() << note << "\n";
  auto eval = nnc::rt::evaluate(m, splits->test);
  if (!eval)
    return fail(eval.message());
  outs() << nnc::rt::formatTestFigures(*eval) << formatv("  ({0} samples)\n", eval->samples);
  if (!outputFilename.getNumOccurrences())
    return 0;
  json::Object result{{"model", m.name()},
                      {"weights", std::string(weightsPath)},
                      {"data", std::string(dataFlags.data)},
                      {"samples", eval->samples},
                      {"loss", eval->loss}};
  if (eval->regression)
    result["rmse"] = eval->rmse;
  else
    result["accuracy"] = eval->accuracy;
  return writeOutput(outputFilename,
                     formatv("{0:2}\n", json::Value(std::move(result))).str());
}

static Command registration(evalCmd, runEval);
