//===- LinalgNorm.cpp - Batch and layer normalization as linalg -----------===//
//
// Batch normalization over dimension 1 of a rank-2..4 input, in inference,
// training (batch statistics) and backward form, as linalg.generic on
// tensors. Per-channel statistics are reductions over every other dimension
// that accumulate in f64 and iterate (c, n, spatial...): channel outermost,
// the contiguous dimension innermost, one pass per statistic (the sum, then
// the squared deviations from the mean). Small per-channel generics turn
// them into the values that the elementwise normalization reads. The
// running statistics are the inits of the per-channel generic that reads
// them, so they are updated in place in their arena regions.
//
// Layer normalization over the last dimension, forward and backward, views
// its input as rows [M, D]: per-row statistics (f64 sums in order: the sum,
// then the squared deviations), an elementwise normalization, and for the
// backward two per-row sums and, for the affine parameters, per-column sums
// that iterate column-outermost like batchnorm's per-channel sums. The
// backward recomputes the row statistics from the saved input.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"
#include "dialect/ShapeRules.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

using utils::IteratorType;
using MultiBodyFn = function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)>;

/// Builds the generics of one batchnorm op over an input of type `xType`.
class NormBuilder {
public:
  NormBuilder(LinalgBuilder &lb, RankedTensorType xType)
      : lb(lb), b(lb.b), xType(xType), rank(xType.getRank()), channels(xType.getDimSize(1)),
        f32(xType.getElementType()), f64(b.getF64Type()) {
    count = xType.getNumElements() / channels;
  }

  /// Per-channel sums of `body`'s values over every element, in f64.
  /// `full` are read per element, `perChannel` ([C]) per channel; `body`
  /// gets them and returns one value per sum.
  SmallVector<Value> channelSums(ValueRange full, ValueRange perChannel, unsigned numSums,
                                 MultiBodyFn body) {
    // Iteration (c, n, spatial...): the input's dimensions 0 and 1 swapped.
    SmallVector<AffineExpr> xExprs = {b.getAffineDimExpr(1), b.getAffineDimExpr(0)};
    for (int64_t i = 2; i < rank; ++i)
      xExprs.push_back(b.getAffineDimExpr(i));
    AffineMap xMap = AffineMap::get(rank, 0, xExprs, b.getContext());
    AffineMap cMap = AffineMap::get(rank, 0, b.getAffineDimExpr(0), b.getContext());
    SmallVector<Value> inputs(full), inits;
    inputs.append(perChannel.begin(), perChannel.end());
    SmallVector<AffineMap> maps(full.size(), xMap);
    maps.append(perChannel.size() + numSums, cMap);
    for (unsigned i = 0; i < numSums; ++i)
      inits.push_back(lb.filled(channelType(f64), 0.0));
    SmallVector<IteratorType> iters(rank, IteratorType::reduction);
    iters[0] = IteratorType::parallel;
    return build(inputs, inits, maps, iters, [&](OpBuilder &nb, Location l, ValueRange args) {
      ValueRange sums = args.take_back(numSums);
      SmallVector<Value> terms = body(nb, l, args.drop_back(numSums));
      SmallVector<Value> next;
      for (auto [sum, term] : llvm::zip(sums, terms))
        next.push_back(arith::AddFOp::create(nb, l, sum, term));
      return next;
    });
  }

  /// A parallel generic over the channels: `inputs` and `inits` are [C];
  /// the body gets the inputs' and then the inits' elements.
  SmallVector<Value> perChannel(ValueRange inputs, ValueRange inits, MultiBodyFn body) {
    SmallVector<AffineMap> maps(inputs.size() + inits.size(), b.getMultiDimIdentityMap(1));
    return build(inputs, inits, maps, {IteratorType::parallel}, body);
  }

  /// An elementwise generic over the input's shape: `full` per element,
  /// `perChannel` by dimension 1.
  Value elementwise(ValueRange full, ValueRange perChannel, LinalgBuilder::BodyFn body) {
    AffineMap id = b.getMultiDimIdentityMap(rank);
    AffineMap cMap = AffineMap::get(rank, 0, b.getAffineDimExpr(1), b.getContext());
    SmallVector<Value> inputs(full);
    inputs.append(perChannel.begin(), perChannel.end());
    SmallVector<AffineMap> maps(full.size(), id);
    maps.append(perChannel.size(), cMap);
    maps.push_back(id);
    SmallVector<IteratorType> iters(rank, IteratorType::parallel);
    return lb.generic(inputs, maps, iters, xType, [&](OpBuilder &nb, Location l, ValueRange args) {
      return body(nb, l, args.drop_back());
    });
  }

  RankedTensorType channelType(Type elem) { return RankedTensorType::get({channels}, elem); }
  Value emptyChannel(Type elem) { return lb.empty(channelType(elem)); }

  LinalgBuilder &lb;
  OpBuilder &b;
  RankedTensorType xType;
  int64_t rank, channels, count;
  Type f32, f64;

private:
  SmallVector<Value> build(ValueRange inputs, ValueRange inits, ArrayRef<AffineMap> maps,
                           ArrayRef<IteratorType> iters, MultiBodyFn body) {
    SmallVector<Type> types;
    for (Value v : inits)
      types.push_back(v.getType());
    auto op = linalg::GenericOp::create(b, lb.loc(), types, inputs, inits, maps, iters,
                                        [&](OpBuilder &nb, Location l, ValueRange args) {
                                          linalg::YieldOp::create(nb, l, body(nb, l, args));
                                        });
    return SmallVector<Value>(op.getResults());
  }
};

/// Scalar arithmetic in a body.
struct Arith {
  OpBuilder &b;
  Location l;

  Value c(Type t, double v) { return floatConstant(b, l, t, v); }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, l, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, l, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, l, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, l, x, y); }
  Value ext(Value x) { return arith::ExtFOp::create(b, l, b.getF64Type(), x); }
  Value trunc(Type t, Value x) { return arith::TruncFOp::create(b, l, t, x); }
  /// 1 / sqrt(v + eps).
  Value invSqrt(Value v, double eps) {
    return div(c(v.getType(), 1.0), math::SqrtOp::create(b, l, add(v, c(v.getType(), eps))));
  }
};

/// A double the way the runtime kernels received it: rounded to f32.
double asF32(APFloat v) { return double(float(v.convertToDouble())); }

/// Builds the generics of one layernorm op (forward or backward) over its
/// input viewed as rows [M, D] (the leading dimensions collapsed). Every row
/// is normalized on its own; its statistics accumulate in f64 in order.
class RowNormBuilder {
public:
  RowNormBuilder(LinalgBuilder &lb, Value input, double eps)
      : lb(lb), b(lb.b), xType(cast<RankedTensorType>(input.getType())), eps(eps),
        f64(b.getF64Type()) {
    f32 = xType.getElementType();
    int64_t rank = xType.getRank();
    ReassociationIndices leading;
    for (int64_t i = 0; i + 1 < rank; ++i)
      leading.push_back(i);
    groups = {leading, {rank - 1}};
    rows = xType.getNumElements() / xType.getShape().back();
    width = xType.getShape().back();
    rowsType = RankedTensorType::get({rows, width}, f32);
    MLIRContext *ctx = b.getContext();
    AffineExpr i = b.getAffineDimExpr(0), j = b.getAffineDimExpr(1);
    elem = AffineMap::get(2, 0, {i, j}, ctx);
    row = AffineMap::get(2, 0, i, ctx);
    col = AffineMap::get(2, 0, j, ctx);
  }

  /// `v` (of the input's shape) as rows [M, D], and back.
  Value toRows(Value v) {
    if (xType.getRank() == 2)
      return v;
    return tensor::CollapseShapeOp::create(b, lb.loc(), v, groups);
  }
  Value fromRows(Value v) {
    if (xType.getRank() == 2)
      return v;
    return tensor::ExpandShapeOp::create(b, lb.loc(), xType, v, groups);
  }

  /// Each row's mean and 1 / sqrt(var + eps) (f32 [M]) of rows `x`: the sum,
  /// then the squared deviations from the mean, in f64.
  std::pair<Value, Value> statistics(Value x) {
    Value sum = reduceRows({x}, {}, 1, [](OpBuilder &nb, Location l, ValueRange a) {
      return SmallVector<Value>{Arith{nb, l}.ext(a[0])};
    })[0];
    Value squares = reduceRows({x}, {sum}, 1, [&](OpBuilder &nb, Location l, ValueRange a) {
      Arith m{nb, l};
      Value d = m.sub(m.ext(a[0]), m.div(a[1], m.c(f64, double(width))));
      return SmallVector<Value>{m.mul(d, d)};
    })[0];
    SmallVector<Value> stats =
        perRow({sum, squares}, 2, [&](OpBuilder &nb, Location l, ValueRange a) {
          Arith m{nb, l};
          Value n = m.c(f64, double(width));
          return SmallVector<Value>{m.trunc(f32, m.div(a[0], n)),
                                    m.trunc(f32, m.invSqrt(m.div(a[1], n), eps))};
        });
    return {stats[0], stats[1]};
  }

  /// Per-row f64 sums over the columns of `body`'s values: `full` are read
  /// per element ([M, D]), `perRow` per row ([M]), `perColumn` per column
  /// ([D]).
  SmallVector<Value> reduceRows(ValueRange full, ValueRange perRowIn, unsigned numSums,
                                MultiBodyFn body, ValueRange perColumn = {}) {
    SmallVector<Value> inputs(full), inits;
    inputs.append(perRowIn.begin(), perRowIn.end());
    inputs.append(perColumn.begin(), perColumn.end());
    SmallVector<AffineMap> maps(full.size(), elem);
    maps.append(perRowIn.size(), row);
    maps.append(perColumn.size(), col);
    maps.append(numSums, row);
    for (unsigned k = 0; k < numSums; ++k)
      inits.push_back(lb.filled(RankedTensorType::get({rows}, f64), 0.0));
    return accumulate(inputs, inits, maps, {IteratorType::parallel, IteratorType::reduction}, body);
  }

  /// Per-column f64 sums over the rows (iterating column-major: the column
  /// outermost, as batchnorm's per-channel sums).
  SmallVector<Value> reduceColumns(ValueRange full, ValueRange perRowIn, unsigned numSums,
                                   MultiBodyFn body) {
    MLIRContext *ctx = b.getContext();
    AffineExpr j = b.getAffineDimExpr(0), i = b.getAffineDimExpr(1);
    AffineMap e = AffineMap::get(2, 0, {i, j}, ctx), r = AffineMap::get(2, 0, i, ctx),
              c = AffineMap::get(2, 0, j, ctx);
    SmallVector<Value> inputs(full), inits;
    inputs.append(perRowIn.begin(), perRowIn.end());
    SmallVector<AffineMap> maps(full.size(), e);
    maps.append(perRowIn.size(), r);
    maps.append(numSums, c);
    for (unsigned k = 0; k < numSums; ++k)
      inits.push_back(lb.filled(RankedTensorType::get({width}, f64), 0.0));
    return accumulate(inputs, inits, maps, {IteratorType::parallel, IteratorType::reduction}, body);
  }

  /// A parallel generic over a 1-d range: `inputs` and `numResults` f32
  /// results of `inputs[0]`'s length.
  SmallVector<Value> perRow(ValueRange inputs, unsigned numResults, MultiBodyFn body) {
    int64_t n = cast<RankedTensorType>(inputs[0].getType()).getDimSize(0);
    SmallVector<Value> inits;
    for (unsigned k = 0; k < numResults; ++k)
      inits.push_back(lb.empty(RankedTensorType::get({n}, f32)));
    SmallVector<AffineMap> maps(inputs.size() + numResults, b.getMultiDimIdentityMap(1));
    return build(inputs, inits, maps, {IteratorType::parallel}, body);
  }

  /// An elementwise generic over the rows: `full` per element, `perRowIn`
  /// per row, `perColumn` per column.
  Value elementwise(ValueRange full, ValueRange perRowIn, ValueRange perColumn,
                    LinalgBuilder::BodyFn body) {
    SmallVector<Value> inputs(full);
    inputs.append(perRowIn.begin(), perRowIn.end());
    inputs.append(perColumn.begin(), perColumn.end());
    SmallVector<AffineMap> maps(full.size(), elem);
    maps.append(perRowIn.size(), row);
    maps.append(perColumn.size(), col);
    maps.push_back(elem);
    return lb.generic(
        inputs, maps, {IteratorType::parallel, IteratorType::parallel}, rowsType,
        [&](OpBuilder &nb, Location l, ValueRange args) { return body(nb, l, args.drop_back()); });
  }

  LinalgBuilder &lb;
  OpBuilder &b;
  RankedTensorType xType, rowsType;
  double eps;
  Type f32, f64;
  int64_t rows = 0, width = 0;
  SmallVector<ReassociationIndices> groups;
  AffineMap elem, row, col;

private:
  /// A generic whose outputs accumulate: the body gets the inputs' values
  /// and returns one term per output, added to it.
  SmallVector<Value> accumulate(ValueRange inputs, ValueRange inits, ArrayRef<AffineMap> maps,
                                ArrayRef<IteratorType> iters, MultiBodyFn body) {
    unsigned numSums = inits.size();
    return build(inputs, inits, maps, iters, [&](OpBuilder &nb, Location l, ValueRange args) {
      ValueRange sums = args.take_back(numSums);
      SmallVector<Value> terms = body(nb, l, args.drop_back(numSums));
      SmallVector<Value> next;
      for (auto [s, t] : llvm::zip(sums, terms))
        next.push_back(arith::AddFOp::create(nb, l, s, t));
      return next;
    });
  }
  SmallVector<Value> build(ValueRange inputs, ValueRange inits, ArrayRef<AffineMap> maps,
                           ArrayRef<IteratorType> iters, MultiBodyFn body) {
    SmallVector<Type> types;
    for (Value v : inits)
      types.push_back(v.getType());
    auto op = linalg::GenericOp::create(b, lb.loc(), types, inputs, inits, maps, iters,
                                        [&](OpBuilder &nb, Location l, ValueRange args) {
                                          linalg::YieldOp::create(nb, l, body(nb, l, args));
                                        });
    return SmallVector<Value>(op.getResults());
  }
};

} // namespace

Value nnc::codegen::collapseSpatial(LinalgBuilder &lb, Value x) {
  if (cast<RankedTensorType>(x.getType()).getRank() != 4)
    return x;
  SmallVector<ReassociationIndices> dims = {{0}, {1}, {2, 3}};
  return tensor::CollapseShapeOp::create(lb.b, lb.loc(), x, dims);
}

Value nnc::codegen::expandSpatial(LinalgBuilder &lb, Value x, RankedTensorType type) {
  if (type.getRank() != 4)
    return x;
  SmallVector<ReassociationIndices> dims = {{0}, {1}, {2, 3}};
  return tensor::ExpandShapeOp::create(lb.b, lb.loc(), type, x, dims);
}

FailureOr<bool> nnc::codegen::lowerNormToLinalg(LinalgBuilder &lb, Operation *op) {
  using B = OpBuilder;
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<BatchNormOp>([&](BatchNormOp bn) {
        // y = x * scale[c] + shift[c], scale = gamma / sqrt(var + eps),
        // shift = beta - mean * scale.
        Value x = collapseSpatial(lb, bn.getInput());
        NormBuilder nbld(lb, cast<RankedTensorType>(x.getType()));
        double eps = asF32(bn.getEps());
        Type f32 = nbld.f32;
        SmallVector<Value> affine =
            nbld.perChannel({bn.getRunningMean(), bn.getRunningVar(), bn.getWeight(), bn.getBias()},
                            {nbld.emptyChannel(f32), nbld.emptyChannel(f32)},
                            [&](B &nb, Location l, ValueRange a) -> SmallVector<Value> {
                              Arith m{nb, l};
                              Value scale = m.mul(m.invSqrt(a[1], eps), a[2]);
                              return {scale, m.sub(a[3], m.mul(a[0], scale))};
                            });
        Value y = nbld.elementwise(x, affine, [](B &nb, Location l, ValueRange a) {
          Arith m{nb, l};
          return m.add(m.mul(a[0], a[1]), a[2]);
        });
        bn.getResult().replaceAllUsesWith(expandSpatial(lb, y, bn.getType()));
        bn.erase();
        return true;
      })
      .Case<BatchNormTrainOp>([&](BatchNormTrainOp bn) -> FailureOr<bool> {
        auto xType = cast<RankedTensorType>(bn.getInput().getType());
        Value x = collapseSpatial(lb, bn.getInput());
        NormBuilder nbld(lb, cast<RankedTensorType>(x.getType()));
        // Batch statistics of one value per channel: a variance of 0 and a
        // meaningless update (PyTorch refuses this too).
        if (nbld.count == 1) {
          auto name = bn->getAttrOfType<StringAttr>("name");
          bn.emitError("batchnorm '")
              << (name ? name.getValue() : "batchnorm") << "' has one value per channel at batch "
              << xType.getDimSize(0) << " (input " << nnc::shape::formatShape(xType.getShape())
              << "); training needs more than one (use a batch of at least 2)";
          return failure();
        }
        double eps = asF32(bn.getEps()), momentum = asF32(bn.getMomentum());
        double count = double(nbld.count);
        Type f32 = nbld.f32, f64 = nbld.f64;
        // Pass 1: the mean; pass 2: the sum of squared deviations from it.
        Value sum = nbld.channelSums(x, {}, 1, [](B &nb, Location l, ValueRange a) {
          return SmallVector<Value>{Arith{nb, l}.ext(a[0])};
        })[0];
        Value mean =
            nbld.perChannel(sum, nbld.emptyChannel(f64), [&](B &nb, Location l, ValueRange a) {
              Arith m{nb, l};
              return SmallVector<Value>{m.div(a[0], m.c(f64, count))};
            })[0];
        Value squares = nbld.channelSums(x, mean, 1, [](B &nb, Location l, ValueRange a) {
          Arith m{nb, l};
          Value d = m.sub(m.ext(a[0]), a[1]);
          return SmallVector<Value>{m.mul(d, d)};
        })[0];
        // Per channel: the saved statistics, the running statistics (in
        // place: they are inits read by the body) and the affine transform.
        SmallVector<Value> stats = nbld.perChannel(
            {mean, squares, bn.getWeight(), bn.getBias()},
            {nbld.emptyChannel(f32), nbld.emptyChannel(f32), bn.getRunningMean(),
             bn.getRunningVar(), nbld.emptyChannel(f32), nbld.emptyChannel(f32)},
            [&](B &nb, Location l, ValueRange a) -> SmallVector<Value> {
              Arith m{nb, l};
              Value var = m.div(a[1], m.c(f64, count));
              Value unbiased = m.div(a[1], m.c(f64, count - 1));
              Value mean32 = m.trunc(f32, a[0]);
              Value invstd32 = m.trunc(f32, m.invSqrt(var, eps));
              auto blend = [&](Value running, Value batch) {
                return m.trunc(f32, m.add(m.mul(m.c(f64, 1.0 - momentum), m.ext(running)),
                                          m.mul(m.c(f64, momentum), batch)));
              };
              Value scale = m.mul(invstd32, a[2]);
              return {mean32,
                      invstd32,
                      blend(a[6], a[0]),
                      blend(a[7], unbiased),
                      scale,
                      m.sub(a[3], m.mul(mean32, scale))};
            });
        Value y = nbld.elementwise(x, {stats[4], stats[5]}, [](B &nb, Location l, ValueRange a) {
          Arith m{nb, l};
          return m.add(m.mul(a[0], a[1]), a[2]);
        });
        SmallVector<Value> results = {expandSpatial(lb, y, xType), stats[0], stats[1], stats[2],
                                      stats[3]};
        for (auto [from, to] : llvm::zip(bn.getResults(), results))
          from.replaceAllUsesWith(to);
        bn.erase();
        return true;
      })
      .Case<BatchNormBackwardOp>([&](BatchNormBackwardOp bn) {
        // With xhat = (x - mean) * invstd: dbeta = sum(dy), dgamma =
        // sum(dy * xhat), dx = gamma * invstd * (dy - dbeta / M - xhat *
        // dgamma / M) (M values per channel).
        Value dy = collapseSpatial(lb, bn.getGrad()), x = collapseSpatial(lb, bn.getInput());
        NormBuilder nbld(lb, cast<RankedTensorType>(x.getType()));
        Type f32 = nbld.f32;
        double count = double(nbld.count);
        Value mean = bn.getBatchMean(), invstd = bn.getBatchInvstd();
        SmallVector<Value> sums =
            nbld.channelSums({dy, x}, {mean, invstd}, 2, [](B &nb, Location l, ValueRange a) {
              Arith m{nb, l};
              Value g = m.ext(a[0]);
              Value xhat = m.mul(m.sub(m.ext(a[1]), m.ext(a[2])), m.ext(a[3]));
              return SmallVector<Value>{g, m.mul(g, xhat)};
            });
        // Per channel: dbeta, dgamma and the coefficients of
        // dx = k * dy - k * mean(dy) - (x - mean) * k * invstd * mean(dy * xhat)
        // with k = gamma * invstd (few per-channel operands keep the
        // elementwise loop vectorizable).
        SmallVector<Value> perChannel =
            nbld.perChannel({sums[0], sums[1], bn.getWeight(), invstd},
                            {nbld.emptyChannel(f32), nbld.emptyChannel(f32), nbld.emptyChannel(f32),
                             nbld.emptyChannel(f32), nbld.emptyChannel(f32)},
                            [&](B &nb, Location l, ValueRange a) -> SmallVector<Value> {
                              Arith m{nb, l};
                              Value n = m.c(a[0].getType(), count);
                              Value inv = m.ext(a[3]);
                              Value k = m.mul(m.ext(a[2]), inv);
                              return {m.trunc(f32, a[0]), m.trunc(f32, a[1]), m.trunc(f32, k),
                                      m.trunc(f32, m.mul(k, m.div(a[0], n))),
                                      m.trunc(f32, m.mul(m.mul(k, inv), m.div(a[1], n)))};
                            });
        if (!bn.getInputGrad().use_empty()) {
          Value dx = nbld.elementwise({dy, x}, {mean, perChannel[2], perChannel[3], perChannel[4]},
                                      [](B &nb, Location l, ValueRange a) {
                                        Arith m{nb, l};
                                        Value centered = m.sub(a[1], a[2]);
                                        return m.sub(m.sub(m.mul(a[3], a[0]), a[4]),
                                                     m.mul(centered, a[5]));
                                      });
          bn.getInputGrad().replaceAllUsesWith(
              expandSpatial(lb, dx, cast<RankedTensorType>(bn.getInputGrad().getType())));
        }
        bn.getWeightGrad().replaceAllUsesWith(perChannel[1]);
        bn.getBiasGrad().replaceAllUsesWith(perChannel[0]);
        bn.erase();
        return true;
      })
      .Case<LayerNormOp>([&](LayerNormOp ln) {
        // y = (x - mean) * rstd [* weight + bias], per row of D values.
        RowNormBuilder rn(lb, ln.getInput(), asF32(ln.getEps()));
        Value x = rn.toRows(ln.getInput());
        auto [mean, rstd] = rn.statistics(x);
        SmallVector<Value> affine(ln.getAffine());
        Value y = rn.elementwise(x, {mean, rstd}, affine, [&](B &nb, Location l, ValueRange a) {
          Arith m{nb, l};
          Value v = m.mul(m.sub(a[0], a[1]), a[2]);
          return affine.empty() ? v : m.add(m.mul(v, a[3]), a[4]);
        });
        ln.getResult().replaceAllUsesWith(rn.fromRows(y));
        ln.erase();
        return true;
      })
      .Case<LayerNormBackwardOp>([&](LayerNormBackwardOp ln) {
        // With xhat = (x - mean) * rstd and g = dy * weight: dx = rstd * (g -
        // mean(g) - xhat * mean(g * xhat)) per row; dweight = sum(dy * xhat)
        // and dbias = sum(dy) per column.
        RowNormBuilder rn(lb, ln.getInput(), asF32(ln.getEps()));
        Value x = rn.toRows(ln.getInput()), dy = rn.toRows(ln.getGrad());
        auto [mean, rstd] = rn.statistics(x);
        SmallVector<Value> weight(ln.getWeight());
        bool affine = !weight.empty();
        Type f32 = rn.f32;
        // a: dy, x, mean, rstd[, weight] -> (g, xhat).
        auto gradAndXhat = [&](Arith &m, ValueRange a) -> std::pair<Value, Value> {
          Value xhat = m.mul(m.sub(a[1], a[2]), a[3]);
          return {affine ? m.mul(a[0], a[4]) : a[0], xhat};
        };
        SmallVector<Value> sums = rn.reduceRows(
            {dy, x}, {mean, rstd}, 2,
            [&](B &nb, Location l, ValueRange a) {
              Arith m{nb, l};
              auto [g, xhat] = gradAndXhat(m, a);
              return SmallVector<Value>{m.ext(g), m.ext(m.mul(g, xhat))};
            },
            weight);
        SmallVector<Value> means =
            rn.perRow({sums[0], sums[1]}, 2, [&](B &nb, Location l, ValueRange a) {
              Arith m{nb, l};
              Value n = m.c(rn.f64, double(rn.width));
              return SmallVector<Value>{m.trunc(f32, m.div(a[0], n)), m.trunc(f32, m.div(a[1], n))};
            });
        // dx reads dy, x, mean, rstd, mean(g), mean(g * xhat)[, weight].
        Value dx = rn.elementwise({dy, x}, {mean, rstd, means[0], means[1]}, weight,
                                  [&](B &nb, Location l, ValueRange a) {
                                    Arith m{nb, l};
                                    SmallVector<Value> ops = {a[0], a[1], a[2], a[3]};
                                    if (affine)
                                      ops.push_back(a[6]);
                                    auto [g, xhat] = gradAndXhat(m, ops);
                                    return m.mul(a[3], m.sub(m.sub(g, a[4]), m.mul(xhat, a[5])));
                                  });
        SmallVector<Value> results = {rn.fromRows(dx)};
        if (affine) {
          SmallVector<Value> cols =
              rn.reduceColumns({dy, x}, {mean, rstd}, 2, [&](B &nb, Location l, ValueRange a) {
                Arith m{nb, l};
                Value xhat = m.mul(m.sub(a[1], a[2]), a[3]);
                return SmallVector<Value>{m.ext(m.mul(a[0], xhat)), m.ext(a[0])};
              });
          SmallVector<Value> wb = rn.perRow(cols, 2, [&](B &nb, Location l, ValueRange a) {
            Arith m{nb, l};
            return SmallVector<Value>{m.trunc(f32, a[0]), m.trunc(f32, a[1])};
          });
          results.append(wb);
        }
        for (auto [from, to] : llvm::zip(ln.getGrads(), results))
          from.replaceAllUsesWith(to);
        ln.erase();
        return true;
      })
      .Default([](Operation *) { return false; });
}
