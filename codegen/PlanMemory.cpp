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

/// One allocation to place: its size and live range in top-level op indices.
struct Buffer {
  memref::AllocOp alloc;
  int64_t bytes;
  int64_t start, end;
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

/// Places buffers greedily by decreasing size at the lowest offset not used
/// by a placed buffer with an overlapping live range. Returns the peak.
int64_t place(std::vector<Buffer> &buffers, int64_t base) {
  std::vector<Buffer *> order;
  for (Buffer &b : buffers)
    order.push_back(&b);
  std::sort(order.begin(), order.end(), [](Buffer *a, Buffer *b) {
    return a->bytes != b->bytes ? a->bytes > b->bytes : a->start < b->start;
  });
  int64_t peak = base;
  std::vector<Buffer *> placed;
  for (Buffer *buf : order) {
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (Buffer *p : placed)
      if (p->start <= buf->end && buf->start <= p->end)
        busy.push_back({p->offset, p->offset + p->bytes});
    std::sort(busy.begin(), busy.end());
    int64_t offset = base;
    for (auto [lo, hi] : busy) {
      if (offset + buf->bytes <= lo)
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
        buffers.push_back({alloc, bytes, index[alloc],
                           lastUse(alloc.getResult(), block, index)});
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
