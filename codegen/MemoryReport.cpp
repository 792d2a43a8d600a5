//===- MemoryReport.cpp - The memory section of nnc report ----------------===//

#include "codegen/MemoryReport.h"

#include "passes/ModelReport.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>
#include <tuple>

using namespace llvm;

namespace {

/// Copies of a convolution's weights the runtime keeps per primitive, and
/// the largest weights it keeps (runtime/KernelsConv.cpp, kMaxKeptCopies and
/// kMaxKeptBytes).
constexpr int64_t kKeptCopies = 8;
constexpr int64_t kMaxKeptBytes = int64_t(1) << 20;

/// `what X` for the table, with X as formatBytes prints it.
std::string part(StringRef what, int64_t bytes) {
  return (what + " " + nnc::formatBytes(bytes)).str();
}

} // namespace

nnc::ArenaBreakdown nnc::breakDownArena(const MemoryPlan &plan) {
  ArenaBreakdown r;
  r.arena = plan.arenaBytes;
  for (const PlannedBuffer &region : plan.regions) {
    if (region.kind == "param")
      r.parameters += region.bytes;
    else if (region.kind == "buffer")
      r.buffers += region.bytes;
    else if (region.kind == "state")
      r.optimizerState += region.bytes;
    else
      r.io += region.bytes;
  }
  const EntryPlan *largest = nullptr;
  for (const EntryPlan &e : plan.entries) {
    r.entries.push_back({e.entry, e.planned, e.lowerBound, e.naive});
    if (!largest || e.planned > largest->planned)
      largest = &e;
  }
  int64_t named = r.parameters + r.buffers + r.optimizerState + r.io;
  if (largest) {
    r.entry = largest->entry;
    r.steps = int64_t(largest->steps.size());
    r.peakStep = nnc::peakStep(*largest);
    StringMap<int64_t> peak = nnc::liveBytesAt(*largest, r.peakStep);
    if (r.steps > 0)
      r.peakStepName = largest->steps[r.peakStep];
    r.gradients = peak.lookup("gradient");
    r.activations = peak.lookup("activation");
    r.scratch = peak.lookup("scratch");
    r.results = peak.lookup("output");
    // Every other kind of transient buffer is a temporary.
    r.temporaries = totalBytes(peak) - r.gradients - r.activations - r.scratch - r.results;
    named += totalBytes(peak);
    for (const PlannedBuffer &b : largest->buffers) {
      if (b.kind == "scratch" && b.bytes > r.largestScratch) {
        r.largestScratch = b.bytes;
        r.largestScratchLayer = b.layer;
      }
      if (b.kind == "activation" && b.bytes > r.largestActivation) {
        r.largestActivation = b.bytes;
        r.largestActivationLayer = b.layer;
      }
    }
    std::vector<std::pair<int64_t, int64_t>> events; // (step, +-bytes)
    for (const PlannedBuffer &b : largest->buffers)
      if (b.kind != "gradient") {
        events.push_back({b.first, b.bytes});
        events.push_back({b.last + 1, -b.bytes});
      }
    llvm::sort(events); // at one step, frees (negative) before allocations
    int64_t live = 0;
    for (auto [step, bytes] : events) {
      live += bytes;
      r.nonGradientPeak = std::max(r.nonGradientPeak, live);
    }
    StringMap<size_t> blockIndex;
    for (const PlannedBuffer &b : largest->buffers) {
      if (b.kind != "activation")
        continue;
      StringRef block = StringRef(b.layer).split('.').first;
      auto [it, inserted] = blockIndex.try_emplace(block, r.activationsByBlock.size());
      if (inserted)
        r.activationsByBlock.push_back({block.str(), 0});
      r.activationsByBlock[it->second].second += b.bytes;
    }
  }
  r.fragmentation = r.arena - named;
  return r;
}

nnc::RuntimeCosts nnc::runtimeCostsOf(const MemoryPlan &plan) {
  RuntimeCosts costs;
  StringMap<int64_t> weights;
  for (const PlannedBuffer &region : plan.regions)
    if (region.kind == "param")
      weights[region.name] = region.bytes;
  // A library step is `<op> <layer>`: the forward convolution and the
  // backward one (whose backward-data primitive also keeps the weights); one
  // layer's call in several entries is one primitive.
  StringSet<> seen;
  for (const EntryPlan &e : plan.entries)
    for (const std::string &step : e.steps) {
      auto [op, layer] = StringRef(step).split(' ');
      if (!seen.insert(step).second)
        continue;
      if (op != "conv2d" && op != "conv2d_backward")
        continue;
      int64_t bytes = weights.lookup((layer + ".weight").str());
      if (bytes == 0 || bytes > kMaxKeptBytes)
        continue;
      ++costs.convPrimitives;
      costs.plainCopyBytes += kKeptCopies * bytes;
    }
  return costs;
}

void nnc::printMemorySection(StringRef label, const MemorySection &memory, raw_ostream &os) {
  if (!memory.unavailable.empty()) {
    os << label << ": not planned (" << memory.unavailable << ")\n";
    return;
  }
  const ArenaBreakdown &b = memory.breakdown;
  // Parameters always; the other parts where the model has them.
  SmallVector<std::string> parts = {part("parameters", b.parameters)};
  for (auto [what, bytes] : {std::pair<StringRef, int64_t>{"buffers", b.buffers},
                             {"optimizer state", b.optimizerState},
                             {"inputs and outputs", b.io},
                             {"gradients", b.gradients},
                             {"saved activations", b.activations},
                             {"temporaries", b.temporaries},
                             {"library scratch", b.scratch},
                             {"results", b.results},
                             {"alignment and gaps", b.fragmentation}})
    if (bytes != 0)
      parts.push_back(part(what, bytes));
  os << label << ": " << llvm::join(parts, " + ") << " = arena " << formatBytes(b.arena) << "\n";
  os << "  peak: " << b.entry << " step " << b.peakStep + 1 << " of " << b.steps << " ("
     << b.peakStepName << ")";
  if (b.largestScratch)
    os << "; largest library scratch " << formatBytes(b.largestScratch) << " in "
       << b.largestScratchLayer;
  if (b.largestActivation)
    os << "; largest saved activation " << formatBytes(b.largestActivation) << " in "
       << b.largestActivationLayer;
  os << "\n";
}

void nnc::printRuntimeCosts(const MemorySection &memory, raw_ostream &os) {
  if (!memory.unavailable.empty())
    return;
  const RuntimeCosts &c = memory.runtime;
  os << "runtime (not in the arena): ";
  if (c.convPrimitives == 0) {
    os << "no kept convolution weights; oneDNN's primitive objects and caches are not "
          "counted\n";
    return;
  }
  os << "oneDNN's reordered convolution weights, up to " << kKeptCopies << " copies in each of "
     << c.convPrimitives << " primitive(s): the plain copies at most "
     << formatBytes(c.plainCopyBytes)
     << " (bound, per thread that runs the model), plus as many blocked copies, whose size "
        "depends on the CPU's layout; oneDNN's primitive objects and caches are not counted\n";
}

json::Value nnc::memorySectionToJSON(const MemorySection &memory) {
  if (!memory.unavailable.empty())
    return json::Object{{"unavailable", memory.unavailable}};
  const ArenaBreakdown &b = memory.breakdown;
  json::Array entries;
  for (const ArenaBreakdown::Entry &e : b.entries)
    entries.push_back(json::Object{{"entry", e.entry},
                                   {"planned", e.planned},
                                   {"lower_bound", e.lowerBound},
                                   {"naive", e.naive}});
  return json::Object{
      {"arena", b.arena},
      {"parameters", b.parameters},
      {"buffers", b.buffers},
      {"optimizer_state", b.optimizerState},
      {"inputs_outputs", b.io},
      {"gradients", b.gradients},
      {"saved_activations", b.activations},
      {"temporaries", b.temporaries},
      {"library_scratch", b.scratch},
      {"results", b.results},
      {"fragmentation", b.fragmentation},
      {"entry", b.entry},
      {"peak_step", b.peakStep},
      {"peak_step_name", b.peakStepName},
      {"steps", b.steps},
      {"largest_scratch",
       json::Object{{"bytes", b.largestScratch}, {"layer", b.largestScratchLayer}}},
      {"largest_saved_activation",
       json::Object{{"bytes", b.largestActivation}, {"layer", b.largestActivationLayer}}},
      {"entries", std::move(entries)},
  };
}

json::Value nnc::runtimeCostsToJSON(const RuntimeCosts &costs) {
  return json::Object{{"conv_primitives_keeping_weights", costs.convPrimitives},
                      {"kept_weight_copies_per_primitive", kKeptCopies},
                      {"plain_weight_copies_bytes_bound", costs.plainCopyBytes}};
}
