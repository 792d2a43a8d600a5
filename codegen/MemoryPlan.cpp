//===- MemoryPlan.cpp - The arena plan of a model, as data
//-----------------===//

#include "codegen/MemoryPlan.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Diagnostics.h"

#include "llvm/ADT/STLExtras.h"

#include <algorithm>
#include <climits>
#include <tuple>

using namespace mlir;

namespace {

int64_t intOf(DictionaryAttr d, StringRef key, int64_t otherwise = 0) {
  auto a = d.getAs<IntegerAttr>(key);
  return a ? a.getInt() : otherwise;
}

std::string strOf(DictionaryAttr d, StringRef key) {
  auto a = d.getAs<StringAttr>(key);
  return a ? a.str() : std::string();
}

} // namespace

llvm::StringMap<int64_t> nnc::liveBytesAt(const EntryPlan &entry, int64_t step) {
  std::vector<const PlannedBuffer *> live;
  for (const PlannedBuffer &b : entry.buffers)
    if (b.first <= step && step <= b.last)
      live.push_back(&b);
  llvm::sort(live, [](const PlannedBuffer *a, const PlannedBuffer *b) {
    return std::tie(a->offset, a->first) < std::tie(b->offset, b->first);
  });
  llvm::StringMap<int64_t> bytes;
  int64_t reach = INT64_MIN;
  for (const PlannedBuffer *b : live) {
    int64_t lo = std::max(b->offset, reach), hi = b->offset + b->bytes;
    if (hi > lo)
      bytes[b->kind] += hi - lo;
    reach = std::max(reach, hi);
  }
  return bytes;
}

int64_t nnc::totalBytes(const llvm::StringMap<int64_t> &bytes) {
  int64_t sum = 0;
  for (const auto &entry : bytes)
    sum += entry.second;
  return sum;
}

int64_t nnc::peakStep(const EntryPlan &entry) {
  // The sum of the live buffers' bytes at each step (a sweep) bounds the
  // live bytes from above (buffers that share bytes in place count them
  // twice); the exact count is taken only at steps whose bound reaches the
  // best so far, in descending order of the bound.
  int64_t steps = int64_t(entry.steps.size());
  if (steps == 0)
    return 0;
  std::vector<int64_t> delta(steps + 1, 0);
  for (const PlannedBuffer &b : entry.buffers) {
    int64_t first = std::clamp<int64_t>(b.first, 0, steps);
    int64_t last = std::clamp<int64_t>(b.last + 1, 0, steps);
    if (first < last) {
      delta[first] += b.bytes;
      delta[last] -= b.bytes;
    }
  }
  std::vector<std::pair<int64_t, int64_t>> bound; // (-sum, step)
  int64_t sum = 0;
  for (int64_t s = 0; s < steps; ++s) {
    sum += delta[s];
    bound.push_back({-sum, s});
  }
  llvm::sort(bound);
  int64_t best = 0, bestBytes = -1;
  for (auto [negSum, s] : bound) {
    if (-negSum < bestBytes)
      break;
    int64_t bytes = totalBytes(liveBytesAt(entry, s));
    // The first step of the most bytes, as a scan in step order finds it.
    if (bytes > bestBytes || (bytes == bestBytes && s < best)) {
      best = s;
      bestBytes = bytes;
    }
  }
  return best;
}

Attribute nnc::entryPlanToAttr(MLIRContext *ctx, const EntryPlan &plan) {
  Builder b(ctx);
  SmallVector<Attribute> steps, buffers;
  for (const std::string &s : plan.steps)
    steps.push_back(b.getStringAttr(s));
  for (const PlannedBuffer &buf : plan.buffers) {
    SmallVector<NamedAttribute> fields = {b.getNamedAttr("kind", b.getStringAttr(buf.kind)),
                                          b.getNamedAttr("layer", b.getStringAttr(buf.layer)),
                                          b.getNamedAttr("step", b.getStringAttr(buf.step)),
                                          b.getNamedAttr("bytes", b.getI64IntegerAttr(buf.bytes)),
                                          b.getNamedAttr("offset", b.getI64IntegerAttr(buf.offset)),
                                          b.getNamedAttr("first", b.getI64IntegerAttr(buf.first)),
                                          b.getNamedAttr("last", b.getI64IntegerAttr(buf.last))};
    if (buf.inPlaceOf >= 0)
      fields.push_back(b.getNamedAttr("in_place_of", b.getI64IntegerAttr(buf.inPlaceOf)));
    buffers.push_back(b.getDictionaryAttr(fields));
  }
  return b.getDictionaryAttr({b.getNamedAttr("entry", b.getStringAttr(plan.entry)),
                              b.getNamedAttr("steps", b.getArrayAttr(steps)),
                              b.getNamedAttr("buffers", b.getArrayAttr(buffers)),
                              b.getNamedAttr("naive", b.getI64IntegerAttr(plan.naive)),
                              b.getNamedAttr("planned", b.getI64IntegerAttr(plan.planned)),
                              b.getNamedAttr("lower_bound", b.getI64IntegerAttr(plan.lowerBound)),
                              b.getNamedAttr("heuristic", b.getStringAttr(plan.heuristic))});
}

FailureOr<nnc::MemoryPlan> nnc::readMemoryPlan(ModuleOp model) {
  auto entries = model->getAttrOfType<ArrayAttr>(kMemPlanAttr);
  auto layout = model->getAttrOfType<ArrayAttr>("nn.layout");
  auto arena = model->getAttrOfType<IntegerAttr>("nn.arena_bytes");
  auto persistent = model->getAttrOfType<IntegerAttr>("nn.persistent_bytes");
  if (!entries || !layout || !arena || !persistent)
    return emitError(model.getLoc(), "the model has no memory plan (run -nn-plan-memory)");
  MemoryPlan plan;
  plan.arenaBytes = arena.getInt();
  plan.persistentBytes = persistent.getInt();
  for (Attribute a : layout) {
    auto d = dyn_cast<DictionaryAttr>(a);
    if (!d)
      continue;
    PlannedBuffer r;
    r.kind = strOf(d, "kind");
    r.name = strOf(d, "name");
    r.bytes = intOf(d, "bytes");
    r.offset = intOf(d, "offset");
    // `conv1.weight`, `conv1.weight.exp_avg` belong to `conv1`; an entry's
    // input or output `train_step.image` to `train_step`.
    StringRef name = r.name;
    r.layer = name.split('.').first.str();
    plan.regions.push_back(std::move(r));
  }
  for (Attribute a : entries) {
    auto d = dyn_cast<DictionaryAttr>(a);
    if (!d)
      continue;
    EntryPlan e;
    e.entry = strOf(d, "entry");
    e.naive = intOf(d, "naive");
    e.planned = intOf(d, "planned");
    e.lowerBound = intOf(d, "lower_bound");
    e.heuristic = strOf(d, "heuristic");
    if (auto steps = d.getAs<ArrayAttr>("steps"))
      for (Attribute s : steps)
        if (auto str = dyn_cast<StringAttr>(s))
          e.steps.push_back(str.str());
    if (auto buffers = d.getAs<ArrayAttr>("buffers"))
      for (Attribute ba : buffers) {
        auto bd = dyn_cast<DictionaryAttr>(ba);
        if (!bd)
          continue;
        PlannedBuffer buf;
        buf.kind = strOf(bd, "kind");
        buf.layer = strOf(bd, "layer");
        buf.step = strOf(bd, "step");
        buf.bytes = intOf(bd, "bytes");
        buf.offset = intOf(bd, "offset");
        buf.first = intOf(bd, "first");
        buf.last = intOf(bd, "last");
        buf.inPlaceOf = intOf(bd, "in_place_of", -1);
        e.buffers.push_back(std::move(buf));
      }
    plan.entries.push_back(std::move(e));
  }
  return plan;
}
