//===- GPUVectorize.cpp - Vector loads and stores per GPU thread ----------===//
//
// Part of nnc. The `vector-width` step of -nn-gpu-map (see its description
// in codegen/Passes.td): the element loop of an elementwise kernel nest gets
// `width` times fewer iterations in its innermost dimension (the one mapped
// to thread x), and its body handles `width` consecutive elements with
// vector ops; accesses along that dimension become aligned vector.load and
// vector.store, which NVPTX emits as ld.global.v4/st.global.v4. A nest that
// does not fit the rule stays as it was.
//
//===----------------------------------------------------------------------===//

#include "codegen/GPUVectorize.h"
#include "codegen/KernelLoops.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "nn-gpu-map"

using namespace mlir;

namespace {

/// The alignment of the arena (docs/abi.md: the caller allocates it 64-byte
/// aligned; cuMemAlloc aligns to 256 bytes).
constexpr int64_t kArenaAlign = 64;

/// Whether `v` is a multiple of `w` for every value it takes: a constant
/// multiple, an induction variable of an scf.parallel whose lower bound and
/// step are constant multiples, or sums, differences and products of these.
bool isMultiple(Value v, int64_t w, unsigned depth = 0) {
  if (depth > 16)
    return false;
  if (std::optional<int64_t> c = getConstantIntValue(v))
    return *c % w == 0;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto loop = dyn_cast_or_null<scf::ParallelOp>(arg.getOwner()->getParentOp());
    if (!loop || arg.getArgNumber() >= loop.getNumLoops())
      return false;
    std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[arg.getArgNumber()]);
    std::optional<int64_t> step = getConstantIntValue(loop.getStep()[arg.getArgNumber()]);
    return lb && step && *lb % w == 0 && *step % w == 0;
  }
  Operation *def = v.getDefiningOp();
  if (isa<arith::AddIOp, arith::SubIOp>(def))
    return isMultiple(def->getOperand(0), w, depth + 1) &&
           isMultiple(def->getOperand(1), w, depth + 1);
  if (isa<arith::MulIOp>(def))
    return isMultiple(def->getOperand(0), w, depth + 1) ||
           isMultiple(def->getOperand(1), w, depth + 1);
  return false;
}

/// Whether every value of the affine expression `e` of `operands` is a
/// multiple of `w`.
bool isMultiple(AffineExpr e, ValueRange operands, unsigned numDims, int64_t w) {
  if (auto c = dyn_cast<AffineConstantExpr>(e))
    return c.getValue() % w == 0;
  if (auto d = dyn_cast<AffineDimExpr>(e))
    return isMultiple(operands[d.getPosition()], w);
  if (auto s = dyn_cast<AffineSymbolExpr>(e))
    return isMultiple(operands[numDims + s.getPosition()], w);
  auto bin = cast<AffineBinaryOpExpr>(e);
  if (e.getKind() == AffineExprKind::Add)
    return isMultiple(bin.getLHS(), operands, numDims, w) &&
           isMultiple(bin.getRHS(), operands, numDims, w);
  if (e.getKind() == AffineExprKind::Mul)
    return isMultiple(bin.getLHS(), operands, numDims, w) ||
           isMultiple(bin.getRHS(), operands, numDims, w);
  return false;
}

/// The byte offset of `memref` in the arena, when it is a view of an
/// entry's arena (a `memref<?xi8>` argument) at constant offsets, through
/// memref.view, collapse_shape, expand_shape, cast and reinterpret_cast at
/// offset 0, every one of identity layout (so that its aligned pointer is
/// its first element).
std::optional<int64_t> arenaOffset(Value memref) {
  int64_t offset = 0;
  while (true) {
    auto type = dyn_cast<MemRefType>(memref.getType());
    if (!type || !type.getLayout().isIdentity())
      return std::nullopt;
    if (auto arg = dyn_cast<BlockArgument>(memref)) {
      bool arena = isa_and_nonnull<func::FuncOp>(arg.getOwner()->getParentOp()) &&
                   type.getRank() == 1 && type.getElementType().isInteger(8);
      return arena ? std::optional<int64_t>(offset) : std::nullopt;
    }
    Operation *def = memref.getDefiningOp();
    if (auto view = dyn_cast<memref::ViewOp>(def)) {
      std::optional<int64_t> shift = getConstantIntValue(view.getByteShift());
      if (!shift)
        return std::nullopt;
      offset += *shift;
      memref = view.getSource();
      continue;
    }
    if (auto cast = dyn_cast<memref::ReinterpretCastOp>(def)) {
      if (cast.getStaticOffsets().size() != 1 || cast.getStaticOffsets()[0] != 0)
        return std::nullopt;
      memref = cast.getSource();
      continue;
    }
    if (isa<memref::CollapseShapeOp, memref::ExpandShapeOp, memref::CastOp>(def)) {
      memref = def->getOperand(0);
      continue;
    }
    return std::nullopt;
  }
}

/// Rewrites one element loop for `width` lanes (see vectorizeElementLoop).
class ElementVectorizer {
public:
  ElementVectorizer(RewriterBase &rewriter, scf::ParallelOp elements, int64_t width)
      : rewriter(rewriter), elements(elements), width(width) {}

  /// Replaces the element loop by its vectorised form, or fails and leaves
  /// it as it was.
  LogicalResult run();

private:
  /// How the `width` lanes of a thread see a value of the loop body: the
  /// same scalar for all (values from outside the loop and whatever only
  /// they compute), consecutive indices `value + lane` (the innermost
  /// induction variable plus uniform offsets: subscripts), or one vector.
  enum class Kind { Uniform, Consecutive, Vector };
  struct Lanes {
    Kind kind;
    Value value;
    /// For Consecutive: whether `value` is a multiple of the width.
    bool aligned = false;
  };

  Lanes lanes(Value old) const {
    auto it = state.find(old);
    return it == state.end() ? Lanes{Kind::Uniform, old} : it->second;
  }
  /// The lanes of `old` as one vector, made before the current op.
  Value asVector(Value old);
  /// The vector type of `width` lanes of `type`, or null.
  VectorType vectorType(Type type) const;
  /// The memref subscripts of a vector access of `memref` at `indices`:
  /// uniform subscripts and the consecutive last one, aligned, on a view of
  /// the arena whose element size and offset allow `width` lanes; fails on
  /// anything else. Sets `alignment` to the access's byte alignment.
  FailureOr<SmallVector<Value>> vectorSubscripts(Value memref, ValueRange indices,
                                                 int64_t &alignment);
  LogicalResult visit(Operation &op);
  /// The new upper bound of the innermost dimension, or null.
  Value innermostBound(Value ub);

  RewriterBase &rewriter;
  scf::ParallelOp elements;
  int64_t width;
  llvm::DenseMap<Value, Lanes> state;
  llvm::DenseMap<Value, Value> vectors;
  IRMapping uniform;
};

VectorType ElementVectorizer::vectorType(Type type) const {
  if (!type.isIntOrIndexOrFloat())
    return {};
  return VectorType::get({width}, type);
}

Value ElementVectorizer::asVector(Value old) {
  if (Value v = vectors.lookup(old))
    return v;
  Lanes l = lanes(old);
  Location loc = old.getLoc();
  Value v;
  if (l.kind == Kind::Vector) {
    v = l.value;
  } else if (l.kind == Kind::Uniform) {
    v = vector::BroadcastOp::create(rewriter, loc, vectorType(old.getType()),
                                    uniform.lookupOrDefault(old));
  } else {
    VectorType type = vectorType(old.getType());
    SmallVector<APInt> steps;
    for (int64_t i = 0; i < width; ++i)
      steps.push_back(APInt(64, i));
    Value lane =
        arith::ConstantOp::create(rewriter, loc, type, DenseElementsAttr::get(type, steps));
    Value base = vector::BroadcastOp::create(rewriter, loc, type, l.value);
    v = arith::AddIOp::create(rewriter, loc, base, lane);
  }
  vectors[old] = v;
  return v;
}

FailureOr<SmallVector<Value>> ElementVectorizer::vectorSubscripts(Value memref, ValueRange indices,
                                                                  int64_t &alignment) {
  auto type = dyn_cast<MemRefType>(memref.getType());
  if (!type || indices.empty() || lanes(memref).kind != Kind::Uniform)
    return failure();
  SmallVector<Value> subscripts;
  for (Value index : indices.drop_back()) {
    if (lanes(index).kind != Kind::Uniform)
      return failure();
    subscripts.push_back(uniform.lookupOrDefault(index));
  }
  Lanes last = lanes(indices.back());
  Type element = type.getElementType();
  if (last.kind != Kind::Consecutive || !last.aligned || !element.isIntOrFloat() ||
      element.getIntOrFloatBitWidth() % 8 != 0)
    return failure();
  // Every other subscript steps by a multiple of the last dimension.
  int64_t inner = type.getShape().back();
  if (ShapedType::isDynamic(inner) || inner % width != 0)
    return failure();
  alignment = width * element.getIntOrFloatBitWidth() / 8;
  std::optional<int64_t> offset = arenaOffset(memref);
  if (!offset || *offset % alignment != 0 || alignment > kArenaAlign)
    return failure();
  subscripts.push_back(last.value);
  return subscripts;
}

LogicalResult ElementVectorizer::visit(Operation &op) {
  Location loc = op.getLoc();
  if (op.getNumRegions() != 0)
    return failure();
  bool varying =
      llvm::any_of(op.getOperands(), [&](Value v) { return lanes(v).kind != Kind::Uniform; });
  if (auto store = dyn_cast<memref::StoreOp>(op)) {
    // Lanes storing to one address (a subscript that is not consecutive)
    // would race: such a loop stays scalar.
    int64_t alignment;
    FailureOr<SmallVector<Value>> at =
        vectorSubscripts(store.getMemRef(), store.getIndices(), alignment);
    if (failed(at))
      return failure();
    vector::StoreOp::create(rewriter, loc, asVector(store.getValueToStore()),
                            uniform.lookupOrDefault(store.getMemRef()), *at, false,
                            llvm::Align(alignment));
    return success();
  }
  if (!varying) {
    if (!isMemoryEffectFree(&op) && !isa<memref::LoadOp>(op))
      return failure();
    rewriter.clone(op, uniform);
    return success();
  }
  if (auto load = dyn_cast<memref::LoadOp>(op)) {
    int64_t alignment;
    FailureOr<SmallVector<Value>> at =
        vectorSubscripts(load.getMemRef(), load.getIndices(), alignment);
    if (failed(at))
      return failure();
    Value v = vector::LoadOp::create(rewriter, loc, vectorType(load.getType()),
                                     uniform.lookupOrDefault(load.getMemRef()), *at, false,
                                     llvm::Align(alignment));
    state[load.getResult()] = {Kind::Vector, v};
    return success();
  }
  // A uniform offset of consecutive indices stays a scalar.
  if (isa<arith::AddIOp, arith::SubIOp>(op)) {
    bool sub = isa<arith::SubIOp>(op);
    Value base = op.getOperand(0), offset = op.getOperand(1);
    if (!sub && lanes(base).kind == Kind::Uniform)
      std::swap(base, offset);
    Lanes l = lanes(base);
    if (l.kind == Kind::Consecutive && lanes(offset).kind == Kind::Uniform) {
      Value u = uniform.lookupOrDefault(offset);
      Value v = sub ? arith::SubIOp::create(rewriter, loc, l.value, u).getResult()
                    : arith::AddIOp::create(rewriter, loc, l.value, u).getResult();
      state[op.getResult(0)] = {Kind::Consecutive, v, l.aligned && isMultiple(offset, width)};
      return success();
    }
  }
  // Arithmetic and math on every lane: the same op on vectors.
  if (!op.hasTrait<OpTrait::Elementwise>() || !op.hasTrait<OpTrait::Vectorizable>() ||
      !isMemoryEffectFree(&op))
    return failure();
  IRMapping operands;
  for (Value v : op.getOperands()) {
    if (!vectorType(v.getType()))
      return failure();
    operands.map(v, asVector(v));
  }
  SmallVector<VectorType> types;
  for (Type t : op.getResultTypes()) {
    types.push_back(vectorType(t));
    if (!types.back())
      return failure();
  }
  Operation *vectorOp = rewriter.clone(op, operands);
  for (auto [result, type] : llvm::zip(vectorOp->getResults(), types))
    result.setType(type);
  for (auto [old, result] : llvm::zip(op.getResults(), vectorOp->getResults()))
    state[old] = {Kind::Vector, result};
  return success();
}

Value ElementVectorizer::innermostBound(Value ub) {
  Location loc = ub.getLoc();
  if (std::optional<int64_t> c = getConstantIntValue(ub))
    return *c % width == 0 ? arith::ConstantIndexOp::create(rewriter, loc, *c / width).getResult()
                           : Value();
  // A ragged tile, min(size - tile start, tile): whole vectors if every
  // term of the min is a multiple of the width.
  auto min = ub.getDefiningOp<affine::AffineMinOp>();
  if (!min)
    return {};
  AffineMap map = min.getAffineMap();
  SmallVector<AffineExpr> quotients;
  for (AffineExpr e : map.getResults()) {
    if (!isMultiple(e, min.getOperands(), map.getNumDims(), width))
      return {};
    quotients.push_back(e.floorDiv(width));
  }
  AffineMap divided =
      AffineMap::get(map.getNumDims(), map.getNumSymbols(), quotients, rewriter.getContext());
  return affine::AffineMinOp::create(rewriter, loc, divided, min.getOperands());
}

LogicalResult ElementVectorizer::run() {
  unsigned last = elements.getNumLoops() - 1;
  if (getConstantIntValue(elements.getLowerBound()[last]) != 0 ||
      getConstantIntValue(elements.getStep()[last]) != 1)
    return failure();
  Location loc = elements.getLoc();
  rewriter.setInsertionPoint(elements);
  Value ub = innermostBound(elements.getUpperBound()[last]);
  if (!ub)
    return failure();
  SmallVector<Value> ubs(elements.getUpperBound());
  ubs[last] = ub;
  auto vectorized =
      scf::ParallelOp::create(rewriter, loc, elements.getLowerBound(), ubs, elements.getStep());
  vectorized->setDiscardableAttrs(elements->getDiscardableAttrDictionary());
  rewriter.setInsertionPoint(vectorized.getBody()->getTerminator());
  for (unsigned i = 0; i < last; ++i)
    uniform.map(elements.getInductionVars()[i], vectorized.getInductionVars()[i]);
  Value first = arith::MulIOp::create(rewriter, loc, vectorized.getInductionVars()[last],
                                      arith::ConstantIndexOp::create(rewriter, loc, width));
  state[elements.getInductionVars()[last]] = {Kind::Consecutive, first, /*aligned=*/true};
  for (Operation &op : elements.getBody()->without_terminator()) {
    if (succeeded(visit(op)))
      continue;
    LLVM_DEBUG(llvm::dbgs() << "left scalar at " << width << " lanes: " << op << "\n");
    rewriter.eraseOp(vectorized);
    if (ub.use_empty() && ub.getDefiningOp())
      rewriter.eraseOp(ub.getDefiningOp());
    return failure();
  }
  rewriter.eraseOp(elements);
  return success();
}

/// The most iterations of dimension `i` of `loop`: its trip count, or the
/// constant of an affine.min upper bound.
std::optional<int64_t> maxTrips(scf::ParallelOp loop, unsigned i) {
  if (std::optional<int64_t> trips = nnc::tripCount(loop, i))
    return trips;
  auto min = loop.getUpperBound()[i].getDefiningOp<affine::AffineMinOp>();
  if (!min || getConstantIntValue(loop.getLowerBound()[i]) != 0 ||
      getConstantIntValue(loop.getStep()[i]) != 1)
    return std::nullopt;
  std::optional<int64_t> trips;
  for (AffineExpr e : min.getAffineMap().getResults())
    if (auto c = dyn_cast<AffineConstantExpr>(e))
      trips = trips ? std::min(*trips, c.getValue()) : c.getValue();
  return trips;
}

} // namespace

int64_t nnc::vectorizeElementLoop(RewriterBase &rewriter, scf::ParallelOp kernel, int64_t width,
                                  int64_t minThreads) {
  auto loops = kernel.getBody()->getOps<scf::ParallelOp>();
  if (loops.empty() || std::next(loops.begin()) != loops.end())
    return 1;
  scf::ParallelOp elements = *loops.begin();
  int64_t threads = 1;
  for (unsigned i = 0; i < elements.getNumLoops(); ++i) {
    std::optional<int64_t> trips = maxTrips(elements, i);
    if (!trips)
      return 1;
    threads *= *trips;
  }
  for (int64_t w = width; w > 1; w /= 2) {
    if (threads / w < minThreads)
      continue;
    OpBuilder::InsertionGuard guard(rewriter);
    if (succeeded(ElementVectorizer(rewriter, elements, w).run())) {
      LLVM_DEBUG(llvm::dbgs() << "vectorized " << kernel.getLoc() << " at " << w << " lanes\n");
      return w;
    }
  }
  return 1;
}
