//===- LinalgAttention.cpp - Self-attention as generics and batched GEMMs -===//
//
// nn.attention becomes nn.linear (qkv), the attention core and nn.linear
// (out); the linear layers stay library ops. The core of qkv [N, T, (H + 2K)
// hd] (H query heads, K key/value heads, G = H / K query heads per group):
// - packing (generics): Q as [N K, G T, hd] (a group's G query heads stacked
//   along the rows, so that one product per (sample, group) serves them all),
//   K and V as [N K, T, hd];
// - S = Q K^T / sqrt(hd): one nn.batch_matmul over the N K groups (the scale
//   is the GEMM's alpha);
// - with `causal`, the mask (a generic: -FLT_MAX above the diagonal, which
//   softmax turns into exact zeros), then softmax along the rows (generics);
// - O = P V: one nn.batch_matmul; unpacked (a generic) to [N, T, H hd].
// The backward recomputes S and P from qkv, then dP = dO V^T, dV = P^T dO,
// dS = P (dP - rowsum(dP P)), dQ = dS K / sqrt(hd), dK = dS^T Q / sqrt(hd):
// four more nn.batch_matmul; dV and dK sum over the G heads of a group in
// the product itself. dQ, dK and dV are unpacked into dqkv.
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgBuilder.h"

#include "dialect/NNOps.h"

#include "llvm/ADT/TypeSwitch.h"

#include <cfloat>
#include <cmath>

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

namespace {

/// The sizes of one attention core.
struct Geometry {
  int64_t n, t, heads, kv, group, hd;
  Type elem;
};

Geometry geometryOf(Value qkv, int64_t heads, int64_t kv) {
  auto type = cast<RankedTensorType>(qkv.getType());
  return {type.getDimSize(0),
          type.getDimSize(1),
          heads,
          kv,
          heads / kv,
          type.getDimSize(2) / (heads + 2 * kv),
          type.getElementType()};
}

class CoreBuilder {
public:
  CoreBuilder(LinalgBuilder &lb, Operation *op, Value qkv, int64_t heads, int64_t kv, bool causal)
      : lb(lb), op(op), g(geometryOf(qkv, heads, kv)), causal(causal),
        scale(1.0 / std::sqrt(double(g.hd))) {
    pack(qkv);
  }

  /// softmax(mask(Q K^T / sqrt(hd))) as [N K, G T, T].
  Value probabilities();
  /// The forward result [N, T, H hd] from the probabilities.
  Value forward(Value p);
  /// dL/dqkv from dL/dy and the probabilities.
  Value backward(Value dy, Value p);

private:
  RankedTensorType type(ArrayRef<int64_t> shape) { return RankedTensorType::get(shape, g.elem); }
  Value expand(Value x, ArrayRef<int64_t> shape, ArrayRef<ReassociationIndices> dims) {
    return tensor::ExpandShapeOp::create(lb.b, lb.loc(), type(shape), x, dims);
  }
  Value collapse(Value x, ArrayRef<ReassociationIndices> dims) {
    return tensor::CollapseShapeOp::create(lb.b, lb.loc(), x, dims);
  }
  /// A copy of `in` into a tensor of `shape`: element (i...) of the result is
  /// `in` at the affine `inputExprs` of i... .
  Value gather(Value in, ArrayRef<AffineExpr> inputExprs, ArrayRef<int64_t> shape) {
    unsigned rank = shape.size();
    MLIRContext *ctx = lb.b.getContext();
    SmallVector<AffineMap> maps = {AffineMap::get(rank, 0, inputExprs, ctx),
                                   lb.b.getMultiDimIdentityMap(rank)};
    SmallVector<utils::IteratorType> iters(rank, utils::IteratorType::parallel);
    return lb.generic(in, maps, iters, type(shape),
                      [](OpBuilder &, Location, ValueRange a) { return a[0]; });
  }
  AffineExpr d(unsigned i) { return lb.b.getAffineDimExpr(i); }
  Value matmul(Value a, Value b, bool ta, bool tb, double alpha) {
    SmallVector<NamedAttribute> attrs;
    if (auto name = op->getAttrOfType<StringAttr>("name"))
      attrs.push_back(lb.b.getNamedAttr("name", name));
    if (ta)
      attrs.push_back(lb.b.getNamedAttr("transpose_lhs", lb.b.getUnitAttr()));
    if (tb)
      attrs.push_back(lb.b.getNamedAttr("transpose_rhs", lb.b.getUnitAttr()));
    if (alpha != 1.0)
      attrs.push_back(lb.b.getNamedAttr("alpha", lb.b.getF64FloatAttr(alpha)));
    return BatchMatmulOp::create(lb.b, lb.loc(), ValueRange{a, b}, attrs).getResult();
  }
  /// [N K, G T, hd] (a group's rows) from [N, T, H hd] (heads along the
  /// features): dL/dy into the layout of Q.
  Value packHeads(Value x) {
    Value x5 = expand(x, {g.n, g.t, g.kv, g.group, g.hd}, {{0}, {1}, {2, 3, 4}});
    Value p = gather(x5, {d(0), d(3), d(1), d(2), d(4)}, {g.n, g.kv, g.group, g.t, g.hd});
    return collapse(p, {{0, 1}, {2, 3}, {4}});
  }
  /// The inverse of packHeads, as [N, T, H, hd].
  Value unpackHeads(Value x) {
    Value x5 = expand(x, {g.n, g.kv, g.group, g.t, g.hd}, {{0, 1}, {2, 3}, {4}});
    Value u = gather(x5, {d(0), d(2), d(3), d(1), d(4)}, {g.n, g.t, g.kv, g.group, g.hd});
    return collapse(u, {{0}, {1}, {2, 3}, {4}});
  }
  /// [N, T, K, hd] from a key/value gradient [N K, T, hd].
  Value unpackKv(Value x) {
    Value x4 = expand(x, {g.n, g.kv, g.t, g.hd}, {{0, 1}, {2}, {3}});
    return gather(x4, {d(0), d(2), d(1), d(3)}, {g.n, g.t, g.kv, g.hd});
  }
  void pack(Value qkv);

  LinalgBuilder &lb;
  Operation *op;
  Geometry g;
  bool causal;
  double scale;
  Value q, k, v; ///< Packed: [N K, G T, hd], [N K, T, hd], [N K, T, hd].
};

void CoreBuilder::pack(Value qkv) {
  int64_t parts = g.heads + 2 * g.kv;
  Value q4 = expand(qkv, {g.n, g.t, parts, g.hd}, {{0}, {1}, {2, 3}});
  // Q[n, k, j, t, e] = qkv[n, t, (k G + j) hd + e].
  q = collapse(
      gather(q4, {d(0), d(3), d(1) * g.group + d(2), d(4)}, {g.n, g.kv, g.group, g.t, g.hd}),
      {{0, 1}, {2, 3}, {4}});
  // K[n, k, t, e] = qkv[n, t, (H + k) hd + e]; V after the K heads.
  auto kvPart = [&](int64_t first) {
    return collapse(gather(q4, {d(0), d(2), d(1) + first, d(3)}, {g.n, g.kv, g.t, g.hd}),
                    {{0, 1}, {2}, {3}});
  };
  k = kvPart(g.heads);
  v = kvPart(g.heads + g.kv);
}

Value CoreBuilder::probabilities() {
  Value s = matmul(q, k, false, true, scale);
  if (!causal)
    return buildSoftmax(lb, s, 2);
  // Row t of each head's [T, T] block attends to columns j <= t.
  Value s4 = expand(s, {g.n * g.kv, g.group, g.t, g.t}, {{0}, {1, 2}, {3}});
  auto s4Type = cast<RankedTensorType>(s4.getType());
  Value masked = lb.elementwise(s4, s4Type, [&](OpBuilder &b, Location l, ValueRange a) -> Value {
    Value row = linalg::IndexOp::create(b, l, 2);
    Value col = linalg::IndexOp::create(b, l, 3);
    Value above = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt, col, row);
    return arith::SelectOp::create(b, l, above, floatConstant(b, l, g.elem, -FLT_MAX), a[0]);
  });
  return collapse(buildSoftmax(lb, masked, 3), {{0}, {1, 2}, {3}});
}

Value CoreBuilder::forward(Value p) {
  Value o = matmul(p, v, false, false, 1.0);
  Value heads = unpackHeads(o);
  return collapse(heads, {{0}, {1}, {2, 3}});
}

Value CoreBuilder::backward(Value dy, Value p) {
  Value dO = packHeads(dy);
  Value dP = matmul(dO, v, false, true, 1.0);
  Value dV = matmul(p, dO, true, false, 1.0);
  // Masked entries have p = 0, hence dS = 0.
  Value dS = buildSoftmaxBackward(lb, dP, p, 2);
  Value dQ = matmul(dS, k, false, false, scale);
  Value dK = matmul(dS, q, true, false, scale);
  // dqkv as [N, T, H + 2K, hd]: dQ, dK, dV along the third dimension.
  int64_t parts = g.heads + 2 * g.kv;
  RankedTensorType full = type({g.n, g.t, parts, g.hd});
  Value result = lb.empty(full);
  int64_t offset = 0;
  MLIRContext *ctx = lb.b.getContext();
  for (Value part : {unpackHeads(dQ), unpackKv(dK), unpackKv(dV)}) {
    auto partType = cast<RankedTensorType>(part.getType());
    SmallVector<int64_t> offsets = {0, 0, offset, 0}, strides(4, 1);
    result = tensor::InsertSliceOp::create(
        lb.b, lb.loc(), part, result, getAsIndexOpFoldResult(ctx, offsets),
        getAsIndexOpFoldResult(ctx, partType.getShape()), getAsIndexOpFoldResult(ctx, strides));
    offset += partType.getDimSize(2);
  }
  return collapse(result, {{0}, {1}, {2, 3}});
}

/// The forward of an nn.attention_core op.
Value lowerCore(LinalgBuilder &lb, AttentionCoreOp core) {
  CoreBuilder cb(lb, core, core.getQkv(), core.getHeads(), core.getKvHeads(), core.getCausal());
  return cb.forward(cb.probabilities());
}

} // namespace

FailureOr<bool> nnc::codegen::lowerAttentionToLinalg(LinalgBuilder &lb, Operation *op) {
  return llvm::TypeSwitch<Operation *, FailureOr<bool>>(op)
      .Case<AttentionOp>([&](AttentionOp a) {
        // The linear layers stay library ops; the core is lowered here, as
        // the pass does not visit ops created before the current one.
        Value y = a.decompose(lb.b);
        auto core = y.getDefiningOp<LinearOp>().getInput().getDefiningOp<AttentionCoreOp>();
        lb.startOp(core);
        replaceOp(core, lowerCore(lb, core));
        return replaceOp(op, y);
      })
      .Case<AttentionCoreOp>(
          [&](AttentionCoreOp core) { return replaceOp(op, lowerCore(lb, core)); })
      .Case<AttentionCoreBackwardOp>([&](AttentionCoreBackwardOp bwd) {
        CoreBuilder cb(lb, bwd, bwd.getQkv(), bwd.getHeads(), bwd.getKvHeads(), bwd.getCausal());
        return replaceOp(op, cb.backward(bwd.getGrad(), cb.probabilities()));
      })
      .Default([](Operation *) { return false; });
}
