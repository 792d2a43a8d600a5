//===- MemoryBudget.h - Fitting a training step into a memory budget -*- C++
//-*-===//
//
// Part of nnc. `--memory-budget BYTES` (nnc build, train, report): when the
// planned arena of a model is larger than the budget, the training step
// recomputes activations in the backward pass (-nn-recompute) instead of
// keeping them, the cheapest FLOPs per byte saved first, until the planned
// arena fits. See docs/training.md (Training under a memory budget).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_MEMORYBUDGET_H
#define NNC_CODEGEN_MEMORYBUDGET_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <string>

namespace nnc {

/// What fitting a model into a budget chose.
struct RecomputePlan {
  int64_t budget = 0;
  /// The planned arena (nn.arena_bytes) without recomputation.
  int64_t unconstrainedBytes = 0;
  /// The planned arena with the recomputation below (<= budget).
  int64_t arenaBytes = 0;
  /// Of it, parameters, optimizer state and inputs/outputs.
  int64_t persistentBytes = 0;
  /// The recomputed layers: their positions in @train_step's body (for
  /// applyRecomputePlan) and their names, in forward order.
  llvm::SmallVector<unsigned> recomputedOps;
  llvm::SmallVector<std::string> recomputedLayers;
  /// Whether recomputations start from clones made for earlier uses
  /// (recomputeInBackward's `reuse`).
  bool reuse = false;
  /// Forward FLOPs the recomputation adds to each training step.
  int64_t extraFlops = 0;
  /// How many memory plans the search built.
  unsigned plansTried = 0;
};

/// Chooses what `model` (a model module with static shapes, with or without
/// @train_step) recomputes so that its planned arena fits in `budget` bytes:
/// nothing if it fits as it is; else the recomputation candidates of
/// @train_step (findRecomputeCandidates, cheapest FLOPs per byte first), the
/// shortest prefix of them whose plan fits (binary search over real memory
/// plans), less any of its members the plan fits without, recomputed once
/// for all their uses if that still fits (fewer FLOPs). If even
/// recomputing every candidate does not fit, fails with an error at the
/// model naming the smallest arena of the plans built. `model` is not changed.
/// `gpuTarget`: plans of the GPU artifact (nnc --device gpu).
mlir::FailureOr<RecomputePlan> planMemoryBudget(mlir::ModuleOp model, int64_t budget,
                                             bool checkNumerics = false, bool fuse = true,
                                             bool gpuTarget = false);

/// Applies the recomputation `plan` chose to `model` (-nn-recompute).
mlir::LogicalResult applyRecomputePlan(mlir::ModuleOp model, const RecomputePlan &plan);

/// `bytes` as "N B (X.Y MiB)".
std::string formatBytesMiB(int64_t bytes);

} // namespace nnc

#endif // NNC_CODEGEN_MEMORYBUDGET_H
