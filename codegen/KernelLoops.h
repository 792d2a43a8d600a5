//===- KernelLoops.h - The kernel IR: tiled scf.parallel nests --*- C++ -*-===//
//
// Part of nnc. -nn-kernel-loops (codegen/Passes.td) turns every linalg op on
// memrefs into one tiled scf.parallel nest; the CPU and GPU back ends map the
// same nests. The helpers here are shared by the pass and the back ends.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_KERNELLOOPS_H
#define NNC_CODEGEN_KERNELLOOPS_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Block.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"

#include <cstdint>
#include <optional>

namespace nnc {

/// About how many operations running `block` once executes: each op counts
/// 1, a loop with static bounds counts its iterations times (1 + its body);
/// a loop with dynamic bounds counts as one iteration.
int64_t estimateWork(mlir::Block &block);

/// The same for one loop op (scf.parallel or scf.for) and everything in it.
int64_t estimateWork(mlir::Operation *loop);

/// The canonicalization patterns of every loaded dialect and registered op
/// except scf.parallel's: those would merge an element loop with constant
/// bounds back into its tile loop.
mlir::FrozenRewritePatternSet cleanupPatterns(mlir::MLIRContext *ctx);

/// The trip count of dimension `i` of `loop`, if its bounds are constants.
std::optional<int64_t> tripCount(mlir::scf::ParallelOp loop, unsigned i);

/// The tile of one dimension of `size` iterations that holds about `want`
/// of them: a divisor of `size` in [want/2, want], the one with the most
/// factors of two (16 floats fill an AVX-512 register), else `want` itself
/// (the last tile is partial).
int64_t pickTile(int64_t size, int64_t want);

} // namespace nnc

#endif // NNC_CODEGEN_KERNELLOOPS_H
