//===- Compile.cpp - nnc compile: print a compiler stage ------------------===//
//
//   nnc compile model.nn -emit=ast|nn|nn-autodiff|linalg|kernels|buffers|llvm
//               [-o out] [--model NAME] [-D name=value] [--batch N] [--train]
//               [--no-fuse]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "codegen/CPUPipeline.h"
#include "codegen/Passes.h"
#include "frontend/Parser.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand compileCmd("compile", "Parse a model file and print a compiler stage");

ModelOptions model(compileCmd);
OptimizerOptions optimizer(compileCmd);
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::sub(compileCmd), cl::cat(category()));

enum class Emit { AST, NN, NNAutodiff, Linalg, Kernels, Buffers, LLVM };
cl::opt<Emit> emitAction(
    "emit", cl::desc("The stage to print"), cl::init(Emit::NN),
    cl::values(clEnumValN(Emit::AST, "ast", "the syntax tree"),
               clEnumValN(Emit::NN, "nn", "the nn dialect"),
               clEnumValN(Emit::NNAutodiff, "nn-autodiff",
                          "nn with @train_step (-nn-autodiff)"),
               clEnumValN(Emit::Linalg, "linalg",
                          "linalg on tensors before fusion (static batch)"),
               clEnumValN(Emit::Kernels, "kernels",
                          "the generated kernels after -nn-fuse (static batch)"),
               clEnumValN(Emit::Buffers, "buffers",
                          "the kernel IR: scf.parallel nests over one planned arena (static batch)"),
               clEnumValN(Emit::LLVM, "llvm", "the LLVM dialect (static batch)")),
    cl::sub(compileCmd), cl::cat(category()));
cl::opt<bool> printLocations("locations",
                             cl::desc("Print the model-file location of every op"),
                             cl::sub(compileCmd), cl::cat(category()));
cl::opt<bool> withTraining("train",
                           cl::desc("Include @train_step (autodiff + optimizer update)"),
                           cl::sub(compileCmd), cl::cat(category()));
} // namespace

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
  if (emitAction == Emit::NN || emitAction == Emit::NNAutodiff) {
    module->print(os, flags);
    os << "\n";
    return 0;
  }
  for (auto [m, graph] : modelsOf(*module, graphs)) {
    if (failed(session.specializeBatch(m, *graph)))
      return 1;
    if (emitAction == Emit::LLVM) {
      auto lowered =
          nnc::lowerModelToLLVM(m, /*checkNumerics=*/false, !model.noFuse, model.gpuEmulate);
      if (failed(lowered))
        return 1;
      (*lowered)->print(os, flags);
      os << "\n";
    }
  }
  if (emitAction == Emit::LLVM)
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
  if (!model.check() || !optimizer.check())
    return 1;
  return printToOutput(model, outputFilename, printStage);
}

static Command registration(compileCmd, runCompile);
