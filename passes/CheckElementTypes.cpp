//===- CheckElementTypes.cpp - -nn-check-element-types --------------------===//
//
// Part of nnc. Code generation supports models of one floating-point type:
// f32, or f16/bf16, which -nn-autocast turns into f32 storage with library ops
// computing in that precision (docs/design.md "Reduced precision"). This
// check finds a model's float type and refuses a model that mixes two
// reduced types or has any other float type, with an error located at the
// model input, parameter or layer that has it. -nn-autocast (which
// -nn-autodiff, -nn-lower-to-linalg and -nn-lower-to-buffers run first) runs
// it, so every command that generates code refuses such a model before
// lowering anything.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

#define DEBUG_TYPE "nn-check-element-types"

namespace nnc {
#define GEN_PASS_DEF_NNCHECKELEMENTTYPES
#include "passes/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

/// The floating-point element type of `type` if it is not f32, else null.
FloatType reducedFloat(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  auto elem = dyn_cast<FloatType>(shaped ? shaped.getElementType() : type);
  return elem && !elem.isF32() ? elem : FloatType();
}

std::string typeName(Type type) {
  std::string name;
  llvm::raw_string_ostream(name) << type;
  return name;
}

/// The model's float type while it is checked: the first non-f32 float type
/// seen and what had it.
struct FloatTypeCheck {
  FloatType found;
  std::string foundWhat;

  /// Accepts `elem` (non-f32) of `what` at `loc` if it is f16 or bf16 and
  /// the same as every earlier one; else reports why not.
  LogicalResult accept(Location loc, const Twine &what, FloatType elem) {
    if (!elem.isF16() && !elem.isBF16())
      return emitError(loc) << what << " has type " << typeName(elem)
                            << "; nnc generates code for f32, f16 and bf16 models only";
    if (!found) {
      found = elem;
      foundWhat = what.str();
      return success();
    }
    if (found == elem)
      return success();
    return emitError(loc) << what << " has type " << typeName(elem) << ", but " << foundWhat
                          << " has type " << typeName(found)
                          << "; a model computes in one floating-point type";
  }
};

/// Checks one model module: the arguments of its functions (model inputs
/// first), then its parameters and ops in order.
FailureOr<FloatType> checkModel(ModuleOp model) {
  FloatTypeCheck check;
  for (auto fn : model.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      continue;
    for (BlockArgument arg : fn.getArguments())
      if (FloatType elem = reducedFloat(arg.getType())) {
        auto name = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "nn.name");
        if (failed(check.accept(arg.getLoc(),
                                "input '" + (name ? name.getValue() : StringRef("?")) + "'", elem)))
          return failure();
      }
  }
  // Pre-order, so that the bodies of linalg ops (scalar code nnc generated
  // itself, e.g. Adam's f64 bias corrections) are not checked.
  WalkResult result = model.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (auto param = dyn_cast<nn::ParamOp>(op)) {
      if (FloatType elem = reducedFloat(param.getType()))
        if (failed(check.accept(op->getLoc(), "parameter '" + param.getSymName() + "'", elem)))
          return WalkResult::interrupt();
      return WalkResult::advance();
    }
    // Code that -nn-lower-to-linalg generated (linalg, tensor and scf ops,
    // the scalars of their bodies, their constants) chooses its own internal
    // types, e.g. f64 statistics and accumulators, i32 argmax: only the
    // model's tensors count.
    StringRef dialect = op->getDialect() ? op->getDialect()->getNamespace() : "";
    if (dialect == "linalg" || dialect == "tensor" || dialect == "scf" ||
        isa<nn::KernelOp>(op))
      return WalkResult::skip();
    if (isa<arith::ConstantOp>(op) && !isa<ShapedType>(op->getResult(0).getType()))
      return WalkResult::advance();
    for (Type t : op->getResultTypes())
      if (FloatType elem = isa<ShapedType>(t) ? reducedFloat(t) : FloatType()) {
        auto name = op->getAttrOfType<StringAttr>("name");
        std::string what = name ? "layer '" + name.str() + "' (" +
                                      op->getName().getStringRef().str() + ")"
                                : "'" + op->getName().getStringRef().str() + "'";
        if (failed(check.accept(op->getLoc(), what, elem)))
          return WalkResult::interrupt();
      }
    return isa<linalg::LinalgOp>(op) ? WalkResult::skip() : WalkResult::advance();
  });
  if (result.wasInterrupted())
    return failure();
  return check.found;
}

struct CheckElementTypesPass
    : public nnc::impl::NNCheckElementTypesBase<CheckElementTypesPass> {
  void runOnOperation() override {
    if (failed(nnc::checkCodegenElementTypes(getOperation())))
      signalPassFailure();
  }
};

} // namespace

FailureOr<FloatType> nnc::modelFloatType(ModuleOp model) { return checkModel(model); }

SmallVector<ModuleOp> nnc::modelModules(ModuleOp root) {
  SmallVector<ModuleOp> models;
  root->walk([&](ModuleOp m) {
    if (m->hasAttr("nn.model"))
      models.push_back(m);
  });
  return models;
}

LogicalResult nnc::checkCodegenElementTypes(ModuleOp root) {
  for (ModuleOp model : modelModules(root))
    if (failed(checkModel(model)))
      return failure();
  return success();
}
