//===- GPUMapping.h - The kernel IR's nests as gpu.launch ops ---*- C++ -*-===//
//
// Part of nnc. The GPU mapping of the kernel IR (docs/design.md, "One kernel
// IR, two targets"): every outermost scf.parallel nest of -nn-kernel-loops
// becomes one gpu.launch, tiles to blocks, elements to threads.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_GPUMAPPING_H
#define NNC_CODEGEN_GPUMAPPING_H

#include "mlir/Pass/PassManager.h"

namespace nnc {

/// Adds the GPU mapping (-nn-gpu-map) to `pm`, a pass manager on a module
/// (a model module or a module holding model modules): after -nn-kernel-loops,
/// every kernel nest is one gpu.launch with at least 32 threads per block
/// where its iteration space has that many elements; a nest that cannot be
/// mapped is an error. `blockReductions`: the pass's option of that name.
void addGPUMappingStages(mlir::OpPassManager &pm, bool blockReductions = true);

} // namespace nnc

#endif // NNC_CODEGEN_GPUMAPPING_H
