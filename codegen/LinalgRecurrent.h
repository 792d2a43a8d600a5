//===- LinalgRecurrent.h - Generated recurrent cell kernels -----*- C++ -*-===//
//
// Internal to codegen/: the pointwise gate math of the recurrent layers as
// generated functions (linalg on memrefs). The runtime's time loop
// (runtime/KernelsRecurrent.cpp) does the GEMMs and calls one such function
// per time step through a pointer (docs/abi.md, "Recurrent layers").
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_LINALGRECURRENT_H
#define NNC_CODEGEN_LINALGRECURRENT_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

namespace nnc::codegen {

/// The cell of a recurrent layer.
enum class RecurrentCell { RnnTanh, RnnRelu, Lstm, Gru };

/// Which step function: the inference forward (saves nothing), the training
/// forward (also writes the step's saved state) or the backward.
enum class GatePass { Forward, ForwardTrain, Backward };

/// The per-step gate function of a recurrent layer with hidden size `h` and
/// `dirs` directions, created in `model` on first use (layers of the same
/// cell and sizes share it). Its row count is dynamic: the runtime calls it
/// on any range of a step's batch rows (each thread on its own). Its linalg
/// ops carry `nn.layer = layer` and `nn.kernel` = the function's name.
mlir::func::FuncOp getOrCreateGateFunction(mlir::ModuleOp model, RecurrentCell cell,
                                           GatePass pass, int64_t h, int64_t dirs,
                                           llvm::StringRef layer);

} // namespace nnc::codegen

#endif // NNC_CODEGEN_LINALGRECURRENT_H
