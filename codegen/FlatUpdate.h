//===- FlatUpdate.h - One optimizer kernel over all parameters --*- C++ -*-===//
//
// Internal to codegen/: the attributes by which -nn-lower-to-linalg,
// -nn-fuse and -nn-lower-to-buffers agree on the optimizer update of a
// training step.
//
// -nn-lower-to-linalg builds each parameter's update as one elementwise
// linalg.generic tagged `nn.optimizer` (ins: the gradient; outs: the
// parameter, then its state tensors) and Adam's per-step scalars as a
// rank-0 generic tagged `nn.optimizer_scalars`. -nn-fuse keeps one copy of
// the scalar generic and puts the updates whose bodies are equal (same
// optimizer and hyperparameters) into one nn.kernel tagged `nn.flat_update`.
// -nn-lower-to-buffers places the parameters of such a kernel one after the
// other in the arena (no padding), each state of theirs likewise in the same
// order, makes the backward pass write each gradient into its slice of one
// gradient buffer laid out the same way, and runs the kernel as one flat
// elementwise loop over all parameter elements.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_FLATUPDATE_H
#define NNC_CODEGEN_FLATUPDATE_H

#include "llvm/ADT/StringRef.h"

namespace nnc::codegen {

/// On a per-parameter update generic: the optimizer ("sgd", "momentum",
/// "nesterov", "adam", "adamw").
constexpr llvm::StringLiteral kOptimizerAttr = "nn.optimizer";
/// On the rank-0 generic computing an update's per-step scalars: the
/// optimizer.
constexpr llvm::StringLiteral kOptimizerScalarsAttr = "nn.optimizer_scalars";
/// On an nn.kernel holding the updates of several parameters (the
/// optimizer's name): lowered as one loop over all their elements.
constexpr llvm::StringLiteral kFlatUpdateAttr = "nn.flat_update";

} // namespace nnc::codegen

#endif // NNC_CODEGEN_FLATUPDATE_H
