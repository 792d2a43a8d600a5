//===- PlanMemory.cpp - Place every buffer in the one arena ---------------===//
//
// After -nn-lower-to-buffers, entry functions allocate a fresh buffer per op
// result. This pass gives each allocation an offset in the arena after the
// persistent regions, sharing memory between buffers whose live ranges do not
// overlap, and replaces the allocation by a view of the arena.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/Debug.h"

#include <algorithm>

#define DEBUG_TYPE "nn-plan-memory"

namespace nnc {
#define GEN_PASS_DEF_NNPLANMEMORY
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

constexpr int64_t kAlign = 64;

/// A part of an allocation that is live on its own: `bytes` at `at` bytes
/// into it, live from top-level op `start` to `end`.
struct Piece {
  int64_t at, bytes;
  int64_t start, end;
};

/// One allocation to place: its size and the live ranges of its parts (one
/// piece for the whole allocation, or one per view of it, see `pieces`).
struct Buffer {
  memref::AllocOp alloc;
  int64_t bytes;
  SmallVector<Piece, 1> pieces;
  int64_t offset = -1;
};

/// The index of the top-level op of `block` that contains `op`.
int64_t topLevelIndex(Operation *op, Block &block,
                      const DenseMap<Operation *, int64_t> &index) {
  while (op && op->getBlock() != &block)
    op = op->getParentOp();
  auto it = index.find(op);
  return it == index.end() ? -1 : it->second;
}

/// The last top-level op that reads or writes the buffer of `root`, following
/// every value derived from it (views, reshapes, pointers taken from it) and
/// memrefs that such values are stored into.
int64_t lastUse(Value root, Block &block, const DenseMap<Operation *, int64_t> &index) {
  int64_t last = topLevelIndex(root.getDefiningOp(), block, index);
  SmallVector<Value> work{root};
  DenseSet<Value> seen{root};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      last = std::max(last, topLevelIndex(user, block, index));
      for (Value r : user->getResults())
        if (seen.insert(r).second)
          work.push_back(r);
      // A pointer stored into a table lives as long as the table.
      if (auto store = dyn_cast<memref::StoreOp>(user))
        if (store.getValueToStore() == v && seen.insert(store.getMemRef()).second)
          work.push_back(store.getMemRef());
    }
  }
  return last;
}

/// The live parts of the allocation `alloc` of `bytes` (after `index`):
/// where every use of it is a memref.view at a constant offset (the
/// gradient buffer of a flat optimizer update, whose slices the backward
/// pass fills one after the other), each view is a piece live from that
/// view until the last use of the allocation (a byte is free before the
/// first view that covers it: nothing can have written it); otherwise the
/// whole allocation is one piece.
SmallVector<Piece, 1> pieces(memref::AllocOp alloc, int64_t bytes, Block &block,
                             const DenseMap<Operation *, int64_t> &index) {
  int64_t end = lastUse(alloc.getResult(), block, index);
  SmallVector<Piece, 1> parts;
  for (Operation *user : alloc->getUsers()) {
    auto view = dyn_cast<memref::ViewOp>(user);
    std::optional<int64_t> at = view ? getConstantIntValue(view.getByteShift()) : std::nullopt;
    if (!at || !view.getType().hasStaticShape() || view.getSource() != alloc.getResult()) {
      parts.clear();
      break;
    }
    int64_t size = view.getType().getNumElements() *
                   std::max<int64_t>(view.getType().getElementTypeBitWidth() / 8, 1);
    parts.push_back({*at, size, topLevelIndex(view, block, index), end});
  }
  if (parts.empty())
    parts.push_back({0, bytes, index.lookup(alloc), end});
  return parts;
}

/// Places buffers greedily by decreasing size at the lowest offset where no
/// piece of theirs overlaps a piece of a placed buffer that is live at the
/// same time. Returns the peak.
int64_t place(std::vector<Buffer> &buffers, int64_t base) {
  std::vector<Buffer *> order;
  for (Buffer &b : buffers)
    order.push_back(&b);
  std::sort(order.begin(), order.end(), [](Buffer *a, Buffer *b) {
    return a->bytes != b->bytes ? a->bytes > b->bytes
                                : a->pieces.front().start < b->pieces.front().start;
  });
  int64_t peak = base;
  std::vector<Buffer *> placed;
  for (Buffer *buf : order) {
    // The offsets [lo, hi) at which a piece of `buf` would overlap a placed
    // piece that is live at the same time.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (Buffer *p : placed)
      for (const Piece &q : p->pieces)
        for (const Piece &mine : buf->pieces)
          if (q.start <= mine.end && mine.start <= q.end)
            busy.push_back({p->offset + q.at - mine.at - mine.bytes + 1,
                            p->offset + q.at + q.bytes - mine.at});
    std::sort(busy.begin(), busy.end());
    int64_t offset = base;
    for (auto [lo, hi] : busy) {
      if (offset < lo)
        break;
      offset = std::max(offset, (hi + kAlign - 1) / kAlign * kAlign);
    }
    buf->offset = offset;
    peak = std::max(peak, offset + buf->bytes);
    placed.push_back(buf);
  }
  return peak;
}

struct NNPlanMemoryPass : public nnc::impl::NNPlanMemoryBase<NNPlanMemoryPass> {
  void runOnOperation() override {
    SmallVector<ModuleOp> models;
    getOperation()->walk([&](ModuleOp m) {
      if (m->hasAttr("nn.persistent_bytes"))
        models.push_back(m);
    });
    for (ModuleOp model : models)
      if (failed(planModel(model)))
        return signalPassFailure();
  }

  LogicalResult planModel(ModuleOp model) {
    int64_t base = cast<IntegerAttr>(model->getAttr("nn.persistent_bytes")).getInt();
    base = (base + kAlign - 1) / kAlign * kAlign;
    int64_t arenaBytes = base;
    for (func::FuncOp fn : model.getOps<func::FuncOp>()) {
      if (fn.isExternal() || !fn->hasAttr("llvm.emit_c_interface"))
        continue;
      Block &block = fn.getBody().front();
      Value arena = block.getArgument(0);
      DenseMap<Operation *, int64_t> index;
      int64_t i = 0;
      for (Operation &op : block)
        index[&op] = i++;

      std::vector<Buffer> buffers;
      for (auto alloc : block.getOps<memref::AllocOp>()) {
        MemRefType type = alloc.getType();
        if (!type.hasStaticShape() || !type.getLayout().isIdentity())
          return alloc.emitError("cannot plan a dynamic or strided allocation");
        int64_t bytes = type.getNumElements() *
                        std::max<int64_t>(type.getElementTypeBitWidth() / 8, 1);
        bytes = (bytes + kAlign - 1) / kAlign * kAlign;
        buffers.push_back({alloc, bytes, pieces(alloc, bytes, block, index)});
      }
      int64_t peak = place(buffers, base);
      LLVM_DEBUG(llvm::dbgs() << fn.getSymName() << ": " << buffers.size()
                              << " buffers, transient peak " << peak - base
                              << " B\n");
      arenaBytes = std::max(arenaBytes, peak);

      for (Buffer &buf : buffers) {
        OpBuilder b(buf.alloc);
        Value shift = arith::ConstantIndexOp::create(b, buf.alloc.getLoc(), buf.offset);
        Value view = memref::ViewOp::create(b, buf.alloc.getLoc(), buf.alloc.getType(),
                                            arena, shift, ValueRange{});
        buf.alloc.getResult().replaceAllUsesWith(view);
        buf.alloc.erase();
      }
    }
    model->setAttr("nn.arena_bytes",
                   IntegerAttr::get(IntegerType::get(model.getContext(), 64), arenaBytes));
    return success();
  }
};

} // namespace
