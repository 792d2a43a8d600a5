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
/// model module in `root` whose floating-point element type code generation
/// cannot handle: a type other than f32, f16 and bf16, or a second reduced
/// type in one model (-nn-check-element-types).
mlir::LogicalResult checkCodegenElementTypes(mlir::ModuleOp root);

/// The model modules (`nn.model`) in `root`, `root` included, in walk order.
llvm::SmallVector<mlir::ModuleOp> modelModules(mlir::ModuleOp root);
/// The float type a model module computes in besides f32 (f16 or bf16), null
/// for an f32 model; fails as checkCodegenElementTypes does.
mlir::FailureOr<mlir::FloatType> modelFloatType(mlir::ModuleOp model);

/// -nn-autocast on every model module in `root`: a model of f16 or bf16
/// tensors is rewritten to f32 tensors (its master weights, activations and
/// gradients) with the module attribute `nn.precision` ("bf16" or "f16"), and
/// every conv2d/linear (forward or backward) of a model with `nn.precision`
/// gets the same attribute, which selects the precision of its library
/// kernel. Idempotent; the passes that generate code run it first.
mlir::LogicalResult autocastModels(mlir::ModuleOp root);

} // namespace nnc

#endif // NNC_PASSES_PASSES_H
