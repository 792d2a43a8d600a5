//===- GPULaunchToLoops.cpp - Run gpu.launch bodies as CPU loops ----------===//
//
// Part of nnc. -nn-gpu-launch-to-loops (see its description in
// codegen/Passes.td): the CPU emulation of the GPU-mapped kernel IR, which
// checks the indexing and bounds of the mapping (nnc build --gpu-emulate).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/PatternMatch.h"

namespace nnc {
#define GEN_PASS_DEF_NNGPULAUNCHTOLOOPS
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

/// Whether `type` is a memref in GPU shared (workgroup) or private memory.
bool isGPUMemory(Type type) {
  auto memref = dyn_cast<MemRefType>(type);
  auto space = memref ? dyn_cast_or_null<gpu::AddressSpaceAttr>(memref.getMemorySpace())
                      : gpu::AddressSpaceAttr();
  return space && space.getValue() != gpu::AddressSpace::Global;
}

/// Checks that the threads of `launch` can run one after another: no
/// barrier, no other gpu op than the ids and sizes, no shared memory.
LogicalResult checkEmulatable(gpu::LaunchOp launch) {
  if (!launch.getAsyncDependencies().empty() || launch.getAsyncToken())
    return launch.emitError("cannot run an asynchronous gpu.launch as loops");
  if (launch.hasClusterSize())
    return launch.emitError("cannot run a gpu.launch with clusters as loops");
  if (launch.getNumWorkgroupAttributions() || launch.getNumPrivateAttributions() ||
      launch.getDynamicSharedMemorySize())
    return launch.emitError("cannot run a kernel with shared memory as loops: its threads "
                            "share memory within a block");
  if (!launch.getBody().hasOneBlock())
    return launch.emitError("cannot run a gpu.launch whose body has several blocks as loops");
  WalkResult walk = launch.getBody().walk([&](Operation *op) {
    if (isa<gpu::BarrierOp>(op)) {
      op->emitError("cannot run a kernel whose threads synchronise (gpu.barrier) as loops");
      return WalkResult::interrupt();
    }
    if (isa<gpu::GPUDialect>(op->getDialect()) &&
        !isa<gpu::BlockIdOp, gpu::ThreadIdOp, gpu::BlockDimOp, gpu::GridDimOp, gpu::TerminatorOp>(
            op)) {
      op->emitError("cannot run '") << op->getName() << "' of a kernel as loops";
      return WalkResult::interrupt();
    }
    if (llvm::any_of(op->getResultTypes(), isGPUMemory)) {
      op->emitError("cannot run a kernel with shared memory as loops");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

/// The index of dimension `dim` (x, y, z) in a KernelDim3.
Value pick(const gpu::KernelDim3 &values, gpu::Dimension dim) {
  return dim == gpu::Dimension::x ? values.x : dim == gpu::Dimension::y ? values.y : values.z;
}

/// Replaces `launch` by scf.for loops over its block ids (outside) and
/// thread ids (inside) with its body inlined; the outermost loop takes the
/// launch's nn.* attributes.
void lowerLaunch(RewriterBase &rewriter, gpu::LaunchOp launch) {
  Location loc = launch.getLoc();
  rewriter.setInsertionPoint(launch);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  gpu::KernelDim3 blockIds, threadIds;
  scf::ForOp outermost;
  for (auto [bound, id] : {std::pair{grid.x, &blockIds.x},
                           {grid.y, &blockIds.y},
                           {grid.z, &blockIds.z},
                           {block.x, &threadIds.x},
                           {block.y, &threadIds.y},
                           {block.z, &threadIds.z}}) {
    auto loop = scf::ForOp::create(rewriter, loc, zero, bound, one);
    if (!outermost)
      outermost = loop;
    *id = loop.getInductionVar();
    rewriter.setInsertionPoint(loop.getBody()->getTerminator());
  }

  Block &body = launch.getBody().front();
  SmallVector<Operation *> queries;
  body.walk([&](Operation *op) {
    if (isa<gpu::BlockIdOp, gpu::ThreadIdOp, gpu::BlockDimOp, gpu::GridDimOp>(op))
      queries.push_back(op);
  });
  for (Operation *op : queries) {
    Value value;
    if (auto q = dyn_cast<gpu::BlockIdOp>(op))
      value = pick(blockIds, q.getDimension());
    else if (auto q = dyn_cast<gpu::ThreadIdOp>(op))
      value = pick(threadIds, q.getDimension());
    else if (auto q = dyn_cast<gpu::BlockDimOp>(op))
      value = pick(block, q.getDimension());
    else
      value = pick(grid, cast<gpu::GridDimOp>(op).getDimension());
    rewriter.replaceOp(op, value);
  }

  // The body's arguments: block ids, thread ids, grid size, block size.
  SmallVector<Value> replacements;
  for (const gpu::KernelDim3 &dims : {blockIds, threadIds, grid, block})
    replacements.append({dims.x, dims.y, dims.z});
  Operation *insertBefore = &*rewriter.getInsertionPoint();
  rewriter.eraseOp(body.getTerminator());
  rewriter.inlineBlockBefore(&body, insertBefore, replacements);
  // The kernel's nn.* attributes (nn.kernel, nn.layer) stay with its loops.
  for (NamedAttribute attr : launch->getDiscardableAttrs())
    if (attr.getName().strref().starts_with("nn."))
      outermost->setAttr(attr.getName(), attr.getValue());
  rewriter.eraseOp(launch);
}

struct NNGPULaunchToLoopsPass : nnc::impl::NNGPULaunchToLoopsBase<NNGPULaunchToLoopsPass> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches)
      if (failed(checkEmulatable(launch)))
        return signalPassFailure();
    IRRewriter rewriter(&getContext());
    for (gpu::LaunchOp launch : launches)
      lowerLaunch(rewriter, launch);
  }
};

} // namespace
