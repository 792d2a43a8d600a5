//===- LinalgLinear.cpp - Linear layers as generated kernels --------------===//
//
// With -nn-lower-to-linalg{generated-matmul=1} (nnc --generated-matmul),
// nn.linear and nn.linear_backward become linalg.generic on tensors instead
// of library calls: a matmul whose weight is read transposed through its
// indexing map, one reduction loop per output element, so the generated
// kernel can be compared with the library's GEMM on either target.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

/// The body of a multiply-accumulate: out + a * b.
Value multiplyAdd(OpBuilder &nb, Location l, ValueRange args) {
  Value product = arith::MulFOp::create(nb, l, args[0], args[1]);
  return arith::AddFOp::create(nb, l, args[2], product);
}

/// The body of a sum: out + a.
Value accumulate(OpBuilder &nb, Location l, ValueRange args) {
  return arith::AddFOp::create(nb, l, args[1], args[0]);
}

/// A map over `numDims` iteration dimensions selecting `dims`.
AffineMap dimsMap(LinalgBuilder &lb, unsigned numDims, ArrayRef<unsigned> dims) {
  SmallVector<AffineExpr> exprs;
  for (unsigned d : dims)
    exprs.push_back(lb.b.getAffineDimExpr(d));
  return AffineMap::get(numDims, 0, exprs, lb.b.getContext());
}

/// The dimensions [first, first + count).
SmallVector<unsigned> dimRange(unsigned first, unsigned count) {
  SmallVector<unsigned> dims;
  for (unsigned i = 0; i < count; ++i)
    dims.push_back(first + i);
  return dims;
}

/// `dims` followed by `last`.
SmallVector<unsigned> append(ArrayRef<unsigned> dims, unsigned last) {
  SmallVector<unsigned> all(dims);
  all.push_back(last);
  return all;
}

/// nn.linear: y[l.., o] = bias[o] + sum_k x[l.., k] * w[o, k]; iteration
/// dimensions (l.., o, k), k the reduction.
Value lowerForward(LinalgBuilder &lb, LinearOp op) {
  RankedTensorType type = resultTensorType(op);
  unsigned lead = type.getRank() - 1, numDims = lead + 2;
  SmallVector<unsigned> leading = dimRange(0, lead);
  // The accumulator starts at the bias, broadcast along the leading dims.
  Value init;
  if (Value bias = op.getBias()) {
    unsigned rank = type.getRank();
    SmallVector<AffineMap> maps = {dimsMap(lb, rank, {rank - 1}),
                                   lb.b.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    init = lb.generic(bias, maps, iters, type,
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  } else {
    init = lb.filled(type, 0.0);
  }
  SmallVector<utils::IteratorType> iters(numDims, utils::IteratorType::parallel);
  iters.back() = utils::IteratorType::reduction;
  SmallVector<AffineMap> maps = {dimsMap(lb, numDims, append(leading, lead + 1)),
                                 dimsMap(lb, numDims, {lead, lead + 1}),
                                 dimsMap(lb, numDims, append(leading, lead))};
  return lb.generic({op.getInput(), op.getWeight()}, maps, iters, type, multiplyAdd, init);
}

/// nn.linear_backward: dx[l.., i] = sum_o dy[l.., o] * w[o, i] over (l.., i,
/// o); dw[o, i] = sum_l dy[l.., o] * x[l.., i] over (o, i, l..); db[o] =
/// sum_l dy[l.., o] over (o, l..).
SmallVector<Value> lowerBackward(LinalgBuilder &lb, LinearBackwardOp op) {
  auto dyType = cast<RankedTensorType>(op.getGrad().getType());
  unsigned lead = dyType.getRank() - 1;
  using utils::IteratorType;
  SmallVector<Value> grads;
  if (Value dx = op.getInputGrad()) {
    auto type = cast<RankedTensorType>(dx.getType());
    unsigned numDims = lead + 2;
    SmallVector<unsigned> leading = dimRange(0, lead);
    SmallVector<IteratorType> iters(numDims, IteratorType::parallel);
    iters.back() = IteratorType::reduction;
    SmallVector<AffineMap> maps = {dimsMap(lb, numDims, append(leading, lead + 1)),
                                   dimsMap(lb, numDims, {lead + 1, lead}),
                                   dimsMap(lb, numDims, append(leading, lead))};
    grads.push_back(lb.generic({op.getGrad(), op.getWeight()}, maps, iters, type, multiplyAdd,
                               lb.filled(type, 0.0)));
  }
  {
    auto type = cast<RankedTensorType>(op.getWeightGrad().getType());
    unsigned numDims = lead + 2;
    SmallVector<unsigned> leading = dimRange(2, lead);
    SmallVector<IteratorType> iters(numDims, IteratorType::reduction);
    iters[0] = iters[1] = IteratorType::parallel;
    SmallVector<AffineMap> maps = {dimsMap(lb, numDims, append(leading, 0)),
                                   dimsMap(lb, numDims, append(leading, 1)),
                                   dimsMap(lb, numDims, {0, 1})};
    grads.push_back(lb.generic({op.getGrad(), op.getInput()}, maps, iters, type, multiplyAdd,
                               lb.filled(type, 0.0)));
  }
  if (Value db = op.getBiasGrad()) {
    auto type = cast<RankedTensorType>(db.getType());
    unsigned numDims = lead + 1;
    SmallVector<IteratorType> iters(numDims, IteratorType::reduction);
    iters[0] = IteratorType::parallel;
    SmallVector<AffineMap> maps = {dimsMap(lb, numDims, append(dimRange(1, lead), 0)),
                                   dimsMap(lb, numDims, {0})};
    grads.push_back(
        lb.generic({op.getGrad()}, maps, iters, type, accumulate, lb.filled(type, 0.0)));
  }
  return grads;
}

} // namespace

FailureOr<bool> nnc::codegen::lowerLinearToLinalg(LinalgBuilder &lb, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<LinearOp>([&](LinearOp linear) { return replaceOp(op, lowerForward(lb, linear)); })
      .Case<LinearBackwardOp>(
          [&](LinearBackwardOp backward) { return replaceOp(op, lowerBackward(lb, backward)); })
      .Default([](Operation *) { return false; });
}
