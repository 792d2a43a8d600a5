//===- NNTrainOps.cpp - Training ops of the nn dialect --------------------===//
//
// Part of nnc. Type inference, verifiers and cost models of the ops in
// NNTrainOps.td: training-mode forward ops, backward ops, optimizer updates
// and nn.param_assign. Shapes go through dialect/ShapeRules.h; a backward op
// checks its result gradient against the shape of the forward result.
//
//===----------------------------------------------------------------------===//

#include "dialect/NNInferCtx.h"
#include "dialect/NNOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/STLExtras.h"

#include <cmath>
#include <initializer_list>

using namespace mlir;
using namespace mlir::nn;
namespace shape = nnc::shape;
using nn::detail::ctxFor;
using nn::detail::InferCtx;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

/// Whether `a` and `b` have the same rank and dimensions (a dynamic
/// dimension matches any size).
bool compatible(ArrayRef<int64_t> a, ArrayRef<int64_t> b) {
  if (a.size() != b.size())
    return false;
  for (auto [x, y] : llvm::zip_equal(a, b))
    if (x != y && x != shape::kDynamic && y != shape::kDynamic)
      return false;
  return true;
}

/// Checks that the result gradient `grad` has the forward result's shape
/// `expected`.
LogicalResult expectGrad(const InferCtx &ctx, RankedTensorType grad,
                         ArrayRef<int64_t> expected) {
  if (compatible(grad.getShape(), expected))
    return success();
  return ctx.fail(
      "expects the result gradient of shape " + shape::formatShape(expected) +
      " (the forward result's), got " + shape::formatShape(grad.getShape()));
}

/// Product of `factors`; nullopt if one is missing or it overflows.
std::optional<int64_t>
product(std::initializer_list<std::optional<int64_t>> factors) {
  int64_t result = 1;
  for (std::optional<int64_t> f : factors)
    if (!f || *f < 0 || llvm::MulOverflow(result, *f, result))
      return std::nullopt;
  return result;
}

/// Sum of `terms`; nullopt if one is missing or it overflows.
std::optional<int64_t>
sum(std::initializer_list<std::optional<int64_t>> terms) {
  int64_t result = 0;
  for (std::optional<int64_t> t : terms)
    if (!t || llvm::AddOverflow(result, *t, result))
      return std::nullopt;
  return result;
}

/// Element count of a static tensor value.
std::optional<int64_t> numElements(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t || !t.hasStaticShape())
    return std::nullopt;
  return shape::checkedNumElements(t.getShape());
}

/// Dimension `i` of a static tensor value.
std::optional<int64_t> dim(Value v, unsigned i) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  if (!t || !t.hasStaticShape() || i >= t.getRank())
    return std::nullopt;
  return t.getDimSize(i);
}

/// The [N, C] vector type of per-channel statistics for an input `in`.
RankedTensorType channelType(RankedTensorType in) {
  return RankedTensorType::get({in.getDimSize(1)}, in.getElementType());
}

/// Checks eps > 0 and momentum in [0, 1] (batchnorm attributes).
LogicalResult verifyBatchNormAttrs(Operation *op, double eps, double momentum) {
  if (!(eps > 0.0 && std::isfinite(eps)))
    return op->emitOpError("eps must be positive, got ") << eps;
  if (!(momentum >= 0.0 && momentum <= 1.0))
    return op->emitOpError("momentum must be in [0, 1], got ") << momentum;
  return success();
}

/// Checks that p is a dropout probability in [0, 1).
LogicalResult verifyDropoutP(Operation *op, double p) {
  if (!(p >= 0.0 && p < 1.0))
    return op->emitOpError("probability p must be in [0, 1), got ") << p;
  return success();
}

/// Checks a non-negative, finite weight decay.
LogicalResult verifyWeightDecay(Operation *op, double wd) {
  if (!(wd >= 0.0 && std::isfinite(wd)))
    return op->emitOpError("weight_decay must be finite and non-negative, "
                           "got ")
           << wd;
  return success();
}

/// Checks a distillation loss's temperature (> 0, finite) and alpha
/// (in [0, 1]).
LogicalResult verifyDistill(Operation *op, double temperature, double alpha) {
  if (!(temperature > 0.0 && std::isfinite(temperature)))
    return op->emitOpError("temperature must be finite and positive, got ") << temperature;
  if (!(alpha >= 0.0 && alpha <= 1.0))
    return op->emitOpError("alpha must be in [0, 1], got ") << alpha;
  return success();
}

/// The type of a distillation loss's student logits [N, C], checked against
/// the teacher's (the same shape) and the labels [N].
FailureOr<RankedTensorType> inferDistill(const InferCtx &ctx, Value logits, Value teacher,
                                         Value labels) {
  FailureOr<RankedTensorType> s = ctx.tensor(logits, "logits");
  FailureOr<RankedTensorType> l = ctx.tensor(labels, "labels");
  if (failed(s) || failed(l))
    return failure();
  std::string err;
  if (failed(shape::inferCrossEntropy(s->getShape(), l->getShape(), err,
                                      /*allowSequence=*/false)))
    return ctx.fail(err);
  if (failed(ctx.expectShape(teacher, s->getShape(), "teacher logits")) ||
      failed(ctx.sameElementType(s->getElementType(), teacher)))
    return failure();
  return *s;
}

/// Checks 0 <= dim < rank for softmax-like ops.
LogicalResult verifyDim(Operation *op, int64_t dimension, Value input) {
  int64_t rank = cast<RankedTensorType>(input.getType()).getRank();
  if (dimension >= rank)
    return op->emitOpError("dim ")
           << dimension << " is out of range for a " << rank << "-d input";
  return success();
}

/// Checks the nonlinearity of rnn ops.
LogicalResult verifyNonlinearity(Operation *op, StringRef nonlinearity) {
  if (nonlinearity != "tanh" && nonlinearity != "relu")
    return op->emitOpError("nonlinearity must be \"tanh\" or \"relu\", got \"")
           << nonlinearity << "\"";
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// Recurrent helpers called by generated code
//===----------------------------------------------------------------------===//

shape::RecurrentParams
nn::detail::recurrentParams(shape::RecurrentKind kind, IntegerAttr hiddenSize,
                            int64_t numLayers, bool bidirectional,
                            bool returnSequences, bool hasBias) {
  return {kind,
          hiddenSize ? hiddenSize.getValue().getSExtValue() : 0,
          numLayers,
          bidirectional,
          returnSequences,
          hasBias};
}

LogicalResult nn::detail::inferRecurrentTrainTypes(
    StringRef opName, std::optional<Location> loc, Value input,
    ValueRange weights, const shape::RecurrentParams &params,
    std::optional<StringRef> layer, SmallVectorImpl<Type> &types) {
  if (failed(inferRecurrentTypes(opName, loc, input, weights, params, layer,
                                 types)))
    return failure();
  InferCtx ctx(opName, loc, layer);
  auto in = cast<RankedTensorType>(input.getType());
  std::string err;
  FailureOr<shape::Shape> saved =
      shape::recurrentSavedStateShape(in.getShape(), params, err);
  return ctx.result(saved, err, in.getElementType(), types);
}

LogicalResult nn::detail::inferRecurrentBackwardTypes(
    StringRef opName, std::optional<Location> loc, Value grad, Value input,
    Value saved, ValueRange weights, const shape::RecurrentParams &params,
    bool needsInputGrad, std::optional<StringRef> layer,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx(opName, loc, layer);
  SmallVector<Type, 2> forward;
  if (failed(inferRecurrentTrainTypes(opName, loc, input, weights, params,
                                      layer, forward)))
    return failure();
  FailureOr<RankedTensorType> g = ctx.tensor(grad, "grad");
  FailureOr<RankedTensorType> s = ctx.tensor(saved, "saved");
  if (failed(g) || failed(s) ||
      failed(
          expectGrad(ctx, *g, cast<RankedTensorType>(forward[0]).getShape())))
    return failure();
  ArrayRef<int64_t> expectedSaved =
      cast<RankedTensorType>(forward[1]).getShape();
  if (!compatible(s->getShape(), expectedSaved))
    return ctx.fail("expects a saved state of shape " +
                    shape::formatShape(expectedSaved) + ", got " +
                    shape::formatShape(s->getShape()));
  if (needsInputGrad)
    types.push_back(input.getType());
  for (Value w : weights)
    types.push_back(w.getType());
  return success();
}

//===----------------------------------------------------------------------===//
// Training-mode forward ops
//===----------------------------------------------------------------------===//

LogicalResult DropoutTrainOp::inferReturnTypes(MLIRContext *context,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<DropoutTrainOp>(loc, adaptor);
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  types.push_back(*in);
  types.push_back(in->clone(IntegerType::get(context, 8)));
  return success();
}

LogicalResult DropoutTrainOp::verify() {
  return verifyDropoutP(*this, getP().convertToDouble());
}

std::optional<int64_t> DropoutTrainOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 2);
}
SmallVector<Value> DropoutTrainOp::getSavedForBackward() { return {getMask()}; }

LogicalResult BatchNormTrainOp::inferReturnTypes(MLIRContext *,
                                                 std::optional<Location> loc,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<BatchNormTrainOp>(loc, adaptor);
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  std::string err;
  if (failed(shape::inferBatchNorm(in->getShape(), err)))
    return ctx.fail(err);
  int64_t c = in->getDimSize(1);
  if (failed(ctx.expectShape(adaptor.getWeight(), {c}, "weight")) ||
      failed(ctx.expectShape(adaptor.getBias(), {c}, "bias")) ||
      failed(ctx.expectShape(adaptor.getRunningMean(), {c}, "running_mean")) ||
      failed(ctx.expectShape(adaptor.getRunningVar(), {c}, "running_var")) ||
      failed(ctx.sameElementType(in->getElementType(), adaptor.getOperands())))
    return failure();
  types.push_back(*in);
  types.append(4, channelType(*in));
  return success();
}

LogicalResult BatchNormTrainOp::verify() {
  return verifyBatchNormAttrs(*this, getEps().convertToDouble(),
                              getMomentum().convertToDouble());
}

std::optional<int64_t> BatchNormTrainOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 4);
}
bool BatchNormTrainOp::hasTrainableWeights() { return true; }
SmallVector<Value> BatchNormTrainOp::getSavedForBackward() {
  return {getInput(), getBatchMean(), getBatchInvstd()};
}

LogicalResult RNNTrainOp::verify() {
  return verifyNonlinearity(*this, getNonlinearity());
}

//===----------------------------------------------------------------------===//
// Backward of the layers with weights
//===----------------------------------------------------------------------===//

LogicalResult Conv2dBackwardOp::inferReturnTypes(MLIRContext *,
                                                 std::optional<Location> loc,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<Conv2dBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  if (failed(grad))
    return failure();
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  FailureOr<RankedTensorType> weight =
      ctx.tensor(adaptor.getWeight(), "weight");
  FailureOr<std::array<int64_t, 2>> stride =
      ctx.pair(adaptor.getStrideAttr(), "stride");
  FailureOr<std::array<int64_t, 2>> padding =
      ctx.pair(adaptor.getPaddingAttr(), "padding");
  FailureOr<std::array<int64_t, 2>> dilation =
      ctx.pair(adaptor.getDilationAttr(), "dilation");
  if (failed(in) || failed(weight) || failed(stride) || failed(padding) ||
      failed(dilation))
    return failure();
  ArrayRef<int64_t> ws = weight->getShape();
  if (ws.size() != 4)
    return ctx.fail("expects a 4-d weight [O, C/groups, KH, KW], got " +
                    shape::formatShape(ws));
  shape::Conv2dParams params;
  params.outChannels = ws[0];
  params.kernel = {ws[2], ws[3]};
  params.stride = *stride;
  params.padding = *padding;
  params.dilation = *dilation;
  params.groups = static_cast<int64_t>(adaptor.getGroups());
  std::string err;
  FailureOr<shape::Shape> forward =
      shape::inferConv2d(in->getShape(), params, err);
  if (failed(forward))
    return ctx.fail(err);
  if (failed(ctx.expectShape(
          adaptor.getWeight(),
          shape::conv2dWeightShape(in->getDimSize(1), params), "weight")) ||
      failed(
          ctx.sameElementType(in->getElementType(), adaptor.getOperands())) ||
      failed(expectGrad(ctx, *grad, *forward)))
    return failure();
  auto w = cast<RankedTensorType>(adaptor.getWeight().getType());
  if (adaptor.getNeedsInputGrad())
    types.push_back(adaptor.getInput().getType());
  types.push_back(w);
  if (adaptor.getNeedsBiasGrad())
    types.push_back(
        RankedTensorType::get({w.getDimSize(0)}, w.getElementType()));
  return success();
}

std::optional<int64_t> Conv2dBackwardOp::getForwardFlops() {
  std::optional<int64_t> out = numElements(getGrad());
  std::optional<int64_t> macs = product(
      {2, out, dim(getWeight(), 1), dim(getWeight(), 2), dim(getWeight(), 3)});
  return sum({getNeedsInputGrad() ? macs : std::optional<int64_t>(0), macs,
              getNeedsBiasGrad() ? out : std::optional<int64_t>(0)});
}

LogicalResult LinearBackwardOp::inferReturnTypes(MLIRContext *,
                                                 std::optional<Location> loc,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<LinearBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  if (failed(grad))
    return failure();
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  FailureOr<RankedTensorType> weight =
      ctx.tensor(adaptor.getWeight(), "weight");
  if (failed(in) || failed(weight))
    return failure();
  ArrayRef<int64_t> ws = weight->getShape();
  if (ws.size() != 2)
    return ctx.fail("expects a 2-d weight [out, in], got " +
                    shape::formatShape(ws));
  std::string err;
  FailureOr<shape::Shape> forward =
      shape::inferLinear(in->getShape(), ws[1], ws[0], err);
  if (failed(forward))
    return ctx.fail(err);
  if (failed(
          ctx.sameElementType(in->getElementType(), adaptor.getOperands())) ||
      failed(expectGrad(ctx, *grad, *forward)))
    return failure();
  auto w = cast<RankedTensorType>(adaptor.getWeight().getType());
  if (adaptor.getNeedsInputGrad())
    types.push_back(adaptor.getInput().getType());
  types.push_back(w);
  if (adaptor.getNeedsBiasGrad())
    types.push_back(
        RankedTensorType::get({w.getDimSize(0)}, w.getElementType()));
  return success();
}

std::optional<int64_t> LinearBackwardOp::getForwardFlops() {
  std::optional<int64_t> out = numElements(getGrad());
  std::optional<int64_t> macs = product({2, out, dim(getWeight(), 1)});
  return sum({getNeedsInputGrad() ? macs : std::optional<int64_t>(0), macs,
              getNeedsBiasGrad() ? out : std::optional<int64_t>(0)});
}

LogicalResult EmbeddingBackwardOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<EmbeddingBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  FailureOr<RankedTensorType> ids = ctx.tensor(adaptor.getIds(), "ids");
  if (failed(grad) || failed(ids))
    return failure();
  int64_t num = adaptor.getNumEmbeddingsAttr()
                    ? adaptor.getNumEmbeddingsAttr().getValue().getSExtValue()
                    : 0;
  int64_t dimSize = grad->getRank() ? grad->getShape().back() : 0;
  std::string err;
  FailureOr<shape::Shape> forward =
      shape::inferEmbedding(ids->getShape(), num, dimSize, err);
  if (failed(forward))
    return ctx.fail(err);
  if (failed(expectGrad(ctx, *grad, *forward)))
    return failure();
  types.push_back(
      RankedTensorType::get({num, dimSize}, grad->getElementType()));
  return success();
}

std::optional<int64_t> EmbeddingBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getGrad(), 1);
}

LogicalResult PosEmbeddingBackwardOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                       Adaptor adaptor,
                                                       SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<PosEmbeddingBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  if (failed(grad))
    return failure();
  int64_t num =
      adaptor.getNumPositionsAttr() ? adaptor.getNumPositionsAttr().getValue().getSExtValue() : 0;
  int64_t dimSize = grad->getRank() ? grad->getShape().back() : 0;
  std::string err;
  if (failed(shape::inferPosEmbedding(grad->getShape(), num, dimSize, err)))
    return ctx.fail(err);
  types.push_back(RankedTensorType::get({num, dimSize}, grad->getElementType()));
  return success();
}

std::optional<int64_t> PosEmbeddingBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getGrad(), 1);
}

LogicalResult LayerNormBackwardOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                    Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<LayerNormBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  std::string err;
  if (failed(shape::inferLayerNorm(in->getShape(), err)))
    return ctx.fail(err);
  if (failed(ctx.expectShape(adaptor.getGrad(), in->getShape(), "grad")))
    return failure();
  ValueRange weight = adaptor.getWeight();
  if (weight.size() > 1)
    return ctx.fail("expects at most one weight, got " + std::to_string(weight.size()));
  int64_t d = in->getShape().back();
  if (!weight.empty() && failed(ctx.expectShape(weight[0], {d}, "weight")))
    return failure();
  if (failed(ctx.sameElementType(in->getElementType(), adaptor.getOperands())))
    return failure();
  types.push_back(*in);
  if (!weight.empty())
    types.append(2, weight[0].getType());
  return success();
}

LogicalResult LayerNormBackwardOp::verify() {
  double eps = getEps().convertToDouble();
  if (!(eps > 0.0 && std::isfinite(eps)))
    return emitOpError("eps must be positive, got ") << eps;
  return success();
}

std::optional<int64_t> LayerNormBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getInput(), 10);
}

LogicalResult BatchNormBackwardOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<BatchNormBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(grad) || failed(in))
    return failure();
  std::string err;
  if (failed(shape::inferBatchNorm(in->getShape(), err)))
    return ctx.fail(err);
  if (failed(expectGrad(ctx, *grad, in->getShape())))
    return failure();
  int64_t c = in->getDimSize(1);
  if (failed(ctx.expectShape(adaptor.getWeight(), {c}, "weight")) ||
      failed(ctx.expectShape(adaptor.getBatchMean(), {c}, "batch_mean")) ||
      failed(ctx.expectShape(adaptor.getBatchInvstd(), {c}, "batch_invstd")) ||
      failed(ctx.sameElementType(in->getElementType(), adaptor.getOperands())))
    return failure();
  types.push_back(*in);
  types.append(2, channelType(*in));
  return success();
}

std::optional<int64_t> BatchNormBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getInput(), 8);
}

LogicalResult RNNBackwardOp::verify() {
  return verifyNonlinearity(*this, getNonlinearity());
}

//===----------------------------------------------------------------------===//
// Backward of elementwise ops
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxBackwardOp::verify() {
  return verifyDim(*this, getDim(), getGrad());
}

LogicalResult LogSoftmaxBackwardOp::verify() {
  return verifyDim(*this, getDim(), getGrad());
}

LogicalResult
DropoutBackwardOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                    Adaptor adaptor,
                                    SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<DropoutBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  FailureOr<RankedTensorType> mask = ctx.tensor(adaptor.getMask(), "mask");
  if (failed(grad) || failed(mask))
    return failure();
  if (!compatible(grad->getShape(), mask->getShape()))
    return ctx.fail("expects a mask of the gradient's shape " +
                    shape::formatShape(grad->getShape()) + ", got " +
                    shape::formatShape(mask->getShape()));
  types.push_back(*grad);
  return success();
}

LogicalResult DropoutBackwardOp::verify() {
  return verifyDropoutP(*this, getP().convertToDouble());
}

std::optional<int64_t> DropoutBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 1);
}

//===----------------------------------------------------------------------===//
// Backward of pooling and shape manipulation
//===----------------------------------------------------------------------===//

/// Checks that pooling `input` with the attributes gives `grad`'s shape.
static LogicalResult checkPooled(const InferCtx &ctx, RankedTensorType input,
                                 RankedTensorType grad,
                                 DenseI64ArrayAttr kernel,
                                 DenseI64ArrayAttr stride,
                                 DenseI64ArrayAttr padding) {
  FailureOr<std::array<int64_t, 2>> k = ctx.pair(kernel, "kernel");
  FailureOr<std::array<int64_t, 2>> s = ctx.pair(stride, "stride");
  FailureOr<std::array<int64_t, 2>> p = ctx.pair(padding, "padding");
  if (failed(k) || failed(s) || failed(p))
    return failure();
  std::string err;
  FailureOr<shape::Shape> pooled =
      shape::inferPool2d(input.getShape(), {*k, *s, *p}, err);
  if (failed(pooled))
    return ctx.fail(err);
  return expectGrad(ctx, grad, *pooled);
}

LogicalResult MaxPool2dBackwardOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<MaxPool2dBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  FailureOr<RankedTensorType> in = ctx.tensor(adaptor.getInput(), "input");
  if (failed(grad) || failed(in) ||
      failed(checkPooled(ctx, *in, *grad, adaptor.getKernelAttr(),
                         adaptor.getStrideAttr(), adaptor.getPaddingAttr())))
    return failure();
  types.push_back(*in);
  return success();
}

std::optional<int64_t> MaxPool2dBackwardOp::getForwardFlops() {
  return nn::detail::pool2dFlops(getGrad(), getKernel());
}

LogicalResult AvgPool2dBackwardOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<AvgPool2dBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  FailureOr<std::array<int64_t, 2>> size =
      ctx.pair(adaptor.getInputSizeAttr(), "input_size");
  if (failed(grad) || failed(size))
    return failure();
  if (grad->getRank() != 4)
    return ctx.fail("expects a 4-d gradient [N, C, H', W'], got " +
                    shape::formatShape(grad->getShape()));
  auto in = RankedTensorType::get(
      {grad->getDimSize(0), grad->getDimSize(1), (*size)[0], (*size)[1]},
      grad->getElementType());
  if (failed(checkPooled(ctx, in, *grad, adaptor.getKernelAttr(),
                         adaptor.getStrideAttr(), adaptor.getPaddingAttr())))
    return failure();
  types.push_back(in);
  return success();
}

std::optional<int64_t> AvgPool2dBackwardOp::getForwardFlops() {
  return nn::detail::pool2dFlops(getGrad(), getKernel());
}

LogicalResult GlobalAvgPoolBackwardOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<GlobalAvgPoolBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  FailureOr<std::array<int64_t, 2>> size =
      ctx.pair(adaptor.getInputSizeAttr(), "input_size");
  if (failed(grad) || failed(size))
    return failure();
  if (grad->getRank() != 2)
    return ctx.fail("expects a 2-d gradient [N, C], got " +
                    shape::formatShape(grad->getShape()));
  shape::Shape in{grad->getDimSize(0), grad->getDimSize(1), (*size)[0],
                  (*size)[1]};
  std::string err;
  if (failed(shape::inferGlobalAvgPool(in, err)))
    return ctx.fail(err);
  types.push_back(RankedTensorType::get(in, grad->getElementType()));
  return success();
}

std::optional<int64_t> GlobalAvgPoolBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 1);
}

LogicalResult ConcatBackwardOp::inferReturnTypes(MLIRContext *,
                                                 std::optional<Location> loc,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<ConcatBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> grad = ctx.tensor(adaptor.getGrad(), "grad");
  if (failed(grad))
    return failure();
  DenseI64ArrayAttr sizes = adaptor.getSizesAttr();
  int64_t d =
      adaptor.getDimAttr() ? adaptor.getDimAttr().getValue().getSExtValue() : 0;
  if (d >= grad->getRank())
    return ctx.fail(Twine("dim ") + Twine(d) + " is out of range for a " +
                    Twine(grad->getRank()) + "-d gradient");
  if (!sizes || sizes.size() < 2 ||
      llvm::any_of(sizes.asArrayRef(), [](int64_t s) { return s <= 0; }))
    return ctx.fail("expects at least 2 positive sizes");
  std::optional<int64_t> total = 0;
  for (int64_t s : sizes.asArrayRef())
    total = sum({total, s});
  if (!total || *total != grad->getDimSize(d))
    return ctx.fail(Twine("expects sizes summing to ") +
                    Twine(grad->getDimSize(d)) + " (the gradient's dimension " +
                    Twine(d) + ")");
  for (int64_t s : sizes.asArrayRef()) {
    SmallVector<int64_t> part(grad->getShape());
    part[d] = s;
    types.push_back(grad->clone(part));
  }
  return success();
}

std::optional<int64_t> ConcatBackwardOp::getForwardFlops() { return 0; }

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

LogicalResult CrossEntropyBackwardOp::inferReturnTypes(
    MLIRContext *, std::optional<Location> loc, Adaptor adaptor,
    SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<CrossEntropyBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> logits =
      ctx.tensor(adaptor.getLogits(), "logits");
  FailureOr<RankedTensorType> labels =
      ctx.tensor(adaptor.getLabels(), "labels");
  if (failed(logits) || failed(labels))
    return failure();
  std::string err;
  if (failed(shape::inferCrossEntropy(logits->getShape(), labels->getShape(),
                                      err)))
    return ctx.fail(err);
  types.push_back(*logits);
  return success();
}

std::optional<int64_t> CrossEntropyBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getLogits(), 5);
}

LogicalResult MseBackwardOp::inferReturnTypes(MLIRContext *,
                                              std::optional<Location> loc,
                                              Adaptor adaptor,
                                              SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<MseBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> pred = ctx.tensor(adaptor.getPred(), "pred");
  if (failed(pred))
    return failure();
  types.push_back(*pred);
  return success();
}

std::optional<int64_t> MseBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getPred(), 3);
}

LogicalResult CountCorrectOp::inferReturnTypes(MLIRContext *context,
                                               std::optional<Location> loc,
                                               Adaptor adaptor,
                                               SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<CountCorrectOp>(loc, adaptor);
  FailureOr<RankedTensorType> logits =
      ctx.tensor(adaptor.getLogits(), "logits");
  FailureOr<RankedTensorType> labels =
      ctx.tensor(adaptor.getLabels(), "labels");
  if (failed(logits) || failed(labels))
    return failure();
  std::string err;
  if (failed(shape::inferCrossEntropy(logits->getShape(), labels->getShape(),
                                      err)))
    return ctx.fail(err);
  types.push_back(RankedTensorType::get({}, IntegerType::get(context, 64)));
  return success();
}

LogicalResult DistillLossOp::inferReturnTypes(MLIRContext *context, std::optional<Location> loc,
                                              Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<DistillLossOp>(loc, adaptor);
  if (failed(
          inferDistill(ctx, adaptor.getLogits(), adaptor.getTeacherLogits(), adaptor.getLabels())))
    return failure();
  types.push_back(RankedTensorType::get({}, Float32Type::get(context)));
  return success();
}

LogicalResult DistillLossOp::verify() {
  return verifyDistill(*this, getTemperature().convertToDouble(), getAlpha().convertToDouble());
}

std::optional<int64_t> DistillLossOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getLogits(), 12);
}

SmallVector<Value> DistillLossOp::getSavedForBackward() {
  return {getLogits(), getTeacherLogits(), getLabels()};
}

LogicalResult DistillLossBackwardOp::inferReturnTypes(MLIRContext *, std::optional<Location> loc,
                                                      Adaptor adaptor,
                                                      SmallVectorImpl<Type> &types) {
  InferCtx ctx = ctxFor<DistillLossBackwardOp>(loc, adaptor);
  FailureOr<RankedTensorType> logits =
      inferDistill(ctx, adaptor.getLogits(), adaptor.getTeacherLogits(), adaptor.getLabels());
  if (failed(logits))
    return failure();
  types.push_back(*logits);
  return success();
}

LogicalResult DistillLossBackwardOp::verify() {
  return verifyDistill(*this, getTemperature().convertToDouble(), getAlpha().convertToDouble());
}

std::optional<int64_t> DistillLossBackwardOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getLogits(), 10);
}

std::optional<int64_t> CountCorrectOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getLogits(), 1);
}

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

LogicalResult SgdUpdateOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location>,
                                            Adaptor adaptor,
                                            SmallVectorImpl<Type> &types) {
  types.push_back(adaptor.getParam().getType());
  return success();
}

LogicalResult SgdUpdateOp::verify() {
  return verifyWeightDecay(*this, getWeightDecay().convertToDouble());
}

std::optional<int64_t> SgdUpdateOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getParam(), 4);
}

LogicalResult MomentumUpdateOp::inferReturnTypes(MLIRContext *,
                                                 std::optional<Location>,
                                                 Adaptor adaptor,
                                                 SmallVectorImpl<Type> &types) {
  types.append(2, adaptor.getParam().getType());
  return success();
}

LogicalResult MomentumUpdateOp::verify() {
  double momentum = getMomentum().convertToDouble();
  if (!(momentum > 0.0 && momentum <= 1.0))
    return emitOpError("momentum must be in (0, 1], got ") << momentum;
  return verifyWeightDecay(*this, getWeightDecay().convertToDouble());
}

std::optional<int64_t> MomentumUpdateOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getParam(), 6);
}

LogicalResult AdamUpdateOp::inferReturnTypes(MLIRContext *,
                                             std::optional<Location>,
                                             Adaptor adaptor,
                                             SmallVectorImpl<Type> &types) {
  types.append(3, adaptor.getParam().getType());
  return success();
}

LogicalResult AdamUpdateOp::verify() {
  for (auto [name, beta] :
       {std::pair<StringRef, double>("beta1", getBeta1().convertToDouble()),
        {"beta2", getBeta2().convertToDouble()}})
    if (!(beta >= 0.0 && beta < 1.0))
      return emitOpError() << name << " must be in [0, 1), got " << beta;
  double eps = getEps().convertToDouble();
  if (!(eps > 0.0 && std::isfinite(eps)))
    return emitOpError("eps must be positive, got ") << eps;
  return verifyWeightDecay(*this, getWeightDecay().convertToDouble());
}

std::optional<int64_t> AdamUpdateOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getParam(), 12);
}

//===----------------------------------------------------------------------===//
// ParamAssignOp
//===----------------------------------------------------------------------===//

LogicalResult
ParamAssignOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  Operation *symbol =
      symbolTable.lookupNearestSymbolFrom(getOperation(), getSymAttr());
  if (!symbol)
    return emitOpError("writes unknown parameter ") << getSymAttr();
  auto param = dyn_cast<ParamOp>(symbol);
  if (!param)
    return emitOpError("writes ")
           << getSymAttr() << ", which is not an nn.param";
  if (param.getType() != getValue().getType())
    return emitOpError("value type ")
           << getValue().getType() << " does not match the type "
           << param.getType() << " of parameter " << getSymAttr();
  return success();
}

void ParamAssignOp::getEffects(
    SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
        &effects) {
  effects.emplace_back(MemoryEffects::Write::get(), getSymAttr());
}
