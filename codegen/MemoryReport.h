//===- MemoryReport.h - The memory section of nnc report --------*- C++ -*-===//
//
// The training and inference memory of `nnc report`, read from the memory
// plan (codegen/MemoryPlan.h) of the artifact `nnc build` makes: the arena,
// split into parts that sum to it exactly, and what the runtime holds
// outside the arena. See docs/report.md, "Memory: the plan".
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_MEMORYREPORT_H
#define NNC_CODEGEN_MEMORYREPORT_H

#include "codegen/MemoryPlan.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nnc {

/// One plan's arena split into named parts. The persistent regions count
/// whole; of the entry that sets the arena, the bytes live at its peak step.
/// parameters + buffers + optimizerState + io + gradients + activations +
/// temporaries + scratch + results + fragmentation == arena.
struct ArenaBreakdown {
  /// Persistent regions (`nn.layout`) by kind: `param`, `buffer` (running
  /// statistics), `state` (optimizer state), `input` and `output` (of every
  /// entry).
  int64_t parameters = 0, buffers = 0, optimizerState = 0, io = 0;
  /// The entry point whose plan is the arena (the largest; the first on a
  /// tie), and its step at which the most transient bytes are live (the
  /// first such step), as an index into its steps and by name.
  std::string entry;
  int64_t peakStep = 0;
  std::string peakStepName;
  int64_t steps = 0;
  /// Transient bytes live at the peak step, by kind: `gradient`,
  /// `activation` (saved for the backward pass), `temporary`, `scratch`
  /// (library workspace), `output` (results waiting to be copied to their
  /// output regions). Bytes that two live buffers share count once.
  int64_t gradients = 0, activations = 0, temporaries = 0, scratch = 0, results = 0;
  /// The rest of the arena: alignment padding and the gaps the placement
  /// leaves.
  int64_t fragmentation = 0;
  int64_t arena = 0;
  /// The largest single scratch and saved-activation buffer of the entry
  /// (anywhere in it, not only at the peak) and the layer that allocates it.
  int64_t largestScratch = 0, largestActivation = 0;
  std::string largestScratchLayer, largestActivationLayer;
  /// The entry's saved activations summed by block: the part of each
  /// producing layer's name before its first '.' (`h3` for `h3.attn1`, a
  /// layer outside blocks is its own), in order of first appearance.
  std::vector<std::pair<std::string, int64_t>> activationsByBlock;
  /// The most bytes of the entry's transient buffers other than gradients
  /// live at one step (each buffer counted whole, in-place sharing not
  /// subtracted: an upper bound). Sharding the gradients (ZeRO-2/3) cannot
  /// bring the arena below the persistent regions plus this.
  int64_t nonGradientPeak = 0;
  /// Every entry's planned arena, lower bound and naive sum (codegen/MemoryPlan.h).
  struct Entry {
    std::string entry;
    int64_t planned = 0, lowerBound = 0, naive = 0;
  };
  std::vector<Entry> entries;
};

/// What the runtime keeps outside the arena that is known at compile time:
/// oneDNN's reordered copies of convolution weights (runtime/KernelsConv.cpp:
/// up to 8 per primitive that reads weights, of weights up to 1 MiB).
struct RuntimeCosts {
  /// Convolution primitives that keep weight copies: each conv layer's
  /// forward, and in a training plan its backward-data (an upper bound:
  /// layers of one shape share a primitive).
  int64_t convPrimitives = 0;
  /// 8 copies of the plain weights of each such primitive (weights above
  /// 1 MiB are not kept): an upper bound on that half of the copies.
  int64_t plainCopyBytes = 0;
};

/// The memory of one plan (training or inference), or why there is none.
struct MemorySection {
  /// Empty when `breakdown` holds; else why the model has no plan.
  std::string unavailable;
  ArenaBreakdown breakdown;
  RuntimeCosts runtime;
};

/// Splits the arena of `plan` into its parts.
ArenaBreakdown breakDownArena(const MemoryPlan &plan);

/// The runtime's costs outside the arena for `plan`.
RuntimeCosts runtimeCostsOf(const MemoryPlan &plan);

/// Prints `<label>: parameters X + ... = arena N` and a line naming the peak
/// step and the largest scratch and activation; or `<label>: not planned
/// (<why>)`.
void printMemorySection(llvm::StringRef label, const MemorySection &memory, llvm::raw_ostream &os);

/// The `runtime (not in the arena): ...` line for the training plan (or the
/// inference plan when training has none).
void printRuntimeCosts(const MemorySection &memory, llvm::raw_ostream &os);

/// The JSON of one plan's memory (docs/report.md): its parts, or
/// `{"unavailable": why}`.
llvm::json::Value memorySectionToJSON(const MemorySection &memory);

/// The JSON of the runtime's costs outside the arena.
llvm::json::Value runtimeCostsToJSON(const RuntimeCosts &costs);

} // namespace nnc

#endif // NNC_CODEGEN_MEMORYREPORT_H
