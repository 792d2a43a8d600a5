//===- NNInferCtx.h - Shared helpers of nn type inference -------*- C++ -*-===//
//
// Part of nnc. Internal to dialect/: the error-reporting context used by the
// `inferReturnTypes` of the inference ops (NNOps.cpp) and the training ops
// (NNTrainOps.cpp). Not a public header.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_NNINFERCTX_H
#define NNC_DIALECT_NNINFERCTX_H

#include "dialect/NNOps.h"

#include "mlir/IR/Diagnostics.h"

#include <array>
#include <string>

namespace mlir::nn::detail {

/// What an inference error report needs: the op name, the location (absent
/// when inference runs outside verification) and the layer name.
class InferCtx {
public:
  InferCtx(StringRef opName, std::optional<Location> loc,
           std::optional<StringRef> layer)
      : opName(opName), loc(loc), layer(layer) {}

  /// Reports "'nn.op' op [layer "x": ]msg" at the location, if any.
  LogicalResult fail(const Twine &msg) const {
    if (!loc)
      return failure();
    InFlightDiagnostic diag = emitError(*loc) << "'" << opName << "' op ";
    if (layer)
      diag << "layer \"" << *layer << "\": ";
    return diag << msg;
  }

  /// The ranked tensor type of `v`, or an error naming the operand `what`.
  FailureOr<RankedTensorType> tensor(Value v, StringRef what) const {
    if (auto t =
            dyn_cast_if_present<RankedTensorType>(v ? v.getType() : Type()))
      return t;
    (void)fail(Twine("expects ") + what + " to be a ranked tensor");
    return failure();
  }

  /// Checks that `v` (if present) is a tensor of exactly `expected` shape.
  LogicalResult expectShape(Value v, ArrayRef<int64_t> expected,
                            StringRef what) const {
    if (!v)
      return success();
    FailureOr<RankedTensorType> t = tensor(v, what);
    if (failed(t))
      return failure();
    if (t->getShape() == expected)
      return success();
    return fail(Twine("expects ") + what + " of shape " +
                nnc::shape::formatShape(expected) + ", got " +
                nnc::shape::formatShape(t->getShape()));
  }

  /// Checks that every value in `others` has `elementType`.
  LogicalResult sameElementType(Type elementType, ValueRange others) const {
    for (Value v : others) {
      auto t = dyn_cast<ShapedType>(v.getType());
      if (!t || t.getElementType() != elementType)
        return fail(Twine("expects all float operands to have element type ") +
                    printToString(elementType) + ", got " +
                    printToString(v.getType()));
    }
    return success();
  }

  /// Checks a `[h, w]` attribute (verified elsewhere; absent while parsing).
  FailureOr<std::array<int64_t, 2>> pair(DenseI64ArrayAttr attr,
                                         StringRef what) const {
    if (attr && attr.size() == 2)
      return std::array<int64_t, 2>{attr[0], attr[1]};
    (void)fail(Twine("expects attribute '") + what + "' with 2 elements");
    return failure();
  }

  /// Appends the tensor type `shape` x `elementType`, or reports `err`.
  LogicalResult result(const FailureOr<nnc::shape::Shape> &shape,
                       const std::string &err, Type elementType,
                       SmallVectorImpl<Type> &types) const {
    if (failed(shape))
      return fail(err);
    types.push_back(RankedTensorType::get(*shape, elementType));
    return success();
  }

  /// Prints `t` as the assembly does.
  static std::string printToString(Type t) {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << t;
    return s;
  }

private:
  StringRef opName;
  std::optional<Location> loc;
  std::optional<StringRef> layer;
};

/// The context of an op class's inference from its adaptor.
template <typename OpTy>
InferCtx ctxFor(std::optional<Location> loc, typename OpTy::Adaptor adaptor) {
  return InferCtx(OpTy::getOperationName(), loc, adaptor.getName());
}

/// The result shape of a 2-d convolution (nn.conv2d, nn.qconv2d): checks
/// the input, the weight [O, C/groups, KH, KW], the optional bias [O] and
/// the geometry; reports through `ctx`.
FailureOr<nnc::shape::Shape> inferConv2dShape(const InferCtx &ctx, Value input, Value weight,
                                              Value bias, DenseI64ArrayAttr stride,
                                              DenseI64ArrayAttr padding, DenseI64ArrayAttr dilation,
                                              int64_t groups);

/// The result shape of a linear layer (nn.linear, nn.qlinear): input
/// [..., I], weight [O, I], optional bias [O].
FailureOr<nnc::shape::Shape> inferLinearShape(const InferCtx &ctx, Value input, Value weight,
                                              Value bias);

} // namespace mlir::nn::detail

#endif // NNC_DIALECT_NNINFERCTX_H
