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
// Data-parallel training (docs/distributed.md, "Compiler") is asked for by
// the model module's `nn.data_parallel = {ranks = N : i64, shard = "none" |
// "opt"}`: -nn-lower-to-buffers then hands each flat gradient buffer to the
// runtime's nnc_dp_reduce_gradients (runtime/DataParallel.h) before the
// group's loop and, with shard = "opt" (ZeRO-1), pads the group to a
// multiple of N elements, keeps each state column as one region
// `dp<group>.<state>` of count/N elements, updates only the shard of rank
// nnc_dp_rank() and calls nnc_dp_gather_parameters after. It rewrites the
// attribute into the model table's `data_parallel` object (docs/abi.md).
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
/// On a model module: the data-parallel training it is built for (above).
constexpr llvm::StringLiteral kDataParallelAttr = "nn.data_parallel";

/// The runtime's hooks (runtime/DataParallel.h) that a data-parallel
/// train_step calls.
constexpr llvm::StringLiteral kDpRankFunction = "nnc_dp_rank";
constexpr llvm::StringLiteral kDpReduceFunction = "nnc_dp_reduce_gradients";
constexpr llvm::StringLiteral kDpGatherFunction = "nnc_dp_gather_parameters";

} // namespace nnc::codegen

#endif // NNC_CODEGEN_FLATUPDATE_H
