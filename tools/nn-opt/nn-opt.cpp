//===- nn-opt.cpp - The nn dialect's opt driver ---------------------------===//
//
// Part of nnc. Parses, verifies, transforms and prints nn IR:
//   nn-opt model.mlir -nn-infer-shapes=batch=64
//
//===----------------------------------------------------------------------===//

#include "tools/common/Registration.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  nnc::registerAllDialects(registry);
  nnc::registerAllPasses();
  return mlir::asMainReturnCode(mlir::MlirOptMain(
      argc, argv, "nn-opt: the nn dialect driver\n", registry));
}
