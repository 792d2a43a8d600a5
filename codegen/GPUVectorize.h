//===- GPUVectorize.h - Vector loads and stores per GPU thread --*- C++ -*-===//
//
// Part of nnc. A step of -nn-gpu-map (codegen/GPUMapping.cpp): before the
// thread mapping, the element loop of an elementwise kernel nest gives each
// thread `width` consecutive elements, read and written with aligned
// vector.load/vector.store (ld.global.v4.f32 in the PTX).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_GPUVECTORIZE_H
#define NNC_CODEGEN_GPUVECTORIZE_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

#include <cstdint>

namespace nnc {

/// Vectorises the element loop of the kernel nest `kernel` (its one nested
/// scf.parallel) with the widest power of two up to `width` for which the
/// rule in codegen/Passes.td (-nn-gpu-map, `vector-width`) holds and its
/// block keeps at least `minThreads` threads: the innermost dimension runs
/// `width` times fewer iterations, each on `width` consecutive elements.
/// Returns the width used; 1 leaves the kernel as it was.
int64_t vectorizeElementLoop(mlir::RewriterBase &rewriter, mlir::scf::ParallelOp kernel,
                             int64_t width, int64_t minThreads);

} // namespace nnc

#endif // NNC_CODEGEN_GPUVECTORIZE_H
