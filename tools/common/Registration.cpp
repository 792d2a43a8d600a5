//===- Registration.cpp - Dialects and passes of the nnc tools ------------===//
//
// Part of nnc.
//
//===----------------------------------------------------------------------===//

#include "tools/common/Registration.h"

#include "dialect/NNDialect.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void nnc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::nn::NNDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect>();
}

void nnc::registerAllPasses() {
  static const bool registered = [] {
    mlir::registerTransformsPasses();
    nnc::registerNNPasses();
    return true;
  }();
  (void)registered;
}
