//===- GPUPipeline.h - From a static nn model to a GPU artifact -*- C++ -*-===//
//
// The GPU back end (docs/gpu.md): the kernel IR that the CPU runs
// (lowerModelToKernelIR), mapped onto the GPU (one gpu.launch per kernel
// nest), outlined into one kernel module, lowered to NVVM and PTX with MLIR's
// NVVM target, assembled by the CUDA toolkit's ptxas into cubins packed with
// the PTX into one fatbin by `fatbinary`, embedded in the host code, whose
// launches call the mgpu* functions of nnc's runtime.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_GPUPIPELINE_H
#define NNC_CODEGEN_GPUPIPELINE_H

#include "codegen/CPUPipeline.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <optional>
#include <string>

namespace nnc {

/// The GPU architectures nnc compiles for (--gpu-arch).
llvm::ArrayRef<llvm::StringRef> gpuArchNames();

/// What the GPU back end produces.
struct GPUOptions {
  /// --gpu-arch: "sm_80" (sm_80 PTX, which newer drivers compile, and cubins
  /// for sm_80 and sm_90) or "sm_90" (sm_90 PTX and cubin).
  std::string arch = "sm_80";
  /// The CUDA toolkit (ptxas, fatbinary, libdevice); empty: findCUDAToolkit.
  std::string toolkit;
  /// -nn-gpu-map's block reductions (false: nnc --gpu-serial-reductions).
  bool blockReductions = true;
};

/// The CUDA toolkit directory: $CUDA_ROOT if set (none if it holds no
/// bin/ptxas), else the first of $CUDA_HOME, the parent of the directory of
/// `ptxas` on PATH and /usr/local/cuda that holds bin/ptxas and
/// nvvm/libdevice/libdevice.10.bc (a `ptxas` on PATH may be a wrapper script
/// outside the toolkit). None if there is none.
std::optional<std::string> findCUDAToolkit();

/// How far lowerModelToGPU goes.
enum class GPUStage {
  /// The gpu dialect: kernels mapped and outlined into one gpu.module.
  GPU,
  /// The kernels in the NVVM/LLVM dialect (host code not yet lowered).
  NVVM,
  /// The host code in the LLVM dialect, the kernels as a gpu.binary: PTX
  /// (format isa) before embedFatbin.
  PTX,
};

/// Returns a standalone copy of the model module `model` lowered to `stage`;
/// the model table is only added by lowerModelToLLVMForGPU. Errors are
/// emitted at their locations.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
lowerModelToGPU(mlir::ModuleOp model, GPUStage stage, const GPUOptions &options,
                bool checkNumerics = false, bool fuse = true);

/// The PTX of every gpu.binary of `module` (GPUStage::PTX), each preceded by
/// a comment line naming its module and kernels.
std::string kernelPTX(mlir::ModuleOp module);

/// The whole GPU lowering: the host code in the LLVM dialect with the kernels
/// as an embedded fatbin (or, without a CUDA toolkit, PTX only, with one
/// warning) and the model table (`"device": "gpu"`). Errors are emitted at
/// their locations.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
lowerModelToLLVMForGPU(mlir::ModuleOp model, const GPUOptions &gpu, bool checkNumerics = false,
                       bool fuse = true);

/// Model module -> GPU shared library at `outputPath` (host code and
/// embedded kernels; linked against libnnc_runtime.so only).
mlir::LogicalResult buildGPUArtifact(mlir::ModuleOp model, llvm::StringRef outputPath,
                                     const ArtifactOptions &options, const GPUOptions &gpu);

} // namespace nnc

#endif // NNC_CODEGEN_GPUPIPELINE_H
