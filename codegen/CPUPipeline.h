//===- CPUPipeline.h - From a static nn model to a native artifact -*- C++ -*-===//
//
// The CPU back end: -nn-lower-to-linalg, -nn-fuse, -nn-lower-to-buffers,
// -nn-plan-memory, the upstream conversions to the LLVM dialect, LLVM -O2 for
// the host CPU, an object file and a shared library that depends only on
// libnnc_runtime.so.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_CPUPIPELINE_H
#define NNC_CODEGEN_CPUPIPELINE_H

#include "codegen/MemoryPlan.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/JSON.h"

#include <string>

namespace nnc {

/// Adds the code generation stages 1 and 2 (docs/design.md) to `pm`: with
/// `fuse`, -nn-fold-batchnorm, -nn-lower-to-linalg and -nn-fuse; without,
/// -nn-lower-to-linalg and -nn-fuse{enable=false} (one kernel per linalg op).
void addLinalgStages(mlir::OpPassManager &pm, bool fuse);

/// The memory plan of the model module `model` (static shapes; with
/// @train_step if it was added): a copy lowered through -nn-lower-to-buffers
/// and -nn-plan-memory exactly as lowerModelToLLVM does, so the plan is the
/// arena the artifact allocates. Errors are emitted at their locations.
/// With `gpuTarget`, the plan of the GPU artifact (its library calls' cuDNN
/// workspaces; nnc build --device gpu).
/// Without `verify`, the IR is not verified after each pass (nnc report,
/// which compiles large models only to read their plans).
mlir::FailureOr<MemoryPlan> planModelMemory(mlir::ModuleOp model, bool fuse = true,
                                            bool gpuTarget = false, bool verify = true);

/// Lowers the model module `model` in place through the linalg stages
/// (addLinalgStages), verifying after each pass if `verify`. Errors are
/// emitted at their locations.
mlir::LogicalResult lowerToLinalg(mlir::ModuleOp model, bool fuse = true, bool verify = true);

/// The memory plan of `model` lowered by lowerToLinalg, itself lowered in
/// place through the rest of the stages planModelMemory runs: the plan
/// planModelMemory gives of the model before lowerToLinalg. For a caller
/// that also reads the linalg IR (nnc report's kernel list) and so lowers
/// to linalg once.
mlir::FailureOr<MemoryPlan> planLinalgMemory(mlir::ModuleOp model, bool gpuTarget = false,
                                             bool verify = true);

/// Loads into `context` every dialect the passes of lowerToLinalg and
/// planLinalgMemory depend on. A pass manager loads them when it starts,
/// which is not thread-safe: threads that run those two on modules of one
/// context call this first.
void loadLinalgPlanDialects(mlir::MLIRContext *context, bool fuse, bool gpuTarget);

/// The size of a model's planned arena (-nn-plan-memory): `arena` bytes in
/// all (nn.arena_bytes), of which `persistent` hold the parameters, state and
/// inputs/outputs (nn.persistent_bytes).
struct ArenaSize {
  int64_t arena;
  int64_t persistent;
};

/// Plans the memory of a copy of `model` (static shapes) as
/// lowerModelToLLVM does, without the later stages, and returns the arena
/// size. Errors are emitted at their locations. Without `verify`, the IR is
/// not verified after each pass (the trial plans of planMemoryBudget).
mlir::FailureOr<ArenaSize> planArena(mlir::ModuleOp model, bool checkNumerics = false,
                                     bool fuse = true, bool gpuTarget = false, bool verify = true);

/// Where the artifact is linked.
struct ArtifactOptions {
  /// Directory holding libnnc_runtime.so (the artifact's RUNPATH is
  /// `$ORIGIN:` followed by it).
  std::string runtimeLibDir;
  /// The C/C++ compiler driver used as linker; empty: clang-22, clang, cc.
  std::string linker;
  /// Check every op result for NaN/Inf (nnc train --check-numerics).
  bool checkNumerics = false;
  /// Fuse the generated kernels (-nn-fuse; false: nnc --no-fuse).
  bool fuse = true;
  /// Run the GPU-mapped kernel IR on the CPU (nnc --gpu-emulate, a test
  /// harness): see lowerModelToLLVM.
  bool gpuEmulate = false;
  /// With gpuEmulate: -nn-gpu-map's block reductions (false: nnc
  /// --gpu-serial-reductions).
  bool gpuBlockReductions = true;
  /// The LLVM optimization level of the host code (0 to 3). 2, not 3: see
  /// emitObjectFile.
  unsigned optLevel = 2;
};

/// A standalone copy of a model module lowered to the kernel IR, and its
/// model table.
struct KernelIR {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// The model table (docs/abi.md) before it becomes the `nnc_model_info`
  /// global (addModelTable); a back end adds its own keys.
  llvm::json::Object info;
};

/// Returns a standalone copy of the model module `model` lowered through the
/// stages that every back end shares: -nn-lower-to-buffers, -nn-plan-memory
/// and -nn-kernel-loops (the scf.parallel nests), with its model table. With
/// `gpuTarget`, the library ops become calls of the GPU's library functions
/// (-nn-lower-to-buffers{target=gpu}). Errors are emitted at their locations.
mlir::FailureOr<KernelIR> lowerModelToKernelIR(mlir::ModuleOp model, bool checkNumerics, bool fuse,
                                               bool gpuTarget = false);

/// Adds the model table `info` to the LLVM-dialect module `module` as the
/// constant global `nnc_model_info` (NUL-terminated JSON) and drops the
/// module attributes that only the nn passes understand.
void addModelTable(mlir::ModuleOp module, llvm::json::Object info);

/// Runs the textual pass pipeline `pipeline` (on a builtin.module) on
/// `module`.
mlir::LogicalResult runPipeline(mlir::ModuleOp module, llvm::StringRef pipeline);

/// Returns a standalone copy of the model module `model` (a nested
/// `module @m attributes {nn.model}` with static shapes) lowered to the LLVM
/// dialect, with the model table `nnc_model_info` (JSON, docs/abi.md) as a
/// constant global; `fuse` = false runs -nn-fuse without fusion (one kernel
/// per linalg op). With `gpuEmulate`, the kernel nests are first mapped to
/// the GPU (nnc::addGPUMappingStages) and each gpu.launch then runs as loops
/// over its block and thread ids (-nn-gpu-launch-to-loops), so the artifact
/// executes exactly the GPU-mapped kernels on the CPU (`blockReductions`:
/// the mapping's option of that name). Errors are emitted at their locations.
mlir::FailureOr<mlir::OwningOpRef<mlir::ModuleOp>>
lowerModelToLLVM(mlir::ModuleOp model, bool checkNumerics = false, bool fuse = true,
                 bool gpuEmulate = false, bool blockReductions = true);

/// Translates an LLVM-dialect module, optimizes it at -O`optLevel` for the
/// host CPU and writes an object file. Any level above 0 generates machine
/// code at LLVM's aggressive level. The default is 2: LLVM's -O3 differs
/// from -O2 on nnc's modules mainly in its full-unrolling threshold (300
/// instead of 150), which unrolls the kernels' short inner loops before the
/// loop vectorizer, whose dependence checks then grow with the square of the
/// unrolled body; the machine scheduler then meets large blocks. LLVM took 2
/// to 3 times as long at -O3 (`nnc build --train examples/chargpt.nn` 10 s
/// instead of 4 s) for no measured gain in speed (docs/design.md, "Compile
/// time").
mlir::LogicalResult emitObjectFile(mlir::ModuleOp llvmModule, llvm::StringRef path,
                                   unsigned optLevel = 2);

/// Links `objectPath` into the shared library `outputPath` against the
/// runtime.
mlir::LogicalResult linkSharedLibrary(llvm::StringRef objectPath,
                                      llvm::StringRef outputPath,
                                      const ArtifactOptions &options,
                                      mlir::Location loc);

/// An LLVM-dialect module -> shared library at `outputPath` (emitObjectFile
/// into a temporary object, then linkSharedLibrary).
mlir::LogicalResult writeArtifact(mlir::ModuleOp llvmModule, llvm::StringRef outputPath,
                                  const ArtifactOptions &options, mlir::Location loc);

/// Everything above: model module -> shared library at `outputPath`.
mlir::LogicalResult buildArtifact(mlir::ModuleOp model, llvm::StringRef outputPath,
                                  const ArtifactOptions &options);

} // namespace nnc

#endif // NNC_CODEGEN_CPUPIPELINE_H
