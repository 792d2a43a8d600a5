//===- MemoryPlan.h - The arena plan of a model, as data ---------*- C++
//-*-===//
//
// -nn-plan-memory places every buffer of the generated code in the one
// arena and records what it did on the model module as `nn.memplan`: per
// entry point, its steps (kernels and library calls, in order) and each
// buffer it placed with its kind, layer, bytes, offset and live range.
// `readMemoryPlan` reads that back, with the persistent regions of
// `nn.layout`, for `nnc memplan` and `nnc report` (docs/memplan.md).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_CODEGEN_MEMORYPLAN_H
#define NNC_CODEGEN_MEMORYPLAN_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"

#include <string>
#include <vector>

namespace nnc {

/// Attributes -nn-lower-to-buffers puts on the allocations and calls it
/// creates: the step (a kernel's name, or a library op's `<op> <layer>`) and
/// the layer that allocates or calls, and for some allocations their kind
/// (`scratch`, `gradient`).
constexpr llvm::StringLiteral kStepAttr = "nn.step";
constexpr llvm::StringLiteral kLayerAttr = "nn.layer";
constexpr llvm::StringLiteral kBufferKindAttr = "nn.buffer_kind";
/// The plan on the model module (see PlanMemory.cpp).
constexpr llvm::StringLiteral kMemPlanAttr = "nn.memplan";

/// One buffer of the plan.
struct PlannedBuffer {
  /// `param`, `buffer` (running statistics), `state` (optimizer state),
  /// `input`, `output` (the persistent regions), or, placed per entry point,
  /// `activation` (a forward value the backward pass reads), `gradient` (of a
  /// parameter), `temporary`, `scratch` (a library call's workspace).
  std::string kind;
  /// A region's name (`conv1.weight`); empty for the others.
  std::string name;
  /// The layer that produces it (`conv1`, `relu1_bwd`; a region: its
  /// parameter's layer, or the entry of an input/output).
  std::string layer;
  /// The step that allocates it (empty for regions).
  std::string step;
  int64_t bytes = 0;
  int64_t offset = 0;
  /// First and last step (indices into EntryPlan::steps) that use it,
  /// inclusive; regions: the whole entry.
  int64_t first = 0, last = 0;
  /// The input it overwrites in place, as an index into EntryPlan::buffers
  /// (-1: none).
  int64_t inPlaceOf = -1;
};

/// The plan of one entry point.
struct EntryPlan {
  std::string entry;
  /// Its kernels and library calls in program order.
  std::vector<std::string> steps;
  /// The buffers placed for it (not the persistent regions).
  std::vector<PlannedBuffer> buffers;
  /// Bytes, each including the persistent regions: the sum of all buffers
  /// (naive: no reuse), the arena this entry needs (peak offset + size), and
  /// the largest total of simultaneously live bytes (no plan can do better).
  int64_t naive = 0, planned = 0, lowerBound = 0;
  /// The placement heuristic whose plan was kept.
  std::string heuristic;
};

/// A model's whole plan.
struct MemoryPlan {
  /// Parameters, buffers, optimizer state, inputs and outputs (`nn.layout`),
  /// at fixed offsets, live in every entry.
  std::vector<PlannedBuffer> regions;
  int64_t persistentBytes = 0;
  /// The arena: the largest entry's plan.
  int64_t arenaBytes = 0;
  std::vector<EntryPlan> entries;
};

/// The bytes of `entry`'s buffers live at `step`, by kind: each byte of the
/// arena counted once (a buffer overwritten in place shares its input's
/// bytes; the first buffer in offset order that covers a byte owns it).
llvm::StringMap<int64_t> liveBytesAt(const EntryPlan &entry, int64_t step);

/// The sum of `bytes` over all kinds.
int64_t totalBytes(const llvm::StringMap<int64_t> &bytes);

/// The step of `entry` at which the most bytes are live (the first on a
/// tie; 0 without steps).
int64_t peakStep(const EntryPlan &entry);

/// Reads the plan of `model` (after -nn-plan-memory). Fails, with an error
/// at the model, if it has none.
mlir::FailureOr<MemoryPlan> readMemoryPlan(mlir::ModuleOp model);

/// The plan of one entry as the attribute -nn-plan-memory records.
mlir::Attribute entryPlanToAttr(mlir::MLIRContext *ctx, const EntryPlan &plan);

} // namespace nnc

#endif // NNC_CODEGEN_MEMORYPLAN_H
