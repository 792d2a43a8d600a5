//===- MemoryBudget.cpp - Fitting a training step into a memory budget ----===//

#include "codegen/MemoryBudget.h"

#include "codegen/CPUPipeline.h"
#include "passes/Recompute.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/Debug.h"
#include "llvm/Support/FormatVariadic.h"

#include <map>

#define DEBUG_TYPE "nn-memory-budget"

using namespace mlir;

namespace {

/// The ops at `positions` of `fn`'s body.
SmallVector<Operation *> opsAt(func::FuncOp fn, ArrayRef<unsigned> positions) {
  SmallVector<Operation *> all;
  for (Operation &op : fn.getBody().front())
    all.push_back(&op);
  SmallVector<Operation *> ops;
  for (unsigned p : positions)
    ops.push_back(all[p]);
  return ops;
}

/// The most memory plans the search builds before it stops dropping
/// recomputed layers (each costs a lowering to buffers: ~0.1 s for ResNet).
constexpr unsigned kMaxPlans = 16;

/// A memory plan of the model with some layers recomputed.
struct Trial {
  int64_t arena = 0;
  int64_t persistent = 0;
  int64_t extraFlops = 0;
};

} // namespace

std::string nnc::formatBytesMiB(int64_t bytes) {
  return llvm::formatv("{0} B ({1:F1} MiB)", bytes, double(bytes) / (1 << 20)).str();
}

FailureOr<nnc::RecomputePlan> nnc::planMemoryBudget(ModuleOp model, int64_t budget, bool checkNumerics,
                                                 bool fuse, bool gpuTarget) {
  RecomputePlan plan;
  plan.budget = budget;
  // Plans of sets of recomputed positions (sorted), each built once.
  std::map<std::pair<SmallVector<unsigned>, bool>, Trial> trials;
  // The smallest arena of any plan built.
  int64_t smallest = INT64_MAX;
  auto trial = [&](SmallVector<unsigned> positions, bool reuse = false) -> FailureOr<Trial> {
    llvm::sort(positions);
    if (auto it = trials.find({positions, reuse}); it != trials.end())
      return it->second;
    OwningOpRef<ModuleOp> copy(cast<ModuleOp>(model->clone()));
    Trial t;
    if (!positions.empty()) {
      auto fn = copy->lookupSymbol<func::FuncOp>("train_step");
      FailureOr<int64_t> flops = recomputeInBackward(fn, opsAt(fn, positions), reuse);
      if (failed(flops))
        return failure();
      t.extraFlops = *flops;
    }
    // A trial is only measured: its passes do not verify the IR (the
    // artifact compiled with the chosen plan is verified).
    FailureOr<ArenaSize> size = planArena(*copy, checkNumerics, fuse, gpuTarget, /*verify=*/false);
    if (failed(size))
      return failure();
    t.arena = size->arena;
    smallest = std::min(smallest, t.arena);
    t.persistent = size->persistent;
    ++plan.plansTried;
    LLVM_DEBUG(llvm::dbgs() << positions.size() << " recomputed: arena " << t.arena << "\n");
    trials[{positions, reuse}] = t;
    return t;
  };

  FailureOr<Trial> none = trial({});
  if (failed(none))
    return failure();
  plan.unconstrainedBytes = plan.arenaBytes = none->arena;
  plan.persistentBytes = none->persistent;
  if (none->arena <= budget)
    return plan;

  auto trainStep = model.lookupSymbol<func::FuncOp>("train_step");
  SmallVector<RecomputeCandidate> candidates;
  if (trainStep && !trainStep.isExternal())
    candidates = findRecomputeCandidates(trainStep);
  auto prefix = [&](size_t k) {
    SmallVector<unsigned> positions;
    for (size_t i = 0; i < k; ++i)
      positions.push_back(candidates[i].index);
    return positions;
  };
  // The shortest prefix that fits (the arena shrinks as the prefix grows):
  // binary search, the whole list planned only if no shorter prefix fits.
  size_t lo = std::min<size_t>(1, candidates.size()), hi = candidates.size();
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    FailureOr<Trial> t = trial(prefix(mid));
    if (failed(t))
      return failure();
    if (t->arena <= budget)
      hi = mid;
    else
      lo = mid + 1;
  }
  FailureOr<Trial> shortest = trial(prefix(lo));
  if (failed(shortest))
    return failure();
  if (shortest->arena > budget) {
    if (candidates.empty())
      return emitError(model.getLoc())
             << "the model needs at least " << formatBytesMiB(none->arena)
             << (trainStep ? " (its training step has no activation to recompute)"
                           : " (only a training step can recompute activations)")
             << "; the budget is " << budget << " B";
    return emitError(model.getLoc())
           << "the training step needs at least " << formatBytesMiB(smallest)
           << " even with every activation recomputed; the budget is " << budget << " B";
  }
  // Drop members that do not help (most FLOPs per byte first): a value whose
  // backward use comes right after the forward pass saves nothing. Each try
  // is a memory plan: at most kMaxPlans in all.
  SmallVector<unsigned> chosen = prefix(lo);
  for (size_t i = chosen.size() - 1; i-- > 0 && plan.plansTried + 1 < kMaxPlans;) {
    SmallVector<unsigned> without = chosen;
    without.erase(without.begin() + i);
    FailureOr<Trial> t = trial(without);
    if (failed(t))
      return failure();
    if (t->arena <= budget)
      chosen = std::move(without);
  }
  FailureOr<Trial> best = trial(chosen);
  // Recomputing a run of chosen layers once for all their uses costs fewer
  // FLOPs than once per use, and may still fit.
  FailureOr<Trial> reused = trial(chosen, /*reuse=*/true);
  if (failed(best) || failed(reused))
    return failure();
  if (reused->arena <= budget && reused->extraFlops < best->extraFlops) {
    best = reused;
    plan.reuse = true;
  }
  plan.arenaBytes = best->arena;
  plan.extraFlops = best->extraFlops;
  llvm::sort(chosen);
  plan.recomputedOps = chosen;
  for (unsigned p : chosen)
    for (const RecomputeCandidate &c : candidates)
      if (c.index == p)
        plan.recomputedLayers.push_back(c.name);
  return plan;
}

LogicalResult nnc::applyRecomputePlan(ModuleOp model, const RecomputePlan &plan) {
  if (plan.recomputedOps.empty())
    return success();
  auto fn = model.lookupSymbol<func::FuncOp>("train_step");
  if (!fn)
    return emitError(model.getLoc(), "internal error: the memory plan recomputes layers of "
                                     "a model without @train_step");
  return recomputeInBackward(fn, opsAt(fn, plan.recomputedOps), plan.reuse);
}
