//===- CheckElementTypes.cpp - -nn-check-element-types --------------------===//
//
// Part of nnc. Code generation supports f32 models only: this check refuses
// any other floating-point type (f16, bf16) with an error located at the
// model input, parameter or layer that has it. The autodiff pass and
// -nn-lower-to-buffers run it first, so every command that generates code
// refuses such a model before lowering anything.
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
FloatType unsupportedFloat(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  auto elem = dyn_cast<FloatType>(shaped ? shaped.getElementType() : type);
  return elem && !elem.isF32() ? elem : FloatType();
}

/// Reports `what` (e.g. "input 'x'") having element type `elem` at `loc`.
LogicalResult refuse(Location loc, const Twine &what, FloatType elem) {
  std::string name;
  llvm::raw_string_ostream(name) << elem;
  return emitError(loc) << what << " has type " << name
                        << "; nnc generates code for f32 models only (reduced "
                           "precision is not implemented yet)";
}

/// Checks one model module: the arguments of its functions (model inputs
/// first), then its parameters and ops in order.
LogicalResult checkModel(ModuleOp model) {
  for (auto fn : model.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      continue;
    for (BlockArgument arg : fn.getArguments())
      if (FloatType elem = unsupportedFloat(arg.getType())) {
        auto name = fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "nn.name");
        return refuse(arg.getLoc(),
                      "input '" + (name ? name.getValue() : StringRef("?")) + "'", elem);
      }
  }
  // Pre-order, so that the bodies of linalg ops (scalar code nnc generated
  // itself, e.g. Adam's f64 bias corrections) are not checked.
  WalkResult result = model.walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (auto param = dyn_cast<nn::ParamOp>(op)) {
      if (FloatType elem = unsupportedFloat(param.getType())) {
        (void)refuse(op->getLoc(), "parameter '" + param.getSymName() + "'", elem);
        return WalkResult::interrupt();
      }
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
      if (FloatType elem = isa<ShapedType>(t) ? unsupportedFloat(t) : FloatType()) {
        auto name = op->getAttrOfType<StringAttr>("name");
        std::string what = name ? "layer '" + name.str() + "' (" +
                                      op->getName().getStringRef().str() + ")"
                                : "'" + op->getName().getStringRef().str() + "'";
        (void)refuse(op->getLoc(), what, elem);
        return WalkResult::interrupt();
      }
    return isa<linalg::LinalgOp>(op) ? WalkResult::skip() : WalkResult::advance();
  });
  return failure(result.wasInterrupted());
}

struct CheckElementTypesPass
    : public nnc::impl::NNCheckElementTypesBase<CheckElementTypesPass> {
  void runOnOperation() override {
    if (failed(nnc::checkCodegenElementTypes(getOperation())))
      signalPassFailure();
  }
};

} // namespace

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
