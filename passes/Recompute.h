//===- Recompute.h - Recomputing activations in the backward pass -*- C++
//-*-===//
//
// Part of nnc. Gradient checkpointing on @train_step (-nn-recompute): a
// forward value that the backward pass reads is computed again just before
// its first backward use instead of being kept from the forward pass, so its
// buffer dies at its last forward use. See docs/training.md (Training under a
// memory budget).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_PASSES_RECOMPUTE_H
#define NNC_PASSES_RECOMPUTE_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/SmallVector.h"

#include <cstdint>
#include <string>

namespace nnc {

/// A forward op of @train_step whose results the backward pass reads and
/// that can be computed again there.
struct RecomputeCandidate {
  /// The op, in @train_step.
  mlir::Operation *op;
  /// Its position in @train_step's body (the same in a clone of the model).
  unsigned index;
  /// Its layer name (the `name` attribute; the op name if it has none).
  std::string name;
  /// Bytes of its results that the backward pass reads (0 if not static).
  int64_t savedBytes;
  /// Forward FLOPs it adds to recomputing the candidates before it: the op
  /// and the forward ops between it and the nearest values kept, and the
  /// longer chains of earlier candidates that started from its results.
  int64_t flops;
};

/// The recomputable forward ops of `trainStep`, cheapest FLOPs per byte
/// saved first: each candidate's `flops` are what it adds to recomputing
/// the candidates before it (recomputeInBackward without `reuse`). A forward op
/// is one the loss depends on; it is recomputable if it is a side-effect-free
/// nn op other than a parameter read or a recurrent layer, and every op between
/// it and the values the backward pass keeps is recomputable too.
llvm::SmallVector<RecomputeCandidate>
findRecomputeCandidates(mlir::func::FuncOp trainStep);

/// Recomputes the backward-read results of `ops` (candidates of `trainStep`)
/// in the backward pass: each is cloned just before the first later read of
/// one of them, with every forward op between it and the values that stay
/// available (kept results of ops not in `ops`, parameters, inputs), and the
/// later reads take the clone. Without `reuse` each chosen op's chain starts
/// from those values (least memory; a run of chosen ops is recomputed once
/// per member); with `reuse` a chain also starts from the clones made for
/// earlier needs (each op at most once per step; those clones live longer).
/// Clones carry `nn.recomputed`. Returns the forward FLOPs of all clones;
/// fails with an error at an op that cannot be recomputed.
mlir::FailureOr<int64_t>
recomputeInBackward(mlir::func::FuncOp trainStep,
                    llvm::ArrayRef<mlir::Operation *> ops, bool reuse = false);

} // namespace nnc

#endif // NNC_PASSES_RECOMPUTE_H
