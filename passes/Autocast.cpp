//===- Autocast.cpp - -nn-autocast ----------------------------------------===//
//
// Part of nnc. Mixed precision for f16 and bf16 models, as PyTorch's autocast
// with f32 master weights: the model's tensors become f32 (so parameters,
// buffers, gradients, optimizer state and activations live in the arena as
// f32, and every generated kernel computes in f32), and its library ops
// (conv2d, linear and their backward ops) carry `nn.precision`, which the
// library backend turns into the mixed-precision kernels' precision argument
// (codegen/CPULibraryBackend.cpp, runtime/Kernels.h "Mixed precision"). The
// model module keeps its precision as `nn.precision`, which the model table
// reports (the weights file stores parameters in it). Recurrent layers stay
// f32 (their kernels have no reduced-precision variant).
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialect/NNOps.h"

#include "mlir/IR/BuiltinAttributes.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "nn-autocast"

namespace nnc {
#define GEN_PASS_DEF_NNAUTOCAST
#include "passes/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

/// The name of a model's and a library op's precision attribute.
constexpr StringLiteral kPrecision = "nn.precision";

/// `type` with `low` (as element type or scalar) replaced by f32.
Type toF32(Type type, FloatType low) {
  Type f32 = Float32Type::get(type.getContext());
  if (type == low)
    return f32;
  if (auto shaped = dyn_cast<ShapedType>(type))
    if (shaped.getElementType() == low)
      return shaped.clone(f32);
  if (auto fn = dyn_cast<FunctionType>(type)) {
    SmallVector<Type> inputs, results;
    for (Type t : fn.getInputs())
      inputs.push_back(toF32(t, low));
    for (Type t : fn.getResults())
      results.push_back(toF32(t, low));
    return FunctionType::get(type.getContext(), inputs, results);
  }
  return type;
}

/// A constant's value with `low` elements converted to f32 (exactly: f16 and
/// bf16 values are f32 values).
Attribute constantToF32(Attribute value, FloatType low) {
  auto toSingle = [](APFloat v) {
    bool losesInfo = false;
    v.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven, &losesInfo);
    return v;
  };
  Type f32 = Float32Type::get(value.getContext());
  if (auto f = dyn_cast<FloatAttr>(value); f && f.getType() == low)
    return FloatAttr::get(f32, toSingle(f.getValue()));
  if (auto dense = dyn_cast<DenseFPElementsAttr>(value); dense && dense.getElementType() == low)
    return dense.mapValues(f32, [&](const APFloat &v) { return toSingle(v).bitcastToAPInt(); });
  return value;
}

/// Rewrites every `low` type of `model` to f32: function types, block
/// arguments, op results, parameter declarations and constants.
void convertModel(ModuleOp model, FloatType low) {
  model.walk([&](Operation *op) {
    if (auto fn = dyn_cast<func::FuncOp>(op))
      fn.setFunctionType(cast<FunctionType>(toF32(fn.getFunctionType(), low)));
    if (auto param = dyn_cast<nn::ParamOp>(op))
      param.setType(cast<RankedTensorType>(toF32(param.getType(), low)));
    if (auto constant = dyn_cast<arith::ConstantOp>(op))
      constant.setValueAttr(cast<TypedAttr>(constantToF32(constant.getValue(), low)));
    for (Region &region : op->getRegions())
      for (Block &block : region)
        for (BlockArgument arg : block.getArguments())
          arg.setType(toF32(arg.getType(), low));
    for (OpResult result : op->getResults())
      result.setType(toF32(result.getType(), low));
  });
}

/// Marks the library ops of a model with `nn.precision`.
void markLibraryOps(ModuleOp model, StringAttr precision) {
  model.walk([&](Operation *op) {
    if (isa<nn::Conv2dOp, nn::LinearOp, nn::Conv2dBackwardOp, nn::LinearBackwardOp>(op) &&
        !op->hasAttr(kPrecision))
      op->setAttr(kPrecision, precision);
  });
}

struct AutocastPass : public nnc::impl::NNAutocastBase<AutocastPass> {
  void runOnOperation() override {
    if (failed(nnc::autocastModels(getOperation())))
      signalPassFailure();
  }
};

} // namespace

LogicalResult nnc::autocastModels(ModuleOp root) {
  SmallVector<ModuleOp> models;
  root->walk([&](ModuleOp m) {
    if (m->hasAttr("nn.model"))
      models.push_back(m);
  });
  for (ModuleOp model : models) {
    FailureOr<FloatType> low = modelFloatType(model);
    if (failed(low))
      return failure();
    if (*low) {
      std::string name;
      llvm::raw_string_ostream(name) << *low;
      LLVM_DEBUG(llvm::dbgs() << "autocast: " << name << " model to f32 storage\n");
      convertModel(model, *low);
      model->setAttr(kPrecision, StringAttr::get(model.getContext(), name));
    }
    if (auto precision = model->getAttrOfType<StringAttr>(kPrecision))
      markLibraryOps(model, precision);
  }
  return success();
}
