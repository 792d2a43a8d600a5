//===- LinalgActivations.cpp - Activation backward, softmax, dropout ------===//
//
// The activations' backward ops, softmax and log_softmax with their backward
// ops (over any dimension) and training-mode dropout with its backward, as
// linalg on tensors:
//
// - the unary backward ops are one elementwise linalg.generic of (dL/dy,
//   saved value);
// - softmax is a max reduction along its dimension, the exponentials
//   shifted by that maximum (so exp() stays finite, as in PyTorch), their
//   sum along the dimension and an elementwise generic dividing by it
//   (log_softmax reduces the shifted exponentials directly and subtracts
//   the log of the sum);
//   the backward ops are one reduction and one elementwise generic;
// - dropout's keep mask is a counter-based hash of (seed, stream, element
//   index) computed in the generic's body, so every element is independent
//   of the others (parallel, and the same for any thread count or tiling)
//   and a resumed run that passes the same seed gets the same mask.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cfloat>
#include <cmath>

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

using B = OpBuilder;

Value add(B &b, Location l, Value x, Value y) { return arith::AddFOp::create(b, l, x, y); }
Value sub(B &b, Location l, Value x, Value y) { return arith::SubFOp::create(b, l, x, y); }
Value mul(B &b, Location l, Value x, Value y) { return arith::MulFOp::create(b, l, x, y); }

/// softmax (log_softmax with `log`) of `x` along `dim`.
Value softmax(LinalgBuilder &lb, Value x, int64_t dim, bool log) {
  auto type = cast<RankedTensorType>(x.getType());
  Type elem = type.getElementType();
  SmallVector<int64_t> rowShape(type.getShape());
  rowShape.erase(rowShape.begin() + dim);
  auto rowType = RankedTensorType::get(rowShape, elem);
  // The maximum starts at the lowest finite value, not -inf: the checked
  // numerics mode flags every non-finite f32 tensor. A row of -inf gives NaN
  // either way.
  Value max = lb.reduceAlong(x, lb.filled(rowType, -FLT_MAX), type, dim,
                             [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                               return {arith::MaximumFOp::create(b, l, a[0], a[1])};
                             })[0];
  Value zeros = lb.filled(rowType, 0.0);
  if (log) {
    // y = x - max - log(sum(exp(x - max))).
    Value sum = lb.reduceAlong({x, max}, zeros, type, dim,
                               [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                                 Value e = math::ExpOp::create(b, l, sub(b, l, a[0], a[1]));
                                 return {add(b, l, a[2], e)};
                               })[0];
    return lb.broadcastAlong({x, max, sum}, type, dim, [](B &b, Location l, ValueRange a) -> Value {
      return sub(b, l, sub(b, l, a[0], a[1]), math::LogOp::create(b, l, a[2]));
    });
  }
  // y = e / sum(e), e = exp(x - max) computed once per element.
  Value e = lb.broadcastAlong({x, max}, type, dim, [](B &b, Location l, ValueRange a) -> Value {
    return math::ExpOp::create(b, l, sub(b, l, a[0], a[1]));
  });
  Value sum =
      lb.reduceAlong(e, zeros, type, dim, [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
        return {add(b, l, a[1], a[0])};
      })[0];
  return lb.broadcastAlong({e, sum}, type, dim, [](B &b, Location l, ValueRange a) -> Value {
    return arith::DivFOp::create(b, l, a[0], a[1]);
  });
}

/// The gradient of softmax (log_softmax with `log`) along `dim` from dL/dy
/// `dy` and the forward's output `y`.
Value softmaxBackward(LinalgBuilder &lb, Value dy, Value y, int64_t dim, bool log) {
  auto type = cast<RankedTensorType>(dy.getType());
  SmallVector<int64_t> rowShape(type.getShape());
  rowShape.erase(rowShape.begin() + dim);
  Value zeros = lb.filled(RankedTensorType::get(rowShape, type.getElementType()), 0.0);
  if (log) {
    // dx = dy - softmax(x) * sum(dy), softmax(x) = exp(y).
    Value sum = lb.reduceAlong(dy, zeros, type, dim,
                               [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                                 return {add(b, l, a[1], a[0])};
                               })[0];
    return lb.broadcastAlong({dy, y, sum}, type, dim, [](B &b, Location l, ValueRange a) -> Value {
      Value p = math::ExpOp::create(b, l, a[1]);
      return sub(b, l, a[0], mul(b, l, p, a[2]));
    });
  }
  // dx = y * (dy - sum(dy * y)).
  Value dot = lb.reduceAlong({dy, y}, zeros, type, dim,
                             [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                               return {add(b, l, a[2], mul(b, l, a[0], a[1]))};
                             })[0];
  return lb.broadcastAlong({dy, y, dot}, type, dim, [](B &b, Location l, ValueRange a) -> Value {
    return mul(b, l, a[1], sub(b, l, a[0], a[2]));
  });
}

/// The scale of kept elements, 1 / (1 - p) in f32 (0 for p >= 1).
float dropoutScale(double p) {
  float pf = float(p);
  return pf < 1.0f ? 1.0f / (1.0f - pf) : 0.0f;
}

/// Whether dropout keeps the element at row-major index `index` (i64):
/// u(seed, (stream << 40) + index) >= p with u(s, c) = (mix64(s, c) >> 40) *
/// 2^-24 in [0, 1), mix64 being SplitMix64's finalizer applied to
/// s * 0x9E3779B97F4A7C15 ^ c (docs/training.md).
Value dropoutKeep(B &b, Location l, Value seed, Value index, int64_t stream, double p) {
  auto i64 = [&](uint64_t v) { return arith::ConstantIntOp::create(b, l, int64_t(v), 64); };
  auto xorShift = [&](Value z, uint64_t shift) -> Value {
    return arith::XOrIOp::create(b, l, z, arith::ShRUIOp::create(b, l, z, i64(shift)));
  };
  Value counter = arith::AddIOp::create(b, l, index, i64(uint64_t(stream) << 40));
  Value z = arith::XOrIOp::create(
      b, l, arith::MulIOp::create(b, l, seed, i64(0x9E3779B97F4A7C15ULL)), counter);
  z = arith::MulIOp::create(b, l, xorShift(z, 30), i64(0xBF58476D1CE4E5B9ULL));
  z = arith::MulIOp::create(b, l, xorShift(z, 27), i64(0x94D049BB133111EBULL));
  z = xorShift(z, 31);
  // The top 24 bits, exactly representable in f32.
  Value bits = arith::ShRUIOp::create(b, l, z, i64(40));
  Value u = mul(b, l, arith::UIToFPOp::create(b, l, b.getF32Type(), bits),
                floatConstant(b, l, b.getF32Type(), 0x1.0p-24));
  return arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGE, u,
                               floatConstant(b, l, b.getF32Type(), float(p)));
}

/// dropout_train: one generic writing the result and the i8 keep mask.
void dropoutTrain(LinalgBuilder &lb, DropoutTrainOp d) {
  auto type = cast<RankedTensorType>(d.getInput().getType());
  auto maskType = cast<RankedTensorType>(d.getMask().getType());
  int64_t rank = type.getRank();
  SmallVector<AffineMap> maps = {
      lb.b.getMultiDimIdentityMap(rank), AffineMap::get(rank, 0, {}, lb.b.getContext()),
      lb.b.getMultiDimIdentityMap(rank), lb.b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  double p = d.getP().convertToDouble();
  int64_t stream = d.getStream();
  float scale = dropoutScale(p);
  ArrayRef<int64_t> shape = type.getShape();
  ValueRange results = lb.generic(
      {d.getInput(), d.getSeed()}, {lb.empty(type), lb.empty(maskType)}, maps, iters,
      [&](B &b, Location l, ValueRange a) -> SmallVector<Value> {
        // The row-major index of the element.
        Value index = arith::ConstantIntOp::create(b, l, 0, 64);
        int64_t stride = 1;
        for (int64_t i = rank - 1; i >= 0; --i) {
          Value at =
              arith::IndexCastOp::create(b, l, b.getI64Type(), linalg::IndexOp::create(b, l, i));
          if (stride != 1)
            at = arith::MulIOp::create(b, l, at, arith::ConstantIntOp::create(b, l, stride, 64));
          index = arith::AddIOp::create(b, l, index, at);
          stride *= shape[i];
        }
        Value keep = dropoutKeep(b, l, a[1], index, stream, p);
        Type elem = a[0].getType();
        Value y = arith::SelectOp::create(b, l, keep, mul(b, l, a[0], floatConstant(b, l, elem, scale)),
                                          floatConstant(b, l, elem, 0.0));
        Value mask = arith::ExtUIOp::create(b, l, b.getI8Type(), keep);
        return {y, mask};
      });
  replaceOp(d, results);
}

} // namespace

Value nnc::codegen::buildSoftmax(LinalgBuilder &lb, Value x, int64_t dim) {
  return softmax(lb, x, dim, /*log=*/false);
}

Value nnc::codegen::buildSoftmaxBackward(LinalgBuilder &lb, Value dy, Value y, int64_t dim) {
  return softmaxBackward(lb, dy, y, dim, /*log=*/false);
}

FailureOr<bool> nnc::codegen::lowerActivationsToLinalg(LinalgBuilder &lb, Operation *op) {
  auto replace = [&](Value v) { return replaceOp(op, v); };
  auto resultType = [&] { return cast<RankedTensorType>(op->getResult(0).getType()); };
  // dx = body(dy, saved value) for the unary backward ops (operands: dL/dy,
  // then the forward's input or output).
  auto unaryBackward = [&](LinalgBuilder::BodyFn body) {
    return replace(lb.elementwise({op->getOperand(0), op->getOperand(1)}, resultType(), body));
  };
  auto dimOf = [&] { return cast<IntegerAttr>(op->getAttr("dim")).getInt(); };
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<ReluBackwardOp>([&](auto) {
        // dx = y > 0 ? dy : 0.
        return unaryBackward([](B &b, Location l, ValueRange a) -> Value {
          Value zero = floatConstant(b, l, a[0].getType(), 0.0);
          Value pos = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, a[1], zero);
          return arith::SelectOp::create(b, l, pos, a[0], zero);
        });
      })
      .Case<SigmoidBackwardOp>([&](auto) {
        // dx = dy * y * (1 - y).
        return unaryBackward([](B &b, Location l, ValueRange a) -> Value {
          Value oneMinus = sub(b, l, floatConstant(b, l, a[0].getType(), 1.0), a[1]);
          return mul(b, l, a[0], mul(b, l, a[1], oneMinus));
        });
      })
      .Case<TanhBackwardOp>([&](auto) {
        // dx = dy * (1 - y^2).
        return unaryBackward([](B &b, Location l, ValueRange a) -> Value {
          Value sq = mul(b, l, a[1], a[1]);
          return mul(b, l, a[0], sub(b, l, floatConstant(b, l, a[0].getType(), 1.0), sq));
        });
      })
      .Case<GeluBackwardOp>([&](auto) {
        // dx = dy * (Phi(x) + x * phi(x)), Phi(x) = (1 + erf(x / sqrt 2)) / 2,
        // phi(x) = exp(-x^2 / 2) / sqrt(2 pi).
        return unaryBackward([](B &b, Location l, ValueRange a) -> Value {
          Type t = a[0].getType();
          Value x = a[1];
          Value erf = math::ErfOp::create(b, l, mul(b, l, x, floatConstant(b, l, t, M_SQRT1_2)));
          Value cdf = mul(b, l, floatConstant(b, l, t, 0.5), add(b, l, floatConstant(b, l, t, 1.0), erf));
          Value e = math::ExpOp::create(b, l, mul(b, l, mul(b, l, floatConstant(b, l, t, -0.5), x), x));
          Value pdf = mul(b, l, floatConstant(b, l, t, M_2_SQRTPI * M_SQRT1_2 * 0.5), e);
          return mul(b, l, a[0], add(b, l, cdf, mul(b, l, x, pdf)));
        });
      })
      .Case<LeakyReluBackwardOp>([&](LeakyReluBackwardOp g) {
        // dx = x > 0 ? dy : dy * slope.
        double slope = g.getSlope().convertToDouble();
        return unaryBackward([slope](B &b, Location l, ValueRange a) -> Value {
          Type t = a[0].getType();
          Value pos =
              arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, a[1], floatConstant(b, l, t, 0.0));
          return arith::SelectOp::create(b, l, pos, a[0], mul(b, l, a[0], floatConstant(b, l, t, slope)));
        });
      })
      .Case<SoftmaxOp, LogSoftmaxOp>([&](Operation *) {
        return replace(softmax(lb, op->getOperand(0), dimOf(), isa<LogSoftmaxOp>(op)));
      })
      .Case<SoftmaxBackwardOp, LogSoftmaxBackwardOp>([&](Operation *) {
        return replace(softmaxBackward(lb, op->getOperand(0), op->getOperand(1), dimOf(),
                                       isa<LogSoftmaxBackwardOp>(op)));
      })
      .Case<DropoutTrainOp>([&](DropoutTrainOp d) {
        dropoutTrain(lb, d);
        return true;
      })
      .Case<DropoutBackwardOp>([&](DropoutBackwardOp d) {
        // dx = mask ? dy / (1 - p) : 0.
        float scale = dropoutScale(d.getP().convertToDouble());
        return replace(lb.elementwise(
            {d.getGrad(), d.getMask()}, resultType(),
            [scale](B &b, Location l, ValueRange a) -> Value {
              Type t = a[0].getType();
              Value kept = arith::CmpIOp::create(
                  b, l, arith::CmpIPredicate::ne, a[1],
                  arith::ConstantIntOp::create(b, l, 0, a[1].getType().getIntOrFloatBitWidth()));
              return arith::SelectOp::create(b, l, kept, mul(b, l, a[0], floatConstant(b, l, t, scale)),
                                             floatConstant(b, l, t, 0.0));
            }));
      })
      .Default([](Operation *) { return false; });
}
