//===- Registration.h - Dialects and passes of the nnc tools ----*- C++ -*-===//
//
// Part of nnc. One place that registers what nnc's tools need, so that
// nn-opt and nnc agree.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_COMMON_REGISTRATION_H
#define NNC_TOOLS_COMMON_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace nnc {

/// Adds the dialects nnc's IR uses: nn, func, arith, tensor (builtin is
/// always loaded).
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers the nn passes and MLIR's generic transforms (canonicalize, cse,
/// symbol-dce, ...) with the global pass registry; safe to call twice.
void registerAllPasses();

} // namespace nnc

#endif // NNC_TOOLS_COMMON_REGISTRATION_H
