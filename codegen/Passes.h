//===- Passes.h - nnc code generation passes --------------------*- C++ -*-===//

#ifndef NNC_CODEGEN_PASSES_H
#define NNC_CODEGEN_PASSES_H

#include "dialect/NNDialect.h"

#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

#include <memory>

namespace nnc {

#define GEN_PASS_DECL
#include "codegen/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "codegen/Passes.h.inc"

/// After -nn-outline-kernels and the conversion to the LLVM dialect: marks
/// `llvm.noalias` the pointers of the buffers that a kernel function's
/// other arguments do not overlap (OutlineKernels.cpp).
void markNoAliasArguments(mlir::ModuleOp module);

} // namespace nnc

#endif // NNC_CODEGEN_PASSES_H
