//===- GPUReductions.cpp - Reductions shared by a block's threads ---------===//
//
// Part of nnc. The block reductions of -nn-gpu-map (option block-reductions,
// codegen/Passes.td): a kernel nest whose tiles each run one long reduction
// loop (a loss's mean over the batch, batchnorm's per-channel sums) gets a
// block of threads per tile that share the loop's iterations and combine
// their values with gpu.all_reduce (lowered by upstream's all-reduce
// patterns: warp shuffles, then shared memory across warps).
//
//===----------------------------------------------------------------------===//

#include "codegen/GPUReductions.h"
#include "codegen/KernelLoops.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/Debug.h"
#include "llvm/Support/MathExtras.h"

#define DEBUG_TYPE "nn-gpu-map"

using namespace mlir;

namespace {

/// A reduction loop nest: `loops` (outermost first), each level's iter_args
/// passed on unchanged to the next level, the innermost combining iter_arg
/// j with `combiners[j]` (of kind `kinds[j]`).
struct ReductionNest {
  SmallVector<scf::ForOp> loops;
  SmallVector<int64_t> trips;
  SmallVector<Operation *> combiners;
  SmallVector<gpu::AllReduceOperation> kinds;
};

/// The gpu.all_reduce operation that combines as `op` does, if `op` is a
/// simple combiner.
std::optional<gpu::AllReduceOperation> combinerKind(Operation *op) {
  using K = gpu::AllReduceOperation;
  return llvm::TypeSwitch<Operation *, std::optional<K>>(op)
      .Case<arith::AddFOp, arith::AddIOp>([](auto) { return K::ADD; })
      .Case<arith::MulFOp, arith::MulIOp>([](auto) { return K::MUL; })
      .Case([](arith::MaxNumFOp) { return K::MAXNUMF; })
      .Case([](arith::MaximumFOp) { return K::MAXIMUMF; })
      .Case([](arith::MinNumFOp) { return K::MINNUMF; })
      .Case([](arith::MinimumFOp) { return K::MINIMUMF; })
      .Case([](arith::MaxSIOp) { return K::MAXSI; })
      .Case([](arith::MinSIOp) { return K::MINSI; })
      .Case([](arith::MaxUIOp) { return K::MAXUI; })
      .Case([](arith::MinUIOp) { return K::MINUI; })
      .Case([](arith::AndIOp) { return K::AND; })
      .Case([](arith::OrIOp) { return K::OR; })
      .Case([](arith::XOrIOp) { return K::XOR; })
      .Default([](Operation *) { return std::nullopt; });
}

/// Whether `op` (and what it holds) at most reads memory.
bool readsOnly(Operation *op) {
  std::optional<SmallVector<MemoryEffects::EffectInstance>> effects = getEffectsRecursively(op);
  return effects && llvm::all_of(*effects, [](const MemoryEffects::EffectInstance &effect) {
           return isa<MemoryEffects::Read>(effect.getEffect());
         });
}

/// Whether the shuffles of gpu.all_reduce's lowering can carry `type`
/// (32 bits, or 64 bits as two shuffles).
bool shuffleable(Type type) {
  return type.isIntOrFloat() && !type.isIndex() &&
         (type.getIntOrFloatBitWidth() == 32 || type.getIntOrFloatBitWidth() == 64);
}

/// Matches the reduction nest rooted at `top` (see ReductionNest).
FailureOr<ReductionNest> matchNest(scf::ForOp top) {
  ReductionNest nest;
  for (scf::ForOp loop = top; loop;) {
    std::optional<APInt> trips = loop.getStaticTripCount();
    if (!trips || loop.getNumRegionIterArgs() != top.getNumRegionIterArgs())
      return failure();
    nest.loops.push_back(loop);
    nest.trips.push_back(trips->getSExtValue());
    scf::ForOp inner;
    for (Operation &op : loop.getBody()->without_terminator()) {
      if (auto nested = dyn_cast<scf::ForOp>(op); nested && nested.getNumRegionIterArgs()) {
        if (inner)
          return failure();
        inner = nested;
      } else if (!readsOnly(&op) || isa<scf::ParallelOp>(op)) {
        return failure();
      }
    }
    Operation *yield = loop.getBody()->getTerminator();
    if (inner) {
      // The level passes its iter_args to the next and yields its results.
      for (unsigned j = 0; j < loop.getNumRegionIterArgs(); ++j)
        if (inner.getInitArgs()[j] != loop.getRegionIterArgs()[j] ||
            !loop.getRegionIterArgs()[j].hasOneUse() ||
            yield->getOperand(j) != inner.getResult(j) || !inner.getResult(j).hasOneUse())
          return failure();
      loop = inner;
      continue;
    }
    // The innermost level: iter_arg j used once, by a combiner whose result
    // is only yielded at j.
    for (auto [j, arg] : llvm::enumerate(loop.getRegionIterArgs())) {
      if (!arg.hasOneUse() || !shuffleable(arg.getType()))
        return failure();
      Operation *combiner = *arg.getUsers().begin();
      std::optional<gpu::AllReduceOperation> kind = combinerKind(combiner);
      if (!kind || combiner->getBlock() != loop.getBody() || combiner->getNumOperands() != 2 ||
          yield->getOperand(j) != combiner->getResult(0) || !combiner->getResult(0).hasOneUse() ||
          !arith::getNeutralElement(combiner))
        return failure();
      nest.combiners.push_back(combiner);
      nest.kinds.push_back(*kind);
    }
    break;
  }
  return nest;
}

/// The identity of `combiner`: -0.0 for arith.addf (upstream's neutral
/// element is +0.0, which turns a sum of -0.0 into +0.0), else upstream's.
TypedAttr identity(Operation *combiner) {
  auto add = dyn_cast<arith::AddFOp>(combiner);
  if (add && !arith::bitEnumContainsAll(add.getFastmath(), arith::FastMathFlags::nsz)) {
    auto type = cast<FloatType>(add.getType());
    return FloatAttr::get(type, APFloat::getZero(type.getFloatSemantics(), /*Negative=*/true));
  }
  return *arith::getNeutralElement(combiner);
}

} // namespace

scf::ParallelOp nnc::reduceAcrossThreads(RewriterBase &rewriter, scf::ParallelOp kernel,
                                         int64_t threads) {
  if (kernel.getNumReductions())
    return kernel;
  // The tile body: reads, one reduction nest, stores of its results.
  Block *body = kernel.getBody();
  scf::ForOp top;
  SmallVector<Operation *> before, stores;
  for (Operation &op : body->without_terminator()) {
    if (!top) {
      if (auto loop = dyn_cast<scf::ForOp>(op); loop && loop.getNumRegionIterArgs())
        top = loop;
      else if (readsOnly(&op) && !isa<scf::ParallelOp>(op))
        before.push_back(&op);
      else
        return kernel;
      continue;
    }
    auto store = dyn_cast<memref::StoreOp>(op);
    if (!store || store.getValue().getDefiningOp() != top)
      return kernel;
    stores.push_back(store);
  }
  if (!top || llvm::any_of(top.getResults(), [&](Value result) {
        return llvm::any_of(result.getUsers(), [&](Operation *user) {
          return !isa<memref::StoreOp>(user) || user->getBlock() != body;
        });
      }))
    return kernel;
  int64_t outputs = 1;
  for (unsigned i = 0; i < kernel.getNumLoops(); ++i) {
    std::optional<int64_t> trips = nnc::tripCount(kernel, i);
    if (!trips)
      return kernel;
    outputs *= *trips;
  }
  FailureOr<ReductionNest> nest = matchNest(top);
  if (failed(nest))
    return kernel;
  int64_t length = llvm::product_of(nest->trips);
  if (length < kMinBlockReduction || outputs > kMaxBlockReductionOutputs)
    return kernel;
  int64_t blockSize = std::min<int64_t>(threads, llvm::alignTo(length, 32));
  LLVM_DEBUG(llvm::dbgs() << "block reduction at " << kernel.getLoc() << ": " << outputs
                          << " outputs of " << length << " iterations, " << blockSize
                          << " threads each\n");

  Location loc = kernel.getLoc();
  rewriter.setInsertionPoint(kernel);
  auto index = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(rewriter, loc, v); };
  auto tiles = scf::ParallelOp::create(rewriter, loc, kernel.getLowerBound(),
                                       kernel.getUpperBound(), kernel.getStep());
  tiles->setDiscardableAttrs(kernel->getDiscardableAttrDictionary());
  rewriter.setInsertionPoint(tiles.getBody()->getTerminator());
  Value zero = index(0), step = index(blockSize);
  auto elements = scf::ParallelOp::create(rewriter, loc, ValueRange{zero}, ValueRange{step},
                                          ValueRange{index(1)});
  rewriter.setInsertionPoint(elements.getBody()->getTerminator());
  Value tid = elements.getInductionVars()[0];

  IRMapping map;
  for (auto [from, to] : llvm::zip(kernel.getInductionVars(), tiles.getInductionVars()))
    map.map(from, to);
  for (Operation *op : before)
    rewriter.clone(*op, map);

  // Thread t: the flattened iterations t, t + blockSize, ... from the
  // combiners' identities, each delinearized into the nest's indices.
  SmallVector<Value> identities;
  for (Operation *combiner : nest->combiners)
    identities.push_back(arith::ConstantOp::create(rewriter, loc, identity(combiner)));
  auto strided = scf::ForOp::create(
      rewriter, loc, tid, index(length), step, identities,
      [&](OpBuilder &b, Location loc, Value k, ValueRange accs) {
        int64_t stride = length;
        for (auto [level, loop] : llvm::enumerate(nest->loops)) {
          int64_t trips = nest->trips[level];
          stride /= trips;
          Value i = k;
          if (stride != 1)
            i = arith::DivUIOp::create(b, loc, i, arith::ConstantIndexOp::create(b, loc, stride));
          if (level != 0)
            i = arith::RemUIOp::create(b, loc, i, arith::ConstantIndexOp::create(b, loc, trips));
          i = arith::MulIOp::create(b, loc, i, loop.getStep());
          i = arith::AddIOp::create(b, loc, i, loop.getLowerBound());
          map.map(loop.getInductionVar(), i);
        }
        scf::ForOp innermost = nest->loops.back();
        for (auto [arg, acc] : llvm::zip(innermost.getRegionIterArgs(), accs))
          map.map(arg, acc);
        for (scf::ForOp loop : nest->loops)
          for (Operation &op : loop.getBody()->without_terminator())
            if (!llvm::is_contained(nest->loops, &op))
              b.clone(op, map);
        SmallVector<Value> next;
        for (Operation *combiner : nest->combiners)
          next.push_back(map.lookup(combiner->getResult(0)));
        scf::YieldOp::create(b, loc, next);
      });

  // The block's threads combine their values; thread 0 adds the initial
  // value and stores.
  SmallVector<Value> reduced;
  for (auto [value, kind] : llvm::zip(strided.getResults(), nest->kinds))
    reduced.push_back(gpu::AllReduceOp::create(
        rewriter, loc, value, gpu::AllReduceOperationAttr::get(rewriter.getContext(), kind),
        /*uniform=*/true));
  Value first = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::eq, tid, zero);
  auto guard = scf::IfOp::create(rewriter, loc, first, /*withElseRegion=*/false);
  rewriter.setInsertionPoint(guard.thenBlock()->getTerminator());
  scf::ForOp innermost = nest->loops.back();
  for (auto [j, combiner] : llvm::enumerate(nest->combiners)) {
    BlockArgument acc = innermost.getRegionIterArgs()[j];
    Value other = combiner->getOperand(combiner->getOperand(0) == acc ? 1 : 0);
    IRMapping combine;
    combine.map(acc, map.lookupOrDefault(top.getInitArgs()[j]));
    combine.map(other, reduced[j]);
    map.map(top.getResult(j), rewriter.clone(*combiner, combine)->getResult(0));
  }
  for (Operation *store : stores)
    rewriter.clone(*store, map);
  rewriter.eraseOp(kernel);
  return tiles;
}

LogicalResult nnc::lowerAllReduces(ModuleOp module) {
  // Upstream's lowering splits the kernel's block: the all-reduce must be at
  // its top level (every thread reaches it; reduceAcrossThreads puts it there).
  WalkResult nested = module.walk([](gpu::AllReduceOp op) {
    if (isa<gpu::GPUFuncOp>(op->getParentOp()))
      return WalkResult::advance();
    op.emitError("internal error: a gpu.all_reduce inside a region of its kernel");
    return WalkResult::interrupt();
  });
  if (nested.wasInterrupted())
    return failure();
  RewritePatternSet patterns(module.getContext());
  populateGpuAllReducePatterns(patterns);
  populateGpuShufflePatterns(patterns);
  FrozenRewritePatternSet frozen(std::move(patterns));
  for (gpu::GPUModuleOp kernels : module.getOps<gpu::GPUModuleOp>())
    if (failed(applyPatternsGreedily(kernels, frozen)))
      return kernels.emitError("internal error: cannot lower the gpu.all_reduce ops");
  WalkResult left = module.walk([](gpu::AllReduceOp op) {
    op.emitError("internal error: this gpu.all_reduce was not lowered");
    return WalkResult::interrupt();
  });
  return failure(left.wasInterrupted());
}
