//===- LibraryBackend.h - One target's implementation of library ops -*- C++
//-*-===//
//
// The library ops (nn ops with LibraryOpInterface: convolution, linear, the
// recurrent layers, and their training and backward ops) run as calls of a
// vendor library, not as generated kernels. Each target implements them once,
// behind this interface: the CPU with oneDNN (CPULibraryBackend.cpp); a GPU
// target with cuDNN and cuBLAS. -nn-lower-to-buffers hands every library op
// to the target's backend; everything else it lowers itself.
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
  /// Lowers the library op `op`, whose operands `lowering` has already
  /// lowered to buffers, to calls of the target's library; maps its results
  /// to buffers (planned in the arena, like the calls' scratch memory).
  virtual mlir::LogicalResult lower(FunctionLowering &lowering,
                                    mlir::Operation *op) const = 0;
};

/// The CPU's: oneDNN through the runtime's entry points (runtime/Kernels.h).
const LibraryBackend &cpuLibraryBackend();

} // namespace nnc::codegen

#endif // NNC_CODEGEN_LIBRARYBACKEND_H
