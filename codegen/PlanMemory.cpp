//===- PlanMemory.cpp - Place every buffer in the one arena ---------------===//
//
// After -nn-lower-to-buffers, entry functions allocate a fresh buffer per op
// result. This pass gives each allocation an offset in the arena after the
// persistent regions, sharing memory between buffers whose live ranges do not
// overlap (and, in place, between an elementwise kernel's result and an input
// that dies there: inPlaceSource), records the plan (`nn.memplan`,
// MemoryPlan.h) and replaces the allocation by a view of the arena.
//
//===----------------------------------------------------------------------===//

#include "codegen/MemoryPlan.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Debug.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <optional>
#include <thread>

#define DEBUG_TYPE "nn-plan-memory"

namespace nnc {
#define GEN_PASS_DEF_NNPLANMEMORY
#include "codegen/Passes.h.inc"
} // namespace nnc

using namespace mlir;
using nnc::kBufferKindAttr;
using nnc::kLayerAttr;
using nnc::kStepAttr;

namespace {

constexpr int64_t kAlign = 64;

/// A part of an allocation that is live on its own: `bytes` at `at` bytes
/// into it, live from top-level op `start` to `end`.
struct Piece {
  int64_t at, bytes;
  int64_t start, end;
  /// The op that carries its step, layer and kind attributes (the
  /// allocation, or the view of the piece).
  Operation *tags;
};

/// One allocation to place: its size and the live ranges of its parts (one
/// piece for the whole allocation, or one per view of it, see `pieces`).
struct Buffer {
  memref::AllocOp alloc;
  int64_t bytes;
  SmallVector<Piece, 1> pieces;
  int64_t offset = -1;
  /// The buffer (index into the entry's buffers) whose memory this one
  /// takes over in place (see inPlaceSource), or -1.
  int64_t inPlaceOf = -1;
};

/// The index of the top-level op of `block` that contains `op`.
int64_t topLevelIndex(Operation *op, Block &block, const DenseMap<Operation *, int64_t> &index) {
  while (op && op->getBlock() != &block)
    op = op->getParentOp();
  auto it = index.find(op);
  return it == index.end() ? -1 : it->second;
}

/// Every value derived from `root`: itself, the results of the ops that use
/// such a value (views, reshapes, pointers taken from it), and the memrefs
/// such a value is stored into (a pointer stored into a table lives as long
/// as the table).
DenseSet<Value> derivedValues(Value root) {
  SmallVector<Value> work{root};
  DenseSet<Value> seen{root};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      for (Value r : user->getResults())
        if (seen.insert(r).second)
          work.push_back(r);
      if (auto store = dyn_cast<memref::StoreOp>(user))
        if (store.getValueToStore() == v && seen.insert(store.getMemRef()).second)
          work.push_back(store.getMemRef());
    }
  }
  return seen;
}

/// The last top-level op that reads or writes the buffer of `root`, following
/// every value derived from it.
int64_t lastUse(Value root, Block &block, const DenseMap<Operation *, int64_t> &index) {
  int64_t last = topLevelIndex(root.getDefiningOp(), block, index);
  for (Value v : derivedValues(root))
    for (Operation *user : v.getUsers())
      last = std::max(last, topLevelIndex(user, block, index));
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
    parts.push_back({*at, size, topLevelIndex(view, block, index), end, view});
  }
  if (parts.empty())
    parts.push_back({0, bytes, index.lookup(alloc), end, alloc});
  return parts;
}

/// The buffer that buffers[b] may overwrite in place, or -1. That is A
/// where buffers[b] (B) is first written by a generated elementwise kernel
/// (a linalg.generic tagged nn.kernel, all loops parallel, at the top level
/// of `block`) that reads A, a whole allocation of the same type, with the
/// same identity indexing as it writes B, and where that kernel is the last
/// use of A: each element of A is then read only by the iteration that
/// writes the same element of B, before it writes it (the kernel loops
/// keep one iteration's reads before its writes; vectorized, a vector's).
/// Nothing else may reach A or B in the kernel (another operand, a load in
/// its body) and nothing may touch B before it; both must be one piece.
int64_t inPlaceSource(ArrayRef<Buffer> buffers, size_t b, Block &block,
                      const DenseMap<Operation *, int64_t> &index,
                      const DenseMap<Operation *, size_t> &bufferOf) {
  const Buffer &out = buffers[b];
  memref::AllocOp outAlloc = out.alloc;
  if (out.pieces.size() != 1 || out.pieces.front().tags != outAlloc.getOperation())
    return -1;
  // B's first user is the kernel, alone at its place.
  Value bValue = outAlloc.getResult();
  Operation *first = nullptr;
  int64_t at = std::numeric_limits<int64_t>::max();
  for (Operation *user : bValue.getUsers()) {
    int64_t t = topLevelIndex(user, block, index);
    if (t < at)
      at = t, first = user;
  }
  auto kernel = dyn_cast_or_null<linalg::GenericOp>(first);
  if (!kernel || kernel->getBlock() != &block || !kernel->hasAttr("nn.kernel") ||
      !kernel.hasPureBufferSemantics() || kernel.getNumParallelLoops() != kernel.getNumLoops())
    return -1;
  for (Operation *user : bValue.getUsers())
    if (user != first && topLevelIndex(user, block, index) <= at)
      return -1;
  OpOperand *init = nullptr;
  for (OpOperand &o : kernel.getDpsInitsMutable())
    if (o.get() == bValue)
      init = &o;
  if (!init || kernel.payloadUsesValueFromOperand(init) ||
      !kernel.getMatchingIndexingMap(init).isIdentity())
    return -1;
  auto bType = cast<MemRefType>(bValue.getType());
  for (OpOperand *in : kernel.getDpsInputOperands()) {
    auto alloc = in->get().getDefiningOp<memref::AllocOp>();
    auto it = alloc ? bufferOf.find(alloc) : bufferOf.end();
    if (it == bufferOf.end() || alloc.getType() != bType ||
        !kernel.getMatchingIndexingMap(in).isIdentity())
      continue;
    const Buffer &source = buffers[it->second];
    if (source.pieces.size() != 1 || source.pieces.front().tags != alloc.getOperation() ||
        source.pieces.front().end != at)
      continue;
    // A and B reach the kernel only through these two operands.
    DenseSet<Value> fromA = derivedValues(alloc.getResult());
    DenseSet<Value> fromB = derivedValues(bValue);
    bool elsewhere = false;
    for (OpOperand &o : kernel->getOpOperands())
      if (&o != in && &o != init && (fromA.contains(o.get()) || fromB.contains(o.get())))
        elsewhere = true;
    kernel->walk([&](Operation *inner) {
      if (inner != kernel.getOperation())
        for (Value v : inner->getOperands())
          if (fromA.contains(v) || fromB.contains(v))
            elsewhere = true;
    });
    if (!elsewhere)
      return int64_t(it->second);
  }
  return -1;
}

/// The orders in which `place` tries the buffers; the smallest arena wins.
enum class Order { Size, Duration, Area, Start, End };

StringRef orderName(Order o) {
  switch (o) {
  case Order::Size:
    return "largest first";
  case Order::Duration:
    return "longest-lived first";
  case Order::Area:
    return "largest bytes x lifetime first";
  case Order::Start:
    return "program order";
  case Order::End:
    return "reverse program order";
  }
  return "";
}

int64_t lifetime(const Buffer &b) {
  int64_t lo = b.pieces.front().start, hi = b.pieces.front().end;
  for (const Piece &p : b.pieces) {
    lo = std::min(lo, p.start);
    hi = std::max(hi, p.end);
  }
  return hi - lo + 1;
}

/// The pieces placed so far, by their first byte in the arena: for a buffer
/// of one piece, the offsets it must avoid then come in ascending order, so
/// the lowest fitting offset is found in one pass, without sorting (a model
/// of thousands of layers would sort millions of ranges). Held as columns:
/// the pass tests the live ranges of many pieces for each one it uses (a
/// 96-layer GPT's training step: millions of tests per placement), and
/// tests them 16 at a time without a branch each.
class PlacedPieces {
public:
  size_t size() const { return first.size(); }
  int64_t firstByte(size_t i) const { return first[i]; }
  int64_t endByte(size_t i) const { return end[i]; }

  /// Adds the bytes [firstByte, endByte) live over the steps [start, last].
  void insert(int64_t firstByte, int64_t endByte, int64_t start, int64_t last) {
    size_t at = std::upper_bound(first.begin(), first.end(), firstByte) - first.begin();
    first.insert(first.begin() + at, firstByte);
    end.insert(end.begin() + at, endByte);
    starts.insert(starts.begin() + at, int32_t(start));
    lasts.insert(lasts.begin() + at, int32_t(last));
  }

  /// The first piece at or after index `from` that is live at some step of
  /// [start, last], or size().
  size_t nextLive(size_t from, int64_t start, int64_t last) const {
    constexpr size_t kChunk = 16;
    const int32_t s = int32_t(start), l = int32_t(last);
    size_t n = size(), i = from;
    for (; i + kChunk <= n; i += kChunk) {
      uint32_t live = 0;
      for (size_t k = 0; k < kChunk; ++k)
        live |= (uint32_t(starts[i + k] <= l) & uint32_t(s <= lasts[i + k])) << k;
      if (live)
        return i + llvm::countr_zero(live);
    }
    for (; i < n; ++i)
      if (starts[i] <= l && s <= lasts[i])
        return i;
    return n;
  }

private:
  std::vector<int64_t> first, end;
  // Steps are top-level op indices of one block.
  std::vector<int32_t> starts, lasts;
};

/// Places the buffers one by one in `order`, each at the lowest offset where
/// no piece of it overlaps a piece of a placed buffer that is live at the
/// same time. Sets each buffer's offset and returns the peak; stops early,
/// returning a peak above `abortAbove` (the offsets then unusable), once the
/// peak exceeds it: the peak only grows, so such an order cannot be chosen.
int64_t place(std::vector<Buffer> &buffers, int64_t base, Order order,
              int64_t abortAbove = INT64_MAX) {
  std::vector<Buffer *> sorted;
  for (Buffer &b : buffers)
    sorted.push_back(&b);
  auto key = [&](const Buffer *b) -> std::pair<int64_t, int64_t> {
    int64_t start = b->pieces.front().start;
    switch (order) {
    case Order::Size:
      return {-b->bytes, start};
    case Order::Duration:
      return {-lifetime(*b), -b->bytes};
    case Order::Area:
      return {-b->bytes * lifetime(*b), start};
    case Order::Start:
      return {start, -b->bytes};
    case Order::End:
      return {-(start + lifetime(*b)), -b->bytes};
    }
    return {0, 0};
  };
  // Ties keep program order (buffers are in allocation order).
  std::sort(sorted.begin(), sorted.end(), [&](Buffer *a, Buffer *b) {
    return std::make_pair(key(a), a - buffers.data()) < std::make_pair(key(b), b - buffers.data());
  });
  int64_t peak = base;
  PlacedPieces placed;
  auto alignUp = [](int64_t x) { return (x + kAlign - 1) / kAlign * kAlign; };
  for (Buffer *buf : sorted) {
    int64_t offset = base;
    if (buf->pieces.size() == 1) {
      const Piece &mine = buf->pieces.front();
      for (size_t i = placed.nextLive(0, mine.start, mine.end); i < placed.size();
           i = placed.nextLive(i + 1, mine.start, mine.end)) {
        if (offset < placed.firstByte(i) - mine.at - mine.bytes + 1)
          break;
        offset = std::max(offset, alignUp(placed.endByte(i) - mine.at));
      }
    } else {
      // The same pass for each piece, to a fixed point: the lowest offset
      // outside every range [lo, hi) at which a piece would overlap a
      // placed piece live at the same time. Each piece's ranges come in
      // ascending lo; a range with lo <= offset moves the offset past it,
      // and the offset only grows, so each piece takes its ranges up to the
      // offset in turn until none takes one.
      SmallVector<size_t> cursor;
      for (const Piece &mine : buf->pieces)
        cursor.push_back(placed.nextLive(0, mine.start, mine.end));
      for (bool moved = true; moved;) {
        moved = false;
        for (auto [k, mine] : llvm::enumerate(buf->pieces)) {
          size_t &i = cursor[k];
          while (i < placed.size() && offset >= placed.firstByte(i) - mine.at - mine.bytes + 1) {
            offset = std::max(offset, alignUp(placed.endByte(i) - mine.at));
            i = placed.nextLive(i + 1, mine.start, mine.end);
            moved = true;
          }
        }
      }
    }
    buf->offset = offset;
    peak = std::max(peak, offset + buf->bytes);
    if (peak > abortAbove)
      return peak;
    for (const Piece &p : buf->pieces)
      placed.insert(offset + p.at, offset + p.at + p.bytes, p.start, p.end);
  }
  return peak;
}

/// The largest total of bytes live at one time (each buffer's bytes counted
/// once however many of its pieces are live): no placement can use less.
int64_t lowerBound(const std::vector<Buffer> &buffers) {
  // A sweep over the steps: each buffer adds, at each step where its set
  // of live pieces changes, the change of their union (whole alignment
  // units). The total only rises where a piece starts, so its maximum over
  // the events is the maximum over the steps at which a piece starts.
  auto alignUp = [](int64_t x) { return (x + kAlign - 1) / kAlign * kAlign; };
  std::vector<std::pair<int64_t, int64_t>> events; // (step, change)
  for (const Buffer &b : buffers) {
    if (b.pieces.size() == 1) {
      const Piece &p = b.pieces.front();
      events.push_back({p.start, alignUp(p.bytes)});
      events.push_back({p.end + 1, -alignUp(p.bytes)});
      continue;
    }
    SmallVector<int64_t> changes;
    for (const Piece &p : b.pieces) {
      changes.push_back(p.start);
      changes.push_back(p.end + 1);
    }
    llvm::sort(changes);
    changes.erase(std::unique(changes.begin(), changes.end()), changes.end());
    int64_t previous = 0;
    for (int64_t t : changes) {
      // The union of the byte ranges of b's pieces live at t.
      SmallVector<std::pair<int64_t, int64_t>> ranges;
      for (const Piece &p : b.pieces)
        if (p.start <= t && t <= p.end)
          ranges.push_back({p.at, p.at + p.bytes});
      llvm::sort(ranges);
      int64_t covered = 0, reach = 0;
      for (auto [lo, hi] : ranges) {
        lo = std::max(lo, reach);
        if (hi > lo)
          covered += hi - lo;
        reach = std::max(reach, hi);
      }
      int64_t now = alignUp(covered);
      if (now != previous)
        events.push_back({t, now - previous});
      previous = now;
    }
  }
  llvm::sort(events);
  int64_t best = 0, live = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    live += events[i].second;
    // Every change at one step applied before the total is read.
    if (i + 1 == events.size() || events[i + 1].first != events[i].first)
      best = std::max(best, live);
  }
  return best;
}

StringRef stringAttr(Operation *op, StringRef name) {
  auto a = op ? op->getAttrOfType<StringAttr>(name) : StringAttr();
  return a ? a.getValue() : "";
}

/// The step that copies an entry's results to their output regions.
constexpr StringLiteral kCopyOutputs = "copy outputs";

/// The steps of an entry block: its generated kernels (ops tagged
/// `nn.kernel`) and library calls (calls tagged `nn.step`), consecutive ops
/// of one step counted once; and for each top-level op, the first step at or
/// after it and the last step at or before it.
struct Steps {
  std::vector<std::string> names;
  std::vector<int64_t> atOrAfter, atOrBefore;
  /// The first step of the backward pass (a layer `*_bwd` or a `*_backward`
  /// op), or -1.
  int64_t firstBackward = -1;
};

Steps stepsOf(Block &block) {
  Steps steps;
  int64_t n = 0;
  for (Operation &op : block) {
    (void)op;
    ++n;
  }
  steps.atOrAfter.assign(n, -1);
  steps.atOrBefore.assign(n, -1);
  std::string previous;
  int64_t i = 0;
  for (Operation &op : block) {
    std::string name;
    StringRef layer;
    if (auto kernel = op.getAttrOfType<StringAttr>("nn.kernel")) {
      name = kernel.str();
      layer = stringAttr(&op, "nn.layer");
    } else if (isa<func::CallOp>(op) && op.hasAttr(kStepAttr)) {
      name = stringAttr(&op, kStepAttr).str();
      layer = stringAttr(&op, kLayerAttr);
    } else if (isa<memref::CopyOp>(op)) {
      name = kCopyOutputs;
    }
    if (!name.empty() && name != previous) {
      steps.names.push_back(name);
      previous = name;
      if (steps.firstBackward < 0 &&
          (layer.ends_with("_bwd") || StringRef(name).contains("_backward") ||
           StringRef(name).contains("_bwd")))
        steps.firstBackward = int64_t(steps.names.size()) - 1;
    }
    steps.atOrBefore[i] = int64_t(steps.names.size()) - 1;
    ++i;
  }
  int64_t next = int64_t(steps.names.size()) - 1;
  for (int64_t j = n - 1; j >= 0; --j) {
    // A step begins at op j if the count of steps up to j grew there.
    if (steps.atOrBefore[j] >= 0 && (j == 0 || steps.atOrBefore[j - 1] != steps.atOrBefore[j]))
      next = steps.atOrBefore[j];
    steps.atOrAfter[j] = next;
  }
  for (int64_t j = 0; j < n; ++j)
    if (steps.atOrBefore[j] < 0)
      steps.atOrBefore[j] = 0;
  return steps;
}

/// The kind of a piece: its tag (`scratch`, `gradient`), else a value of the
/// forward pass still live in the backward pass (`activation`), a value the
/// backward pass hands to an optimizer update (`gradient`), or `temporary`.
std::string kindOf(const Piece &p, int64_t first, int64_t last, const Steps &steps) {
  StringRef tagged = stringAttr(p.tags, kBufferKindAttr);
  if (!tagged.empty())
    return tagged.str();
  if (last >= int64_t(steps.names.size()))
    return "temporary";
  // A result kept for the output copy at the end.
  if (steps.names[last] == kCopyOutputs)
    return "output";
  if (steps.firstBackward >= 0 && first < steps.firstBackward && last >= steps.firstBackward)
    return "activation";
  auto isUpdate = [&](int64_t step) {
    StringRef name = steps.names[step];
    return name.contains("update") || name.contains("_scalars");
  };
  if (steps.firstBackward >= 0 && first >= steps.firstBackward && !isUpdate(first) &&
      isUpdate(last))
    return "gradient";
  return "temporary";
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
    SmallVector<Attribute> entryPlans;
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
        int64_t bytes =
            type.getNumElements() * std::max<int64_t>(type.getElementTypeBitWidth() / 8, 1);
        bytes = (bytes + kAlign - 1) / kAlign * kAlign;
        buffers.push_back({alloc, bytes, pieces(alloc, bytes, block, index)});
      }
      // In place: a buffer that takes over the memory of an input that dies
      // in the kernel that first writes it (inPlaceSource), each input at
      // most once. Such chains are placed as one unit.
      DenseMap<Operation *, size_t> bufferOf;
      for (auto [i, buf] : llvm::enumerate(buffers))
        bufferOf[buf.alloc] = i;
      std::vector<int64_t> source(buffers.size(), -1);
      std::vector<bool> taken(buffers.size(), false);
      for (size_t i = 0; i < buffers.size(); ++i) {
        int64_t s = inPlaceSource(buffers, i, block, index, bufferOf);
        if (s >= 0 && !taken[s]) {
          source[i] = s;
          taken[s] = true;
        }
      }
      // The buffers are placed as units: each buffer alone (variant 0) and,
      // if any buffer can take over its source's memory, each in-place chain
      // as one unit (variant 1). Each variant is placed in every order; the
      // plan is the in-place one if its smallest peak is at most the other's,
      // in its order of smallest peak (the first order on a tie).
      struct Variant {
        std::vector<Buffer> units;
        std::vector<size_t> unitOf;
      };
      auto unitsOf = [&](bool inPlace) {
        Variant v;
        v.unitOf.resize(buffers.size());
        for (size_t i = 0; i < buffers.size(); ++i) {
          size_t root = i;
          while (inPlace && source[root] >= 0)
            root = size_t(source[root]);
          if (root == i) {
            v.unitOf[i] = v.units.size();
            v.units.push_back(buffers[i]);
          } else {
            // Sources come before their buffers: the root's unit exists.
            v.unitOf[i] = v.unitOf[root];
            llvm::append_range(v.units[v.unitOf[i]].pieces, buffers[i].pieces);
          }
        }
        return v;
      };
      bool anyInPlace = llvm::any_of(source, [](int64_t s) { return s >= 0; });
      SmallVector<Variant, 2> variants;
      variants.push_back(unitsOf(false));
      if (anyInPlace)
        variants.push_back(unitsOf(true));
      static constexpr Order kOrders[] = {Order::Size, Order::Duration, Order::Area, Order::Start,
                                          Order::End};
      constexpr size_t kNumOrders = std::size(kOrders);
      // The order in which the orders are tried (indices into kOrders).
      static constexpr size_t kFirst[] = {2, 4, 0, 1, 3};
      // The placements as tasks taken by 2 threads in turn, the in-place
      // variant's first (it usually wins, and its peak bounds the others),
      // each thread placing its own copy of a variant's units. A placement
      // stops once its peak exceeds the bound past which it cannot be
      // chosen: the smallest completed peak of its variant (a tie is kept:
      // the order decides it), and of the other variant (the in-place one
      // wins a tie). So the choice does not depend on which thread placed
      // what when.
      struct Result {
        int64_t peak = -1; // -1: stopped early.
        std::vector<int64_t> offsets;
      };
      std::vector<Result> results(variants.size() * kNumOrders);
      std::atomic<int64_t> bestPeak[2] = {INT64_MAX, INT64_MAX};
      std::atomic<size_t> nextTask{0};
      auto work = [&] {
        std::optional<std::vector<Buffer>> mine[2];
        for (size_t t; (t = nextTask.fetch_add(1)) < results.size();) {
          size_t v = variants.size() - 1 - t / kNumOrders, k = kFirst[t % kNumOrders];
          const Variant &variant = variants[v];
          if (!mine[v])
            mine[v] = variant.units;
          int64_t bound = bestPeak[v].load();
          if (variants.size() == 2) {
            int64_t other = bestPeak[1 - v].load();
            bound = std::min(bound, v == 0 ? (other == INT64_MAX ? other : other - 1) : other);
          }
          int64_t p = place(*mine[v], base, kOrders[k], bound);
          LLVM_DEBUG(llvm::dbgs() << fn.getSymName() << (v ? " (in place): " : ": ")
                                  << orderName(kOrders[k]) << " " << p - base << " B\n");
          if (p > bound)
            continue;
          for (int64_t seen = bestPeak[v].load();
               p < seen && !bestPeak[v].compare_exchange_weak(seen, p);) {
          }
          Result &r = results[v * kNumOrders + k];
          r.peak = p;
          r.offsets.reserve(buffers.size());
          for (size_t i = 0; i < buffers.size(); ++i)
            r.offsets.push_back((*mine[v])[variant.unitOf[i]].offset);
        }
      };
      std::thread other(work);
      work();
      other.join();
      // Each variant's choice: its smallest peak, the first order on a tie.
      auto choose = [&](size_t v) -> std::optional<size_t> {
        std::optional<size_t> chosen;
        for (size_t k = 0; k < kNumOrders; ++k) {
          const Result &r = results[v * kNumOrders + k];
          if (r.peak >= 0 && (!chosen || r.peak < results[v * kNumOrders + *chosen].peak))
            chosen = k;
        }
        return chosen;
      };
      std::optional<size_t> plainOrder = choose(0);
      std::optional<size_t> sharedOrder = anyInPlace ? choose(1) : std::nullopt;
      bool inPlace = sharedOrder && (!plainOrder || results[kNumOrders + *sharedOrder].peak <=
                                                        results[*plainOrder].peak);
      size_t chosenVariant = inPlace ? 1 : 0;
      size_t chosenOrder = inPlace ? *sharedOrder : *plainOrder;
      struct Placement {
        int64_t peak = -1, lowerBound = 0;
        Order order = Order::Size;
        std::vector<int64_t> offsets;
      } chosen;
      Result &winner = results[chosenVariant * kNumOrders + chosenOrder];
      chosen.peak = winner.peak;
      chosen.order = kOrders[chosenOrder];
      chosen.offsets = std::move(winner.offsets);
      chosen.lowerBound = lowerBound(variants[chosenVariant].units);
      for (auto [i, buf] : llvm::enumerate(buffers)) {
        buf.offset = chosen.offsets[i];
        buf.inPlaceOf = inPlace ? source[i] : -1;
      }
      int64_t peak = chosen.peak;
      Order best = chosen.order;
      arenaBytes = std::max(arenaBytes, peak);

      nnc::EntryPlan plan;
      StringRef name = fn.getSymName();
      name.consume_front("nnc_");
      plan.entry = name.str();
      plan.heuristic = orderName(best).str();
      Steps steps = stepsOf(block);
      plan.steps = steps.names;
      plan.planned = peak;
      plan.lowerBound = base + chosen.lowerBound;
      plan.naive = base;
      // Each row with the buffer it comes from.
      std::vector<std::pair<nnc::PlannedBuffer, size_t>> rowsOf;
      for (auto [bufIndex, buf] : llvm::enumerate(buffers)) {
        plan.naive += buf.bytes;
        // One row per piece that carries its own tags (the gradients of a
        // flat update), else one for the allocation.
        SmallVector<Piece> rows;
        for (const Piece &p : buf.pieces)
          if (buf.pieces.size() == 1 || p.tags->hasAttr(kBufferKindAttr))
            rows.push_back(p);
        if (rows.empty())
          rows.push_back(
              {0, buf.bytes, buf.pieces.front().start, buf.pieces.front().end, buf.alloc});
        for (const Piece &p : rows) {
          nnc::PlannedBuffer row;
          row.layer = stringAttr(p.tags, kLayerAttr).str();
          row.step = stringAttr(p.tags, kStepAttr).str();
          row.bytes = p.bytes;
          row.offset = buf.offset + p.at;
          row.first = steps.atOrAfter.empty() ? 0 : steps.atOrAfter[p.start];
          row.last = steps.atOrBefore.empty() ? 0 : steps.atOrBefore[p.end];
          row.first = std::max<int64_t>(0, std::min(row.first, row.last));
          row.kind = kindOf(p, row.first, row.last, steps);
          rowsOf.push_back({std::move(row), bufIndex});
        }
      }
      llvm::sort(rowsOf, [](const auto &a, const auto &b) {
        return std::tie(a.first.first, a.first.offset, a.second) <
               std::tie(b.first.first, b.first.offset, b.second);
      });
      // A buffer that overwrites another in place names that one's row (both
      // are one row each).
      DenseMap<size_t, int64_t> rowOf;
      for (auto [row, entry] : llvm::enumerate(rowsOf))
        rowOf[entry.second] = int64_t(row);
      for (auto &[row, bufIndex] : rowsOf) {
        if (buffers[bufIndex].inPlaceOf >= 0)
          row.inPlaceOf = rowOf.lookup(size_t(buffers[bufIndex].inPlaceOf));
        plan.buffers.push_back(std::move(row));
      }
      entryPlans.push_back(nnc::entryPlanToAttr(model.getContext(), plan));

      // The tags are in the plan now; the kernel IR stays as it was.
      fn.walk([](Operation *op) {
        if (!isa<func::CallOp, memref::ViewOp>(op))
          return;
        op->removeAttr(kStepAttr);
        op->removeAttr(kBufferKindAttr);
        op->removeAttr(kLayerAttr);
      });
      for (Buffer &buf : buffers) {
        OpBuilder b(buf.alloc);
        Value shift = arith::ConstantIndexOp::create(b, buf.alloc.getLoc(), buf.offset);
        Value view = memref::ViewOp::create(b, buf.alloc.getLoc(), buf.alloc.getType(), arena,
                                            shift, ValueRange{});
        buf.alloc.getResult().replaceAllUsesWith(view);
        buf.alloc.erase();
      }
    }
    model->setAttr("nn.arena_bytes",
                   IntegerAttr::get(IntegerType::get(model.getContext(), 64), arenaBytes));
    model->setAttr(nnc::kMemPlanAttr, ArrayAttr::get(model.getContext(), entryPlans));
    return success();
  }
};

} // namespace
