//===- MLIRGen.h - Lower evaluated models to the nn dialect -----*- C++ -*-===//

#ifndef NNC_FRONTEND_MLIRGEN_H
#define NNC_FRONTEND_MLIRGEN_H

#include "frontend/Sema.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace nnc {

/// Builds one nested `module @<model> attributes {nn.model}` per graph (see
/// docs/dialect.md), with a FileLineColLoc into the model file on every op.
/// Returns null, after emitting an error, if the result does not verify (an
/// internal error: Sema has already checked everything a user can get wrong).
mlir::OwningOpRef<mlir::ModuleOp> mlirGen(mlir::MLIRContext &context,
                                          llvm::ArrayRef<ModelGraph> graphs,
                                          const llvm::SourceMgr &srcMgr);

} // namespace nnc

#endif // NNC_FRONTEND_MLIRGEN_H
