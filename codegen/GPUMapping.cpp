//===- GPUMapping.cpp - The kernel IR's nests as gpu.launch ops -----------===//
//
// Part of nnc. -nn-gpu-map (see its description in codegen/Passes.td): the
// kernel nests of -nn-kernel-loops get block and thread mapping attributes
// (after tiling those whose element loop is missing) and the upstream
// SCF-to-GPU patterns turn each into one gpu.launch.
//
//===----------------------------------------------------------------------===//

#include "codegen/GPUMapping.h"
#include "codegen/GPUVectorize.h"
#include "codegen/GPUReductions.h"
#include "codegen/KernelLoops.h"
#include "codegen/Passes.h"

#include "mlir/Conversion/SCFToGPU/SCFToGPU.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/Dialect/SCF/Transforms/Transforms.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/Support/Debug.h"

#define DEBUG_TYPE "nn-gpu-map"

namespace nnc {
#define GEN_PASS_DEF_NNGPUMAP
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

/// The most threads a block may have (every NVIDIA GPU since sm_20).
constexpr int64_t kMaxThreadsPerBlock = 1024;

/// The most blocks in the y and z dimensions of a grid.
constexpr int64_t kMaxGridYZ = 65535;

/// The fewest threads per block worth having: a warp.
constexpr int64_t kMinThreads = 32;

/// The element loop of the kernel nest `kernel`: the one scf.parallel in its
/// body, or null if there is none (or more than one).
scf::ParallelOp elementLoop(scf::ParallelOp kernel) {
  auto loops = kernel.getBody()->getOps<scf::ParallelOp>();
  if (loops.empty() || std::next(loops.begin()) != loops.end())
    return {};
  return *loops.begin();
}

/// Tile sizes that give a loop over `loop`'s dimensions about `threads`
/// iterations: whole dimensions from the innermost outwards (so that the
/// threads of a warp read consecutive elements), then a tile of the next
/// dimension (nnc::pickTile: a divisor if one is near, else a guarded
/// partial tile; `threads` elements of a dimension of unknown size), then 1.
SmallVector<int64_t> threadTiles(scf::ParallelOp loop, int64_t threads) {
  SmallVector<int64_t> tiles(loop.getNumLoops(), 1);
  int64_t want = threads;
  for (int64_t i = int64_t(loop.getNumLoops()) - 1; i >= 0 && want > 1; --i) {
    std::optional<int64_t> size = nnc::tripCount(loop, i);
    if (size && *size <= want) {
      tiles[i] = std::max<int64_t>(*size, 1);
      want /= tiles[i];
      continue;
    }
    tiles[i] = size ? nnc::pickTile(*size, want) : want;
    break;
  }
  return tiles;
}

/// Collapses the leading dimensions of `loop` into one if it has more than
/// three (a gpu.launch has x, y and z): upstream collapseParallelLoops.
/// Collapses `loop`'s dimensions into `groups` (consecutive, in order; upstream
/// collapseParallelLoops); returns the collapsed loop.
scf::ParallelOp collapseGroups(RewriterBase &rewriter, scf::ParallelOp loop,
                               ArrayRef<std::vector<unsigned>> groups) {
  Block *parent = loop->getBlock();
  Operation *before = loop->getPrevNode();
  collapseParallelLoops(rewriter, loop, groups);
  // The collapsed loop replaces `loop` at its place.
  Operation *first = before ? before->getNextNode() : &parent->front();
  for (Operation *op = first; op; op = op->getNextNode())
    if (auto collapsed = dyn_cast<scf::ParallelOp>(op))
      return collapsed;
  return {};
}

scf::ParallelOp collapseToThreeDims(RewriterBase &rewriter, scf::ParallelOp loop) {
  unsigned n = loop.getNumLoops();
  if (n <= 3)
    return loop;
  std::vector<unsigned> leading;
  for (unsigned i = 0; i + 2 < n; ++i)
    leading.push_back(i);
  return collapseGroups(rewriter, loop, {leading, {n - 2}, {n - 1}});
}

/// Maps the dimensions of `loop` to the processors from `x` (BlockX or
/// ThreadX) on: the innermost dimension to x, the one before it to y, z.
LogicalResult mapDims(scf::ParallelOp loop, gpu::Processor x) {
  MLIRContext *ctx = loop.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
  unsigned n = loop.getNumLoops();
  for (unsigned i = 0; i < n; ++i)
    mapping.push_back(gpu::ParallelLoopDimMappingAttr::get(
        ctx, gpu::Processor(int64_t(x) + (n - 1 - i)), identity, identity));
  return gpu::setMappingAttr(loop, mapping);
}

/// The static number of threads of the element loop `loop` as the upstream
/// conversion will launch it: constant trip counts, or the constant of an
/// `affine.min` upper bound (a ragged tile, guarded inside the kernel).
std::optional<int64_t> staticThreads(scf::ParallelOp loop) {
  int64_t total = 1;
  for (unsigned i = 0; i < loop.getNumLoops(); ++i) {
    std::optional<int64_t> trips = nnc::tripCount(loop, i);
    auto min = loop.getUpperBound()[i].getDefiningOp<affine::AffineMinOp>();
    if (!trips && min && getConstantIntValue(loop.getLowerBound()[i]) == 0 &&
        getConstantIntValue(loop.getStep()[i]) == 1)
      for (AffineExpr e : min.getAffineMap().getResults())
        if (auto c = dyn_cast<AffineConstantExpr>(e))
          trips = trips ? std::min(*trips, c.getValue()) : c.getValue();
    if (!trips)
      return std::nullopt;
    total *= *trips;
  }
  return total;
}

/// Tiles the kernel nest `kernel`, which has no element loop but more than
/// one iteration, into one whose element loop has about `threads`
/// iterations; returns the nest.
scf::ParallelOp tileForThreads(scf::ParallelOp kernel, int64_t threads) {
  SmallVector<int64_t> tiles = threadTiles(kernel, threads);
  LLVM_DEBUG(llvm::dbgs() << "thread tiles for " << kernel.getLoc() << ":";
             for (int64_t t
                  : tiles) llvm::dbgs()
             << " " << t;
             llvm::dbgs() << "\n");
  DictionaryAttr attrs = kernel->getDiscardableAttrDictionary();
  scf::ParallelOp tiled = scf::tileParallelLoop(kernel, tiles, /*noMinMaxBounds=*/true).first;
  tiled->setDiscardableAttrs(attrs);
  return tiled;
}

/// Gives the element loop of `kernel` more iterations when it has fewer
/// than kMinThreads (a tile that suits a CPU core, e.g. 13 rows of a loss):
/// `factor` consecutive tiles of each tile dimension (innermost first, up
/// to about `threads` elements in all) become dimensions of the element
/// loop, guarded by an `scf.if` where the factors do not divide the tile
/// counts. Only for static nests whose element loop has constant bounds and
/// whose tile body computes nothing but that loop's operands (pure ops);
/// returns the new nest, or `kernel` unchanged.
scf::ParallelOp coarsen(RewriterBase &rewriter, scf::ParallelOp kernel, int64_t threads) {
  scf::ParallelOp elements = elementLoop(kernel);
  SmallVector<int64_t> elementTrips, tileTrips, steps;
  for (unsigned i = 0; i < elements.getNumLoops(); ++i) {
    std::optional<int64_t> trips = nnc::tripCount(elements, i);
    if (!trips)
      return kernel;
    elementTrips.push_back(*trips);
  }
  int64_t perTile = llvm::product_of(elementTrips);
  if (perTile >= kMinThreads || perTile == 0)
    return kernel;
  for (unsigned i = 0; i < kernel.getNumLoops(); ++i) {
    std::optional<int64_t> trips = nnc::tripCount(kernel, i);
    std::optional<int64_t> step = getConstantIntValue(kernel.getStep()[i]);
    if (!trips || !step)
      return kernel;
    tileTrips.push_back(*trips);
    steps.push_back(*step);
  }
  Block *body = kernel.getBody();
  for (Operation &op : body->without_terminator())
    if (&op != elements && (!isMemoryEffectFree(&op) || !op.isBeforeInBlock(elements)))
      return kernel;

  SmallVector<int64_t> factors(tileTrips.size(), 1);
  int64_t want = std::max<int64_t>(1, threads / perTile);
  for (int64_t i = int64_t(tileTrips.size()) - 1; i >= 0 && want > 1; --i) {
    if (tileTrips[i] <= want) {
      factors[i] = std::max<int64_t>(tileTrips[i], 1);
      want /= factors[i];
      continue;
    }
    factors[i] = nnc::pickTile(tileTrips[i], want);
    break;
  }
  if (llvm::all_of(factors, [](int64_t f) { return f == 1; }))
    return kernel;
  LLVM_DEBUG(llvm::dbgs() << "coarsening factors for " << kernel.getLoc() << ":";
             for (int64_t f
                  : factors) llvm::dbgs()
             << " " << f;
             llvm::dbgs() << "\n");

  Location loc = kernel.getLoc();
  rewriter.setInsertionPoint(kernel);
  auto index = [&](int64_t v) -> Value { return arith::ConstantIndexOp::create(rewriter, loc, v); };
  SmallVector<Value> outerSteps, lbs, ubs, innerSteps;
  for (auto [i, f] : llvm::enumerate(factors)) {
    outerSteps.push_back(f == 1 ? kernel.getStep()[i] : index(steps[i] * f));
    if (f == 1)
      continue;
    lbs.push_back(index(0));
    ubs.push_back(index(f));
    innerSteps.push_back(index(1));
  }
  unsigned coarse = lbs.size();
  for (unsigned i = 0; i < elements.getNumLoops(); ++i) {
    lbs.push_back(index(*getConstantIntValue(elements.getLowerBound()[i])));
    ubs.push_back(index(*getConstantIntValue(elements.getUpperBound()[i])));
    innerSteps.push_back(index(*getConstantIntValue(elements.getStep()[i])));
  }
  auto outer = scf::ParallelOp::create(rewriter, loc, kernel.getLowerBound(),
                                       kernel.getUpperBound(), outerSteps);
  outer->setDiscardableAttrs(kernel->getDiscardableAttrDictionary());
  rewriter.setInsertionPoint(outer.getBody()->getTerminator());
  auto inner = scf::ParallelOp::create(rewriter, loc, lbs, ubs, innerSteps);
  rewriter.setInsertionPoint(inner.getBody()->getTerminator());

  // The tile's induction variables: the outer one plus the tile within.
  IRMapping map;
  Value inBounds;
  unsigned j = 0;
  for (auto [i, f] : llvm::enumerate(factors)) {
    Value iv = outer.getInductionVars()[i];
    if (f != 1) {
      Value offset =
          arith::MulIOp::create(rewriter, loc, inner.getInductionVars()[j++], index(steps[i]));
      iv = arith::AddIOp::create(rewriter, loc, iv, offset);
      if (tileTrips[i] % f != 0) {
        Value in = arith::CmpIOp::create(rewriter, loc, arith::CmpIPredicate::slt, iv,
                                         kernel.getUpperBound()[i]);
        inBounds = inBounds ? arith::AndIOp::create(rewriter, loc, inBounds, in) : in;
      }
    }
    map.map(kernel.getInductionVars()[i], iv);
  }
  for (unsigned k = 0; k < elements.getNumLoops(); ++k)
    map.map(elements.getInductionVars()[k], inner.getInductionVars()[coarse + k]);
  if (inBounds) {
    auto guard = scf::IfOp::create(rewriter, loc, inBounds, /*withElseRegion=*/false);
    rewriter.setInsertionPoint(guard.thenBlock()->getTerminator());
  }
  for (Operation &op : body->without_terminator())
    if (&op != elements)
      rewriter.clone(op, map);
  for (Operation &op : elements.getBody()->without_terminator())
    rewriter.clone(op, map);
  rewriter.eraseOp(kernel);
  return outer;
}

/// Gives `kernel` an element loop of enough threads (tileForThreads,
/// coarsen); returns the nest.
scf::ParallelOp addThreads(RewriterBase &rewriter, scf::ParallelOp kernel, int64_t threads) {
  if (elementLoop(kernel))
    return coarsen(rewriter, kernel, threads);
  bool single = llvm::all_of(llvm::seq(kernel.getNumLoops()),
                             [&](unsigned i) { return nnc::tripCount(kernel, i) == 1; });
  return single ? kernel : tileForThreads(kernel, threads);
}

/// Collapses the tile and element loops of `kernel` to at most three
/// dimensions each (after their bounds were folded); returns the nest.
FailureOr<scf::ParallelOp> collapseKernel(RewriterBase &rewriter, scf::ParallelOp kernel) {
  kernel = collapseToThreeDims(rewriter, kernel);
  if (!kernel)
    return emitError(rewriter.getUnknownLoc(), "internal error: cannot collapse a tile loop");
  scf::ParallelOp elements = elementLoop(kernel);
  if (!elements || elements.getNumLoops() <= 3)
    return kernel;
  if (llvm::any_of(llvm::seq(elements.getNumLoops()),
                   [&](unsigned i) { return !nnc::tripCount(elements, i); })) {
    // A ragged dimension (an affine.min bound) keeps its own thread
    // dimension, so the launch still has a static size and the guard its
    // bound; the runs of static dimensions between them collapse into one
    // (difftest seed 26: dropout over [ragged batch tile, 2, 4, 7]).
    std::vector<std::vector<unsigned>> groups;
    for (unsigned i = 0; i < elements.getNumLoops(); ++i) {
      bool ragged = !nnc::tripCount(elements, i);
      bool extend = !ragged && !groups.empty() && nnc::tripCount(elements, groups.back().back());
      if (extend)
        groups.back().push_back(i);
      else
        groups.push_back({i});
    }
    if (groups.size() > 3)
      return elements.emitError("cannot map a ragged element loop of ")
             << elements.getNumLoops() << " dimensions to GPU threads";
    if (!collapseGroups(rewriter, elements, groups))
      return elements.emitError("internal error: cannot collapse an element loop");
    return kernel;
  }
  if (!collapseToThreeDims(rewriter, elements))
    return elements.emitError("internal error: cannot collapse an element loop");
  return kernel;
}

/// Gives the kernel nest `kernel` its block and thread mapping: the tile
/// loop to blocks, the element loop to threads.
LogicalResult mapKernel(scf::ParallelOp kernel) {
  if (failed(mapDims(kernel, gpu::Processor::BlockX)))
    return kernel.emitError("internal error: cannot map this kernel's tile loop to GPU blocks");
  // Dimensions y and z of a grid hold at most 65535 blocks (x: 2^31 - 1).
  for (unsigned i = 0; i + 1 < kernel.getNumLoops(); ++i)
    if (std::optional<int64_t> trips = nnc::tripCount(kernel, i); trips && *trips > kMaxGridYZ)
      return kernel.emitError("this kernel's tile loop has ")
             << *trips << " iterations in dimension " << i << ", more than the " << kMaxGridYZ
             << " blocks of a GPU grid's y and z";
  scf::ParallelOp elements = elementLoop(kernel);
  if (!elements)
    return success();
  if (failed(mapDims(elements, gpu::Processor::ThreadX)))
    return kernel.emitError("internal error: cannot map this kernel's element loop to GPU threads");
  std::optional<int64_t> count = staticThreads(elements);
  if (!count)
    return elements.emitError("cannot map an element loop of unknown size to GPU threads");
  if (*count > kMaxThreadsPerBlock)
    return elements.emitError("this kernel's tile has ")
           << *count << " elements, more than the " << kMaxThreadsPerBlock
           << " threads a GPU block may have";
  return success();
}

struct NNGPUMapPass : nnc::impl::NNGPUMapBase<NNGPUMapPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *ctx) override {
    cleanup = nnc::cleanupPatterns(ctx);
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (threads < kMinThreads || threads > kMaxThreadsPerBlock) {
      module.emitError("nn-gpu-map: threads must be in [32, 1024]");
      return signalPassFailure();
    }
    if (vectorWidth < 1 || vectorWidth > 16 || !llvm::isPowerOf2_64(vectorWidth)) {
      module.emitError("nn-gpu-map: vector-width must be 1, 2, 4, 8 or 16");
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> kernels;
    module.walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>() && !loop->getParentOfType<gpu::LaunchOp>())
        kernels.push_back(loop);
    });
    // The nests' nn.* attributes (nn.kernel, nn.layer), in program order:
    // each nest becomes one launch at its place, so the launches come in the
    // same order.
    SmallVector<SmallVector<NamedAttribute>> tags;
    IRRewriter rewriter(&getContext());
    for (scf::ParallelOp &kernel : kernels) {
      tags.emplace_back();
      for (NamedAttribute attr : kernel->getDiscardableAttrs())
        if (attr.getName().strref().starts_with("nn."))
          tags.back().push_back(attr);
      if (blockReductions)
        kernel = nnc::reduceAcrossThreads(rewriter, kernel, threads);
      kernel = addThreads(rewriter, kernel, threads);
    }
    // Fold the new loops' bounds (products of constants) as -nn-kernel-loops
    // folds its own, before and after collapsing dimensions.
    if (failed(applyPatternsGreedily(module, cleanup)))
      return signalPassFailure();
    // Vector lanes per thread, before collapsing: the body still indexes
    // with each dimension's own induction variable.
    for (scf::ParallelOp kernel : kernels)
      nnc::vectorizeElementLoop(rewriter, kernel, vectorWidth, kMinThreads);
    for (scf::ParallelOp &kernel : kernels) {
      FailureOr<scf::ParallelOp> collapsed = collapseKernel(rewriter, kernel);
      if (failed(collapsed))
        return signalPassFailure();
      kernel = *collapsed;
    }
    if (failed(applyPatternsGreedily(module, cleanup)))
      return signalPassFailure();
    for (scf::ParallelOp kernel : kernels)
      if (failed(mapKernel(kernel)))
        return signalPassFailure();

    RewritePatternSet patterns(&getContext());
    populateParallelLoopToGPUPatterns(patterns);
    ConversionTarget target(getContext());
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    configureParallelLoopToGPULegality(target);
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      return signalPassFailure();
    finalizeParallelLoopToGPUConversion(module);
    // Fold the launch sizes (affine.apply of constants).
    if (failed(applyPatternsGreedily(module, cleanup)))
      return signalPassFailure();

    // No nest may silently stay on the host (the upstream patterns leave a
    // loop whose bounds they cannot derive as it is).
    WalkResult left = module.walk([&](scf::ParallelOp loop) {
      if (loop->getParentOfType<gpu::LaunchOp>())
        loop.emitError("this parallel loop is neither a kernel's tile loop nor its element "
                       "loop: it cannot be mapped to the GPU");
      else
        loop.emitError("this kernel nest was not mapped to the GPU");
      return WalkResult::interrupt();
    });
    if (left.wasInterrupted())
      return signalPassFailure();
    SmallVector<gpu::LaunchOp> launches;
    module.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    if (launches.size() != kernels.size()) {
      module.emitError("internal error: ")
          << kernels.size() << " kernel nests became " << launches.size() << " gpu.launch ops";
      return signalPassFailure();
    }
    for (auto [launch, attrs] : llvm::zip(launches, tags)) {
      // The upstream patterns' marker, left on the launch.
      launch->removeAttr("SCFToGPU_visited");
      for (NamedAttribute attr : attrs)
        launch->setAttr(attr.getName(), attr.getValue());
    }
  }

private:
  FrozenRewritePatternSet cleanup;
};

} // namespace

void nnc::addGPUMappingStages(OpPassManager &pm, bool blockReductions) {
  nnc::NNGPUMapOptions options;
  options.blockReductions = blockReductions;
  pm.addPass(nnc::createNNGPUMap(options));
}
