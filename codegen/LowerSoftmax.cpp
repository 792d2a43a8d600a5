//===- LowerSoftmax.cpp - softmax and log_softmax as generated loops ------===//
//
// The part of -nn-lower-to-buffers for softmax, log_softmax and their
// backward ops, over any dimension (the batch dimension included). A tensor
// is viewed as [outer, D, inner] with D the normalized dimension; the
// reductions over D (max, sum of exponentials, the backward's dot products)
// and the elementwise results are linalg.generic ops, which the CPU pipeline
// turns into loops.
//
//===----------------------------------------------------------------------===//

#include "codegen/FunctionLowering.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"

#include <cmath>

using namespace mlir;
using namespace nnc::codegen;

namespace {

/// Generated loops over buffers seen as [outer, D, inner].
class SoftmaxLowering {
public:
  SoftmaxLowering(FunctionLowering &f, MemRefType type, int64_t dim)
      : f(f), b(f.b), elemType(cast<FloatType>(type.getElementType())) {
    ArrayRef<int64_t> shape = type.getShape();
    for (int64_t i = 0; i < dim; ++i)
      outer *= shape[i];
    size = shape[dim];
    for (int64_t i = dim + 1, e = shape.size(); i < e; ++i)
      inner *= shape[i];
  }

  /// `buffer` (contiguous) as [outer, D, inner].
  Value view3d(Value buffer) {
    auto type = MemRefType::get({outer, size, inner}, elemType);
    return memref::ReinterpretCastOp::create(
        b, f.loc(), type, buffer, 0, ArrayRef<int64_t>{outer, size, inner},
        ArrayRef<int64_t>{size * inner, inner, 1});
  }

  /// A fresh [outer, inner] buffer holding `body` folded over D from `init`:
  /// acc = body(ins at [o, d, i] (or [o, i] for an [outer, inner] one)...,
  /// acc).
  Value
  reduce(ValueRange ins, double init,
         function_ref<Value(OpBuilder &, Location, ValueRange, Value)> body) {
    Value acc = f.alloc(MemRefType::get({outer, inner}, elemType));
    Value initValue = arith::ConstantFloatOp::create(b, f.loc(), elemType,
                                                     APFloat(float(init)));
    linalg::FillOp::create(b, f.loc(), ValueRange{initValue}, ValueRange{acc});
    SmallVector<AffineMap> maps;
    for (Value in : ins)
      maps.push_back(cast<MemRefType>(in.getType()).getRank() == 3 ? full()
                                                                   : rows());
    maps.push_back(rows());
    SmallVector<utils::IteratorType> iters = {utils::IteratorType::parallel,
                                              utils::IteratorType::reduction,
                                              utils::IteratorType::parallel};
    linalg::GenericOp::create(b, f.loc(), ins, ValueRange{acc}, maps, iters,
                              [&](OpBuilder &nb, Location l, ValueRange args) {
                                linalg::YieldOp::create(
                                    nb, l,
                                    body(nb, l, args.drop_back(), args.back()));
                              });
    return acc;
  }

  /// out[o, d, i] = body(full[o, d, i]..., perRow[o, i]...).
  void
  map(ValueRange full3d, ValueRange perRow, Value out,
      function_ref<Value(OpBuilder &, Location, ValueRange, ValueRange)> body) {
    SmallVector<Value> ins(full3d);
    ins.append(perRow.begin(), perRow.end());
    SmallVector<AffineMap> maps(full3d.size(), full());
    maps.append(perRow.size(), rows());
    maps.push_back(full());
    SmallVector<utils::IteratorType> iters(3, utils::IteratorType::parallel);
    size_t n = full3d.size();
    linalg::GenericOp::create(
        b, f.loc(), ins, ValueRange{out}, maps, iters,
        [&](OpBuilder &nb, Location l, ValueRange args) {
          linalg::YieldOp::create(
              nb, l,
              body(nb, l, args.take_front(n), args.drop_front(n).drop_back()));
        });
  }

private:
  AffineMap full() { return b.getMultiDimIdentityMap(3); }
  AffineMap rows() {
    return AffineMap::get(3, 0, {b.getAffineDimExpr(0), b.getAffineDimExpr(2)},
                          b.getContext());
  }

  FunctionLowering &f;
  OpBuilder &b;
  FloatType elemType;
  int64_t outer = 1, size = 1, inner = 1;
};

} // namespace

Value FunctionLowering::lowerSoftmax(Value x, int64_t dim, bool log,
                                     MemRefType outType) {
  SoftmaxLowering s(*this, outType, dim);
  Value out = alloc(outType);
  Value x3 = s.view3d(lookup(x));
  // Subtracting the maximum keeps exp() finite, as PyTorch does.
  Value max = s.reduce(
      {x3}, -INFINITY, [](OpBuilder &nb, Location l, ValueRange a, Value acc) {
        return arith::MaximumFOp::create(nb, l, a[0], acc).getResult();
      });
  Value sum =
      s.reduce({x3, max}, 0.0,
               [](OpBuilder &nb, Location l, ValueRange a, Value acc) -> Value {
                 Value e = math::ExpOp::create(
                     nb, l, arith::SubFOp::create(nb, l, a[0], a[1]));
                 return arith::AddFOp::create(nb, l, acc, e);
               });
  s.map(
      {x3}, {max, sum}, s.view3d(out),
      [log](OpBuilder &nb, Location l, ValueRange v, ValueRange row) -> Value {
        Value shifted = arith::SubFOp::create(nb, l, v[0], row[0]);
        if (log)
          return arith::SubFOp::create(nb, l, shifted,
                                       math::LogOp::create(nb, l, row[1]));
        return arith::DivFOp::create(nb, l, math::ExpOp::create(nb, l, shifted),
                                     row[1]);
      });
  return out;
}

void FunctionLowering::lowerSoftmaxBackward(Value dy, Value y, int64_t dim,
                                            bool log, Value dx) {
  SoftmaxLowering s(*this, cast<MemRefType>(dx.getType()), dim);
  Value dy3 = s.view3d(lookup(dy)), y3 = s.view3d(lookup(y));
  if (log) {
    // dx = dy - softmax(x) * sum(dy), softmax(x) = exp(y).
    Value sum = s.reduce(
        {dy3}, 0.0, [](OpBuilder &nb, Location l, ValueRange a, Value acc) {
          return arith::AddFOp::create(nb, l, acc, a[0]).getResult();
        });
    s.map({dy3, y3}, {sum}, s.view3d(dx),
          [](OpBuilder &nb, Location l, ValueRange v, ValueRange row) -> Value {
            Value p = math::ExpOp::create(nb, l, v[1]);
            return arith::SubFOp::create(
                nb, l, v[0], arith::MulFOp::create(nb, l, p, row[0]));
          });
    return;
  }
  // dx = y * (dy - sum(dy * y)).
  Value dot = s.reduce(
      {dy3, y3}, 0.0, [](OpBuilder &nb, Location l, ValueRange a, Value acc) {
        return arith::AddFOp::create(nb, l, acc,
                                     arith::MulFOp::create(nb, l, a[0], a[1]))
            .getResult();
      });
  s.map({dy3, y3}, {dot}, s.view3d(dx),
        [](OpBuilder &nb, Location l, ValueRange v, ValueRange row) -> Value {
          Value centered = arith::SubFOp::create(nb, l, v[0], row[0]);
          return arith::MulFOp::create(nb, l, v[1], centered);
        });
}
