//===- LinalgPooling.cpp - Pooling forward and backward as linalg ---------===//
//
// Max, average and global average pooling and their backward ops as
// linalg.generic on tensors. A windowed pooling iterates over (n, c, oh, ow,
// kh, kw), the window offsets being reduction dimensions given their extent
// by a [KH, KW] tensor.empty operand. Without padding the input is read
// through an affine map; with padding, by tensor.extract at a clamped
// position, padded positions counting as -inf (max) or 0 (average; padding
// is counted: every window divides by KH*KW).
//
// Max pooling also yields, when a backward needs it, the argmax of each
// window as an i32 position h*W + w within its (n, c) plane: the first
// maximum in row-major window order, a NaN winning over numbers (PyTorch's
// CPU rule). The backward ops are gathers over the input positions: each
// input element sums dL/dy over the windows that contain it (and, for max
// pooling, chose it), so no element is written twice.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

using utils::IteratorType;

/// Kernel, stride and padding of a 2-d pooling, per spatial dimension.
struct Window {
  std::array<int64_t, 2> k, s, p;

  Window(ArrayRef<int64_t> kernel, ArrayRef<int64_t> stride, ArrayRef<int64_t> padding)
      : k{kernel[0], kernel[1]}, s{stride[0], stride[1]}, p{padding[0], padding[1]} {}
  bool padded() const { return p[0] != 0 || p[1] != 0; }
};

/// Index arithmetic inside a linalg body.
struct IndexMath {
  OpBuilder &b;
  Location l;

  Value c(int64_t v) { return arith::ConstantIndexOp::create(b, l, v); }
  Value dim(unsigned d) { return linalg::IndexOp::create(b, l, d); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, l, x, y); }
  Value add(Value x, int64_t y) { return y ? add(x, c(y)) : x; }
  Value mul(Value x, int64_t y) { return y == 1 ? x : arith::MulIOp::create(b, l, x, c(y)); }
  Value floorDiv(Value x, int64_t y) {
    return y == 1 ? x : arith::FloorDivSIOp::create(b, l, x, c(y)).getResult();
  }
  Value lt(Value x, int64_t y) {
    return arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, x, c(y));
  }
  Value ge(Value x, int64_t y) {
    return arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, x, c(y));
  }
  /// 0 <= x < n.
  Value inRange(Value x, int64_t n) { return both(ge(x, 0), lt(x, n)); }
  Value clamp(Value x, int64_t n) {
    Value lo = arith::MaxSIOp::create(b, l, x, c(0));
    return arith::MinSIOp::create(b, l, lo, c(n - 1));
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, l, x, y); }
  Value either(Value x, Value y) { return arith::OrIOp::create(b, l, x, y); }
  Value i32(Value x) { return arith::IndexCastOp::create(b, l, b.getI32Type(), x); }
};

/// The i32 tensor of `shape` filled with `value`.
Value filledI32(LinalgBuilder &lb, ArrayRef<int64_t> shape, int32_t value) {
  auto type = RankedTensorType::get(shape, lb.b.getI32Type());
  Value v = arith::ConstantIntOp::create(lb.b, lb.loc(), value, 32);
  return linalg::FillOp::create(lb.b, lb.loc(), ValueRange{v}, ValueRange{lb.empty(type)})
      .getResult(0);
}

/// x / divisor.
Value divide(OpBuilder &b, Location l, Value x, double divisor) {
  return arith::DivFOp::create(b, l, x, floatConstant(b, l, x.getType(), divisor));
}

/// Every element of `x` divided by `divisor`.
Value divideBy(LinalgBuilder &lb, Value x, RankedTensorType type, double divisor) {
  return lb.elementwise(x, type, [&](OpBuilder &nb, Location l, ValueRange a) {
    return divide(nb, l, a[0], divisor);
  });
}

/// An operand that only gives reduction dimensions their extents.
Value extentOperand(LinalgBuilder &lb, ArrayRef<int64_t> shape) {
  return lb.empty(RankedTensorType::get(shape, lb.b.getI8Type()));
}

/// What a windowed reduction over the input builds in its body.
enum class PoolKind { Max, MaxWithIndex, Sum };

/// Max pooling (its value, with MaxWithIndex also its argmax) or the window
/// sums of `x` [N, C, H, W] into `yType` [N, C, OH, OW].
SmallVector<Value> windowReduce(LinalgBuilder &lb, Value x, RankedTensorType yType,
                                const Window &win, PoolKind kind) {
  OpBuilder &b = lb.b;
  MLIRContext *ctx = b.getContext();
  auto xShape = cast<RankedTensorType>(x.getType()).getShape();
  int64_t H = xShape[2], W = xShape[3];
  Type f = yType.getElementType();
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  AffineMap out = AffineMap::get(6, 0, {d(0), d(1), d(2), d(3)}, ctx);
  AffineMap window = AffineMap::get(6, 0, {d(4), d(5)}, ctx);
  SmallVector<Value> inputs;
  SmallVector<AffineMap> maps;
  if (!win.padded()) {
    inputs.push_back(x);
    maps.push_back(
        AffineMap::get(6, 0, {d(0), d(1), d(2) * win.s[0] + d(4), d(3) * win.s[1] + d(5)}, ctx));
  }
  inputs.push_back(extentOperand(lb, {win.k[0], win.k[1]}));
  maps.push_back(window);
  SmallVector<Value> inits = {
      lb.filled(yType, kind == PoolKind::Sum ? 0.0 : -std::numeric_limits<double>::infinity())};
  SmallVector<Type> resultTypes = {yType};
  if (kind == PoolKind::MaxWithIndex) {
    inits.push_back(filledI32(lb, yType.getShape(), -1));
    resultTypes.push_back(inits.back().getType());
  }
  maps.append(inits.size(), out);
  SmallVector<IteratorType> iters(4, IteratorType::parallel);
  iters.append(2, IteratorType::reduction);

  auto op = linalg::GenericOp::create(
      b, lb.loc(), resultTypes, inputs, inits, maps, iters,
      [&](OpBuilder &nb, Location l, ValueRange args) {
        IndexMath m{nb, l};
        ValueRange acc = args.drop_front(inputs.size());
        Value h = m.add(m.add(m.mul(m.dim(2), win.s[0]), -win.p[0]), m.dim(4));
        Value w = m.add(m.add(m.mul(m.dim(3), win.s[1]), -win.p[1]), m.dim(5));
        Value v, inside;
        if (win.padded()) {
          inside = m.both(m.inRange(h, H), m.inRange(w, W));
          v = tensor::ExtractOp::create(
              nb, l, x, ValueRange{m.dim(0), m.dim(1), m.clamp(h, H), m.clamp(w, W)});
        } else {
          v = args[0];
        }
        if (kind == PoolKind::Sum) {
          if (inside)
            v = arith::SelectOp::create(nb, l, inside, v,
                                        arith::ConstantOp::create(nb, l, nb.getZeroAttr(f)));
          linalg::YieldOp::create(nb, l, arith::AddFOp::create(nb, l, acc[0], v).getResult());
          return;
        }
        // Take v if it is larger, or the first NaN; with indices, also the
        // first position inside the input (ties keep the first maximum).
        Value larger = arith::CmpFOp::create(nb, l, arith::CmpFPredicate::OGT, v, acc[0]);
        Value firstNaN =
            m.both(arith::CmpFOp::create(nb, l, arith::CmpFPredicate::UNO, v, v),
                   arith::CmpFOp::create(nb, l, arith::CmpFPredicate::ORD, acc[0], acc[0]));
        Value take = m.either(larger, firstNaN);
        if (kind == PoolKind::MaxWithIndex) {
          Value none = arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, acc[1],
                                             arith::ConstantIntOp::create(nb, l, 0, 32));
          take = m.either(take, none);
        }
        if (inside)
          take = m.both(take, inside);
        SmallVector<Value> results = {arith::SelectOp::create(nb, l, take, v, acc[0])};
        if (kind == PoolKind::MaxWithIndex)
          results.push_back(
              arith::SelectOp::create(nb, l, take, m.i32(m.add(m.mul(h, W), w)), acc[1]));
        linalg::YieldOp::create(nb, l, results);
      });
  return SmallVector<Value>(op.getResults());
}

/// The gradient dL/dx [N, C, H, W] of a windowed pooling from `dy` [N, C,
/// OH, OW], as a gather: each input element adds up the dy of the windows
/// containing it (oh ascending, then ow), each divided by `divisor`; with
/// `argmax`, only of the windows whose argmax it is.
Value windowGather(LinalgBuilder &lb, Value dy, RankedTensorType dxType, const Window &win,
                   Value argmax, double divisor) {
  OpBuilder &b = lb.b;
  MLIRContext *ctx = b.getContext();
  auto yShape = cast<RankedTensorType>(dy.getType()).getShape();
  int64_t OH = yShape[2], OW = yShape[3], W = dxType.getDimSize(3);
  Type f = dxType.getElementType();
  // At most ceil(K / s) windows contain an input position along each
  // dimension; candidate j of position h is the window
  // oh = floor((h + p) / s) - (J - 1) + j.
  std::array<int64_t, 2> J = {(win.k[0] + win.s[0] - 1) / win.s[0],
                              (win.k[1] + win.s[1] - 1) / win.s[1]};
  auto d = [&](unsigned i) { return b.getAffineDimExpr(i); };
  SmallVector<AffineMap> maps = {AffineMap::get(6, 0, {d(4), d(5)}, ctx),
                                 AffineMap::get(6, 0, {d(0), d(1), d(2), d(3)}, ctx)};
  SmallVector<IteratorType> iters(4, IteratorType::parallel);
  iters.append(2, IteratorType::reduction);
  return lb.generic(
      extentOperand(lb, {J[0], J[1]}), maps, iters, dxType,
      [&](OpBuilder &nb, Location l, ValueRange args) -> Value {
        IndexMath m{nb, l};
        Value pos[2] = {m.dim(2), m.dim(3)};
        Value window[2], inside;
        int64_t extent[2] = {OH, OW};
        for (int i = 0; i < 2; ++i) {
          Value shifted = m.add(pos[i], win.p[i]);
          window[i] = m.add(m.floorDiv(shifted, win.s[i]), m.dim(4 + i));
          window[i] = m.add(window[i], -(J[i] - 1));
          // The window starts at window * s - p <= pos; pos must be inside it.
          Value offset = arith::SubIOp::create(nb, l, shifted, m.mul(window[i], win.s[i]));
          Value ok = m.both(m.inRange(window[i], extent[i]), m.lt(offset, win.k[i]));
          inside = inside ? m.both(inside, ok) : ok;
          window[i] = m.clamp(window[i], extent[i]);
        }
        SmallVector<Value> at = {m.dim(0), m.dim(1), window[0], window[1]};
        Value g = tensor::ExtractOp::create(nb, l, dy, at);
        if (argmax) {
          Value chosen = tensor::ExtractOp::create(nb, l, argmax, at);
          Value self = m.i32(m.add(m.mul(pos[0], W), pos[1]));
          inside =
              m.both(inside, arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq, chosen, self));
        }
        if (divisor != 1.0)
          g = divide(nb, l, g, divisor);
        Value zero = arith::ConstantOp::create(nb, l, nb.getZeroAttr(f));
        g = arith::SelectOp::create(nb, l, inside, g, zero);
        return arith::AddFOp::create(nb, l, args[1], g);
      },
      lb.filled(dxType, 0.0));
}

/// The key under which a max pooling's argmax is kept for its backward.
std::pair<Value, Attribute> argmaxKey(Value x, ArrayRef<int64_t> k, ArrayRef<int64_t> s,
                                      ArrayRef<int64_t> p) {
  Builder b(x.getContext());
  return {x, b.getArrayAttr({b.getDenseI64ArrayAttr(k), b.getDenseI64ArrayAttr(s),
                             b.getDenseI64ArrayAttr(p)})};
}

} // namespace

FailureOr<bool> nnc::codegen::lowerPoolingToLinalg(LinalgBuilder &lb, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<MaxPool2dOp>([&](MaxPool2dOp p) {
        Window win(p.getKernel(), p.getStride(), p.getPadding());
        auto key = argmaxKey(p.getInput(), p.getKernel(), p.getStride(), p.getPadding());
        // The argmax only when a backward of the same pooling reads it.
        bool backward = llvm::any_of(p.getInput().getUsers(), [&](Operation *user) {
          auto bwd = dyn_cast<MaxPool2dBackwardOp>(user);
          return bwd && argmaxKey(bwd.getInput(), bwd.getKernel(), bwd.getStride(),
                                  bwd.getPadding()) == key;
        });
        SmallVector<Value> results = windowReduce(
            lb, p.getInput(), resultTensorType(op), win, backward ? PoolKind::MaxWithIndex : PoolKind::Max);
        if (backward)
          lb.saved[key] = results[1];
        return replaceOp(op, results[0]);
      })
      .Case<MaxPool2dBackwardOp>([&](MaxPool2dBackwardOp p) {
        Window win(p.getKernel(), p.getStride(), p.getPadding());
        auto key = argmaxKey(p.getInput(), p.getKernel(), p.getStride(), p.getPadding());
        Value argmax = lb.saved.lookup(key);
        if (!argmax) // No forward pooling here: recompute the argmax.
          argmax = windowReduce(lb, p.getInput(), cast<RankedTensorType>(p.getGrad().getType()),
                                win, PoolKind::MaxWithIndex)[1];
        return replaceOp(op, windowGather(lb, p.getGrad(), resultTensorType(op), win, argmax, 1.0));
      })
      .Case<AvgPool2dOp>([&](AvgPool2dOp p) {
        Window win(p.getKernel(), p.getStride(), p.getPadding());
        Value sums = windowReduce(lb, p.getInput(), resultTensorType(op), win, PoolKind::Sum)[0];
        return replaceOp(op, divideBy(lb, sums, resultTensorType(op), double(win.k[0] * win.k[1])));
      })
      .Case<AvgPool2dBackwardOp>([&](AvgPool2dBackwardOp p) {
        Window win(p.getKernel(), p.getStride(), p.getPadding());
        return replaceOp(op, 
            windowGather(lb, p.getGrad(), resultTensorType(op), win, nullptr, double(win.k[0] * win.k[1])));
      })
      .Case<GlobalAvgPoolOp>([&](GlobalAvgPoolOp g) {
        // Sums over the plane (viewed as one dimension), then one division
        // per (n, c).
        Value x = collapseSpatial(lb, g.getInput());
        MLIRContext *ctx = lb.b.getContext();
        auto d = [&](unsigned i) { return lb.b.getAffineDimExpr(i); };
        SmallVector<AffineMap> maps = {lb.b.getMultiDimIdentityMap(3),
                                       AffineMap::get(3, 0, {d(0), d(1)}, ctx)};
        SmallVector<IteratorType> iters = {IteratorType::parallel, IteratorType::parallel,
                                           IteratorType::reduction};
        Value sums = lb.generic(
            x, maps, iters, resultTensorType(op),
            [](OpBuilder &nb, Location l, ValueRange a) -> Value {
              return arith::AddFOp::create(nb, l, a[1], a[0]);
            },
            lb.filled(resultTensorType(op), 0.0));
        auto plane = cast<RankedTensorType>(x.getType()).getDimSize(2);
        return replaceOp(op, divideBy(lb, sums, resultTensorType(op), double(plane)));
      })
      .Case<GlobalAvgPoolBackwardOp>([&](GlobalAvgPoolBackwardOp g) {
        // dx[n, c, h, w] = dy[n, c] / (H * W), over [N, C, H * W].
        RankedTensorType dx = resultTensorType(op);
        int64_t plane = dx.getDimSize(2) * dx.getDimSize(3);
        auto flat =
            RankedTensorType::get({dx.getDimSize(0), dx.getDimSize(1), plane}, dx.getElementType());
        MLIRContext *ctx = lb.b.getContext();
        auto d = [&](unsigned i) { return lb.b.getAffineDimExpr(i); };
        SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {d(0), d(1)}, ctx),
                                       lb.b.getMultiDimIdentityMap(3)};
        SmallVector<IteratorType> iters(3, IteratorType::parallel);
        Value spread = lb.generic(g.getGrad(), maps, iters, flat,
                                  [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
                                    return divide(nb, l, a[0], double(plane));
                                  });
        return replaceOp(op, expandSpatial(lb, spread, dx));
      })
      .Default([](Operation *) { return false; });
}
