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
  Value f(Type type, double value) {
    return arith::ConstantFloatOp::create(b, loc(), cast<FloatType>(type), APFloat(value))
        .getResult();
  }

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

  OpBuilder b;
  LayerTagger tagger;
  Location currentLoc = b.getUnknownLoc();
};

/// Each op family's lowering returns true when it replaced `op` (its results
/// are replaced and `op` erased), false when the op is not its own, failure
/// after emitting an error.
FailureOr<bool> lowerElementwiseToLinalg(LinalgBuilder &lb, Operation *op);

} // namespace nnc::codegen

#endif // NNC_CODEGEN_LINALGBUILDER_H
