//===- GPUReductions.h - Reductions shared by a block's threads -*- C++ -*-===//
//
// Part of nnc. The part of -nn-gpu-map (codegen/GPUMapping.cpp) that gives a
// kernel nest whose tiles each reduce a long loop a block of threads per
// output, combined with gpu.all_reduce (docs/gpu.md, "Reductions").
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_GPUREDUCTIONS_H
#define NNC_CODEGEN_GPUREDUCTIONS_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/PatternMatch.h"

namespace nnc {

/// The fewest iterations a reduction must have to be shared by the threads
/// of a block.
constexpr int64_t kMinBlockReduction = 64;

/// The most outputs (tiles) a kernel nest may have for its reductions to be
/// shared: with more, one thread per output already fills the GPU.
constexpr int64_t kMaxBlockReductionOutputs = 2048;

/// Rewrites the kernel nest `kernel` (a tile loop of -nn-kernel-loops whose
/// tiles are one element each) if its tile body is pure ops and loads, one
/// `scf.for` nest with iter_args whose innermost body combines each iter_arg
/// with a simple combiner (arith.addf, addi, mulf, muli, maxnumf, maximumf,
/// minnumf, minimumf, maxsi, minsi, maxui, minui, andi, ori, xori) and reads
/// memory only, and stores of the loop's results; the reduction has at least
/// kMinBlockReduction iterations and the nest at most
/// kMaxBlockReductionOutputs tiles, all of static size. The tile gets an
/// element loop of R threads (`threads`, or the reduction's length rounded up
/// to a multiple of 32 if smaller): thread t combines, from the combiner's
/// identity, the flattened iterations t, t + R, ... (innermost index
/// fastest), `gpu.all_reduce` combines the threads' values, and thread 0
/// combines that with the initial value and stores. Returns the new nest, or
/// `kernel` unchanged.
mlir::scf::ParallelOp reduceAcrossThreads(mlir::RewriterBase &rewriter,
                                          mlir::scf::ParallelOp kernel, int64_t threads);

/// Lowers every gpu.all_reduce in the kernels of `module` (after outlining)
/// with upstream's patterns: warp shuffles (64-bit values as two 32-bit
/// shuffles), then one value per warp through workgroup memory, combined by
/// the first warp, between barriers.
mlir::LogicalResult lowerAllReduces(mlir::ModuleOp module);

} // namespace nnc

#endif // NNC_CODEGEN_GPUREDUCTIONS_H
