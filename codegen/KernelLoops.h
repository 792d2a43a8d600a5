//===- KernelLoops.h - The kernel IR: tiled scf.parallel nests --*- C++ -*-===//
//
// Part of nnc. -nn-kernel-loops (codegen/Passes.td) turns every linalg op on
// memrefs into one tiled scf.parallel nest; the CPU and GPU back ends map the
// same nests. The helpers here are shared by the pass and the back ends.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_KERNELLOOPS_H
#define NNC_CODEGEN_KERNELLOOPS_H

#include "mlir/IR/Block.h"

#include <cstdint>

namespace nnc {

/// About how many operations running `block` once executes: each op counts
/// 1, a loop with static bounds counts its iterations times (1 + its body);
/// a loop with dynamic bounds counts as one iteration.
int64_t estimateWork(mlir::Block &block);

/// The same for one loop op (scf.parallel or scf.for) and everything in it.
int64_t estimateWork(mlir::Operation *loop);

} // namespace nnc

#endif // NNC_CODEGEN_KERNELLOOPS_H
