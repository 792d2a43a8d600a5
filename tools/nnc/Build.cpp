//===- Build.cpp - nnc build: an ahead-of-time shared library -------------===//
//
//   nnc build model.nn -o model.so [--batch N] [--train] [--check-numerics]
//                                  [--memory-budget BYTES]
//                                  [--device cpu|gpu] [--gpu-arch sm_80|sm_90]
//                                  [--quantize-table T.json | --quantized Q.safetensors]
//                                  [--ranks N [--shard none|opt]]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand buildCmd("build", "Compile a model ahead of time into a shared library "
                                 "that needs only nnc's runtime");

ModelOptions model(buildCmd);
OptimizerOptions optimizer(buildCmd);
MemoryBudgetOption memoryBudget(buildCmd);
DeviceOptions device(buildCmd);
DataParallelOptions dataParallel(buildCmd);
cl::opt<std::string> outputFilename("o", cl::desc("The shared library to write"),
                                    cl::value_desc("model.so"), cl::sub(buildCmd),
                                    cl::cat(category()));
cl::opt<bool> withTraining("train",
                           cl::desc("Include @train_step (autodiff + optimizer update)"),
                           cl::sub(buildCmd), cl::cat(category()));
cl::opt<bool> checkNumerics("check-numerics",
                            cl::desc("Check every op result for NaN/Inf and name the first "
                                     "layer where one appears"),
                            cl::sub(buildCmd), cl::cat(category()));
cl::opt<std::string> quantizeTable("quantize-table",
                                   cl::desc("Build an int8 model: quantize it with this table "
                                            "(JSON, docs/quantization.md)"),
                                   cl::value_desc("table.json"), cl::sub(buildCmd),
                                   cl::cat(category()));
cl::opt<std::string> quantized("quantized",
                               cl::desc("Build the int8 model of these quantized weights (nnc "
                                        "quantize): their table; load them at run time"),
                               cl::value_desc("Q.safetensors"), cl::sub(buildCmd),
                               cl::cat(category()));
/// Hidden, for calibration and its tests: every quantizable layer's f32 input
/// as an extra forward output `observe.<layer>`.
cl::opt<bool> quantizeObserve("quantize-observe", cl::Hidden,
                              cl::desc("Add each quantizable layer's f32 input as a forward "
                                       "output observe.<layer> (calibration)"),
                              cl::sub(buildCmd), cl::cat(category()));
} // namespace

static int runBuild() {
  if (!model.check() || !optimizer.check() || !memoryBudget.check() || !device.check() ||
      !dataParallel.check())
    return 1;
  if (outputFilename.empty() || outputFilename == "-")
    return fail("nnc build needs an output file: -o model.so");
  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return 1;
  BuildRequest request{model,          withTraining ? &optimizer : nullptr,
                       checkNumerics,  memoryBudget.value(),
                       device.value(), device.arch(),
                       quantizeTable};
  request.quantizeObserve = quantizeObserve;
  request.quantizedWeights = quantized;
  request.dataParallel = dataParallel.value();
  if (!quantized.empty() && !quantizeTable.empty())
    return fail("--quantized and --quantize-table exclude each other (the weights file holds "
                "its table)");
  return session->buildModel(outputFilename, request);
}

static Command registration(buildCmd, runBuild);
