//===- NNOps.h - Ops of the nn dialect --------------------------*- C++ -*-===//
//
// Part of nnc. Declares the nn ops (mlir::nn::Conv2dOp, ...; the training ops
// of NNTrainOps.td and the kernels of NNKernelOps.td too), the
// CostOpInterface and GradientOpInterface, and the helpers the generated op
// code calls.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNOPS_H
#define NNC_DIALECT_NNOPS_H

#include "dialect/NNDialect.h"
#include "dialect/ShapeRules.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/Support/MathExtras.h"

#include <optional>

#include "dialect/NNInterfaces.h.inc"

namespace mlir::nn::OpTrait {

/// Runs the op's type inference with its location during verification, so
/// that a shape error is reported once with the shape rule's message (before
/// InferTypeOpInterface's generic "failed to infer returned types").
template <typename ConcreteType>
class VerifyInferredShape
    : public mlir::OpTrait::TraitBase<ConcreteType, VerifyInferredShape> {
public:
  static LogicalResult verifyTrait(Operation *op) {
    SmallVector<Type, 1> types;
    if (failed(ConcreteType::inferReturnTypes(
            op->getContext(), op->getLoc(), op->getOperands(),
            op->getRawDictionaryAttrs(), op->getPropertiesStorage(),
            op->getRegions(), types)))
      return failure();
    if (TypeRange(types) != op->getResultTypes())
      return op->emitOpError("result type ")
             << op->getResultTypes() << " does not match the inferred type "
             << types;
    return success();
  }
};

} // namespace mlir::nn::OpTrait

namespace mlir::nn::detail {

/// Type inference of maxpool2d/avgpool2d; reports errors at `loc` if set.
LogicalResult inferPool2dTypes(StringRef opName, std::optional<Location> loc,
                               Value input, DenseI64ArrayAttr kernel,
                               DenseI64ArrayAttr stride,
                               DenseI64ArrayAttr padding,
                               std::optional<StringRef> layer,
                               SmallVectorImpl<Type> &types);

/// Type inference of rnn/lstm/gru, including the weights' count and shapes.
LogicalResult inferRecurrentTypes(StringRef opName, std::optional<Location> loc,
                                  Value input, ValueRange weights,
                                  const nnc::shape::RecurrentParams &params,
                                  std::optional<StringRef> layer,
                                  SmallVectorImpl<Type> &types);

/// `perElement` times the element count of `value`'s static tensor type.
std::optional<int64_t> flopsPerElement(Value value, int64_t perElement);

/// KH*KW per element of the pooling result.
std::optional<int64_t> pool2dFlops(Value result, ArrayRef<int64_t> kernel);

/// Forward FLOPs of a recurrent layer over input [N, T, F].
std::optional<int64_t>
recurrentFlops(Value input, const nnc::shape::RecurrentParams &params);

/// Bytes of per-step state a recurrent layer keeps for backward.
std::optional<int64_t>
recurrentExtraSavedBytes(Value input,
                         const nnc::shape::RecurrentParams &params);

/// The shape-rule parameters of a recurrent op's attributes (as its adaptor
/// returns them; hidden size 0 while the attribute is missing).
nnc::shape::RecurrentParams recurrentParams(nnc::shape::RecurrentKind kind,
                                            IntegerAttr hiddenSize,
                                            int64_t numLayers,
                                            bool bidirectional,
                                            bool returnSequences, bool hasBias);

/// Type inference of rnn_train/lstm_train/gru_train: (result, saved state).
LogicalResult inferRecurrentTrainTypes(
    StringRef opName, std::optional<Location> loc, Value input,
    ValueRange weights, const nnc::shape::RecurrentParams &params,
    std::optional<StringRef> layer, SmallVectorImpl<Type> &types);

/// Type inference of rnn_backward/lstm_backward/gru_backward: checks the
/// result gradient and saved state against the forward layer and returns
/// ([dinput], dweights...).
LogicalResult inferRecurrentBackwardTypes(
    StringRef opName, std::optional<Location> loc, Value grad, Value input,
    Value saved, ValueRange weights, const nnc::shape::RecurrentParams &params,
    bool needsInputGrad, std::optional<StringRef> layer,
    SmallVectorImpl<Type> &types);

} // namespace mlir::nn::detail

#define GET_OP_CLASSES
#include "dialect/NNOps.h.inc"

#endif // NNC_DIALECT_NNOPS_H
