//===- LowerFlatUpdate.cpp - One optimizer loop over all parameters -------===//
//
// The part of -nn-lower-to-buffers for an nn.kernel tagged `nn.flat_update`
// (codegen/FlatUpdate.h): the arena layout that puts its parameters, and
// each state of theirs, one after the other, and the lowering of the kernel
// to one linalg.generic over all their elements. The gradients are made
// slices of one gradient buffer laid out like the parameters: the buffer
// that the backward pass writes a gradient into (a memref.alloc of exactly
// the parameter's size) becomes a view of its slice, so the backward pass
// writes each gradient in place; any other gradient is copied into its
// slice. With data parallelism (codegen/FlatUpdate.h) the hooks of
// runtime/DataParallel.h are called around the loop.
//
//===----------------------------------------------------------------------===//

#include "codegen/FlatUpdate.h"
#include "codegen/FunctionLowering.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/DenseSet.h"

using namespace mlir;
using namespace mlir::nn;
using namespace nnc::codegen;

SmallVector<FlatUpdateColumns> nnc::codegen::flatUpdateGroups(ModuleOp model) {
  SmallVector<FlatUpdateColumns> groups;
  llvm::StringSet<> used;
  model.walk([&](KernelOp kernel) {
    if (!kernel->hasAttr(kFlatUpdateAttr))
      return;
    FlatUpdateColumns columns;
    for (auto update : kernel.getBodyBlock().getOps<linalg::GenericOp>()) {
      if (columns.empty())
        columns.resize(update.getNumDpsInits());
      if (int64_t(columns.size()) != update.getNumDpsInits())
        return;
      for (auto [column, init] : llvm::zip(columns, update.getDpsInits())) {
        auto arg = dyn_cast<BlockArgument>(init);
        auto ref = arg && arg.getOwner() == &kernel.getBodyBlock()
                       ? kernel.getInputs()[arg.getArgNumber()].getDefiningOp<ParamRefOp>()
                       : ParamRefOp();
        if (!ref || used.contains(ref.getSym()) || llvm::is_contained(column, ref.getSym()))
          return;
        column.push_back(ref.getSym());
      }
    }
    if (columns.empty())
      return;
    for (ArrayRef<StringRef> column : columns)
      for (StringRef sym : column)
        used.insert(sym);
    groups.push_back(std::move(columns));
  });
  return groups;
}

namespace {

/// The allocation that holds `buffer` (itself or a reshape of it) if it
/// has exactly `bytes`, is contiguous and lies in `block`; else null.
memref::AllocOp wholeAllocation(Value buffer, int64_t bytes, Block *block) {
  while (Operation *def = buffer.getDefiningOp()) {
    if (!isa<memref::ReinterpretCastOp, memref::CollapseShapeOp, memref::ExpandShapeOp>(def))
      break;
    buffer = def->getOperand(0);
  }
  auto alloc = buffer.getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != block || !alloc.getType().hasStaticShape() ||
      !alloc.getType().getLayout().isIdentity() || byteSize(alloc.getType()) != bytes)
    return nullptr;
  return alloc;
}

} // namespace

bool FunctionLowering::lowerFlatUpdate(KernelOp kernel) {
  SmallVector<linalg::GenericOp> updates(kernel.getBodyBlock().getOps<linalg::GenericOp>());
  if (updates.empty())
    return false;
  linalg::GenericOp first = updates.front();
  unsigned numState = first.getNumDpsInits();
  Type elemType = getElementTypeOrSelf(first.getDpsInits()[0].getType());
  int64_t elemBytes = std::max<int64_t>(elemType.getIntOrFloatBitWidth() / 8, 1);

  // Each update: one gradient, the parameter and its state in regions that
  // follow those of the previous update, nothing reading them later.
  SmallVector<int64_t> starts; // element offset of each update
  SmallVector<int64_t> bases;  // arena offset of each destination column
  int64_t total = 0;
  // ZeRO-1: the state columns are the group's `dp<g>.<state>` regions, not
  // the per-parameter ones (their param_refs are not read).
  bool sharded = dataParallel && dataParallel->sharded;
  for (linalg::GenericOp update : updates) {
    if (update.getNumDpsInputs() != 1 || update.getNumDpsInits() != numState ||
        update.getNumReductionLoops() != 0 ||
        llvm::any_of(update->getOperandTypes(),
                     [&](Type t) { return getElementTypeOrSelf(t) != elemType; }) ||
        !llvm::all_of(update.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isIdentity(); }))
      return false;
    for (auto [k, init] : llvm::enumerate(update.getDpsInits())) {
      auto it = paramViewOffset.find(lookup(init));
      if (it == paramViewOffset.end() || readLater(init, update))
        return false;
      if (starts.empty())
        bases.push_back(it->second);
      else if ((k == 0 || !sharded) && it->second != bases[k] + total * elemBytes)
        return false;
    }
    starts.push_back(total);
    total += cast<ShapedType>(update.getDpsInits()[0].getType()).getNumElements();
  }
  // The body reads scalars from outside (already lowered), no tensors.
  llvm::SetVector<Value> captured;
  getUsedValuesDefinedAbove(first.getRegion(), captured);
  if (llvm::any_of(captured, [&](Value v) { return isa<ShapedType>(v.getType()) || !lookup(v); }))
    return false;
  // Data parallelism: the group planned with the arena, `count` elements.
  int64_t group = -1;
  int64_t count = total;
  const DataParallelPlan::Group *dp = nullptr;
  if (dataParallel) {
    auto it = dataParallel->groupAt.find(bases[0]);
    if (it == dataParallel->groupAt.end() || dataParallel->groups[it->second].used != total ||
        (sharded && dataParallel->groups[it->second].stateOffsets.size() + 1 != numState))
      return false;
    group = it->second;
    dp = &dataParallel->groups[group];
    count = dp->count;
  }

  // The gradient buffer: each gradient's allocation becomes its slice.
  Block *entry = arena.getParentBlock();
  SmallVector<memref::AllocOp> allocs;
  for (auto [update, start] : llvm::zip(updates, starts)) {
    Value grad = update.getDpsInputs()[0];
    memref::AllocOp alloc =
        wholeAllocation(lookup(grad), byteSize(cast<ShapedType>(grad.getType())), entry);
    allocs.push_back(alloc && !llvm::is_contained(allocs, alloc) ? alloc : memref::AllocOp());
  }
  Operation *earliest = nullptr;
  for (memref::AllocOp alloc : allocs)
    if (alloc && (!earliest || alloc->isBeforeInBlock(earliest)))
      earliest = alloc;
  auto slabType = MemRefType::get({count * elemBytes}, b.getI8Type());
  Value slab;
  {
    OpBuilder::InsertionGuard guard(b);
    if (earliest)
      b.setInsertionPoint(earliest);
    auto slabAlloc = memref::AllocOp::create(b, loc(), slabType, b.getI64IntegerAttr(kAlign));
    tag(slabAlloc);
    slabAlloc->setAttr(kBufferKindAttr, b.getStringAttr("gradient"));
    slab = slabAlloc;
  }
  auto slice = [&](int64_t start, MemRefType type) -> Value {
    Value shift = arith::ConstantIndexOp::create(b, loc(), start * elemBytes);
    return memref::ViewOp::create(b, loc(), type, slab, shift, ValueRange{});
  };
  // The keys that map to each gradient allocation, to repoint them at its
  // slice (one pass over the mapping, not one per update).
  DenseMap<Value, SmallVector<Value, 1>> keysOf;
  {
    DenseSet<Value> olds;
    for (memref::AllocOp alloc : allocs)
      if (alloc)
        olds.insert(alloc.getResult());
    for (auto &entry : mapping)
      if (olds.contains(entry.second))
        keysOf[entry.second].push_back(entry.first);
  }
  for (auto [update, alloc, start] : llvm::zip(updates, allocs, starts)) {
    Value grad = lookup(update.getDpsInputs()[0]);
    // Each slice is a gradient of the memory plan, of the layer whose
    // backward pass writes it.
    auto markGradient = [&](Value slice, Operation *from) {
      Operation *view = slice.getDefiningOp();
      if (from && from->hasAttr(kStepAttr) && from->hasAttr(kLayerAttr)) {
        view->setAttr(kStepAttr, from->getAttr(kStepAttr));
        view->setAttr(kLayerAttr, from->getAttr(kLayerAttr));
      } else {
        tag(view);
      }
      view->setAttr(kBufferKindAttr, b.getStringAttr("gradient"));
      return slice;
    };
    if (!alloc) {
      // Copied into its slice.
      auto type = cast<MemRefType>(grad.getType());
      copyInto(grad,
               markGradient(slice(start, MemRefType::get(type.getShape(), elemType)), nullptr));
      continue;
    }
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(alloc);
    Value view = markGradient(slice(start, alloc.getType()), alloc);
    Value old = alloc.getResult();
    old.replaceAllUsesWith(view);
    for (Value key : keysOf.lookup(old)) {
      auto it = mapping.find(key);
      if (it != mapping.end() && it->second == old)
        it->second = view;
    }
    alloc.erase();
  }

  // One loop over all elements: the first update's body on flat views.
  auto flatType = MemRefType::get({count}, elemType);
  Value grads = slice(0, flatType);
  SmallVector<Value> dests;
  Value params = view(bases[0], flatType);
  if (dp && count > total) {
    // The padding of a sharded group: zero gradients (the buffer is a
    // temporary) and zero parameters, which the update leaves at zero.
    auto padType = MemRefType::get({count - total}, elemType);
    Value zero = arith::ConstantOp::create(b, loc(), b.getZeroAttr(elemType));
    linalg::FillOp::create(b, loc(), ValueRange{zero}, ValueRange{slice(total, padType)});
    linalg::FillOp::create(b, loc(), ValueRange{zero},
                           ValueRange{view(bases[0] + total * elemBytes, padType)});
  }
  if (dp)
    call(kDpReduceFunction, {i64(group), ptr(grads), i64(count), i64(sharded ? 1 : 0)});
  Value updateGrads = grads;
  if (sharded) {
    // This rank's shard: elements [rank * shard, (rank + 1) * shard) of the
    // parameters and gradients, all of its state regions.
    int64_t shard = count / dataParallel->ranks;
    Value rank = arith::IndexCastOp::create(b, loc(), b.getIndexType(),
                                            call(kDpRankFunction, {}, b.getI64Type()));
    Value begin =
        arith::MulIOp::create(b, loc(), rank, arith::ConstantIndexOp::create(b, loc(), shard));
    auto shardOf = [&](Value full) -> Value {
      SmallVector<OpFoldResult> offsets = {begin}, sizes = {b.getIndexAttr(shard)},
                                strides = {b.getIndexAttr(1)};
      return memref::SubViewOp::create(b, loc(), full, offsets, sizes, strides);
    };
    updateGrads = shardOf(grads);
    dests.push_back(shardOf(params));
    for (int64_t offset : dp->stateOffsets)
      dests.push_back(view(offset, MemRefType::get({shard}, elemType)));
  } else {
    dests.push_back(params);
    for (int64_t base : ArrayRef(bases).drop_front())
      dests.push_back(view(base, flatType));
  }
  SmallVector<AffineMap> maps(1 + numState, b.getMultiDimIdentityMap(1));
  auto flat = linalg::GenericOp::create(b, loc(), ValueRange{updateGrads}, dests, maps,
                                        {utils::IteratorType::parallel});
  for (NamedAttribute attr : first->getDiscardableAttrs())
    flat->setAttr(attr.getName(), attr.getValue());
  flat->setAttr("nn.kernel", currentKernel);
  IRMapping bodyMapping;
  for (Value v : captured)
    bodyMapping.map(v, lookup(v));
  first.getRegion().cloneInto(&flat.getRegion(), bodyMapping);
  if (sharded)
    call(kDpGatherFunction, {i64(group), ptr(params), i64(count)});
  // Each update's results are its destinations, updated in place.
  for (linalg::GenericOp update : updates)
    for (auto [result, init] : llvm::zip(update->getResults(), update.getDpsInits()))
      mapping[result] = lookup(init);
  return true;
}
