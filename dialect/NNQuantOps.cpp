//===- NNQuantOps.cpp - Int8 ops of the nn dialect ------------------------===//
//
// Part of nnc. Type inference and verifiers of nn.quantize, nn.dequantize,
// nn.qconv2d and nn.qlinear (NNQuantOps.td). Shapes go through the rules
// shared with nn.conv2d / nn.linear (NNInferCtx.h).
//
//===----------------------------------------------------------------------===//

#include "dialect/NNInferCtx.h"
#include "dialect/NNOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::nn;
namespace shape = nnc::shape;
using nn::detail::ctxFor;
using nn::detail::InferCtx;

namespace {

/// Checks a quantization scale: positive and finite.
LogicalResult verifyScale(Operation *op, StringRef what, FloatAttr scale) {
  double s = scale.getValueAsDouble();
  if (!(s > 0.0 && std::isfinite(s)))
    return op->emitOpError() << what << " must be positive and finite, got " << s;
  return success();
}

/// Checks a zero point against the range of the type its bits are read as.
LogicalResult verifyZeroPoint(Operation *op, StringRef what, int64_t zp, bool isUnsigned) {
  int64_t lo = isUnsigned ? 0 : -128, hi = isUnsigned ? 255 : 127;
  if (zp < lo || zp > hi)
    return op->emitOpError() << what << " " << zp << " is outside [" << lo << ", " << hi << "] ("
                             << (isUnsigned ? "u8" : "s8") << ")";
  return success();
}

/// The result type of a quantized library op: `shape`, i8 with output
/// quantization, else f32.
Type quantResultType(MLIRContext *ctx, ArrayRef<int64_t> resultShape, bool quantizedOutput) {
  Type elem = quantizedOutput ? Type(IntegerType::get(ctx, 8)) : Type(Float32Type::get(ctx));
  return RankedTensorType::get(resultShape, elem);
}

/// The checks common to nn.qconv2d and nn.qlinear.
template <typename OpTy> LogicalResult verifyQuantLibraryOp(OpTy op) {
  Operation *o = op.getOperation();
  if (failed(verifyScale(o, "input_scale", op.getInputScaleAttr())) ||
      failed(verifyZeroPoint(o, "input_zero_point", op.getInputZeroPoint(), op.getInputUnsigned())))
    return failure();
  bool hasScale = bool(op.getOutputScaleAttr());
  if (hasScale != bool(op.getOutputZeroPointAttr()))
    return op.emitOpError("output_scale and output_zero_point go together");
  if (!hasScale && op.getOutputUnsigned())
    return op.emitOpError("output_unsigned needs output_scale");
  if (hasScale && (failed(verifyScale(o, "output_scale", op.getOutputScaleAttr())) ||
                   failed(verifyZeroPoint(o, "output_zero_point", *op.getOutputZeroPoint(),
                                          op.getOutputUnsigned()))))
    return failure();
  auto weightType = cast<RankedTensorType>(op.getWeight().getType());
  auto scaleType = cast<RankedTensorType>(op.getWeightScale().getType());
  if (scaleType.getShape() != ArrayRef<int64_t>{weightType.getDimSize(0)})
    return op.emitOpError("expects weight_scale of shape [")
           << weightType.getDimSize(0) << "] (one per output channel), got "
           << shape::formatShape(scaleType.getShape());
  return success();
}

} // namespace

//===----------------------------------------------------------------------===//
// quantize / dequantize
//===----------------------------------------------------------------------===//

LogicalResult QuantizeOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                           Adaptor adaptor, SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> in =
      ctxFor<QuantizeOp>(loc, adaptor).tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  types.push_back(RankedTensorType::get(in->getShape(), IntegerType::get(ctx, 8)));
  return success();
}

LogicalResult QuantizeOp::verify() {
  if (failed(verifyScale(*this, "scale", getScaleAttr())))
    return failure();
  int64_t qmin = getQmin(), qmax = getQmax(), zp = getZeroPoint();
  if (qmin < -128 || qmax > 255 || qmin >= qmax)
    return emitOpError("expects -128 <= qmin < qmax <= 255, got [") << qmin << ", " << qmax << "]";
  if (qmin < 0 && qmax > 127)
    return emitOpError("range [") << qmin << ", " << qmax << "] is neither u8 nor s8";
  if (zp < qmin || zp > qmax)
    return emitOpError("zero_point ") << zp << " is outside [" << qmin << ", " << qmax << "]";
  return success();
}

LogicalResult DequantizeOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                             Adaptor adaptor, SmallVectorImpl<Type> &types) {
  FailureOr<RankedTensorType> in =
      ctxFor<DequantizeOp>(loc, adaptor).tensor(adaptor.getInput(), "input");
  if (failed(in))
    return failure();
  types.push_back(RankedTensorType::get(in->getShape(), Float32Type::get(ctx)));
  return success();
}

LogicalResult DequantizeOp::verify() {
  if (failed(verifyScale(*this, "scale", getScaleAttr())))
    return failure();
  return verifyZeroPoint(*this, "zero_point", getZeroPoint(), getIsUnsigned());
}

//===----------------------------------------------------------------------===//
// qconv2d / qlinear
//===----------------------------------------------------------------------===//

LogicalResult QConv2dOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ictx = ctxFor<QConv2dOp>(loc, adaptor);
  FailureOr<shape::Shape> out = nn::detail::inferConv2dShape(
      ictx, adaptor.getInput(), adaptor.getWeight(), adaptor.getBias(), adaptor.getStrideAttr(),
      adaptor.getPaddingAttr(), adaptor.getDilationAttr(), adaptor.getGroups());
  if (failed(out))
    return failure();
  types.push_back(quantResultType(ctx, *out, bool(adaptor.getOutputScaleAttr())));
  return success();
}

LogicalResult QConv2dOp::verify() { return verifyQuantLibraryOp(*this); }

LogicalResult QLinearOp::inferReturnTypes(MLIRContext *ctx, std::optional<Location> loc,
                                          Adaptor adaptor, SmallVectorImpl<Type> &types) {
  InferCtx ictx = ctxFor<QLinearOp>(loc, adaptor);
  FailureOr<shape::Shape> out = nn::detail::inferLinearShape(
      ictx, adaptor.getInput(), adaptor.getWeight(), adaptor.getBias());
  if (failed(out))
    return failure();
  types.push_back(quantResultType(ctx, *out, bool(adaptor.getOutputScaleAttr())));
  return success();
}

LogicalResult QLinearOp::verify() { return verifyQuantLibraryOp(*this); }

// oneDNN's int8 convolution and matmul apply relu as an eltwise post-op
// before the output scale.
bool QConv2dOp::acceptsEpilogue(StringRef kind) { return kind == "relu"; }
bool QLinearOp::acceptsEpilogue(StringRef kind) { return kind == "relu"; }
