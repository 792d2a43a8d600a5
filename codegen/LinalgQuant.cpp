//===- LinalgQuant.cpp - nn.quantize and nn.dequantize --------------------===//
//
// The int8 conversions -nn-quantize places, as elementwise linalg.generic ops
// (so -nn-fuse fuses a quantize with its elementwise producers: the relu or
// residual add before an int8 layer and its requantization become one
// kernel):
// - quantize: q = clamp(roundeven(x / scale) + zero_point, qmin, qmax),
//   computed in f32 and truncated to i8 (u8 values keep their bits);
// - dequantize: (q - zero_point) * scale, q read as u8 or s8.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

FailureOr<bool> nnc::codegen::lowerQuantToLinalg(LinalgBuilder &lb, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<QuantizeOp>([&](QuantizeOp q) {
        float scale = q.getScale().convertToFloat();
        auto zp = float(q.getZeroPointAttr().getInt());
        auto qmin = float(q.getQminAttr().getInt()), qmax = float(q.getQmaxAttr().getInt());
        Value result = lb.elementwise(
            q.getInput(), resultTensorType(op), [&](OpBuilder &b, Location l, ValueRange a) {
              Type f32 = b.getF32Type();
              Value x = arith::DivFOp::create(b, l, a[0], floatConstant(b, l, f32, scale));
              Value r = arith::AddFOp::create(b, l, math::RoundEvenOp::create(b, l, x),
                                              floatConstant(b, l, f32, zp));
              r = arith::MaximumFOp::create(b, l, r, floatConstant(b, l, f32, qmin));
              r = arith::MinimumFOp::create(b, l, r, floatConstant(b, l, f32, qmax));
              Value asInt = arith::FPToSIOp::create(b, l, b.getI32Type(), r);
              return Value(arith::TruncIOp::create(b, l, b.getI8Type(), asInt));
            });
        return replaceOp(op, result);
      })
      .Case<DequantizeOp>([&](DequantizeOp d) {
        float scale = d.getScale().convertToFloat();
        auto zp = float(d.getZeroPointAttr().getInt());
        bool isUnsigned = d.getIsUnsigned();
        Value result = lb.elementwise(
            d.getInput(), resultTensorType(op), [&](OpBuilder &b, Location l, ValueRange a) {
              Type f32 = b.getF32Type();
              Value wide = isUnsigned ? Value(arith::ExtUIOp::create(b, l, b.getI32Type(), a[0]))
                                      : Value(arith::ExtSIOp::create(b, l, b.getI32Type(), a[0]));
              Value real = arith::SIToFPOp::create(b, l, f32, wide);
              Value centered = arith::SubFOp::create(b, l, real, floatConstant(b, l, f32, zp));
              return Value(arith::MulFOp::create(b, l, centered, floatConstant(b, l, f32, scale)));
            });
        return replaceOp(op, result);
      })
      .Default([](Operation *) { return false; });
}
