//===- Registration.cpp - Dialects and passes of the nnc tools ------------===//
//
// Part of nnc.
//
//===----------------------------------------------------------------------===//

#include "tools/common/Registration.h"

#include "dialect/NNDialect.h"
#include "codegen/Passes.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Transforms/Passes.h"

void nnc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::nn::NNDialect, mlir::func::FuncDialect,
                  mlir::arith::ArithDialect, mlir::tensor::TensorDialect,
                  mlir::memref::MemRefDialect, mlir::linalg::LinalgDialect,
                  mlir::math::MathDialect, mlir::LLVM::LLVMDialect>();
  // The kernel IR (-nn-kernel-loops) and its GPU mapping (-nn-gpu-map).
  registry.insert<mlir::affine::AffineDialect, mlir::scf::SCFDialect, mlir::gpu::GPUDialect>();
}

void nnc::registerAllPasses() {
  static const bool registered = [] {
    mlir::registerAllPasses();
    nnc::registerNNPasses();
    nnc::registerNNCodegenPasses();
    return true;
  }();
  (void)registered;
}
