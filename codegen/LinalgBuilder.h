//===- LinalgBuilder.h - Building linalg on tensors from nn ops -*- C++ -*-===//
//
// Internal to codegen/: the builder that -nn-lower-to-linalg hands to each op
// family's lowering (codegen/Linalg*.cpp). Every linalg op built through it
// is tagged `nn.layer` with the layer it comes from, which -nn-fuse uses to
// name kernels.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_LINALGBUILDER_H
#define NNC_CODEGEN_LINALGBUILDER_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

namespace nnc::codegen {

using namespace mlir;

/// The name -nn-lower-to-linalg gives to the linalg ops of `op`: its `name`
/// attribute (its mnemonic if it has none), with "_bwd" for backward ops and
/// "update" for optimizer updates.
std::string linalgLayerName(Operation *op);

/// A float constant of type `type` (`value` rounded to it).
inline Value floatConstant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value)).getResult();
}

/// Tags every linalg op created through a builder with `nn.layer`.
class LayerTagger : public OpBuilder::Listener {
public:
  void notifyOperationInserted(Operation *op, OpBuilder::InsertPoint) override {
    if (layer && isa<linalg::LinalgOp>(op) && !op->hasAttr("nn.layer"))
      op->setAttr("nn.layer", layer);
  }
  StringAttr layer;
};

/// Builds linalg on tensors in place of one nn op.
class LinalgBuilder {
public:
  explicit LinalgBuilder(MLIRContext *ctx) : b(ctx) { b.setListener(&tagger); }

  /// Starts building the replacement of `op`, just before it.
  void startOp(Operation *op) {
    b.setInsertionPoint(op);
    tagger.layer = b.getStringAttr(linalgLayerName(op));
    currentLoc = op->getLoc();
  }

  Location loc() const { return currentLoc; }

  using BodyFn = function_ref<Value(OpBuilder &, Location, ValueRange)>;

  /// An empty tensor of `type` (the destination of a linalg op).
  Value empty(RankedTensorType type) {
    return tensor::EmptyOp::create(b, loc(), type.getShape(), type.getElementType());
  }
  /// A tensor of `type` filled with `value`.
  Value filled(RankedTensorType type, double value);
  /// A float scalar constant of type `type`.
  Value f(Type type, double value) { return floatConstant(b, loc(), type, value); }

  /// An elementwise op over tensors of `resultType`'s shape: each input is
  /// either of that shape or rank 0 (a scalar broadcast to every element).
  /// `body` gets one scalar per input and returns the result element.
  Value elementwise(ValueRange inputs, RankedTensorType resultType, BodyFn body);

  /// A linalg.generic with one result, built from indexing maps and
  /// iterator types; `body` gets one scalar per input and, last, the
  /// current value of the output (`init`, or an empty tensor if `init` is
  /// null), and returns the new output value.
  Value generic(ValueRange inputs, ArrayRef<AffineMap> maps,
                ArrayRef<utils::IteratorType> iterators, RankedTensorType resultType,
                BodyFn body, Value init = nullptr);

  using MultiBodyFn =
      function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;
  /// A linalg.generic with one result per tensor of `inits` (its
  /// destinations); `body` gets one scalar per input, then the current
  /// value of each output, and returns the new output values.
  ValueRange generic(ValueRange inputs, ValueRange inits, ArrayRef<AffineMap> maps,
                     ArrayRef<utils::IteratorType> iterators, MultiBodyFn body);

  /// The map of an operand of an op iterating over a tensor of rank `rank`
  /// that reduces (or broadcasts along) dimension `dim`: identity for a
  /// full-rank operand, dimension `dim` dropped for a rank - 1 operand, no
  /// result for a scalar (rank 0).
  AffineMap mapAlong(int64_t operandRank, int64_t rank, int64_t dim);
  /// Reduces `inputs` along dimension `dim` of `full`: each input has
  /// `full`'s shape or that shape without `dim` (then it is constant along
  /// `dim`) or is rank 0. Each init (of `full`'s shape without `dim`) is an
  /// accumulator; `body` gets one scalar per input, then the accumulators,
  /// and returns their new values. Loops run in row-major order, so the
  /// result does not depend on how they are scheduled.
  ValueRange reduceAlong(ValueRange inputs, ValueRange inits, RankedTensorType full,
                         int64_t dim, MultiBodyFn body);
  /// An elementwise op over `full` whose inputs have `full`'s shape, that
  /// shape without `dim` (broadcast along it) or rank 0.
  Value broadcastAlong(ValueRange inputs, RankedTensorType full, int64_t dim,
                       BodyFn body);

  OpBuilder b;
  LayerTagger tagger;
  /// Tensors that one op's lowering leaves for another's, keyed by a value
  /// and an attribute (max pooling's argmax for its backward, keyed by the
  /// pooled input and the window).
  DenseMap<std::pair<Value, Attribute>, Value> saved;
  Location currentLoc = b.getUnknownLoc();
  /// The correct-prediction count that the lowering of nn.cross_entropy
  /// computed for (logits, labels), which nn.count_correct of the same
  /// operands reuses.
  DenseMap<std::pair<Value, Value>, Value> correctCounts;
};

/// The type of result `i` of `op` (a ranked tensor).
inline RankedTensorType resultTensorType(Operation *op, unsigned i = 0) {
  return cast<RankedTensorType>(op->getResult(i).getType());
}

/// Replaces the results of `op` by `values` and erases it; returns true (what
/// a lowering returns when it replaced its op).
inline bool replaceOp(Operation *op, ValueRange values) {
  op->replaceAllUsesWith(values);
  op->erase();
  return true;
}

/// Each op family's lowering returns true when it replaced `op` (its results
/// are replaced and `op` erased), false when the op is not its own, failure
/// after emitting an error.
FailureOr<bool> lowerElementwiseToLinalg(LinalgBuilder &lb, Operation *op);
/// SGD, momentum and Adam/AdamW updates (LinalgOptimizers.cpp).
FailureOr<bool> lowerOptimizersToLinalg(LinalgBuilder &lb, Operation *op);
/// Embedding lookup and its scatter-add backward (LinalgEmbedding.cpp).
FailureOr<bool> lowerEmbeddingToLinalg(LinalgBuilder &lb, Operation *op);
/// Max/average/global average pooling, forward and backward
/// (LinalgPooling.cpp).
FailureOr<bool> lowerPoolingToLinalg(LinalgBuilder &lb, Operation *op);
/// Batch normalization (inference, training forward, backward) and layer
/// normalization (forward, backward)
/// (LinalgNorm.cpp).
FailureOr<bool> lowerNormToLinalg(LinalgBuilder &lb, Operation *op);

/// `x` [N, C, H, W] viewed as [N, C, H * W] (a tensor.collapse_shape), so
/// that loops over a plane are one long contiguous loop; other ranks as they
/// are (LinalgNorm.cpp).
Value collapseSpatial(LinalgBuilder &lb, Value x);
/// The inverse of collapseSpatial: `x` back to `type`.
Value expandSpatial(LinalgBuilder &lb, Value x, RankedTensorType type);
/// The activations' backward ops, softmax and log_softmax (forward and
/// backward, any dimension) and training-mode dropout with its backward
/// (LinalgActivations.cpp).
FailureOr<bool> lowerActivationsToLinalg(LinalgBuilder &lb, Operation *op);
/// Softmax of `x` along `dim`, and its gradient from dL/dy `dy` and the
/// softmax `y` (LinalgActivations.cpp; used by attention).
Value buildSoftmax(LinalgBuilder &lb, Value x, int64_t dim);
Value buildSoftmaxBackward(LinalgBuilder &lb, Value dy, Value y, int64_t dim);
/// attention (as nn.linear, the attention core and nn.linear),
/// attention_core and its backward: head (un)packing, causal mask and
/// softmax as generics, the batched products as nn.batch_matmul
/// (LinalgAttention.cpp).
FailureOr<bool> lowerAttentionToLinalg(LinalgBuilder &lb, Operation *op);
/// cross_entropy, count_correct and mse, forward and backward
/// (LinalgLosses.cpp).
FailureOr<bool> lowerLossesToLinalg(LinalgBuilder &lb, Operation *op);
/// concat and its backward, constant tensors and 0-d arithmetic
/// (LinalgTensors.cpp).
FailureOr<bool> lowerTensorsToLinalg(LinalgBuilder &lb, Operation *op);
/// nn.quantize and nn.dequantize as elementwise generics (LinalgQuant.cpp).
FailureOr<bool> lowerQuantToLinalg(LinalgBuilder &lb, Operation *op);
/// nn.linear and nn.linear_backward as generated matmuls, for
/// -nn-lower-to-linalg{generated-matmul=1} (LinalgLinear.cpp).
FailureOr<bool> lowerLinearToLinalg(LinalgBuilder &lb, Operation *op);

} // namespace nnc::codegen

#endif // NNC_CODEGEN_LINALGBUILDER_H
