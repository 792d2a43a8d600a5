//===- Compile.cpp - nnc compile: print a compiler stage ------------------===//
//
//   nnc compile model.nn -emit=ast|nn|nn-autodiff|linalg|kernels|buffers|llvm
//                             |gpu|nvvm|ptx
//               [-o out] [--model NAME] [-D name=value] [--batch N] [--train]
//               [--no-fuse] [--gpu-arch sm_80|sm_90] [--quantize-table T.json]
//               [--ranks N [--shard none|opt]]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "codegen/CPUPipeline.h"
#include "codegen/GPUPipeline.h"
#include "codegen/Passes.h"
#include "frontend/Parser.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Pass/PassManager.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand compileCmd("compile", "Parse a model file and print a compiler stage");

ModelOptions model(compileCmd);
OptimizerOptions optimizer(compileCmd);
DataParallelOptions dataParallel(compileCmd);
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::sub(compileCmd), cl::cat(category()));

enum class Emit { AST, NN, NNAutodiff, Linalg, Kernels, Buffers, LLVM, GPU, NVVM, PTX };
cl::opt<Emit> emitAction(
    "emit", cl::desc("The stage to print"), cl::init(Emit::NN),
    cl::values(
        clEnumValN(Emit::AST, "ast", "the syntax tree"),
        clEnumValN(Emit::NN, "nn", "the nn dialect"),
        clEnumValN(Emit::NNAutodiff, "nn-autodiff", "nn with @train_step (-nn-autodiff)"),
        clEnumValN(Emit::Linalg, "linalg", "linalg on tensors before fusion (static batch)"),
        clEnumValN(Emit::Kernels, "kernels", "the generated kernels after -nn-fuse (static batch)"),
        clEnumValN(Emit::Buffers, "buffers",
                   "the kernel IR: scf.parallel nests over one planned arena (static batch)"),
        clEnumValN(Emit::LLVM, "llvm", "the LLVM dialect (static batch)"),
        clEnumValN(Emit::GPU, "gpu",
                   "the kernel IR mapped onto the GPU: host code and one gpu.module "
                   "(static batch)"),
        clEnumValN(Emit::NVVM, "nvvm", "the GPU kernels in the NVVM dialect (static batch)"),
        clEnumValN(Emit::PTX, "ptx", "the PTX of the GPU kernels (static batch)")),
    cl::sub(compileCmd), cl::cat(category()));
cl::opt<bool> printLocations("locations",
                             cl::desc("Print the model-file location of every op"),
                             cl::sub(compileCmd), cl::cat(category()));
cl::opt<bool> withTraining("train",
                           cl::desc("Include @train_step (autodiff + optimizer update)"),
                           cl::sub(compileCmd), cl::cat(category()));
cl::opt<std::string> quantizeTable("quantize-table",
                                   cl::desc("Quantize the inference model to int8 with this "
                                            "table (JSON, docs/quantization.md)"),
                                   cl::value_desc("table.json"), cl::sub(compileCmd),
                                   cl::cat(category()));
cl::opt<std::string> gpuArch("gpu-arch",
                             cl::desc("With -emit=gpu|nvvm|ptx: the PTX target, sm_80 "
                                      "(default) or sm_90"),
                             cl::value_desc("sm_80|sm_90"), cl::init("sm_80"), cl::sub(compileCmd),
                             cl::cat(category()));
} // namespace

/// Prints the GPU back end's stage `emit` of the model module `m`.
static mlir::LogicalResult printGPUStage(mlir::ModuleOp m, Emit emit, raw_ostream &os,
                                         mlir::OpPrintingFlags flags) {
  nnc::GPUOptions gpu;
  gpu.arch = gpuArch;
  gpu.blockReductions = !model.gpuSerialReductions;
  nnc::GPUStage stage = emit == Emit::GPU    ? nnc::GPUStage::GPU
                        : emit == Emit::NVVM ? nnc::GPUStage::NVVM
                                             : nnc::GPUStage::PTX;
  auto lowered = nnc::lowerModelToGPU(m, stage, gpu, /*checkNumerics=*/false, !model.noFuse);
  if (failed(lowered))
    return mlir::failure();
  if (emit == Emit::PTX) {
    os << nnc::kernelPTX(**lowered);
    return mlir::success();
  }
  if (emit == Emit::NVVM) {
    // The kernels only: the host code is not lowered yet.
    for (auto kernels : (*lowered)->getOps<mlir::gpu::GPUModuleOp>()) {
      kernels->print(os, flags);
      os << "\n";
    }
    return mlir::success();
  }
  (*lowered)->print(os, flags);
  os << "\n";
  return mlir::success();
}

/// Prints the requested stage to `os`; returns the exit status.
static int printStage(Session &session, raw_ostream &os) {
  if (emitAction == Emit::AST) {
    std::unique_ptr<nnc::ast::Module> ast = nnc::parseModelFile(session.diag());
    if (!ast)
      return 1;
    nnc::ast::dumpAST(*ast, session.diag().getSourceMgr(), os);
    return 0;
  }
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = session.lowerToNN(&graphs);
  if (!module)
    return 1;
  auto flags = mlir::OpPrintingFlags().enableDebugInfo(printLocations, /*prettyForm=*/false);
  if ((emitAction == Emit::NNAutodiff || withTraining) &&
      failed(session.addTrainStep(*module, optimizer)))
    return 1;
  if (!quantizeTable.empty() && failed(session.quantize(*module, quantizeTable)))
    return 1;
  if (emitAction == Emit::NN || emitAction == Emit::NNAutodiff) {
    module->print(os, flags);
    os << "\n";
    return 0;
  }
  DataParallelConfig dp = dataParallel.value();
  for (auto [m, graph] : modelsOf(*module, graphs)) {
    if (failed(session.specializeBatch(m, *graph, dp.ranks)))
      return 1;
    setDataParallel(m, dp);
    if (emitAction == Emit::GPU || emitAction == Emit::NVVM || emitAction == Emit::PTX) {
      if (failed(printGPUStage(m, emitAction, os, flags)))
        return 1;
    } else if (emitAction == Emit::LLVM) {
      auto lowered = nnc::lowerModelToLLVM(m, /*checkNumerics=*/false, !model.noFuse,
                                           model.gpuEmulate, !model.gpuSerialReductions);
      if (failed(lowered))
        return 1;
      (*lowered)->print(os, flags);
      os << "\n";
    }
  }
  if (emitAction == Emit::LLVM || emitAction == Emit::GPU || emitAction == Emit::NVVM ||
      emitAction == Emit::PTX)
    return 0;
  // Stage 1 (linalg), 2 (kernels), 4+5 (buffers) of docs/design.md.
  mlir::PassManager pm(&session.context(), mlir::ModuleOp::getOperationName());
  if (emitAction == Emit::Linalg)
    pm.addPass(nnc::createNNLowerToLinalg());
  else
    nnc::addLinalgStages(pm, !model.noFuse);
  if (emitAction == Emit::Buffers) {
    pm.addPass(nnc::createNNLowerToBuffers());
    pm.addPass(nnc::createNNPlanMemory());
    pm.addPass(nnc::createNNKernelLoops());
  }
  if (failed(pm.run(*module)))
    return 1;
  module->print(os, flags);
  os << "\n";
  return 0;
}

static int runCompile() {
  if (!model.check() || !optimizer.check() || !dataParallel.check() ||
      !checkChoice(gpuArch, nnc::gpuArchNames()))
    return 1;
  if (dataParallel.value().enabled() && !withTraining)
    return fail("--ranks and --shard build a data-parallel training step: add --train");
  return printToOutput(model, outputFilename, printStage);
}

static Command registration(compileCmd, runCompile);
