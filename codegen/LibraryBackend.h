//===- LibraryBackend.h - One target's implementation of library ops -*- C++
//-*-===//
//
// The library ops (nn ops with LibraryOpInterface: convolution, linear, the
// recurrent layers, and their training and backward ops) run as calls of a
// vendor library, not as generated kernels. Each target implements them once,
// behind this interface: the CPU with oneDNN (CPULibraryBackend.cpp); the GPU
// with cuDNN and cuBLAS (GPULibraryBackend.cpp). -nn-lower-to-buffers
// (option `target`) hands every library op to the target's backend;
// everything else it lowers itself.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_LIBRARYBACKEND_H
#define NNC_CODEGEN_LIBRARYBACKEND_H

#include "mlir/IR/Operation.h"
#include "mlir/Support/LogicalResult.h"

#include "llvm/ADT/StringRef.h"

namespace nnc::codegen {

class FunctionLowering;

/// How one target runs the library ops.
class LibraryBackend {
public:
  virtual ~LibraryBackend();
  /// The target's name, for messages ("cpu").
  virtual llvm::StringRef target() const = 0;
  /// The runtime function that -nn-lower-to-buffers{check-numerics} calls on
  /// every floating-point result: `(const float *, int64_t n, int64_t id)`.
  virtual llvm::StringRef checkFiniteFunction() const = 0;
  /// Lowers the library op `op`, whose operands `lowering` has already
  /// lowered to buffers, to calls of the target's library; maps its results
  /// to buffers (planned in the arena, like the calls' scratch memory).
  virtual mlir::LogicalResult lower(FunctionLowering &lowering,
                                    mlir::Operation *op) const = 0;
};

/// The CPU's: oneDNN through the runtime's entry points (runtime/Kernels.h).
const LibraryBackend &cpuLibraryBackend();

/// The GPU's: cuDNN and cuBLAS through the runtime's nnc_gpu_* entry points
/// (runtime/GpuKernels.h), which take the CPU's arguments.
const LibraryBackend &gpuLibraryBackend();

/// The backend of `target` ("cpu", "gpu"), or null for an unknown name.
const LibraryBackend *libraryBackendFor(llvm::StringRef target);

/// A convolution's scratch rule: bytes from the 14 shape arguments of
/// runtime/Kernels.h's conv functions (N, C, H, W, O, KH, KW, strides,
/// paddings, dilations, groups).
using ConvScratchFn = int64_t (*)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                  int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t);

/// The int8 scratch rules (runtime/Kernels.h, "Int8"): a convolution's 14
/// shape arguments, then whether the input is u8 and the output type (0 f32,
/// 1 s8, 2 u8); a linear layer's M, in, out, then the same two.
using QConvScratchFn = int64_t (*)(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                   int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                                   int32_t, int32_t);
using QLinearScratchFn = int64_t (*)(int64_t, int64_t, int64_t, int32_t, int32_t);

/// What one target's library calls differ in; the arguments are the same.
struct LibraryCalls {
  /// Prefix of the runtime functions: "nnc_" gives nnc_conv2d_fwd.
  llvm::StringRef prefix;
  /// The scratch of <prefix>conv2d_fwd and <prefix>conv2d_bwd.
  ConvScratchFn convFwdScratch, convBwdScratch;
  /// Whether the recurrent layers' tables of weight and gradient pointers
  /// are built on the host's stack (memref.alloca) rather than in the arena:
  /// the runtime reads them on the host, and a GPU's arena is device memory.
  /// (The recurrent layers' scratch and reserve are the CPU's on both
  /// targets: the GPU runs the same time loop, runtime/RecurrentLoop.h.)
  bool hostPointerTables;
  /// The scratch of <prefix>qconv2d_fwd and <prefix>qlinear_fwd; null where
  /// the target has no int8 library ops (nn.qconv2d and nn.qlinear are then
  /// refused with an error at the op).
  QConvScratchFn qconvFwdScratch = nullptr;
  QLinearScratchFn qlinearFwdScratch = nullptr;
  /// Whether the target has the mixed-precision conv2d/linear entry points
  /// (<prefix>conv2d_fwd_mixed, ...; runtime/Kernels.h "Mixed precision")
  /// that library ops with an `nn.precision` of bf16 or f16 call. A target
  /// without them refuses such ops with an error at the op.
  bool mixedPrecision = false;
};

/// Lowers the library op `op` to calls of the runtime functions `calls`
/// names (CPULibraryBackend.cpp; shared by the targets).
mlir::LogicalResult lowerLibraryCalls(FunctionLowering &lowering, mlir::Operation *op,
                                      const LibraryCalls &calls);

} // namespace nnc::codegen

#endif // NNC_CODEGEN_LIBRARYBACKEND_H
