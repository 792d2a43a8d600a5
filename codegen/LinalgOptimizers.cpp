//===- LinalgOptimizers.cpp - Optimizer updates as linalg -----------------===//
//
// The optimizer updates (SGD, SGD with momentum, Adam/AdamW) as one
// multi-result linalg.generic each, parallel over every element of the
// parameter. The parameter and its optimizer state are the generic's
// destinations and its body reads their current values, so
// -nn-lower-to-buffers updates them in place in their arena regions (the
// autodiff pass emits the updates after the whole backward pass, so nothing
// reads the old values later) and the nn.param_assign that follows is a
// no-op. The learning rate and Adam's per-step scalars are rank-0 tensors,
// read once before the generic (tensor.extract) and used by its body.
//
//===----------------------------------------------------------------------===//

#include "codegen/FlatUpdate.h"
#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Math/IR/Math.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

/// A float constant of type `type` (rounded from `value`).
Value constant(OpBuilder &b, Location loc, Type type, double value) {
  return arith::ConstantOp::create(b, loc, b.getFloatAttr(type, value));
}

/// Builds one linalg.generic, parallel over every element of `state[0]`'s
/// type, that updates the tensors `state` (its destinations, whose current
/// values the body reads) from `inputs` (of that shape, or rank 0: a scalar
/// for every element). `body` gets one scalar per input, then one per state
/// tensor, and returns the new state values. Returns the results.
///
/// A rank-0 input is read once, by a tensor.extract before the generic, and
/// the body uses that value: a load inside the loop (a linalg input) could
/// alias the stores to the state for all LLVM knows, which keeps it from
/// vectorizing the loop.
ValueRange updateInPlace(LinalgBuilder &lb, StringRef optimizer, ValueRange inputs,
                         ValueRange state,
                         function_ref<SmallVector<Value>(OpBuilder &, Location, ValueRange)> body) {
  auto type = cast<RankedTensorType>(state[0].getType());
  int64_t rank = type.getRank();
  AffineMap identity = lb.b.getMultiDimIdentityMap(rank);
  SmallVector<Value> scalars, tensors;
  for (Value in : inputs) {
    bool scalar = cast<ShapedType>(in.getType()).getRank() == 0;
    scalars.push_back(scalar ? tensor::ExtractOp::create(lb.b, lb.loc(), in, ValueRange{})
                             : Value());
    if (!scalar)
      tensors.push_back(in);
  }
  SmallVector<AffineMap> maps(tensors.size() + state.size(), identity);
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  auto op = linalg::GenericOp::create(lb.b, lb.loc(), state.getTypes(), tensors, state, maps, iters,
                                      [&](OpBuilder &nb, Location l, ValueRange args) {
                                        SmallVector<Value> values;
                                        unsigned next = 0;
                                        for (Value s : scalars)
                                          values.push_back(s ? s : args[next++]);
                                        llvm::append_range(values, args.drop_front(next));
                                        linalg::YieldOp::create(nb, l, body(nb, l, values));
                                      });
  op->setAttr(kOptimizerAttr, lb.b.getStringAttr(optimizer));
  return op.getResults();
}

/// `grad + weightDecay * param`, or `grad` when there is no weight decay.
Value withWeightDecay(OpBuilder &b, Location l, Value grad, Value param, double weightDecay) {
  if (weightDecay == 0.0)
    return grad;
  Value wd = constant(b, l, grad.getType(), weightDecay);
  return arith::AddFOp::create(b, l, grad, arith::MulFOp::create(b, l, wd, param));
}

/// Replaces the results of `op` by `values` and erases it.
bool replace(Operation *op, ValueRange values) {
  op->replaceAllUsesWith(values);
  op->erase();
  return true;
}

/// SGD: param -= lr * (grad + weight_decay * param).
bool lowerSgd(LinalgBuilder &lb, SgdUpdateOp u) {
  double wd = u.getWeightDecay().convertToDouble();
  ValueRange results = updateInPlace(
      lb, "sgd", {u.getGrad(), u.getLr()}, {u.getParam()},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value g = withWeightDecay(b, l, a[0], a[2], wd);
        return {arith::SubFOp::create(b, l, a[2], arith::MulFOp::create(b, l, a[1], g))};
      });
  return replace(u, results);
}

/// SGD with momentum, as torch.optim.SGD with dampening 0 (the op has no
/// dampening): buf = momentum * buf + g. At the first step the buffer (zero
/// initialized) gives buf = g exactly, PyTorch's first-step rule, so the
/// update needs no step count.
bool lowerMomentum(LinalgBuilder &lb, MomentumUpdateOp u) {
  double wd = u.getWeightDecay().convertToDouble();
  double momentum = u.getMomentum().convertToDouble();
  bool nesterov = u.getNesterov();
  ValueRange results = updateInPlace(
      lb, nesterov ? "nesterov" : "momentum", {u.getGrad(), u.getLr()},
      {u.getParam(), u.getMomentumBuffer()},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value lr = a[1], param = a[2], buf = a[3];
        Value mu = constant(b, l, param.getType(), momentum);
        Value g = withWeightDecay(b, l, a[0], param, wd);
        Value newBuf = arith::AddFOp::create(b, l, arith::MulFOp::create(b, l, mu, buf), g);
        Value d = nesterov ? arith::AddFOp::create(b, l, g, arith::MulFOp::create(b, l, mu, newBuf))
                           : newBuf;
        Value newParam = arith::SubFOp::create(b, l, param, arith::MulFOp::create(b, l, lr, d));
        return {newParam, newBuf};
      });
  return replace(u, results);
}

/// Adam / AdamW as torch.optim.Adam and AdamW (amsgrad off). A rank-0
/// generic first computes the step's scalars from `lr` and `step` in f64 as
/// PyTorch does in Python: lr / (1 - beta1^t), sqrt(1 - beta2^t) and AdamW's
/// 1 - lr * weight_decay; the elementwise update then reads them.
bool lowerAdam(LinalgBuilder &lb, AdamUpdateOp u) {
  double beta1 = u.getBeta1().convertToDouble(), beta2 = u.getBeta2().convertToDouble();
  double eps = u.getEps().convertToDouble(), wd = u.getWeightDecay().convertToDouble();
  bool adamw = u.getAdamw();
  Type f32 = lb.b.getF32Type();
  auto scalarType = RankedTensorType::get({}, f32);
  auto scalars = linalg::GenericOp::create(
      lb.b, lb.loc(), TypeRange{scalarType, scalarType, scalarType},
      ValueRange{u.getLr(), u.getStep()},
      ValueRange{lb.empty(scalarType), lb.empty(scalarType), lb.empty(scalarType)},
      SmallVector<AffineMap>(5, AffineMap::get(lb.b.getContext())), ArrayRef<utils::IteratorType>{},
      [&](OpBuilder &b, Location l, ValueRange a) {
        Type f64 = b.getF64Type();
        auto c = [&](double v) { return constant(b, l, f64, v); };
        Value lr = arith::ExtFOp::create(b, l, f64, a[0]);
        // The 1-based step count t (at least 1).
        Value step = arith::MaxSIOp::create(b, l, a[1],
                                            arith::ConstantIntOp::create(b, l, a[1].getType(), 1));
        Value t = arith::SIToFPOp::create(b, l, f64, step);
        auto correction = [&](double beta) -> Value {
          return arith::SubFOp::create(b, l, c(1.0), math::PowFOp::create(b, l, c(beta), t));
        };
        Value stepSize = arith::DivFOp::create(b, l, lr, correction(beta1));
        Value bc2Sqrt = math::SqrtOp::create(b, l, correction(beta2));
        Value decay =
            adamw ? arith::SubFOp::create(b, l, c(1.0), arith::MulFOp::create(b, l, lr, c(wd)))
                        .getResult()
                  : c(1.0);
        SmallVector<Value> out;
        for (Value v : {stepSize, bc2Sqrt, decay})
          out.push_back(arith::TruncFOp::create(b, l, f32, v));
        linalg::YieldOp::create(b, l, out);
      });
  scalars->setAttr(kOptimizerScalarsAttr, lb.b.getStringAttr(adamw ? "adamw" : "adam"));
  ValueRange s = scalars.getResults();
  ValueRange results = updateInPlace(
      lb, adamw ? "adamw" : "adam", {u.getGrad(), s[0], s[1], s[2]},
      {u.getParam(), u.getExpAvg(), u.getExpAvgSq()},
      [&](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
        Value grad = a[0], stepSize = a[1], bc2Sqrt = a[2], decay = a[3];
        Value param = a[4], m = a[5], v = a[6];
        Type type = param.getType();
        auto c = [&](double x) { return constant(b, l, type, x); };
        auto mul = [&](Value x, Value y) { return arith::MulFOp::create(b, l, x, y); };
        auto add = [&](Value x, Value y) { return arith::AddFOp::create(b, l, x, y); };
        // AdamW decays the parameter; Adam adds the L2 term to the gradient.
        Value p = adamw && wd != 0.0 ? mul(param, decay).getResult() : param;
        Value g = withWeightDecay(b, l, grad, p, adamw ? 0.0 : wd);
        Value newM = add(mul(m, c(beta1)), mul(c(1.0 - beta1), g));
        Value newV = add(mul(v, c(beta2)), mul(mul(c(1.0 - beta2), g), g));
        Value denom =
            add(arith::DivFOp::create(b, l, math::SqrtOp::create(b, l, newV), bc2Sqrt), c(eps));
        // addcdiv's order: param + (-stepSize * m) / denom.
        Value delta =
            arith::DivFOp::create(b, l, mul(arith::NegFOp::create(b, l, stepSize), newM), denom);
        return {add(p, delta), newM, newV};
      });
  return replace(u, results);
}

} // namespace

FailureOr<bool> nnc::codegen::lowerOptimizersToLinalg(LinalgBuilder &lb, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<SgdUpdateOp>([&](SgdUpdateOp u) { return lowerSgd(lb, u); })
      .Case<MomentumUpdateOp>([&](MomentumUpdateOp u) { return lowerMomentum(lb, u); })
      .Case<AdamUpdateOp>([&](AdamUpdateOp u) { return lowerAdam(lb, u); })
      .Default([](Operation *) { return false; });
}
