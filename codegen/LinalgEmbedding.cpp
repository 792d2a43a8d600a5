//===- LinalgEmbedding.cpp - Embedding lookup and its gradient ------------===//
//
// nn.embedding as a gather: a linalg.generic parallel over the output
// [N, ..., D] whose body reads the table row of its token id with
// tensor.extract (i32 and i64 ids alike: the id is cast to an index in the
// body). nn.embedding_backward as a scatter-add: a linalg.fill of zeros, then
// a loop nest over the tokens and, innermost, the D contiguous features,
// which adds each row of dL/dy into the row of its token id (scf.for on
// tensors with tensor.extract / tensor.insert, bufferized in place). linalg
// has no scatter; the formulations that stay inside one linalg.generic (a
// parallel iteration over the table's rows and features whose body scans
// all tokens, or a one-hot matrix product) cost O(V*D*T) where this loop
// costs O(T*D) after the O(V*D) fill, as the C++ kernel did. The tokens are
// summed in index order, so the result is deterministic.
//
// nn.pos_embedding adds rows 0..T-1 of its table (a tensor.extract_slice
// when the table has more rows than the sequence) to every sample, one
// elementwise generic; its backward sums dL/dy over the batch (a generic
// reducing dimension 0, in batch order) into those rows of a zero-filled
// table gradient.
//
// Token ids outside [0, V) are clamped into it, so the generated code never
// reads or writes outside the table; nnc's data readers and `nnc run` refuse
// such ids with an error before they reach the model.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

/// The table row of token id `id` (any integer type): the id as an index,
/// clamped into [0, rows).
Value rowOf(OpBuilder &b, Location l, Value id, int64_t rows) {
  Value i = arith::IndexCastOp::create(b, l, b.getIndexType(), id);
  Value zero = arith::ConstantIndexOp::create(b, l, 0);
  Value last = arith::ConstantIndexOp::create(b, l, rows - 1);
  return arith::MinSIOp::create(b, l, arith::MaxSIOp::create(b, l, i, zero), last);
}

/// `value` with its dimensions collapsed into one, or, with `keepLast`, into
/// two: all but the last, and the last.
Value flatten(LinalgBuilder &lb, Value value, bool keepLast) {
  auto type = cast<RankedTensorType>(value.getType());
  int64_t rank = type.getRank();
  int64_t leading = keepLast ? rank - 1 : rank;
  if (leading == 1)
    return value;
  SmallVector<ReassociationIndices> groups(1);
  for (int64_t d = 0; d < leading; ++d)
    groups[0].push_back(d);
  SmallVector<int64_t> shape = {type.getNumElements()};
  if (keepLast) {
    groups.push_back({rank - 1});
    shape = {type.getNumElements() / type.getShape().back(), type.getShape().back()};
  }
  return tensor::CollapseShapeOp::create(
      lb.b, lb.loc(), RankedTensorType::get(shape, type.getElementType()), value, groups);
}

/// out[n..., d] = table[ids[n...], d].
bool lowerEmbedding(LinalgBuilder &lb, EmbeddingOp e) {
  auto outType = cast<RankedTensorType>(e.getType());
  int64_t rank = outType.getRank();
  int64_t rows = cast<RankedTensorType>(e.getTable().getType()).getDimSize(0);
  Value table = e.getTable();
  MLIRContext *ctx = lb.b.getContext();
  SmallVector<AffineExpr> idDims;
  for (int64_t d = 0; d + 1 < rank; ++d)
    idDims.push_back(getAffineDimExpr(d, ctx));
  SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, idDims, ctx),
                                 lb.b.getMultiDimIdentityMap(rank)};
  SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
  Value out = lb.generic(
      e.getIds(), maps, iters, outType, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
        Value feature = linalg::IndexOp::create(b, l, rank - 1);
        return tensor::ExtractOp::create(b, l, table, ValueRange{rowOf(b, l, a[0], rows), feature});
      });
  e.getResult().replaceAllUsesWith(out);
  e.erase();
  return true;
}

/// dtable = 0; for each token t: dtable[ids[t], :] += dy[t, :].
bool lowerEmbeddingBackward(LinalgBuilder &lb, EmbeddingBackwardOp e) {
  auto tableType = cast<RankedTensorType>(e.getType());
  int64_t rows = tableType.getDimSize(0), features = tableType.getDimSize(1);
  Value ids = flatten(lb, e.getIds(), /*keepLast=*/false);
  Value grad = flatten(lb, e.getGrad(), /*keepLast=*/true);
  int64_t tokens = cast<RankedTensorType>(ids.getType()).getDimSize(0);
  Value zeros = lb.filled(tableType, 0.0);
  OpBuilder &b = lb.b;
  Location loc = lb.loc();
  auto index = [&](int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); };
  Value zero = index(0), one = index(1), featureEnd = index(features);
  auto loop = scf::ForOp::create(
      b, loc, zero, index(tokens), one, ValueRange{zeros},
      [&](OpBuilder &tb, Location l, Value t, ValueRange acc) {
        Value row = rowOf(tb, l, tensor::ExtractOp::create(tb, l, ids, t), rows);
        auto inner = scf::ForOp::create(
            tb, l, zero, featureEnd, one, acc,
            [&](OpBuilder &fb, Location fl, Value d, ValueRange rowAcc) {
              Value old = tensor::ExtractOp::create(fb, fl, rowAcc[0], ValueRange{row, d});
              Value dy = tensor::ExtractOp::create(fb, fl, grad, ValueRange{t, d});
              Value sum = arith::AddFOp::create(fb, fl, old, dy);
              Value updated = tensor::InsertOp::create(fb, fl, sum, rowAcc[0], ValueRange{row, d});
              scf::YieldOp::create(fb, fl, updated);
            });
        scf::YieldOp::create(tb, l, inner.getResults());
      });
  // Not a linalg op: tag it by hand like the ones the builder makes.
  loop->setAttr("nn.layer", lb.tagger.layer);
  e.getResult().replaceAllUsesWith(loop.getResult(0));
  e.erase();
  return true;
}

/// Rows [0, rows) of the 2-d `table` (the table itself if it has `rows`).
Value leadingRows(LinalgBuilder &lb, Value table, int64_t rows) {
  auto type = cast<RankedTensorType>(table.getType());
  if (type.getDimSize(0) == rows)
    return table;
  auto sliceType = RankedTensorType::get({rows, type.getDimSize(1)}, type.getElementType());
  SmallVector<OpFoldResult> offsets(2, lb.b.getIndexAttr(0)), strides(2, lb.b.getIndexAttr(1));
  SmallVector<OpFoldResult> sizes = {lb.b.getIndexAttr(rows),
                                     lb.b.getIndexAttr(type.getDimSize(1))};
  return tensor::ExtractSliceOp::create(lb.b, lb.loc(), sliceType, table, offsets, sizes, strides);
}

/// y[n, t, d] = x[n, t, d] + table[t, d].
bool lowerPosEmbedding(LinalgBuilder &lb, PosEmbeddingOp p) {
  auto type = cast<RankedTensorType>(p.getType());
  Value rows = leadingRows(lb, p.getTable(), type.getDimSize(1));
  Value out = lb.broadcastAlong({p.getInput(), rows}, type, 0,
                                [](OpBuilder &b, Location l, ValueRange a) -> Value {
                                  return arith::AddFOp::create(b, l, a[0], a[1]);
                                });
  return replaceOp(p, out);
}

/// dtable[t, d] = sum over n of dy[n, t, d] for t < T, zero below.
bool lowerPosEmbeddingBackward(LinalgBuilder &lb, PosEmbeddingBackwardOp p) {
  auto tableType = cast<RankedTensorType>(p.getType());
  auto gradType = cast<RankedTensorType>(p.getGrad().getType());
  int64_t steps = gradType.getDimSize(1), features = gradType.getDimSize(2);
  auto rowsType = RankedTensorType::get({steps, features}, gradType.getElementType());
  Value sums = lb.reduceAlong(p.getGrad(), lb.filled(rowsType, 0.0), gradType, 0,
                              [](OpBuilder &b, Location l, ValueRange a) -> SmallVector<Value> {
                                return {arith::AddFOp::create(b, l, a[1], a[0])};
                              })[0];
  if (steps == tableType.getDimSize(0))
    return replaceOp(p, sums);
  SmallVector<OpFoldResult> offsets(2, lb.b.getIndexAttr(0)), strides(2, lb.b.getIndexAttr(1));
  SmallVector<OpFoldResult> sizes = {lb.b.getIndexAttr(steps), lb.b.getIndexAttr(features)};
  Value full = tensor::InsertSliceOp::create(lb.b, lb.loc(), sums, lb.filled(tableType, 0.0),
                                             offsets, sizes, strides);
  return replaceOp(p, full);
}

} // namespace

FailureOr<bool> nnc::codegen::lowerEmbeddingToLinalg(LinalgBuilder &lb, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<EmbeddingOp>([&](EmbeddingOp e) { return lowerEmbedding(lb, e); })
      .Case<EmbeddingBackwardOp>(
          [&](EmbeddingBackwardOp e) { return lowerEmbeddingBackward(lb, e); })
      .Case<PosEmbeddingOp>([&](PosEmbeddingOp p) { return lowerPosEmbedding(lb, p); })
      .Case<PosEmbeddingBackwardOp>(
          [&](PosEmbeddingBackwardOp p) { return lowerPosEmbeddingBackward(lb, p); })
      .Default([](Operation *) { return false; });
}
