//===- NNGradients.cpp - GradientOpInterface of the nn ops ----------------===//
//
// Part of nnc. The reverse-mode rule of every differentiable nn op (see
// GradientOpInterface in NNInterfaces.td): each builds the backward op(s) of
// NNTrainOps.td at the builder's insertion point, with the forward op's
// location and layer name, and returns one gradient (or null) per operand.
//
//===----------------------------------------------------------------------===//

#include "dialect/NNOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Diagnostics.h"

#include <cassert>

using namespace mlir;
using namespace mlir::nn;

/// The result of a gradient rule.
using Grads = FailureOr<SmallVector<Value>>;

namespace {

/// Shared state of one rule: the forward op, the builder and the gradients
/// being returned (all null at first).
class Rule {
public:
  Rule(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
       ArrayRef<bool> need)
      : op(op), b(b), resultGrads(resultGrads), need(need),
        grads(op->getNumOperands()) {
    assert(resultGrads.size() == op->getNumResults() &&
           need.size() == op->getNumOperands() &&
           "one result gradient per result, one flag per operand");
  }

  /// dL/d(result 0); null if that result does not reach the loss.
  Value dy() const { return resultGrads.front(); }
  /// Whether the caller wants the gradient of operand `i`.
  bool needs(unsigned i) const { return i < need.size() && need[i]; }

  /// `name = value`.
  NamedAttribute attr(StringRef name, Attribute value) const {
    return b.getNamedAttr(name, value);
  }
  NamedAttribute i64(StringRef name, int64_t value) const {
    return attr(name, b.getI64IntegerAttr(value));
  }
  NamedAttribute unit(StringRef name) const {
    return attr(name, b.getUnitAttr());
  }
  NamedAttribute pair(StringRef name, int64_t h, int64_t w) const {
    return attr(name, b.getDenseI64ArrayAttr({h, w}));
  }

  /// Creates a backward op from operands and attributes (plus the forward
  /// layer's `name`), inferring its result types.
  template <typename OpTy>
  OpTy create(ValueRange operands, SmallVector<NamedAttribute> attrs = {}) {
    if (auto name = op->getAttrOfType<StringAttr>("name"))
      attrs.push_back(attr("name", name));
    return OpTy::create(b, op->getLoc(), operands, attrs);
  }

  /// The rule's result.
  Grads done() { return std::move(grads); }

  Operation *op;
  OpBuilder &b;
  ArrayRef<Value> resultGrads;
  ArrayRef<bool> need;
  SmallVector<Value> grads;
};

/// The rule of an elementwise op whose backward takes (dy, saved).
template <typename BackwardOp>
Grads unaryRule(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                ArrayRef<bool> need, Value saved,
                SmallVector<NamedAttribute> attrs = {}) {
  Rule r(op, b, resultGrads, need);
  if (r.dy())
    r.grads[0] = r.create<BackwardOp>({r.dy(), saved}, std::move(attrs));
  return r.done();
}

/// The rule of conv2d/linear: one backward op with optional dx and db.
template <typename BackwardOp>
Grads weightedRule(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                   ArrayRef<bool> need, Value input, Value weight, Value bias,
                   SmallVector<NamedAttribute> attrs = {}) {
  Rule r(op, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  if (r.needs(0))
    attrs.push_back(r.unit("needs_input_grad"));
  if (bias)
    attrs.push_back(r.unit("needs_bias_grad"));
  auto backward =
      r.create<BackwardOp>({r.dy(), input, weight}, std::move(attrs));
  r.grads[0] = backward.getInputGrad();
  r.grads[1] = backward.getWeightGrad();
  if (bias)
    r.grads[2] = backward.getBiasGrad();
  return r.done();
}

/// The rule of a recurrent training op: one BPTT op; dx only if needed.
template <typename BackwardOp, typename TrainOp>
Grads recurrentTrainRule(TrainOp op, OpBuilder &b, ArrayRef<Value> resultGrads,
                         ArrayRef<bool> need) {
  Rule r(op, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  SmallVector<NamedAttribute> attrs;
  for (NamedAttribute a : op->getAttrs())
    if (a.getName() != "name")
      attrs.push_back(a);
  if (r.needs(0))
    attrs.push_back(r.unit("needs_input_grad"));
  SmallVector<Value> operands{r.dy(), op.getInput(), op.getSaved()};
  llvm::append_range(operands, op.getWeights());
  auto backward = r.create<BackwardOp>(operands, std::move(attrs));
  r.grads[0] = backward.getInputGrad();
  for (auto [i, g] : llvm::enumerate(backward.getWeightGrads()))
    r.grads[1 + i] = g;
  return r.done();
}

/// The rule of an inference recurrent op: recomputes the layer in training
/// mode (to get the saved state) and differentiates that.
template <typename TrainOp>
Grads recurrentRule(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                    ArrayRef<bool> need) {
  auto train =
      TrainOp::create(b, op->getLoc(), op->getOperands(), op->getAttrs());
  return train.buildGradient(b, {resultGrads.front(), Value()}, need);
}

/// The rule of ops that only reshape: reshape dy back to the input's shape.
Grads reshapeRule(Operation *op, OpBuilder &b, ArrayRef<Value> resultGrads,
                  ArrayRef<bool> need, Value input) {
  Rule r(op, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  auto in = cast<RankedTensorType>(input.getType());
  r.grads[0] = r.create<ReshapeOp>(
      {r.dy()},
      {r.attr("shape", b.getDenseI64ArrayAttr(in.getShape().drop_front()))});
  return r.done();
}

} // namespace

//===----------------------------------------------------------------------===//
// Layers with weights
//===----------------------------------------------------------------------===//

Grads Conv2dOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                              ArrayRef<bool> need) {
  Builder attrs(getContext());
  return weightedRule<Conv2dBackwardOp>(
      *this, b, resultGrads, need, getInput(), getWeight(), getBias(),
      {attrs.getNamedAttr("stride", getStrideAttr()),
       attrs.getNamedAttr("padding", getPaddingAttr()),
       attrs.getNamedAttr("dilation", getDilationAttr()),
       attrs.getNamedAttr("groups", attrs.getI64IntegerAttr(getGroups()))});
}

Grads LinearOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                              ArrayRef<bool> need) {
  return weightedRule<LinearBackwardOp>(*this, b, resultGrads, need, getInput(),
                                        getWeight(), getBias());
}

Grads EmbeddingOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (r.dy())
    r.grads[1] = r.create<EmbeddingBackwardOp>(
        {r.dy(), getIds()},
        {r.i64("num_embeddings", getTable().getType().getDimSize(0))});
  return r.done();
}

Grads PosEmbeddingOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  r.grads[0] = r.needs(0) ? r.dy() : Value();
  if (r.needs(1))
    r.grads[1] = r.create<PosEmbeddingBackwardOp>(
        {r.dy()}, {r.i64("num_positions", getTable().getType().getDimSize(0))});
  return r.done();
}

Grads BatchNormOp::buildGradient(OpBuilder &, ArrayRef<Value>, ArrayRef<bool>) {
  return emitOpError("has no gradient in inference mode (running "
                     "statistics); differentiate nn.batchnorm_train");
}

Grads BatchNormTrainOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                      ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  auto backward = r.create<BatchNormBackwardOp>(
      {r.dy(), getInput(), getWeight(), getBatchMean(), getBatchInvstd()});
  r.grads[0] = backward.getInputGrad();
  r.grads[1] = backward.getWeightGrad();
  r.grads[2] = backward.getBiasGrad();
  return r.done();
}

Grads LayerNormOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads, ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  SmallVector<Value> operands = {r.dy(), getInput()};
  if (Value w = getWeight())
    operands.push_back(w);
  auto backward = r.create<LayerNormBackwardOp>(operands, {r.attr("eps", getEpsAttr())});
  r.grads[0] = backward.getGrads()[0];
  if (getWeight()) {
    r.grads[1] = backward.getGrads()[1];
    r.grads[2] = backward.getGrads()[2];
  }
  return r.done();
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

Grads ReluOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                            ArrayRef<bool> need) {
  return unaryRule<ReluBackwardOp>(*this, b, resultGrads, need, getResult());
}

Grads SigmoidOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> need) {
  return unaryRule<SigmoidBackwardOp>(*this, b, resultGrads, need, getResult());
}

Grads TanhOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                            ArrayRef<bool> need) {
  return unaryRule<TanhBackwardOp>(*this, b, resultGrads, need, getResult());
}

Grads GeluOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                            ArrayRef<bool> need) {
  return unaryRule<GeluBackwardOp>(*this, b, resultGrads, need, getInput());
}

Grads LeakyReluOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> need) {
  return unaryRule<LeakyReluBackwardOp>(
      *this, b, resultGrads, need, getInput(),
      {b.getNamedAttr("slope",
                      b.getF64FloatAttr(getSlope().convertToDouble()))});
}

Grads DropoutOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> need) {
  // Inference-mode dropout is the identity.
  Rule r(*this, b, resultGrads, need);
  r.grads[0] = r.dy();
  return r.done();
}

Grads DropoutTrainOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (r.dy())
    r.grads[0] = r.create<DropoutBackwardOp>(
        {r.dy(), getMask()},
        {r.attr("p", b.getF64FloatAttr(getP().convertToDouble()))});
  return r.done();
}

Grads SoftmaxOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> need) {
  return unaryRule<SoftmaxBackwardOp>(
      *this, b, resultGrads, need, getResult(),
      {b.getNamedAttr("dim", b.getI64IntegerAttr(getDim()))});
}

Grads LogSoftmaxOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                  ArrayRef<bool> need) {
  return unaryRule<LogSoftmaxBackwardOp>(
      *this, b, resultGrads, need, getResult(),
      {b.getNamedAttr("dim", b.getI64IntegerAttr(getDim()))});
}

Grads AddOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                           ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  r.grads[0] = r.needs(0) ? r.dy() : Value();
  r.grads[1] = r.needs(1) ? r.dy() : Value();
  return r.done();
}

//===----------------------------------------------------------------------===//
// Pooling and shape manipulation
//===----------------------------------------------------------------------===//

Grads MaxPool2dOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> need) {
  return unaryRule<MaxPool2dBackwardOp>(
      *this, b, resultGrads, need, getInput(),
      {b.getNamedAttr("kernel", getKernelAttr()),
       b.getNamedAttr("stride", getStrideAttr()),
       b.getNamedAttr("padding", getPaddingAttr())});
}

Grads AvgPool2dOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  RankedTensorType in = getInput().getType();
  r.grads[0] = r.create<AvgPool2dBackwardOp>(
      {r.dy()},
      {r.attr("kernel", getKernelAttr()), r.attr("stride", getStrideAttr()),
       r.attr("padding", getPaddingAttr()),
       r.pair("input_size", in.getDimSize(2), in.getDimSize(3))});
  return r.done();
}

Grads GlobalAvgPoolOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                     ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  RankedTensorType in = getInput().getType();
  r.grads[0] = r.create<GlobalAvgPoolBackwardOp>(
      {r.dy()}, {r.pair("input_size", in.getDimSize(2), in.getDimSize(3))});
  return r.done();
}

Grads FlattenOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> need) {
  return reshapeRule(*this, b, resultGrads, need, getInput());
}

Grads ReshapeOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                               ArrayRef<bool> need) {
  return reshapeRule(*this, b, resultGrads, need, getInput());
}

Grads ConcatOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                              ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  int64_t d = getDim();
  SmallVector<int64_t> sizes;
  for (Value in : getInputs())
    sizes.push_back(cast<RankedTensorType>(in.getType()).getDimSize(d));
  auto backward = r.create<ConcatBackwardOp>(
      {r.dy()},
      {r.i64("dim", d), r.attr("sizes", b.getDenseI64ArrayAttr(sizes))});
  for (auto [i, g] : llvm::enumerate(backward.getResults()))
    if (r.needs(i))
      r.grads[i] = g;
  return r.done();
}

//===----------------------------------------------------------------------===//
// Recurrent layers
//===----------------------------------------------------------------------===//

Grads RNNOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                           ArrayRef<bool> need) {
  return recurrentRule<RNNTrainOp>(*this, b, resultGrads, need);
}
Grads LSTMOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                            ArrayRef<bool> need) {
  return recurrentRule<LSTMTrainOp>(*this, b, resultGrads, need);
}
Grads GRUOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                           ArrayRef<bool> need) {
  return recurrentRule<GRUTrainOp>(*this, b, resultGrads, need);
}

Grads RNNTrainOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                ArrayRef<bool> need) {
  return recurrentTrainRule<RNNBackwardOp>(*this, b, resultGrads, need);
}
Grads LSTMTrainOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                 ArrayRef<bool> need) {
  return recurrentTrainRule<LSTMBackwardOp>(*this, b, resultGrads, need);
}
Grads GRUTrainOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                ArrayRef<bool> need) {
  return recurrentTrainRule<GRUBackwardOp>(*this, b, resultGrads, need);
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

Grads CrossEntropyOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                    ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (r.dy())
    r.grads[0] =
        r.create<CrossEntropyBackwardOp>({r.dy(), getLogits(), getLabels()});
  return r.done();
}

Grads DistillLossOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads, ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (r.needs(1))
    return emitOpError("has no gradient with respect to the teacher logits");
  if (r.dy())
    r.grads[0] = r.create<DistillLossBackwardOp>(
        {r.dy(), getLogits(), getTeacherLogits(), getLabels()},
        {r.attr("temperature", getTemperatureAttr()), r.attr("alpha", getAlphaAttr())});
  return r.done();
}

Grads MseOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                           ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (r.needs(1))
    return emitOpError("has no gradient with respect to its target");
  if (r.dy())
    r.grads[0] = r.create<MseBackwardOp>({r.dy(), getPred(), getTarget()});
  return r.done();
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

Grads AttentionOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads, ArrayRef<bool> need) {
  // Recomputes the forward as its parts (-nn-autodiff decomposes the op in
  // the forward already, so this runs only for a lone nn.attention) and
  // differentiates them in reverse.
  Rule r(*this, b, resultGrads, need);
  if (!r.dy())
    return r.done();
  Value y = decompose(b);
  auto out = y.getDefiningOp<LinearOp>();
  auto core = out.getInput().getDefiningOp<AttentionCoreOp>();
  auto qkv = core.getQkv().getDefiningOp<LinearOp>();
  SmallVector<bool> all(3, true);
  FailureOr<SmallVector<Value>> outGrads =
      out.buildGradient(b, {r.dy()}, ArrayRef<bool>(all).take_front(out->getNumOperands()));
  if (failed(outGrads))
    return failure();
  FailureOr<SmallVector<Value>> coreGrads = core.buildGradient(b, {(*outGrads)[0]}, {true});
  if (failed(coreGrads))
    return failure();
  SmallVector<bool> qkvNeed = {r.needs(0), true, true};
  FailureOr<SmallVector<Value>> qkvGrads = qkv.buildGradient(
      b, {(*coreGrads)[0]}, ArrayRef<bool>(qkvNeed).take_front(qkv->getNumOperands()));
  if (failed(qkvGrads))
    return failure();
  r.grads[0] = (*qkvGrads)[0];
  r.grads[1] = (*qkvGrads)[1];
  unsigned i = 2;
  if (getHasBias())
    r.grads[i++] = (*qkvGrads)[2];
  r.grads[i++] = (*outGrads)[1];
  if (getHasBias())
    r.grads[i++] = (*outGrads)[2];
  return r.done();
}

Grads AttentionCoreOp::buildGradient(OpBuilder &b, ArrayRef<Value> resultGrads,
                                     ArrayRef<bool> need) {
  Rule r(*this, b, resultGrads, need);
  if (r.dy())
    r.grads[0] = r.create<AttentionCoreBackwardOp>(
        {r.dy(), getQkv()}, {r.attr("heads", getHeadsAttr()), r.attr("kv_heads", getKvHeadsAttr()),
                             r.attr("causal", getCausalAttr())});
  return r.done();
}
