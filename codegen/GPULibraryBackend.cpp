//===- GPULibraryBackend.cpp - Library ops on the GPU: cuDNN, cuBLAS ------===//
//
// The GPU's LibraryBackend: every library op becomes a call of the runtime's
// nnc_gpu_* entry point (runtime/GpuKernels.h) with the arguments of the CPU's
// (lowerLibraryCalls, CPULibraryBackend.cpp). Only the convolutions' scratch
// differs: it is cuDNN's workspace, whose size cuDNN can only tell on a
// device, so the compiler plans it with the runtime's documented cap
// (nnc_gpu_conv2d_*_scratch_bytes) and the runtime picks, at the first call of
// a shape, the fastest algorithm whose workspace fits.
//
//===----------------------------------------------------------------------===//

#include "codegen/LibraryBackend.h"

#include "runtime/GpuKernels.h"

using namespace mlir;
using namespace nnc::codegen;

namespace {

class GPULibraryBackend final : public LibraryBackend {
public:
  StringRef target() const override { return "gpu"; }
  StringRef checkFiniteFunction() const override { return "nnc_gpu_check_finite"; }
  LogicalResult lower(FunctionLowering &fl, Operation *op) const override {
    static const LibraryCalls calls = {"nnc_gpu_", nnc_gpu_conv2d_fwd_scratch_bytes,
                                       nnc_gpu_conv2d_bwd_scratch_bytes,
                                       /*hostPointerTables=*/true};
    return lowerLibraryCalls(fl, op, calls);
  }
};

} // namespace

const LibraryBackend &nnc::codegen::gpuLibraryBackend() {
  static const GPULibraryBackend backend;
  return backend;
}

const LibraryBackend *nnc::codegen::libraryBackendFor(StringRef target) {
  if (target == "cpu")
    return &cpuLibraryBackend();
  if (target == "gpu")
    return &gpuLibraryBackend();
  return nullptr;
}
