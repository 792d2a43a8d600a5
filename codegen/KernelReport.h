//===- KernelReport.h - What runs: library calls and generated kernels -*- C++ -*-===//
//
// The "kernels" section of `nnc report`: for each entry point of a model
// lowered to linalg (and fused, unless --no-fuse), the library calls and
// the generated kernels, the layers each kernel covers and the bytes it reads
// and writes. See docs/report.md.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_KERNELREPORT_H
#define NNC_CODEGEN_KERNELREPORT_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <vector>

namespace nnc {

/// One step of an entry point, in program order.
struct KernelStep {
  enum class Kind {
    /// A generated kernel: one loop nest, or a fused group of them.
    Kernel,
    /// A library call: a convolution, a GEMM, a recurrent layer (oneDNN on
    /// the CPU).
    Library,
    /// An op still running as a hand-written runtime kernel.
    Runtime,
  };
  Kind kind = Kind::Kernel;
  /// Kernels: their name (`k3_relu1_pool1`); others: the op without the
  /// dialect prefix (`conv2d`, `linear_backward`).
  std::string name;
  /// The layers it covers (`nn.layer` / `name` of its ops), in order, each
  /// once.
  std::vector<std::string> layers;
  /// Bytes of the tensors it reads (a destination only if its value is
  /// read) and of those it writes, each tensor once.
  int64_t bytesRead = 0;
  int64_t bytesWritten = 0;
};

/// What one entry point (`forward`, `train_step`, ...) runs.
struct EntryKernels {
  std::string entry;
  std::vector<KernelStep> steps;
  int64_t count(KernelStep::Kind kind) const;
  /// Bytes the generated kernels read / write.
  int64_t kernelBytesRead() const;
  int64_t kernelBytesWritten() const;
};

/// True for the ops that are library calls (convolutions, linear layers,
/// the recurrent layers, forward and backward).
bool isLibraryOp(mlir::Operation *op);

/// What runs in every function of `model` (a model module lowered by
/// -nn-lower-to-linalg and possibly -nn-fuse, with static shapes).
std::vector<EntryKernels> analyzeKernels(mlir::ModuleOp model);

/// The section as a table: one summary line per entry point, and with
/// `perKernel`, one line per step.
void printKernelTable(llvm::ArrayRef<EntryKernels> entries, bool fused, bool perKernel,
                      llvm::raw_ostream &os);

/// The section as JSON (docs/report.md, "kernels").
llvm::json::Value kernelsToJSON(llvm::ArrayRef<EntryKernels> entries, bool fused);

} // namespace nnc

#endif // NNC_CODEGEN_KERNELREPORT_H
