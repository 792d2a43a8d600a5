//===- KernelLoops.cpp - Linalg on buffers to tiled scf.parallel nests ----===//
//
// Part of nnc. The kernel IR shared by the CPU and GPU back ends: every linalg
// op on memrefs becomes one outermost scf.parallel over tiles, an
// scf.parallel over the elements of a tile inside it, and scf.for loops for
// the reductions (see the pass description in codegen/Passes.td).
//
//===----------------------------------------------------------------------===//

#include "codegen/KernelLoops.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/Support/Debug.h"

#include <limits>

#define DEBUG_TYPE "nn-kernel-loops"

namespace nnc {
#define GEN_PASS_DEF_NNKERNELLOOPS
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;

std::optional<int64_t> nnc::tripCount(scf::ParallelOp loop, unsigned i) {
  std::optional<int64_t> lb = getConstantIntValue(loop.getLowerBound()[i]);
  std::optional<int64_t> ub = getConstantIntValue(loop.getUpperBound()[i]);
  std::optional<int64_t> step = getConstantIntValue(loop.getStep()[i]);
  if (!lb || !ub || !step || *step <= 0)
    return std::nullopt;
  return *ub <= *lb ? 0 : llvm::divideCeil(*ub - *lb, *step);
}

namespace {

using nnc::tripCount;

/// The iterations of `op` if it is a loop with static bounds (all
/// dimensions of an scf.parallel), else 1.
int64_t staticTrips(Operation *op) {
  int64_t trips = 1;
  if (auto loop = dyn_cast<scf::ParallelOp>(op)) {
    for (unsigned i = 0; i < loop.getNumLoops(); ++i)
      trips *= tripCount(loop, i).value_or(1);
  } else if (auto loop = dyn_cast<scf::ForOp>(op)) {
    if (std::optional<APInt> n = loop.getStaticTripCount())
      trips = n->getSExtValue();
  }
  return trips;
}

/// Like estimateWork, but counting iterations of the innermost loops instead
/// of operations.
int64_t innerIterations(Block &block) {
  int64_t total = 0;
  for (Operation &op : block)
    if (isa<scf::ParallelOp, scf::ForOp>(op))
      total += staticTrips(&op) * innerIterations(op.getRegion(0).front());
  return std::max<int64_t>(total, 1);
}

} // namespace

int64_t nnc::pickTile(int64_t size, int64_t want) {
  int64_t best = 0;
  for (int64_t d = want; d > 0 && 2 * d >= want; --d)
    if (size % d == 0 && (best == 0 || (d & -d) > (best & -best)))
      best = d;
  return best ? best : want;
}

namespace {

using nnc::pickTile;

/// Tile sizes for the dimensions `sizes` (outermost first) of a loop whose
/// every iteration runs `perIteration` innermost iterations: whole
/// dimensions from the innermost outwards while the tile holds fewer than
/// `tileWork` innermost iterations, then part of the next dimension, then 1.
SmallVector<int64_t> pickTileSizes(ArrayRef<int64_t> sizes, int64_t perIteration,
                                   int64_t tileWork) {
  SmallVector<int64_t> tiles(sizes.size(), 1);
  int64_t want = std::max<int64_t>(1, tileWork / perIteration);
  for (int64_t i = int64_t(sizes.size()) - 1; i >= 0 && want > 1; --i) {
    if (sizes[i] <= want) {
      tiles[i] = sizes[i];
      want /= sizes[i];
      continue;
    }
    tiles[i] = pickTile(sizes[i], want);
    break;
  }
  return tiles;
}

/// Removes the dimensions of `loop` that run once (their induction variables
/// become the lower bounds). Inlines the body and returns null when no
/// dimension is left.
scf::ParallelOp dropSingleIterationDims(RewriterBase &rewriter, scf::ParallelOp loop) {
  SmallVector<Value> lbs, ubs, steps, replacements;
  SmallVector<unsigned> kept;
  for (unsigned i = 0; i < loop.getNumLoops(); ++i) {
    if (tripCount(loop, i) == 1) {
      replacements.push_back(loop.getLowerBound()[i]);
      continue;
    }
    replacements.push_back(Value());
    kept.push_back(i);
    lbs.push_back(loop.getLowerBound()[i]);
    ubs.push_back(loop.getUpperBound()[i]);
    steps.push_back(loop.getStep()[i]);
  }
  if (kept.size() == loop.getNumLoops())
    return loop;
  Block *body = loop.getBody();
  rewriter.setInsertionPoint(loop);
  if (kept.empty()) {
    rewriter.eraseOp(body->getTerminator());
    rewriter.inlineBlockBefore(body, loop, replacements);
    rewriter.eraseOp(loop);
    return {};
  }
  auto narrowed = scf::ParallelOp::create(rewriter, loop.getLoc(), lbs, ubs, steps);
  narrowed->setDiscardableAttrs(loop->getDiscardableAttrDictionary());
  Block *newBody = narrowed.getBody();
  for (auto [j, i] : llvm::enumerate(kept))
    replacements[i] = newBody->getArgument(j);
  rewriter.eraseOp(newBody->getTerminator());
  rewriter.mergeBlocks(body, newBody, replacements);
  rewriter.eraseOp(loop);
  return narrowed;
}

/// Merges runs of loop dimensions of `op` that every operand walks
/// contiguously (same iterator type, consecutive in every indexing map,
/// identity-layout buffers), e.g. an elementwise op on [N, C, H, W] becomes
/// one loop over N*C*H*W elements: the innermost loop gets long enough to
/// vectorize, and the tiles can split it anywhere. Returns the op to lower
/// (`op` itself when nothing merges).
linalg::LinalgOp collapseContiguousDims(RewriterBase &rewriter, linalg::LinalgOp op) {
  // Bodies that read their indices (gathers, windows) keep their dims.
  if (!isa<linalg::GenericOp, linalg::CopyOp>(op) || !op.getBlock()->getOps<linalg::IndexOp>().empty() ||
      llvm::any_of(op->getOperandTypes(), [](Type t) {
        auto memref = dyn_cast<MemRefType>(t);
        return memref && !memref.getLayout().isIdentity();
      }))
    return op;
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  // Maps with sums of dims (attention's head packing) are not collapsible.
  if (!llvm::all_of(maps, [](AffineMap m) { return m.isProjectedPermutation(); }))
    return op;
  SmallVector<utils::IteratorType> iterators = op.getIteratorTypesArray();
  SmallVector<ReassociationIndices> groups;
  ReassociationIndices run;
  auto flush = [&] {
    if (run.size() > 1)
      groups.push_back(run);
    run.clear();
  };
  for (unsigned d = 0; d < op.getNumLoops(); ++d) {
    if (!run.empty()) {
      ReassociationIndices longer = run;
      longer.push_back(d);
      if (iterators[d] != iterators[run.back()] ||
          !linalg::areDimSequencesPreserved(maps, {longer}))
        flush();
    }
    run.push_back(d);
  }
  flush();
  if (groups.empty())
    return op;
  rewriter.setInsertionPoint(op);
  FailureOr<linalg::CollapseResult> collapsed =
      linalg::collapseOpIterationDims(op, groups, rewriter);
  if (failed(collapsed))
    return op;
  rewriter.eraseOp(op);
  return collapsed->collapsedOp;
}

/// Lowers one linalg op on buffers to its kernel nest; returns the outermost
/// scf.parallel.
FailureOr<scf::ParallelOp> lowerToKernelNest(RewriterBase &rewriter, linalg::LinalgOp op,
                                             int64_t tileWork,
                                             const FrozenRewritePatternSet &cleanup) {
  Location loc = op.getLoc();
  SmallVector<NamedAttribute> tags;
  for (NamedAttribute attr : op->getDiscardableAttrs())
    if (attr.getName().strref().starts_with("nn."))
      tags.push_back(attr);

  op = collapseContiguousDims(rewriter, op);

  // Build the nest inside a one-iteration scf.parallel, which stays only if
  // the op has no leading parallel dimension.
  rewriter.setInsertionPoint(op);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  auto wrapper = scf::ParallelOp::create(rewriter, loc, ValueRange{zero}, ValueRange{one},
                                         ValueRange{one});
  rewriter.moveOpBefore(op, wrapper.getBody()->getTerminator());
  rewriter.setInsertionPoint(op);
  if (failed(linalg::linalgOpToParallelLoops(rewriter, op)))
    return op.emitError("cannot lower this op to parallel loops");
  rewriter.eraseOp(op);

  // The loop over the leading parallel dimensions is the one to tile; any
  // other scf.parallel (parallel dimensions after a reduction) runs
  // sequentially inside an element.
  scf::ParallelOp outer;
  for (Operation &nested : wrapper.getBody()->without_terminator())
    if (auto loop = dyn_cast<scf::ParallelOp>(nested))
      outer = loop;
  SmallVector<scf::ParallelOp> sequential;
  wrapper.getBody()->walk([&](scf::ParallelOp loop) {
    if (loop != outer)
      sequential.push_back(loop);
  });
  for (scf::ParallelOp loop : sequential) {
    rewriter.setInsertionPoint(loop);
    if (failed(scf::parallelForToNestedFors(rewriter, loop)))
      return emitError(loc, "cannot make a nested parallel loop sequential");
  }

  if (outer) {
    SmallVector<int64_t> sizes;
    for (unsigned i = 0; i < outer.getNumLoops(); ++i)
      sizes.push_back(tripCount(outer, i).value_or(ShapedType::kDynamic));
    if (!llvm::is_contained(sizes, ShapedType::kDynamic)) {
      SmallVector<int64_t> tiles =
          pickTileSizes(sizes, innerIterations(*outer.getBody()), tileWork);
      LLVM_DEBUG(llvm::dbgs() << "tiles for " << loc << ":";
                 for (int64_t t : tiles) llvm::dbgs() << " " << t;
                 llvm::dbgs() << "\n");
      auto [tileLoop, elementLoop] =
          scf::tileParallelLoop(outer, tiles, /*noMinMaxBounds=*/false);
      // Fold the new bounds (steps times tile sizes, affine.min of
      // constants) before looking for dimensions that run once.
      if (failed(applyPatternsGreedily(wrapper.getRegion(), cleanup)))
        return emitError(loc, "cannot simplify the tiled loops");
      dropSingleIterationDims(rewriter, elementLoop);
      dropSingleIterationDims(rewriter, tileLoop);
    }
  }

  // Without a leading parallel dimension the wrapper is the kernel's loop.
  scf::ParallelOp kernel = wrapper;
  for (Operation &nested : wrapper.getBody()->without_terminator())
    if (auto loop = dyn_cast<scf::ParallelOp>(nested))
      kernel = loop;
  if (kernel != wrapper) {
    Block *body = wrapper.getBody();
    rewriter.eraseOp(body->getTerminator());
    rewriter.inlineBlockBefore(body, wrapper, ValueRange{zero});
    rewriter.eraseOp(wrapper);
  }
  for (NamedAttribute tag : tags)
    kernel->setAttr(tag.getName(), tag.getValue());
  return kernel;
}

/// The bytes of a buffer that a memref may reach: [lo, hi) of `base` (the
/// arena argument, an allocation), from the `memref.view`s that
/// -nn-plan-memory places at constant offsets.
struct Footprint {
  Value base;
  int64_t lo = 0, hi = std::numeric_limits<int64_t>::max();
};

/// The footprint of `memref`: a `memref.view` at a constant byte offset
/// with a static shape covers its own bytes; any other view (subview, cast,
/// reshape) is taken to cover all of its source; anything else all of
/// itself.
Footprint footprint(Value memref) {
  if (auto view = memref.getDefiningOp<memref::ViewOp>()) {
    Footprint f{footprint(view.getSource()).base};
    std::optional<int64_t> shift = getConstantIntValue(view.getByteShift());
    MemRefType type = view.getType();
    if (shift && type.hasStaticShape() && type.getElementType().isIntOrFloat()) {
      f.lo = *shift;
      f.hi = *shift + type.getNumElements() *
                          int64_t(llvm::divideCeil(type.getElementTypeBitWidth(), 8));
    }
    return f;
  }
  if (auto view = memref.getDefiningOp<ViewLikeOpInterface>())
    return footprint(view.getViewSource());
  return Footprint{memref};
}

/// Whether two footprints may share a byte: distinct allocations never do,
/// views of one base do where their ranges intersect, and anything else
/// (e.g. two function arguments) may.
bool mayOverlap(const Footprint &a, const Footprint &b) {
  if (a.base != b.base)
    return !(a.base.getDefiningOp<memref::AllocOp>() &&
             b.base.getDefiningOp<memref::AllocOp>()) &&
           !(a.base.getDefiningOp<memref::AllocaOp>() &&
             b.base.getDefiningOp<memref::AllocaOp>());
  return a.lo < b.hi && b.lo < a.hi;
}

/// Keeps one accumulator of `loop` in a register: a `memref.load` and a
/// later `memref.store` of the same element (loop-invariant indices) in the
/// loop's body, where no other access in the loop may touch its bytes,
/// become an iter_arg (loaded before the loop, stored after it). This is
/// what linalg's reductions lower to (load the output, combine, store it
/// back, every iteration); LLVM cannot do it itself because every buffer
/// is a view of the same arena. Returns the new loop, or null if `loop` has
/// no such accumulator.
scf::ForOp promoteOneAccumulator(RewriterBase &rewriter, scf::ForOp loop) {
  std::optional<APInt> trips = loop.getStaticTripCount();
  if (!trips || trips->isZero())
    return {};
  SmallVector<Operation *> accesses;
  WalkResult walk = loop.getBody()->walk([&](Operation *op) {
    if (isa<memref::LoadOp, memref::StoreOp>(op))
      accesses.push_back(op);
    else if (op->getNumRegions() == 0 && !isMemoryEffectFree(op))
      return WalkResult::interrupt();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return {};
  auto invariant = [&](ValueRange values) {
    return llvm::all_of(values, [&](Value v) { return loop.isDefinedOutsideOfLoop(v); });
  };
  for (auto store : loop.getBody()->getOps<memref::StoreOp>()) {
    if (!invariant(store.getMemRef()) || !invariant(store.getIndices()))
      continue;
    memref::LoadOp load;
    for (Operation *op = store->getPrevNode(); op && !load; op = op->getPrevNode())
      if (auto candidate = dyn_cast<memref::LoadOp>(op))
        if (candidate.getMemRef() == store.getMemRef() &&
            candidate.getIndices() == store.getIndices())
          load = candidate;
    if (!load)
      continue;
    Footprint bytes = footprint(store.getMemRef());
    if (llvm::any_of(accesses, [&](Operation *op) {
          if (op == load || op == store)
            return false;
          Value memref = isa<memref::LoadOp>(op) ? cast<memref::LoadOp>(op).getMemRef()
                                                 : cast<memref::StoreOp>(op).getMemRef();
          return mayOverlap(bytes, footprint(memref));
        }))
      continue;

    rewriter.setInsertionPoint(loop);
    Value init = memref::LoadOp::create(rewriter, load.getLoc(), load.getMemRef(),
                                        load.getIndices());
    Value stored = store.getValueToStore();
    FailureOr<LoopLikeOpInterface> grown = loop.replaceWithAdditionalYields(
        rewriter, init, /*replaceInitOperandUsesInLoop=*/false,
        [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
          return SmallVector<Value>{stored};
        });
    if (failed(grown))
      return {};
    auto newLoop = cast<scf::ForOp>(grown->getOperation());
    rewriter.replaceAllUsesWith(load.getResult(), newLoop.getRegionIterArgs().back());
    rewriter.setInsertionPointAfter(newLoop);
    memref::StoreOp::create(rewriter, store.getLoc(), newLoop.getResults().back(),
                            store.getMemRef(), store.getIndices());
    rewriter.eraseOp(store);
    rewriter.eraseOp(load);
    return newLoop;
  }
  return {};
}

/// Promotes the accumulators of every scf.for under `root`, innermost loops
/// first, so that an accumulator moved out of an inner loop can move out
/// of the loop around it too.
void promoteAccumulators(RewriterBase &rewriter, Operation *root) {
  SmallVector<scf::ForOp> loops;
  root->walk([&](scf::ForOp loop) { loops.push_back(loop); }); // post-order
  for (scf::ForOp loop : loops)
    while (scf::ForOp grown = promoteOneAccumulator(rewriter, loop))
      loop = grown;
}

using nnc::cleanupPatterns;

struct NNKernelLoopsPass : nnc::impl::NNKernelLoopsBase<NNKernelLoopsPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *ctx) override {
    cleanup = cleanupPatterns(ctx);
    return success();
  }

  void runOnOperation() override {
    if (tileWork < 1) {
      getOperation().emitError("nn-kernel-loops: tile-work must be >= 1");
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> ops;
    getOperation().walk([&](linalg::LinalgOp op) {
      if (op.hasPureBufferSemantics())
        ops.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::LinalgOp op : ops)
      if (failed(lowerToKernelNest(rewriter, op, tileWork, cleanup)))
        return signalPassFailure();
    promoteAccumulators(rewriter, getOperation());
    if (failed(applyPatternsGreedily(getOperation(), cleanup)))
      return signalPassFailure();
  }

private:
  FrozenRewritePatternSet cleanup;
};

} // namespace

int64_t nnc::estimateWork(Block &block) {
  int64_t total = 0;
  for (Operation &op : block)
    total += staticTrips(&op) + estimateWork(&op);
  return total;
}

int64_t nnc::estimateWork(Operation *op) {
  int64_t work = 0;
  for (Region &region : op->getRegions())
    for (Block &block : region)
      work += estimateWork(block);
  return staticTrips(op) * work;
}

FrozenRewritePatternSet nnc::cleanupPatterns(MLIRContext *ctx) {
  RewritePatternSet patterns(ctx);
  for (Dialect *dialect : ctx->getLoadedDialects())
    dialect->getCanonicalizationPatterns(patterns);
  for (RegisteredOperationName name : ctx->getRegisteredOperations())
    if (name.getTypeID() != TypeID::get<scf::ParallelOp>())
      name.getCanonicalizationPatterns(patterns, ctx);
  return FrozenRewritePatternSet(std::move(patterns));
}
