//===- LinalgLosses.cpp - Losses and the correct-prediction count ---------===//
//
// cross_entropy, count_correct, mse and the distillation loss with their
// backward ops as linalg on tensors. Sequence logits [N, T, C] (labels
// [N, T]) are collapsed to rows [N * T, C]: every position is a row. The losses reduce in a fixed
// order (row-major loops, f64 accumulators where the loss is a mean), so a step's loss does not
// depend on threads or tiling.
//
// Labels outside [0, C) - the padding rows of a partial batch carry -100 -
// are ignored like PyTorch's ignore_index: they add nothing to the loss, the
// mean is over the rows with a valid label, and their gradient rows are 0.
// The data loaders refuse out-of-range labels in a data set with a located
// error; the gather of the label's logit is clamped, so no label, however
// bad, reads outside the logits.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cfloat>

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

using B = OpBuilder;

Value i64Const(B &b, Location l, int64_t v) { return arith::ConstantIntOp::create(b, l, v, 64); }

/// A tensor of `type` (integer elements) filled with `value`.
Value filledInt(LinalgBuilder &lb, RankedTensorType type, int64_t value) {
  Value v = arith::ConstantIntOp::create(lb.b, lb.loc(), type.getElementType(), value);
  return linalg::FillOp::create(lb.b, lb.loc(), ValueRange{v}, ValueRange{lb.empty(type)})
      .getResult(0);
}

/// A label as i64 (labels may be any signless integer type).
Value labelAsI64(B &b, Location l, Value label) {
  if (label.getType().isInteger(64))
    return label;
  return arith::ExtSIOp::create(b, l, b.getI64Type(), label);
}

/// Whether `label` (i64) names one of `classes` classes.
Value validLabel(B &b, Location l, Value label, int64_t classes) {
  Value geZero = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sge, label, i64Const(b, l, 0));
  Value ltC =
      arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, label, i64Const(b, l, classes));
  return arith::AndIOp::create(b, l, geZero, ltC);
}

/// Whether `v` is the constant 1 (a splat constant, or a fill with it): the
/// gradient seed of the loss itself, which needs no scaling.
bool isOne(Value v) {
  Attribute attr;
  if (auto fill = v.getDefiningOp<linalg::FillOp>())
    v = fill.getInputs()[0];
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    attr = c.getValue();
  if (auto dense = dyn_cast_or_null<DenseElementsAttr>(attr))
    attr = dense.isSplat() ? dense.getSplatValue<Attribute>() : Attribute();
  auto f = dyn_cast_or_null<FloatAttr>(attr);
  return f && f.getValueAsDouble() == 1.0;
}

/// Each row's maximum of logits [N, C] (the first one on ties, as
/// torch.argmax) and, with `withArgmax`, its column (i64).
SmallVector<Value> rowMax(LinalgBuilder &lb, Value logits, bool withArgmax) {
  auto type = cast<RankedTensorType>(logits.getType());
  auto rows = RankedTensorType::get({type.getDimSize(0)}, type.getElementType());
  // From the lowest finite value, not -inf (the checked numerics mode flags
  // non-finite tensors); a row of -inf gives NaN losses either way.
  SmallVector<Value> inits = {lb.filled(rows, -FLT_MAX)};
  if (withArgmax)
    inits.push_back(filledInt(lb, RankedTensorType::get(rows.getShape(), lb.b.getI64Type()), 0));
  return lb.reduceAlong(
      logits, inits, type, 1, [&](B &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value greater = arith::CmpFOp::create(b, l, arith::CmpFPredicate::OGT, a[0], a[1]);
        SmallVector<Value> next = {arith::SelectOp::create(b, l, greater, a[0], a[1])};
        if (withArgmax) {
          Value j =
              arith::IndexCastOp::create(b, l, b.getI64Type(), linalg::IndexOp::create(b, l, 1));
          next.push_back(arith::SelectOp::create(b, l, greater, j, a[2]));
        }
        return next;
      });
}

/// Mean cross entropy of logits [N, C] against labels [N] (f32 0-d), and
/// the number of rows whose first maximum is at the label (i64 0-d).
std::pair<Value, Value> crossEntropy(LinalgBuilder &lb, Value logits, Value labels) {
  auto type = cast<RankedTensorType>(logits.getType());
  int64_t n = type.getDimSize(0), classes = type.getDimSize(1);
  B &b = lb.b;
  SmallVector<Value> max = rowMax(lb, logits, /*withArgmax=*/true);
  // sum_j exp(x_ij - max_i), in f64.
  Value sum =
      lb.reduceAlong({logits, max[0]}, lb.filled(RankedTensorType::get({n}, b.getF64Type()), 0.0),
                     type, 1, [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                       Value x = arith::ExtFOp::create(b, l, b.getF64Type(), a[0]);
                       Value m = arith::ExtFOp::create(b, l, b.getF64Type(), a[1]);
                       Value e = math::ExpOp::create(b, l, arith::SubFOp::create(b, l, x, m));
                       return {arith::AddFOp::create(b, l, a[2], e)};
                     })[0];
  // Over the rows, in order: the sum of the valid rows' losses
  // max + log(sum) - x[label], the hits and the valid rows.
  auto rowsType = RankedTensorType::get({n}, b.getI64Type());
  auto scalarF64 = RankedTensorType::get({}, b.getF64Type());
  auto scalarI64 = RankedTensorType::get({}, b.getI64Type());
  ValueRange totals = lb.reduceAlong(
      {labels, max[0], max[1], sum},
      {lb.filled(scalarF64, 0.0), filledInt(lb, scalarI64, 0), filledInt(lb, scalarI64, 0)},
      rowsType, 0, [&](B &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value label = labelAsI64(b, l, a[0]);
        Value valid = validLabel(b, l, label, classes);
        Value column = arith::IndexCastOp::create(
            b, l, b.getIndexType(), arith::SelectOp::create(b, l, valid, label, i64Const(b, l, 0)));
        Value row = linalg::IndexOp::create(b, l, 0);
        Value picked = tensor::ExtractOp::create(b, l, logits, ValueRange{row, column});
        Type f64 = b.getF64Type();
        Value loss = arith::SubFOp::create(
            b, l,
            arith::AddFOp::create(b, l, arith::ExtFOp::create(b, l, f64, a[1]),
                                  math::LogOp::create(b, l, a[3])),
            arith::ExtFOp::create(b, l, f64, picked));
        Value zero = arith::ConstantFloatOp::create(b, l, cast<FloatType>(f64), APFloat(0.0));
        Value hit = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[2], label);
        auto count = [&](Value acc, Value flag) -> Value {
          return arith::AddIOp::create(b, l, acc,
                                       arith::ExtUIOp::create(b, l, b.getI64Type(), flag));
        };
        return {arith::AddFOp::create(b, l, a[4], arith::SelectOp::create(b, l, valid, loss, zero)),
                count(a[5], hit), count(a[6], valid)};
      });
  // The mean over the valid rows (0 without any).
  Value loss = lb.elementwise(
      {totals[0], totals[2]}, RankedTensorType::get({}, b.getF32Type()),
      [](B &b, Location l, ValueRange a) -> Value {
        Value mean =
            arith::DivFOp::create(b, l, a[0], arith::SIToFPOp::create(b, l, b.getF64Type(), a[1]));
        Value any = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, a[1], i64Const(b, l, 0));
        return arith::SelectOp::create(
            b, l, any, arith::TruncFOp::create(b, l, b.getF32Type(), mean),
            arith::ConstantFloatOp::create(b, l, b.getF32Type(), APFloat(0.0f)));
      });
  return {loss, totals[1]};
}

/// The number of rows of logits [N, C] whose first maximum is at the label.
Value countCorrect(LinalgBuilder &lb, Value logits, Value labels) {
  auto type = cast<RankedTensorType>(logits.getType());
  Value argmax = rowMax(lb, logits, /*withArgmax=*/true)[1];
  auto scalarI64 = RankedTensorType::get({}, lb.b.getI64Type());
  return lb.reduceAlong({labels, argmax}, filledInt(lb, scalarI64, 0),
                        RankedTensorType::get({type.getDimSize(0)}, lb.b.getI64Type()), 0,
                        [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                          // An invalid label never equals a column.
                          Value hit = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, a[1],
                                                            labelAsI64(b, l, a[0]));
                          return {arith::AddIOp::create(
                              b, l, a[2], arith::ExtUIOp::create(b, l, b.getI64Type(), hit))};
                        })[0];
}

/// 1 / V as an f32 0-d tensor, V the number of `labels` that name one of
/// `classes` classes (0 without any).
Value inverseValidCount(LinalgBuilder &lb, Value labels, int64_t classes) {
  B &b = lb.b;
  int64_t n = cast<RankedTensorType>(labels.getType()).getDimSize(0);
  Value valid = lb.reduceAlong(labels, filledInt(lb, RankedTensorType::get({}, b.getI64Type()), 0),
                               RankedTensorType::get({n}, b.getI64Type()), 0,
                               [&](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                                 Value ok = validLabel(b, l, labelAsI64(b, l, a[0]), classes);
                                 return {arith::AddIOp::create(
                                     b, l, a[1], arith::ExtUIOp::create(b, l, b.getI64Type(), ok))};
                               })[0];
  return lb.elementwise(
      valid, RankedTensorType::get({}, b.getF32Type()),
      [](B &b, Location l, ValueRange a) -> Value {
        Type t = b.getF32Type();
        Value any = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, a[0], i64Const(b, l, 0));
        Value one = arith::ConstantFloatOp::create(b, l, cast<FloatType>(t), APFloat(1.0f));
        Value zero = arith::ConstantFloatOp::create(b, l, cast<FloatType>(t), APFloat(0.0f));
        return arith::SelectOp::create(
            b, l, any, arith::DivFOp::create(b, l, one, arith::SIToFPOp::create(b, l, t, a[0])),
            zero);
      });
}

/// dL/dlogits = seed * (softmax(logits) - onehot(label)) / V, V the number
/// of valid labels; rows with an invalid label get 0.
Value crossEntropyBackward(LinalgBuilder &lb, Value seed, Value logits, Value labels) {
  auto type = cast<RankedTensorType>(logits.getType());
  int64_t n = type.getDimSize(0), classes = type.getDimSize(1);
  Type f32 = type.getElementType();
  Value invValid = inverseValidCount(lb, labels, classes);
  // exp(x - max) once per element, its sum per row, then the gradient.
  Value max = rowMax(lb, logits, /*withArgmax=*/false)[0];
  Value e = lb.broadcastAlong({logits, max}, type, 1, [](B &b, Location l, ValueRange a) -> Value {
    return math::ExpOp::create(b, l, arith::SubFOp::create(b, l, a[0], a[1]));
  });
  Value sum = lb.reduceAlong(e, lb.filled(RankedTensorType::get({n}, f32), 0.0), type, 1,
                             [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                               return {arith::AddFOp::create(b, l, a[1], a[0])};
                             })[0];
  SmallVector<Value> inputs = {e, sum, labels, invValid};
  bool scaled = !isOne(seed);
  if (scaled)
    inputs.push_back(seed);
  return lb.broadcastAlong(inputs, type, 1, [&](B &b, Location l, ValueRange a) -> Value {
    Value label = labelAsI64(b, l, a[2]);
    Value d = arith::MulFOp::create(b, l, a[0], arith::DivFOp::create(b, l, a[3], a[1]));
    Value column =
        arith::IndexCastOp::create(b, l, b.getI64Type(), linalg::IndexOp::create(b, l, 1));
    Value isLabel = arith::CmpIOp::create(b, l, arith::CmpIPredicate::eq, column, label);
    d = arith::SelectOp::create(b, l, isLabel, arith::SubFOp::create(b, l, d, a[3]), d);
    Value zero = arith::ConstantFloatOp::create(b, l, cast<FloatType>(d.getType()), APFloat(0.0f));
    d = arith::SelectOp::create(b, l, validLabel(b, l, label, classes), d, zero);
    return scaled ? arith::MulFOp::create(b, l, d, a[4]).getResult() : d;
  });
}

/// Each row's maximum m of logits [N, C] (f32 [N]) and log sum_j exp((x_j -
/// m) / T) (f64 [N]): log softmax(x / T)_j = (x_j - m) / T - that.
std::pair<Value, Value> softenedLogSumExp(LinalgBuilder &lb, Value logits, double temperature) {
  auto type = cast<RankedTensorType>(logits.getType());
  B &b = lb.b;
  auto rowsF64 = RankedTensorType::get({type.getDimSize(0)}, b.getF64Type());
  Value max = rowMax(lb, logits, /*withArgmax=*/false)[0];
  Value sum =
      lb.reduceAlong({logits, max}, lb.filled(rowsF64, 0.0), type, 1,
                     [&](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                       Type f64 = b.getF64Type();
                       Value d = arith::SubFOp::create(b, l, arith::ExtFOp::create(b, l, f64, a[0]),
                                                       arith::ExtFOp::create(b, l, f64, a[1]));
                       Value x =
                           arith::DivFOp::create(b, l, d, floatConstant(b, l, f64, temperature));
                       return {arith::AddFOp::create(b, l, a[2], math::ExpOp::create(b, l, x))};
                     })[0];
  Value lse = lb.elementwise(sum, rowsF64, [](B &b, Location l, ValueRange a) -> Value {
    return math::LogOp::create(b, l, a[0]);
  });
  return {max, lse};
}

/// log softmax(x / T) of one element, in f64, from the element, its row's
/// maximum and softenedLogSumExp.
Value softenedLogProb(B &b, Location l, Value x, Value max, Value lse, double temperature) {
  Type f64 = b.getF64Type();
  Value d = arith::SubFOp::create(b, l, arith::ExtFOp::create(b, l, f64, x),
                                  arith::ExtFOp::create(b, l, f64, max));
  return arith::SubFOp::create(
      b, l, arith::DivFOp::create(b, l, d, floatConstant(b, l, f64, temperature)), lse);
}

/// The distillation loss alpha * T^2 * KL(softmax(t/T) || softmax(s/T)) +
/// (1 - alpha) * cross_entropy(s, labels), the KL summed over the classes
/// and averaged over the rows with a valid label (PyTorch's KLDivLoss with
/// reduction='batchmean' on a full batch). Accumulated in f64 in row-major
/// order. alpha = 0 is exactly nn.cross_entropy.
Value distillLoss(LinalgBuilder &lb, DistillLossOp op) {
  Value s = op.getLogits(), t = op.getTeacherLogits(), labels = op.getLabels();
  double temperature = op.getTemperature().convertToDouble();
  double alpha = op.getAlpha().convertToDouble();
  auto type = cast<RankedTensorType>(s.getType());
  int64_t n = type.getDimSize(0), classes = type.getDimSize(1);
  B &b = lb.b;
  Value ce;
  if (alpha < 1.0) {
    auto [loss, correct] = crossEntropy(lb, s, labels);
    lb.correctCounts[{s, labels}] = correct;
    if (alpha == 0.0)
      return loss;
    ce = loss;
  }
  auto [maxS, lseS] = softenedLogSumExp(lb, s, temperature);
  auto [maxT, lseT] = softenedLogSumExp(lb, t, temperature);
  // Per row: sum_j p_j (log p_j - log q_j), p the teacher's, q the student's.
  auto rowsF64 = RankedTensorType::get({n}, b.getF64Type());
  Value kl = lb.reduceAlong({s, t, maxS, lseS, maxT, lseT}, lb.filled(rowsF64, 0.0), type, 1,
                            [&](B &b, Location l, ValueRange a) -> SmallVector<Value> {
                              Value logQ = softenedLogProb(b, l, a[0], a[2], a[3], temperature);
                              Value logP = softenedLogProb(b, l, a[1], a[4], a[5], temperature);
                              Value term =
                                  arith::MulFOp::create(b, l, math::ExpOp::create(b, l, logP),
                                                        arith::SubFOp::create(b, l, logP, logQ));
                              return {arith::AddFOp::create(b, l, a[6], term)};
                            })[0];
  // The valid rows' sum and count, in order.
  ValueRange totals = lb.reduceAlong(
      {labels, kl},
      {lb.filled(RankedTensorType::get({}, b.getF64Type()), 0.0),
       filledInt(lb, RankedTensorType::get({}, b.getI64Type()), 0)},
      RankedTensorType::get({n}, b.getI64Type()), 0,
      [&](B &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value valid = validLabel(b, l, labelAsI64(b, l, a[0]), classes);
        Value zero = floatConstant(b, l, b.getF64Type(), 0.0);
        return {
            arith::AddFOp::create(b, l, a[2], arith::SelectOp::create(b, l, valid, a[1], zero)),
            arith::AddIOp::create(b, l, a[3], arith::ExtUIOp::create(b, l, b.getI64Type(), valid))};
      });
  SmallVector<Value> inputs = {totals[0], totals[1]};
  if (ce)
    inputs.push_back(ce);
  return lb.elementwise(
      inputs, RankedTensorType::get({}, b.getF32Type()), [&](B &b, Location l, ValueRange a) {
        Type f64 = b.getF64Type();
        Value count = arith::SIToFPOp::create(b, l, f64, a[1]);
        Value any = arith::CmpIOp::create(b, l, arith::CmpIPredicate::sgt, a[1], i64Const(b, l, 0));
        Value mean = arith::SelectOp::create(b, l, any, arith::DivFOp::create(b, l, a[0], count),
                                             floatConstant(b, l, f64, 0.0));
        Value loss = arith::MulFOp::create(
            b, l, floatConstant(b, l, f64, alpha * temperature * temperature), mean);
        if (ce)
          loss = arith::AddFOp::create(
              b, l, loss,
              arith::MulFOp::create(b, l, floatConstant(b, l, f64, 1.0 - alpha),
                                    arith::ExtFOp::create(b, l, f64, a[2])));
        return arith::TruncFOp::create(b, l, b.getF32Type(), loss).getResult();
      });
}

/// dL/ds = seed * (alpha * T * (softmax(s/T) - softmax(t/T)) + (1 - alpha) *
/// (softmax(s) - onehot(label))) / V; rows with an invalid label get 0.
/// alpha = 0 is exactly nn.cross_entropy_backward.
Value distillLossBackward(LinalgBuilder &lb, DistillLossBackwardOp op) {
  Value seed = op.getGrad(), s = op.getLogits(), t = op.getTeacherLogits(), labels = op.getLabels();
  double temperature = op.getTemperature().convertToDouble();
  double alpha = op.getAlpha().convertToDouble();
  if (alpha == 0.0)
    return crossEntropyBackward(lb, seed, s, labels);
  auto type = cast<RankedTensorType>(s.getType());
  int64_t classes = type.getDimSize(1);
  B &b = lb.b;
  auto scalar = RankedTensorType::get({}, b.getF32Type());
  bool seeded = !isOne(seed);
  // seed * k as an f32 0-d tensor.
  auto scaledSeed = [&](Value by, double k) {
    SmallVector<Value> in = {by};
    if (seeded)
      in.push_back(seed);
    return lb.elementwise(in, scalar, [&](B &b, Location l, ValueRange a) -> Value {
      Value v = arith::MulFOp::create(b, l, a[0], floatConstant(b, l, b.getF32Type(), k));
      return seeded ? arith::MulFOp::create(b, l, v, a[1]).getResult() : v;
    });
  };
  Value ce;
  if (alpha < 1.0)
    ce = crossEntropyBackward(lb, scaledSeed(lb.filled(scalar, 1.0), 1.0 - alpha), s, labels);
  Value k = scaledSeed(inverseValidCount(lb, labels, classes), alpha * temperature);
  auto [maxS, lseS] = softenedLogSumExp(lb, s, temperature);
  auto [maxT, lseT] = softenedLogSumExp(lb, t, temperature);
  SmallVector<Value> inputs = {s, t, maxS, lseS, maxT, lseT, labels, k};
  if (ce)
    inputs.push_back(ce);
  return lb.broadcastAlong(inputs, type, 1, [&](B &b, Location l, ValueRange a) -> Value {
    Type f64 = b.getF64Type();
    Value q = math::ExpOp::create(b, l, softenedLogProb(b, l, a[0], a[2], a[3], temperature));
    Value p = math::ExpOp::create(b, l, softenedLogProb(b, l, a[1], a[4], a[5], temperature));
    Value d = arith::MulFOp::create(b, l, arith::SubFOp::create(b, l, q, p),
                                    arith::ExtFOp::create(b, l, f64, a[7]));
    Value valid = validLabel(b, l, labelAsI64(b, l, a[6]), classes);
    d = arith::SelectOp::create(b, l, valid, d, floatConstant(b, l, f64, 0.0));
    Value g = arith::TruncFOp::create(b, l, b.getF32Type(), d);
    return ce ? arith::AddFOp::create(b, l, g, a[8]).getResult() : g;
  });
}

/// mean((pred - target)^2), accumulated in f64 over every element in order.
Value mse(LinalgBuilder &lb, Value pred, Value target) {
  auto type = cast<RankedTensorType>(pred.getType());
  int64_t rank = type.getRank(), n = type.getNumElements();
  B &b = lb.b;
  AffineMap all = b.getMultiDimIdentityMap(rank);
  AffineMap scalar = AffineMap::get(rank, 0, {}, b.getContext());
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::reduction);
  Value sum = lb.generic(
      {pred, target}, lb.filled(RankedTensorType::get({}, b.getF64Type()), 0.0), {all, all, scalar},
      iters, [](B &b, Location l, ValueRange a) -> SmallVector<Value> {
        Type f64 = b.getF64Type();
        Value d = arith::SubFOp::create(b, l, arith::ExtFOp::create(b, l, f64, a[0]),
                                        arith::ExtFOp::create(b, l, f64, a[1]));
        return {arith::AddFOp::create(b, l, a[2], arith::MulFOp::create(b, l, d, d))};
      })[0];
  return lb.elementwise(sum, RankedTensorType::get({}, type.getElementType()),
                        [n](B &b, Location l, ValueRange a) -> Value {
                          Value count = arith::ConstantFloatOp::create(
                              b, l, cast<FloatType>(a[0].getType()), APFloat(double(n)));
                          return arith::TruncFOp::create(b, l, b.getF32Type(),
                                                         arith::DivFOp::create(b, l, a[0], count));
                        });
}

/// dL/dpred = seed * 2 * (pred - target) / n.
Value mseBackward(LinalgBuilder &lb, Value seed, Value pred, Value target) {
  auto type = cast<RankedTensorType>(pred.getType());
  float k = 2.0f / float(type.getNumElements());
  SmallVector<Value> inputs = {pred, target};
  bool scaled = !isOne(seed);
  if (scaled)
    inputs.push_back(seed);
  return lb.elementwise(inputs, type, [&](B &b, Location l, ValueRange a) -> Value {
    Value kc = arith::ConstantFloatOp::create(b, l, cast<FloatType>(a[0].getType()), APFloat(k));
    Value d = arith::MulFOp::create(b, l, kc, arith::SubFOp::create(b, l, a[0], a[1]));
    return scaled ? arith::MulFOp::create(b, l, d, a[2]).getResult() : d;
  });
}

/// Sequence logits [N, T, C] as rows [N * T, C] and their labels [N, T] as
/// [N * T] (tensor.collapse_shape); [N, C] and [N] as they are.
std::pair<Value, Value> asRows(LinalgBuilder &lb, Value logits, Value labels) {
  if (cast<RankedTensorType>(logits.getType()).getRank() != 3)
    return {logits, labels};
  SmallVector<ReassociationIndices> rows = {{0, 1}, {2}}, labelRows = {{0, 1}};
  return {tensor::CollapseShapeOp::create(lb.b, lb.loc(), logits, rows),
          tensor::CollapseShapeOp::create(lb.b, lb.loc(), labels, labelRows)};
}

/// A gradient of rows [N * T, C] back in the shape of `logits`.
Value fromRows(LinalgBuilder &lb, Value grad, Value logits) {
  auto type = cast<RankedTensorType>(logits.getType());
  if (type.getRank() != 3)
    return grad;
  SmallVector<ReassociationIndices> rows = {{0, 1}, {2}};
  return tensor::ExpandShapeOp::create(lb.b, lb.loc(), type, grad, rows);
}

} // namespace

FailureOr<bool> nnc::codegen::lowerLossesToLinalg(LinalgBuilder &lb, Operation *op) {
  auto replace = [&](Value v) { return replaceOp(op, v); };
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<CrossEntropyOp>([&](CrossEntropyOp ce) {
        auto [logits, labels] = asRows(lb, ce.getLogits(), ce.getLabels());
        auto [loss, correct] = crossEntropy(lb, logits, labels);
        // The training step's count_correct of the same rows reuses the count.
        lb.correctCounts[{ce.getLogits(), ce.getLabels()}] = correct;
        return replace(loss);
      })
      .Case<CountCorrectOp>([&](CountCorrectOp c) {
        Value known = lb.correctCounts.lookup({c.getLogits(), c.getLabels()});
        if (known)
          return replace(known);
        auto [logits, labels] = asRows(lb, c.getLogits(), c.getLabels());
        return replace(countCorrect(lb, logits, labels));
      })
      .Case<CrossEntropyBackwardOp>([&](CrossEntropyBackwardOp ce) {
        auto [logits, labels] = asRows(lb, ce.getLogits(), ce.getLabels());
        return replace(
            fromRows(lb, crossEntropyBackward(lb, ce.getGrad(), logits, labels), ce.getLogits()));
      })
      .Case<DistillLossOp>([&](DistillLossOp d) { return replace(distillLoss(lb, d)); })
      .Case<DistillLossBackwardOp>(
          [&](DistillLossBackwardOp d) { return replace(distillLossBackward(lb, d)); })
      .Case<MseOp>([&](MseOp m) { return replace(mse(lb, m.getPred(), m.getTarget())); })
      .Case<MseBackwardOp>([&](MseBackwardOp m) {
        return replace(mseBackward(lb, m.getGrad(), m.getPred(), m.getTarget()));
      })
      .Default([](Operation *) { return false; });
}
