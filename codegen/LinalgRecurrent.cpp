//===- LinalgRecurrent.cpp - The recurrent cells' gate math as linalg -----===//
//
// The GEMMs of a recurrent layer are library calls made by the runtime's time
// loop (runtime/KernelsRecurrent.cpp); the pointwise math of one time step is
// a generated function, `@nnc_gates_<cell><k>_<pass>`, one linalg.generic on
// memrefs over [batch, hidden] that reads every gate once and writes every
// result once (for LSTM: the four activations, the cell state and h in one
// pass). The runtime calls it through a pointer, once per step and range of
// batch rows (each thread runs the time loop on its own rows), with views of
// its buffers (MLIR's memref calling convention: per memref the allocated and
// aligned pointers, the offset, the sizes and the strides).
//
// Signatures (N the rows of the call, dynamic; H hidden, D directions, G
// gates; "rows(w, s)" = memref<N x w> with row stride s, "NxW" a dense one;
// "prev" = memref<N x H>
// with a dynamic row stride, 0 for the zero initial state; b_ih and b_hh are
// memref<G*H>, zeros without biases). The runtime keeps everything
// time-major, so one step's rows are contiguous:
//   lstm fwd       (gates Nx4H, b_ih, b_hh, c NxH in/out, h rows(H,D*H))
//   lstm fwd_train (gates, b_ih, b_hh, c_prev prev, saved Nx6H [i,f,g,o,c,h])
//   lstm bwd       (dy rows(H,D*H), dh NxH, saved Nx6H, c_prev prev,
//                   dc NxH in/out, dgates Nx4H)
//   gru  fwd       (xp Nx3H, hp Nx3H, b_ih, b_hh, h_prev prev, h rows(H,D*H))
//   gru  fwd_train (xp, hp, b_ih, b_hh, h_prev, saved Nx5H [r,z,n,hn,h])
//   gru  bwd       (dy rows(H,D*H), dh NxH in/out, saved Nx5H, h_prev prev,
//                   dxp Nx3H, dhp Nx3H)
//   rnn  fwd       (a NxH, b_ih, b_hh, h rows(H,D*H))   (fwd_train: h NxH)
//   rnn  bwd       (dy rows(H,D*H), dh NxH, h NxH, da NxH)
// `saved` is one step of the training op's `saved` result (its layout is the
// dialect's, docs/dialect.md). The gate pre-activations (`gates`, `a`) hold
// x W_ih^T + h_prev W_hh^T, GRU's `xp` x W_ih^T and `hp` h_prev W_hh^T; the
// step function adds the biases (GRU: hn = hp_n + b_hn inside r * hn). The
// backward's dh is the gradient reaching h from the next step, dy the one
// from the layer's output; the results are the gradients of the
// pre-activations (and the recurrent state's, updated in place).
//
//===----------------------------------------------------------------------===//

#include "codegen/LinalgRecurrent.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace nnc::codegen;

namespace {

/// Scalar f32 math in a linalg body. exp is Cephes' expf (range reduction by
/// ln 2, degree-6 polynomial, relative error < 2e-7) in plain arith, so the
/// loops vectorize without a vector math library; sigmoid and tanh are built
/// on it (tanh absolute error < 3e-7).
struct CellMath {
  OpBuilder &b;
  Location loc;

  Value c(float v) {
    return arith::ConstantFloatOp::create(b, loc, b.getF32Type(), APFloat(v));
  }
  Value add(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivFOp::create(b, loc, x, y); }
  Value mul(Value x, Value y, Value z) { return mul(mul(x, y), z); }
  /// 1 - x.
  Value oneMinus(Value x) { return sub(c(1.0f), x); }
  /// x > 0 ? y : 0.
  Value ifPositive(Value x, Value y) {
    Value pos = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, c(0.0f));
    return arith::SelectOp::create(b, loc, pos, y, c(0.0f));
  }

  /// x clamped to [lo, hi] (compare and select: one max and one min
  /// instruction on x86, unlike NaN-propagating arith.maximumf/minimumf).
  Value clamp(Value x, float lo, float hi) {
    Value below = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OLT, x, c(lo));
    x = arith::SelectOp::create(b, loc, below, c(lo), x);
    Value above = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT, x, c(hi));
    return arith::SelectOp::create(b, loc, above, c(hi), x);
  }

  Value exp(Value x) {
    x = clamp(x, -87.3f, 88.3f);
    Value n = math::FloorOp::create(b, loc, add(mul(x, c(1.44269504088896341f)), c(0.5f)));
    Value r = add(sub(x, mul(n, c(0.693359375f))), mul(n, c(2.12194440e-4f)));
    Value p = c(1.9875691500e-4f);
    for (float coeff : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f,
                        1.6666665459e-1f, 5.0000001201e-1f})
      p = add(mul(p, r), c(coeff));
    p = add(add(mul(p, r, r), r), c(1.0f));
    // 2^n through the exponent bits.
    Type i32 = b.getI32Type();
    Value k = arith::FPToSIOp::create(b, loc, i32, n);
    Value bits = arith::ShLIOp::create(
        b, loc, arith::AddIOp::create(b, loc, k, arith::ConstantIntOp::create(b, loc, 127, 32)),
        arith::ConstantIntOp::create(b, loc, 23, 32));
    return mul(p, arith::BitcastOp::create(b, loc, b.getF32Type(), bits));
  }
  Value sigmoid(Value x) {
    return div(c(1.0f), add(c(1.0f), exp(arith::NegFOp::create(b, loc, x))));
  }
  Value tanh(Value x) {
    return sub(c(1.0f), div(c(2.0f), add(exp(mul(c(2.0f), x)), c(1.0f))));
  }
};

StringRef cellName(RecurrentCell cell) {
  switch (cell) {
  case RecurrentCell::RnnTanh:
    return "rnn_tanh";
  case RecurrentCell::RnnRelu:
    return "rnn_relu";
  case RecurrentCell::Lstm:
    return "lstm";
  case RecurrentCell::Gru:
    return "gru";
  }
  return "";
}

StringRef passName(GatePass pass) {
  switch (pass) {
  case GatePass::Forward:
    return "fwd";
  case GatePass::ForwardTrain:
    return "fwd_train";
  case GatePass::Backward:
    return "bwd";
  }
  return "";
}

/// Builds the body of one gate function.
class GateBuilder {
public:
  /// `rows` is the number of rows of this call (every [rows, w] argument
  /// has it).
  GateBuilder(OpBuilder &b, Location loc, Value rows, int64_t h, StringAttr layer,
              StringAttr kernel)
      : b(b), loc(loc), rows(rows), h(h), layer(layer), kernel(kernel) {}

  /// Column block `k` (width H) of a [rows, w] memref, or elements
  /// [k*H, (k+1)*H) of a rank-1 one.
  Value block(Value m, int64_t k) {
    if (cast<MemRefType>(m.getType()).getRank() == 1)
      return memref::SubViewOp::create(b, loc, m, ArrayRef<int64_t>{k * h},
                                       ArrayRef<int64_t>{h}, ArrayRef<int64_t>{1});
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(k * h)};
    SmallVector<OpFoldResult> sizes = {rows, b.getIndexAttr(h)};
    SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
    return memref::SubViewOp::create(b, loc, m, offsets, sizes, strides);
  }
  /// The first `count` column blocks of `m`.
  SmallVector<Value> blocks(Value m, int64_t count) {
    SmallVector<Value> r;
    for (int64_t k = 0; k < count; ++k)
      r.push_back(block(m, k));
    return r;
  }

  /// One parallel linalg.generic over [N, H]: `ins` and `outs` are [N, H]
  /// views (a rank-1 input is indexed by the hidden unit), `body` gets
  /// the input scalars then the outputs' current values and returns one
  /// value per output.
  void generic(ValueRange ins, ValueRange outs,
               function_ref<SmallVector<Value>(CellMath &, ValueRange)> body) {
    MLIRContext *ctx = b.getContext();
    AffineMap identity = AffineMap::getMultiDimIdentityMap(2, ctx);
    AffineMap column = AffineMap::get(2, 0, getAffineDimExpr(1, ctx), ctx);
    SmallVector<AffineMap> maps;
    for (Value in : ins)
      maps.push_back(cast<MemRefType>(in.getType()).getRank() == 1 ? column : identity);
    maps.append(outs.size(), identity);
    SmallVector<utils::IteratorType> iters(2, utils::IteratorType::parallel);
    auto op = linalg::GenericOp::create(
        b, loc, ins, outs, maps, iters, [&](OpBuilder &nb, Location l, ValueRange args) {
          CellMath m{nb, l};
          linalg::YieldOp::create(nb, l, body(m, args));
        });
    op->setAttr("nn.layer", layer);
    op->setAttr("nn.kernel", kernel);
  }

private:
  OpBuilder &b;
  Location loc;
  Value rows;
  int64_t h;
  StringAttr layer, kernel;
};

/// The argument types of a gate function.
SmallVector<Type> gateArgTypes(MLIRContext *ctx, RecurrentCell cell, GatePass pass, int64_t h,
                               int64_t dirs) {
  Type f32 = Float32Type::get(ctx);
  const int64_t n = ShapedType::kDynamic; // the rows of one call
  auto dense = [&](int64_t w) -> Type { return MemRefType::get({n, w}, f32); };
  Type prev = MemRefType::get({n, h}, f32,
                              StridedLayoutAttr::get(ctx, 0, {ShapedType::kDynamic, 1}));
  Type hOut = dirs == 1 ? dense(h)
                        : MemRefType::get({n, h}, f32,
                                          StridedLayoutAttr::get(ctx, 0, {dirs * h, 1}));
  auto bias = [&](int64_t gates) -> Type { return MemRefType::get({gates * h}, f32); };
  switch (cell) {
  case RecurrentCell::Lstm:
    if (pass == GatePass::Forward)
      return {dense(4 * h), bias(4), bias(4), dense(h), hOut};
    if (pass == GatePass::ForwardTrain)
      return {dense(4 * h), bias(4), bias(4), prev, dense(6 * h)};
    return {hOut, dense(h), dense(6 * h), prev, dense(h), dense(4 * h)};
  case RecurrentCell::Gru:
    if (pass == GatePass::Forward)
      return {dense(3 * h), dense(3 * h), bias(3), bias(3), prev, hOut};
    if (pass == GatePass::ForwardTrain)
      return {dense(3 * h), dense(3 * h), bias(3), bias(3), prev, dense(5 * h)};
    return {hOut, dense(h), dense(5 * h), prev, dense(3 * h), dense(3 * h)};
  case RecurrentCell::RnnTanh:
  case RecurrentCell::RnnRelu:
    if (pass == GatePass::Backward)
      return {hOut, dense(h), dense(h), dense(h)};
    return {dense(h), bias(1), bias(1), pass == GatePass::Forward ? hOut : dense(h)};
  }
  return {};
}

/// Fills the body of a gate function from its arguments `a`.
void buildGateBody(GateBuilder &gb, RecurrentCell cell, GatePass pass, ValueRange a) {
  using Math = CellMath;
  bool train = pass == GatePass::ForwardTrain;
  switch (cell) {
  case RecurrentCell::Lstm:
    if (pass != GatePass::Backward) {
      // a: gates, b_ih, b_hh, c (in/out) or c_prev, h or saved.
      // c = f * c_prev + i * g, h = o * tanh(c).
      SmallVector<Value> ins = gb.blocks(a[0], 4), outs;
      ins.append(gb.blocks(a[1], 4));
      ins.append(gb.blocks(a[2], 4));
      if (train) {
        ins.push_back(a[3]);
        outs = gb.blocks(a[4], 6);
      } else {
        outs = {a[3], a[4]};
      }
      gb.generic(ins, outs, [&](Math &m, ValueRange v) -> SmallVector<Value> {
        auto pre = [&](int k) { return m.add(v[k], m.add(v[4 + k], v[8 + k])); };
        Value i = m.sigmoid(pre(0)), f = m.sigmoid(pre(1)), g = m.tanh(pre(2)),
              o = m.sigmoid(pre(3));
        Value c = m.add(m.mul(f, v[12]), m.mul(i, g));
        Value hNew = m.mul(o, m.tanh(c));
        if (train)
          return {i, f, g, o, c, hNew};
        return {c, hNew};
      });
      return;
    }
    {
      // a: dy, dh, saved [i,f,g,o,c,h], c_prev, dc (in/out), dgates.
      SmallVector<Value> ins = {a[0], a[1]};
      ins.append(gb.blocks(a[2], 5));
      ins.push_back(a[3]);
      SmallVector<Value> outs = {a[4]};
      outs.append(gb.blocks(a[5], 4));
      gb.generic(ins, outs, [&](Math &m, ValueRange v) -> SmallVector<Value> {
        Value i = v[2], f = v[3], g = v[4], o = v[5], c = v[6], cPrev = v[7], dcIn = v[8];
        Value tc = m.tanh(c);
        Value dh = m.add(v[0], v[1]);
        Value dc = m.add(dcIn, m.mul(m.mul(dh, o), m.oneMinus(m.mul(tc, tc))));
        return {m.mul(dc, f),
                m.mul(m.mul(dc, g), m.mul(i, m.oneMinus(i))),
                m.mul(m.mul(dc, cPrev), m.mul(f, m.oneMinus(f))),
                m.mul(m.mul(dc, i), m.oneMinus(m.mul(g, g))),
                m.mul(m.mul(dh, tc), m.mul(o, m.oneMinus(o)))};
      });
      return;
    }
  case RecurrentCell::Gru:
    if (pass != GatePass::Backward) {
      // a: xp, hp, b_ih, b_hh, h_prev, h or saved.
      // r = sig(xr + b_ir + hr + b_hr), z = sig(xz + b_iz + hz + b_hz),
      // n = tanh(xn + b_in + r * (hn + b_hn)), h = (1 - z) * n + z * h_prev.
      SmallVector<Value> ins = gb.blocks(a[0], 3);
      ins.append(gb.blocks(a[1], 3));
      ins.append(gb.blocks(a[2], 3));
      ins.append(gb.blocks(a[3], 3));
      ins.push_back(a[4]);
      SmallVector<Value> outs;
      if (train)
        outs = gb.blocks(a[5], 5);
      else
        outs.push_back(a[5]);
      gb.generic(ins, outs, [&](Math &m, ValueRange v) -> SmallVector<Value> {
        auto pre = [&](int k) { return m.add(m.add(v[k], v[6 + k]), m.add(v[3 + k], v[9 + k])); };
        Value r = m.sigmoid(pre(0)), z = m.sigmoid(pre(1));
        Value hn = m.add(v[5], v[11]);
        Value nGate = m.tanh(m.add(m.add(v[2], v[8]), m.mul(r, hn)));
        Value hNew = m.add(m.mul(m.oneMinus(z), nGate), m.mul(z, v[12]));
        if (train)
          return {r, z, nGate, hn, hNew};
        return {hNew};
      });
      return;
    }
    {
      // a: dy, dh (in: the recurrent gradient; out: its direct part dh * z),
      // saved [r,z,n,hn,h], h_prev, dxp, dhp.
      SmallVector<Value> ins = {a[0]};
      ins.append(gb.blocks(a[2], 4));
      ins.push_back(a[3]);
      SmallVector<Value> outs = {a[1]};
      outs.append(gb.blocks(a[4], 3));
      outs.append(gb.blocks(a[5], 3));
      gb.generic(ins, outs, [&](Math &m, ValueRange v) -> SmallVector<Value> {
        Value r = v[1], z = v[2], nGate = v[3], hn = v[4], hPrev = v[5];
        Value dh = m.add(v[0], v[6]);
        Value dan = m.mul(m.mul(dh, m.oneMinus(z)), m.oneMinus(m.mul(nGate, nGate)));
        Value daz = m.mul(m.mul(dh, m.sub(hPrev, nGate)), m.mul(z, m.oneMinus(z)));
        Value dar = m.mul(m.mul(dan, hn), m.mul(r, m.oneMinus(r)));
        return {m.mul(dh, z), dar, daz, dan, dar, daz, m.mul(dan, r)};
      });
      return;
    }
  case RecurrentCell::RnnTanh:
  case RecurrentCell::RnnRelu: {
    bool relu = cell == RecurrentCell::RnnRelu;
    if (pass != GatePass::Backward) {
      // a: a, b_ih, b_hh, h.
      gb.generic({a[0], a[1], a[2]}, {a[3]}, [&](Math &m, ValueRange v) -> SmallVector<Value> {
        Value pre = m.add(v[0], m.add(v[1], v[2]));
        return {relu ? m.ifPositive(pre, pre) : m.tanh(pre)};
      });
      return;
    }
    // a: dy, dh, h, da.
    gb.generic({a[0], a[1], a[2]}, {a[3]}, [&](Math &m, ValueRange v) -> SmallVector<Value> {
      Value dh = m.add(v[0], v[1]);
      return {relu ? m.ifPositive(v[2], dh)
                   : m.mul(dh, m.oneMinus(m.mul(v[2], v[2])))};
    });
    return;
  }
  }
}

} // namespace

func::FuncOp nnc::codegen::getOrCreateGateFunction(ModuleOp model, RecurrentCell cell,
                                                   GatePass pass, int64_t h,
                                                   int64_t dirs, StringRef layer) {
  MLIRContext *ctx = model.getContext();
  OpBuilder b(ctx);
  // Functions of one cell and shape share a number k across their passes
  // (the batch is not part of the shape: each call says its rows).
  auto shape = b.getDenseI64ArrayAttr({h, dirs});
  StringAttr cellAttr = b.getStringAttr(cellName(cell));
  int64_t index = 0, next = 1;
  for (auto fn : model.getOps<func::FuncOp>()) {
    auto fnCell = fn->getAttrOfType<StringAttr>("nn.gate_cell");
    if (fnCell != cellAttr)
      continue;
    int64_t k = fn->getAttrOfType<IntegerAttr>("nn.gate_index").getInt();
    next = std::max(next, k + 1);
    if (fn->getAttr("nn.gate_shape") == shape)
      index = k;
  }
  if (index == 0)
    index = next;
  std::string name =
      ("nnc_gates_" + cellName(cell) + std::to_string(index) + "_" + passName(pass)).str();
  if (auto fn = model.lookupSymbol<func::FuncOp>(name))
    return fn;

  b.setInsertionPointToEnd(model.getBody());
  Location loc = model.getLoc();
  SmallVector<Type> args = gateArgTypes(ctx, cell, pass, h, dirs);
  auto fn = func::FuncOp::create(b, loc, name, b.getFunctionType(args, {}));
  fn.setPrivate();
  // Only this artifact calls it (through pointers it passes): not exported.
  fn->setAttr("llvm.linkage", LLVM::LinkageAttr::get(ctx, LLVM::Linkage::Internal));
  fn->setAttr("nn.gate_cell", cellAttr);
  fn->setAttr("nn.gate_shape", shape);
  fn->setAttr("nn.gate_index", b.getI64IntegerAttr(index));
  // The runtime never passes overlapping views (in-place state is one
  // argument read and written by the same element).
  for (unsigned i = 0; i < args.size(); ++i)
    fn.setArgAttr(i, LLVM::LLVMDialect::getNoAliasAttrName(), b.getUnitAttr());
  // The loops are compute-bound (exp): let LLVM use 512-bit vectors where
  // the host has them (it prefers 256 bits by default on AVX-512 CPUs).
  fn->setAttr("passthrough",
              b.getArrayAttr({b.getStrArrayAttr({"prefer-vector-width", "512"})}));
  Block *entry = fn.addEntryBlock();
  b.setInsertionPointToStart(entry);
  Value rows = memref::DimOp::create(b, loc, entry->getArgument(0), 0);
  GateBuilder gb(b, loc, rows, h, b.getStringAttr(layer), b.getStringAttr(name));
  buildGateBody(gb, cell, pass, entry->getArguments());
  func::ReturnOp::create(b, loc);
  return fn;
}
