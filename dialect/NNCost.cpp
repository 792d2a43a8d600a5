//===- NNCost.cpp - CostOpInterface of the nn ops -------------------------===//
//
// Part of nnc. FLOP counts and saved-for-backward values of each layer; the
// conventions are documented in NNOps.td and docs/dialect.md. All counts are
// overflow-checked and std::nullopt for dynamic shapes.
//
//===----------------------------------------------------------------------===//

#include "dialect/NNOps.h"

#include <initializer_list>

using namespace mlir;
using namespace mlir::nn;
namespace shape = nnc::shape;

namespace {

/// Product of `factors`, or nullopt if one is missing, negative or the
/// product overflows.
std::optional<int64_t>
product(std::initializer_list<std::optional<int64_t>> factors) {
  int64_t result = 1;
  for (std::optional<int64_t> f : factors)
    if (!f || *f < 0 || llvm::MulOverflow(result, *f, result))
      return std::nullopt;
  return result;
}

/// Sum of `terms`, or nullopt if one is missing or the sum overflows.
std::optional<int64_t>
sum(std::initializer_list<std::optional<int64_t>> terms) {
  int64_t result = 0;
  for (std::optional<int64_t> t : terms)
    if (!t || llvm::AddOverflow(result, *t, result))
      return std::nullopt;
  return result;
}

/// The static tensor type of `v`, or null if it is not fully static.
RankedTensorType staticType(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.hasStaticShape() ? t : RankedTensorType();
}

/// Element count of `v`'s static tensor type.
std::optional<int64_t> numElements(Value v) {
  RankedTensorType t = staticType(v);
  if (!t)
    return std::nullopt;
  return shape::checkedNumElements(t.getShape());
}

/// Dimension `i` of `v`'s static tensor type.
std::optional<int64_t> dim(Value v, unsigned i) {
  RankedTensorType t = staticType(v);
  if (!t || i >= t.getRank())
    return std::nullopt;
  return t.getDimSize(i);
}

/// Pointwise FLOPs per hidden unit and step of each recurrent kind.
int64_t recurrentPointwiseFlops(shape::RecurrentKind kind) {
  switch (kind) {
  case shape::RecurrentKind::RNN:
    return 1;
  case shape::RecurrentKind::LSTM:
    return 9;
  case shape::RecurrentKind::GRU:
    return 10;
  }
  return 1;
}

} // namespace

//===----------------------------------------------------------------------===//
// Helpers called by generated code
//===----------------------------------------------------------------------===//

std::optional<int64_t> nn::detail::flopsPerElement(Value value,
                                                   int64_t perElement) {
  return product({numElements(value), perElement});
}

std::optional<int64_t> nn::detail::pool2dFlops(Value result,
                                               ArrayRef<int64_t> kernel) {
  if (kernel.size() != 2)
    return std::nullopt;
  return product({numElements(result), kernel[0], kernel[1]});
}

std::optional<int64_t>
nn::detail::recurrentFlops(Value input, const shape::RecurrentParams &p) {
  std::optional<int64_t> n = dim(input, 0), t = dim(input, 1),
                         f = dim(input, 2);
  int64_t g = shape::recurrentGateCount(p.kind);
  int64_t dirs = p.bidirectional ? 2 : 1;
  std::optional<int64_t> h = p.hiddenSize;
  std::optional<int64_t> hDirs = product({h, dirs});
  std::optional<int64_t> total = 0;
  for (int64_t l = 0; l < p.numLayers && total; ++l) {
    std::optional<int64_t> in = l == 0 ? f : hDirs;
    std::optional<int64_t> matmul = product({2, n, g, h, sum({in, h})});
    std::optional<int64_t> bias =
        p.hasBias ? product({2, n, g, h}) : std::optional<int64_t>(0);
    std::optional<int64_t> pointwise =
        product({recurrentPointwiseFlops(p.kind), n, h});
    std::optional<int64_t> step = sum({matmul, bias, pointwise});
    total = sum({total, product({step, t, dirs})});
  }
  return total;
}

// The saved state is what the training op keeps (its `saved` result,
// shape::recurrentSavedStateShape), so the two cannot disagree.
std::optional<int64_t>
nn::detail::recurrentExtraSavedBytes(Value input,
                                     const shape::RecurrentParams &p) {
  RankedTensorType t = staticType(input);
  if (!t || t.getRank() != 3)
    return std::nullopt;
  int64_t bytes = (t.getElementTypeBitWidth() + 7) / 8;
  return product({t.getDimSize(1), p.numLayers, p.bidirectional ? 2 : 1,
                  t.getDimSize(0), shape::recurrentSavedValuesPerStep(p.kind),
                  p.hiddenSize, bytes});
}

//===----------------------------------------------------------------------===//
// Layers with weights
//===----------------------------------------------------------------------===//

/// FLOPs of a convolution (f32 or int8) with `result` and `weight`.
static std::optional<int64_t> conv2dFlops(Value result, Value weight, bool hasBias) {
  std::optional<int64_t> out = numElements(result);
  std::optional<int64_t> macs = product({2, out, dim(weight, 1), dim(weight, 2), dim(weight, 3)});
  return sum({macs, hasBias ? out : std::optional<int64_t>(0)});
}

/// FLOPs of a linear layer (f32 or int8) with `result` and `weight`.
static std::optional<int64_t> linearFlops(Value result, Value weight, bool hasBias) {
  std::optional<int64_t> out = numElements(result);
  std::optional<int64_t> macs = product({2, out, dim(weight, 1)});
  return sum({macs, hasBias ? out : std::optional<int64_t>(0)});
}

std::optional<int64_t> Conv2dOp::getForwardFlops() {
  return conv2dFlops(getResult(), getWeight(), bool(getBias()));
}
bool Conv2dOp::hasTrainableWeights() { return true; }
SmallVector<Value> Conv2dOp::getSavedForBackward() { return {getInput()}; }

std::optional<int64_t> LinearOp::getForwardFlops() {
  return linearFlops(getResult(), getWeight(), bool(getBias()));
}
bool LinearOp::hasTrainableWeights() { return true; }
SmallVector<Value> LinearOp::getSavedForBackward() { return {getInput()}; }

// Int8 ops: the library ops count as the f32 op they replace; quantize and
// dequantize 2 FLOPs per element (a multiply and an add).
std::optional<int64_t> QConv2dOp::getForwardFlops() {
  return conv2dFlops(getResult(), getWeight(), bool(getBias()));
}
std::optional<int64_t> QLinearOp::getForwardFlops() {
  return linearFlops(getResult(), getWeight(), bool(getBias()));
}
std::optional<int64_t> QuantizeOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 2);
}
std::optional<int64_t> DequantizeOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 2);
}

std::optional<int64_t> EmbeddingOp::getForwardFlops() { return 0; }
std::optional<int64_t> PosEmbeddingOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 1);
}
bool PosEmbeddingOp::hasTrainableWeights() { return true; }
std::optional<int64_t> PosEmbeddingOp::getBackwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 1);
}
bool EmbeddingOp::hasTrainableWeights() { return true; }
SmallVector<Value> EmbeddingOp::getSavedForBackward() { return {getIds()}; }

std::optional<int64_t> BatchNormOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 4);
}
bool BatchNormOp::hasTrainableWeights() { return true; }

std::optional<int64_t> LayerNormOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getInput(), 5);
}
bool LayerNormOp::hasTrainableWeights() { return !getAffine().empty(); }
SmallVector<Value> LayerNormOp::getSavedForBackward() { return {getInput()}; }
SmallVector<Value> BatchNormOp::getSavedForBackward() { return {getInput()}; }

//===----------------------------------------------------------------------===//
// Elementwise, pooling and shape manipulation
//===----------------------------------------------------------------------===//

std::optional<int64_t> AddOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getResult(), 1);
}

SmallVector<Value> MaxPool2dOp::getSavedForBackward() { return {getInput()}; }

std::optional<int64_t> GlobalAvgPoolOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getInput(), 1);
}

std::optional<int64_t> FlattenOp::getForwardFlops() { return 0; }
std::optional<int64_t> ReshapeOp::getForwardFlops() { return 0; }
std::optional<int64_t> ConcatOp::getForwardFlops() { return 0; }

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

std::optional<int64_t> CrossEntropyOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getLogits(), 5);
}
SmallVector<Value> CrossEntropyOp::getSavedForBackward() {
  return {getLogits(), getLabels()};
}

std::optional<int64_t> MseOp::getForwardFlops() {
  return nn::detail::flopsPerElement(getPred(), 3);
}
SmallVector<Value> MseOp::getSavedForBackward() {
  return {getPred(), getTarget()};
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

/// FLOPs of one of attention's batched products (QK^T or AV) for qkv
/// [N, T, (H + 2 K) hd]: 2 N H T T hd, the whole T x T square.
static std::optional<int64_t> attentionProductFlops(Value qkv, int64_t heads, int64_t kvHeads) {
  std::optional<int64_t> n = dim(qkv, 0), t = dim(qkv, 1), c = dim(qkv, 2);
  if (!c)
    return std::nullopt;
  return product({2, n, heads, t, t, *c / (heads + 2 * kvHeads)});
}

/// The projections' FLOPs of nn.attention (multiply-adds and bias adds).
static std::optional<int64_t> attentionProjectionFlops(AttentionOp op) {
  std::optional<int64_t> n = dim(op.getInput(), 0), t = dim(op.getInput(), 1),
                         d = dim(op.getInput(), 2);
  if (!d)
    return std::nullopt;
  int64_t rows = shape::attentionQkvRows(*d, op.getHeads(), op.getKvHeads());
  std::optional<int64_t> macs = product({2, n, t, *d, sum({rows, *d})});
  std::optional<int64_t> biases =
      op.getHasBias() ? product({n, t, sum({rows, *d})}) : std::optional<int64_t>(0);
  return sum({macs, biases});
}

/// nn.attention's qkv projection [N, T, (H + 2 K) hd] as a value-less
/// shape: attentionProductFlops needs qkv's dims, which are the input's but
/// the last.
static std::optional<int64_t> attentionCoreFlops(AttentionOp op) {
  std::optional<int64_t> n = dim(op.getInput(), 0), t = dim(op.getInput(), 1),
                         d = dim(op.getInput(), 2);
  if (!d)
    return std::nullopt;
  return product({2, n, op.getHeads(), t, t, *d / op.getHeads()});
}

std::optional<int64_t> AttentionOp::getForwardFlops() {
  std::optional<int64_t> core = attentionCoreFlops(*this);
  return sum({attentionProjectionFlops(*this), product({2, core})});
}
std::optional<int64_t> AttentionOp::getBackwardFlops() {
  std::optional<int64_t> core = attentionCoreFlops(*this);
  return sum({product({2, attentionProjectionFlops(*this)}), product({5, core})});
}
bool AttentionOp::hasTrainableWeights() { return true; }
SmallVector<Value> AttentionOp::getSavedForBackward() { return {getInput()}; }
std::optional<int64_t> AttentionOp::getExtraSavedBytes() {
  RankedTensorType t = staticType(getInput());
  if (!t)
    return std::nullopt;
  int64_t d = t.getDimSize(2);
  int64_t bytes = (t.getElementTypeBitWidth() + 7) / 8;
  return product({t.getDimSize(0), t.getDimSize(1),
                  sum({shape::attentionQkvRows(d, getHeads(), getKvHeads()), d}), bytes});
}

std::optional<int64_t> AttentionCoreOp::getForwardFlops() {
  return product({2, attentionProductFlops(getQkv(), getHeads(), getKvHeads())});
}
SmallVector<Value> AttentionCoreOp::getSavedForBackward() { return {getQkv()}; }
std::optional<int64_t> AttentionCoreBackwardOp::getForwardFlops() {
  return product({5, attentionProductFlops(getQkv(), getHeads(), getKvHeads())});
}
std::optional<int64_t> BatchMatmulOp::getForwardFlops() {
  std::optional<int64_t> b = dim(getResult(), 0), m = dim(getResult(), 1), n = dim(getResult(), 2);
  std::optional<int64_t> k = dim(getLhs(), getTransposeLhs() ? 1 : 2);
  return product({2, b, m, n, k});
}
