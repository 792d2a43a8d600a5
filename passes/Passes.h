//===- Passes.h - nnc passes ------------------------------------*- C++ -*-===//
//
// Part of nnc. Declares the pass constructors and options generated from
// Passes.td (e.g. nnc::createNNInferShapes()) and nnc::registerNNPasses().
//
//===----------------------------------------------------------------------===//

#ifndef NNC_PASSES_PASSES_H
#define NNC_PASSES_PASSES_H

#include "dialect/NNDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace nnc {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Fails with an error located at the first model input, parameter or op of a
/// model module in `root` whose floating-point element type is not f32: code
/// generation supports f32 models only (-nn-check-element-types).
mlir::LogicalResult checkCodegenElementTypes(mlir::ModuleOp root);

/// The model modules (`nn.model`) in `root`, `root` included, in walk order.
llvm::SmallVector<mlir::ModuleOp> modelModules(mlir::ModuleOp root);

} // namespace nnc

#endif // NNC_PASSES_PASSES_H
