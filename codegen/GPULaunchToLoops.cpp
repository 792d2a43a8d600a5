//===- GPULaunchToLoops.cpp - Run gpu.launch bodies as CPU loops ----------===//
//
// Part of nnc. -nn-gpu-launch-to-loops (see its description in
// codegen/Passes.td): the CPU emulation of the GPU-mapped kernel IR, which
// checks the indexing and bounds of the mapping (nnc build --gpu-emulate).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Utils/GPUUtils.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"

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
    if (auto reduce = dyn_cast<gpu::AllReduceOp>(op)) {
      if (reduce->getParentOp() != launch) {
        op->emitError("cannot run a gpu.all_reduce inside a region of its kernel as loops "
                      "(only at the top level of the gpu.launch body)");
        return WalkResult::interrupt();
      }
      if (!reduce.getOp() || !reduce.getBody().empty() || !reduce.getUniform()) {
        op->emitError("cannot run a gpu.all_reduce with a body or without 'uniform' as loops");
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
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

/// Replaces the gpu.block_id, thread_id, block_dim and grid_dim ops in
/// `body` by the values of their dimension in `blockIds`, `threadIds`,
/// `block` and `grid`.
void replaceQueries(RewriterBase &rewriter, Block &body, const gpu::KernelDim3 &blockIds,
                    const gpu::KernelDim3 &threadIds, const gpu::KernelDim3 &grid,
                    const gpu::KernelDim3 &block) {
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
  replaceQueries(rewriter, body, blockIds, threadIds, grid, block);

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

/// The lanes of a warp (NVIDIA's subgroup size, as upstream's all-reduce
/// lowering assumes).
constexpr int64_t kWarp = 32;

/// Creates `scf.for %i = lb to ub step step` at the insertion point of `b`
/// with `body(i)` inside; the insertion point stays after the loop.
scf::ForOp forLoop(OpBuilder &b, Location loc, Value lb, Value ub, Value step,
                   function_ref<void(Value)> body) {
  auto loop = scf::ForOp::create(b, loc, lb, ub, step);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(loop.getBody()->getTerminator());
  body(loop.getInductionVar());
  return loop;
}

/// Combines lanes [0, width) of `lanes` (a memref<32xT>) into lanes[0] in
/// the order of upstream's subgroup reduction (AllReduceLowering.cpp): for
/// offsets 1, 2, 4, 8, 16, lane L takes `combine(own, lane L ^ offset)`
/// where that lane is below `width` (the shuffle's valid bit), else keeps
/// its own value; only the lanes that reach lane 0 are computed.
void emitWarpReduce(OpBuilder &b, Location loc, Value lanes, Value width,
                    vector::CombiningKind kind) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value warp = arith::ConstantIndexOp::create(b, loc, kWarp);
  for (int64_t offset = 1; offset < kWarp; offset *= 2) {
    Value off = arith::ConstantIndexOp::create(b, loc, offset);
    Value stride = arith::ConstantIndexOp::create(b, loc, 2 * offset);
    forLoop(b, loc, zero, warp, stride, [&](Value lane) {
      Value partner = arith::AddIOp::create(b, loc, lane, off);
      Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, partner, width);
      auto guard = scf::IfOp::create(b, loc, valid, /*withElseRegion=*/false);
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPoint(guard.thenBlock()->getTerminator());
      Value own = memref::LoadOp::create(b, loc, lanes, lane);
      Value other = memref::LoadOp::create(b, loc, lanes, partner);
      memref::StoreOp::create(b, loc, vector::makeArithReduction(b, loc, kind, own, other), lanes,
                              lane);
    });
  }
}

/// The value of a gpu.all_reduce over the block's `size` threads whose
/// operands are in `partials` (by linear thread id), combined as upstream's
/// lowering does: each warp (the last one partial) as emitWarpReduce, then
/// the warps' values, in warp order, by one more emitWarpReduce. `lanes`
/// and `warps` are memref<32xT> to work in.
Value emitBlockReduce(OpBuilder &b, Location loc, Value partials, Value lanes, Value warps,
                      Value size, vector::CombiningKind kind) {
  Value zero = arith::ConstantIndexOp::create(b, loc, 0);
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  Value warp = arith::ConstantIndexOp::create(b, loc, kWarp);
  Value numWarps = arith::CeilDivUIOp::create(b, loc, size, warp);
  forLoop(b, loc, zero, numWarps, one, [&](Value w) {
    Value base = arith::MulIOp::create(b, loc, w, warp);
    Value rest = arith::SubIOp::create(b, loc, size, base);
    Value width = arith::MinUIOp::create(b, loc, rest, warp);
    forLoop(b, loc, zero, width, one, [&](Value lane) {
      Value thread = arith::AddIOp::create(b, loc, base, lane);
      Value v = memref::LoadOp::create(b, loc, partials, thread);
      memref::StoreOp::create(b, loc, v, lanes, lane);
    });
    emitWarpReduce(b, loc, lanes, width, kind);
    Value first = memref::LoadOp::create(b, loc, lanes, zero);
    memref::StoreOp::create(b, loc, first, warps, w);
  });
  emitWarpReduce(b, loc, warps, numWarps, kind);
  return memref::LoadOp::create(b, loc, warps, zero);
}

/// Replaces `launch`, whose body has gpu.all_reduce ops at its top level,
/// by loops over its blocks that run the body in phases, one loop over the
/// block's threads each: phase i runs the ops between the i-th and the
/// (i+1)-th all-reduce and stores each thread's operand of the next one in
/// a buffer of the block's size; between phases, the all-reduce's value is
/// computed from that buffer (emitBlockReduce). A value of an earlier phase
/// is recomputed if pure, else kept per thread in a buffer (spilled).
LogicalResult lowerLaunchInPhases(RewriterBase &rewriter, gpu::LaunchOp launch) {
  Location loc = launch.getLoc();
  Block &body = launch.getBody().front();
  // The id and size queries as the body's arguments.
  replaceQueries(rewriter, body, launch.getBlockIds(), launch.getThreadIds(), launch.getGridSize(),
                 launch.getBlockSize());

  // The phases and the values that cross from one to a later one.
  SmallVector<SmallVector<Operation *>> phases(1);
  SmallVector<gpu::AllReduceOp> reduces;
  DenseMap<Operation *, unsigned> phaseOf;
  for (Operation &op : body.without_terminator()) {
    if (auto reduce = dyn_cast<gpu::AllReduceOp>(op)) {
      reduces.push_back(reduce);
      phases.emplace_back();
      continue;
    }
    phaseOf[&op] = phases.size() - 1;
    phases.back().push_back(&op);
  }
  auto crossing = [&](Value v, unsigned phase) {
    Operation *def = v.getDefiningOp();
    return def && def->getBlock() == &body && !isa<gpu::AllReduceOp>(def) &&
           phaseOf.lookup(def) < phase;
  };
  std::function<bool(Value)> recomputable = [&](Value v) {
    Operation *def = v.getDefiningOp();
    if (!def || def->getBlock() != &body || isa<gpu::AllReduceOp>(def))
      return true;
    return isPure(def) && def->getNumRegions() == 0 &&
           llvm::all_of(def->getOperands(), recomputable);
  };
  llvm::SetVector<Value> spilled;
  auto classify = [&](Value v, unsigned phase) -> LogicalResult {
    if (!crossing(v, phase) || recomputable(v))
      return success();
    if (!v.getType().isIntOrIndexOrFloat())
      return v.getDefiningOp()->emitError("cannot run this kernel as loops: its value of type ")
             << v.getType() << " is used across a gpu.all_reduce";
    spilled.insert(v);
    return success();
  };
  for (auto [phase, ops] : llvm::enumerate(phases)) {
    for (Operation *op : ops) {
      WalkResult walk = op->walk([&](Operation *nested) {
        for (Value v : nested->getOperands())
          if (failed(classify(v, phase)))
            return WalkResult::interrupt();
        return WalkResult::advance();
      });
      if (walk.wasInterrupted())
        return failure();
    }
    if (phase < reduces.size() && failed(classify(reduces[phase].getValue(), phase)))
      return failure();
  }

  // The buffers, at the start of the enclosing function (the launch can be
  // in a loop: no alloca in it).
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
  int64_t threads = 1;
  for (Value dim : {block.x, block.y, block.z}) {
    std::optional<int64_t> size = getConstantIntValue(dim);
    if (!size)
      return launch.emitError("cannot run a gpu.all_reduce over a block of unknown size as loops");
    threads *= *size;
  }
  Operation *scope = launch->getParentWithTrait<OpTrait::AutomaticAllocationScope>();
  if (!scope || scope->getNumRegions() != 1 || scope->getRegion(0).empty())
    return launch.emitError("internal error: no function around a gpu.launch");
  rewriter.setInsertionPointToStart(&scope->getRegion(0).front());
  auto buffer = [&](Type type, int64_t size) -> Value {
    return memref::AllocaOp::create(rewriter, loc, MemRefType::get({size}, type));
  };
  SmallVector<Value> partials, lanes, warps;
  for (gpu::AllReduceOp reduce : reduces) {
    partials.push_back(buffer(reduce.getType(), threads));
    lanes.push_back(buffer(reduce.getType(), kWarp));
    warps.push_back(buffer(reduce.getType(), kWarp));
  }
  DenseMap<Value, Value> spills;
  for (Value v : spilled)
    spills[v] = buffer(v.getType(), threads);

  rewriter.setInsertionPoint(launch);
  Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
  Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
  Value size = arith::ConstantIndexOp::create(rewriter, loc, threads);
  gpu::KernelDim3 blockIds;
  scf::ForOp outermost;
  for (auto [bound, id] :
       {std::pair{grid.x, &blockIds.x}, {grid.y, &blockIds.y}, {grid.z, &blockIds.z}}) {
    auto loop = scf::ForOp::create(rewriter, loc, zero, bound, one);
    if (!outermost)
      outermost = loop;
    *id = loop.getInductionVar();
    rewriter.setInsertionPoint(loop.getBody()->getTerminator());
  }
  SmallVector<Value> reduced;
  for (auto [phase, ops] : llvm::enumerate(phases)) {
    OpBuilder::InsertionGuard guard(rewriter);
    gpu::KernelDim3 threadIds;
    for (auto [bound, id] :
         {std::pair{block.x, &threadIds.x}, {block.y, &threadIds.y}, {block.z, &threadIds.z}}) {
      auto loop = scf::ForOp::create(rewriter, loc, zero, bound, one);
      *id = loop.getInductionVar();
      rewriter.setInsertionPoint(loop.getBody()->getTerminator());
    }
    // The linear thread id, as upstream's lowering computes it.
    Value linear = arith::AddIOp::create(
        rewriter, loc,
        arith::MulIOp::create(
            rewriter, loc,
            arith::AddIOp::create(rewriter, loc,
                                  arith::MulIOp::create(rewriter, loc, threadIds.z, block.y),
                                  threadIds.y),
            block.x),
        threadIds.x);
    IRMapping map;
    SmallVector<Value> args;
    for (const gpu::KernelDim3 &dims : {blockIds, threadIds, grid, block})
      args.append({dims.x, dims.y, dims.z});
    for (auto [arg, value] : llvm::zip(body.getArguments(), args))
      map.map(arg, value);
    for (auto [reduce, value] : llvm::zip(reduces, reduced))
      map.map(reduce.getResult(), value);
    std::function<void(Value)> materialize = [&](Value v) {
      if (!crossing(v, phase) || map.contains(v))
        return;
      if (spilled.contains(v)) {
        map.map(v, memref::LoadOp::create(rewriter, loc, spills[v], linear));
        return;
      }
      Operation *def = v.getDefiningOp();
      for (Value operand : def->getOperands())
        materialize(operand);
      rewriter.clone(*def, map);
    };
    for (Operation *op : ops) {
      op->walk([&](Operation *nested) {
        for (Value v : nested->getOperands())
          materialize(v);
      });
      Operation *clone = rewriter.clone(*op, map);
      for (auto [result, cloned] : llvm::zip(op->getResults(), clone->getResults()))
        if (spilled.contains(result))
          memref::StoreOp::create(rewriter, loc, cloned, spills[result], linear);
    }
    if (phase == reduces.size())
      break;
    Value operand = reduces[phase].getValue();
    materialize(operand);
    memref::StoreOp::create(rewriter, loc, map.lookupOrDefault(operand), partials[phase], linear);
    // After all threads of the block: the all-reduce's value.
    rewriter.setInsertionPointAfter(
        rewriter.getInsertionBlock()->getParentOp()->getParentOp()->getParentOp());
    reduced.push_back(emitBlockReduce(rewriter, loc, partials[phase], lanes[phase], warps[phase],
                                      size, gpu::convertReductionKind(*reduces[phase].getOp())));
  }
  for (NamedAttribute attr : launch->getDiscardableAttrs())
    if (attr.getName().strref().starts_with("nn."))
      outermost->setAttr(attr.getName(), attr.getValue());
  rewriter.eraseOp(launch);
  return success();
}

struct NNGPULaunchToLoopsPass : nnc::impl::NNGPULaunchToLoopsBase<NNGPULaunchToLoopsPass> {
  void runOnOperation() override {
    SmallVector<gpu::LaunchOp> launches;
    getOperation().walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches)
      if (failed(checkEmulatable(launch)))
        return signalPassFailure();
    IRRewriter rewriter(&getContext());
    for (gpu::LaunchOp launch : launches) {
      if (launch.getBody().front().getOps<gpu::AllReduceOp>().empty())
        lowerLaunch(rewriter, launch);
      else if (failed(lowerLaunchInPhases(rewriter, launch)))
        return signalPassFailure();
    }
  }
};

} // namespace
