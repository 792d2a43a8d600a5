//===- ModelReport.h - Compile-time cost report of a model ------*- C++ -*-===//
//
// Part of nnc. Computes what `nnc report` and `-nn-report` print: per-layer
// output shapes, parameter counts and FLOPs, PyTorch-exact parameter totals,
// and the checkpoint size. Training and inference memory come from the
// memory plan (codegen/MemoryReport.h, `nnc report` only). See
// docs/report.md for the meaning of every number and the JSON schema.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_PASSES_MODELREPORT_H
#define NNC_PASSES_MODELREPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nnc {

/// The version of the JSON layout produced by reportToJSON; bumped on any
/// incompatible change (see docs/report.md).
inline constexpr int64_t kReportSchemaVersion = 2;

/// What the report is computed for.
struct ReportOptions {
  /// The batch size the model's shapes were specialized to; must match the
  /// batch dimension of `@forward`'s arguments (-nn-infer-shapes{batch=N}).
  int64_t batch = 1;
  /// The optimizer of the training step whose memory `nnc report` plans:
  /// `sgd`, `momentum`, `adam` or `adamw`.
  std::string optimizer = "adam";
  /// Storage type of floating-point tensors: `f32`, `f16`, `bf16` or `int8`.
  std::string dtype = "f32";
};

/// One row of the report: an op of `@forward` or `@loss`.
struct LayerReport {
  /// The layer name (the op's `name` attribute), or "-" if it has none.
  std::string name;
  /// The op name without the dialect prefix: `conv2d`.
  std::string op;
  /// `forward` or `loss`: the function the op belongs to.
  std::string function;
  /// Shape of the first result (static after -nn-infer-shapes).
  llvm::SmallVector<int64_t, 4> outputShape;
  /// Elements of the parameters (not buffers) this op reads for the first
  /// time in program order; a shared parameter is counted at its first use.
  int64_t params = 0;
  /// `params` in the report's dtype.
  int64_t paramBytes = 0;
  /// Elements of the buffers (running statistics) this op reads first.
  int64_t buffers = 0;
  /// Forward and backward FLOPs from CostOpInterface (0 for ops without it).
  int64_t forwardFlops = 0;
  int64_t backwardFlops = 0;
};

/// The complete report of one model.
struct ModelReport {
  /// The model's symbol name (`lenet`).
  std::string model;
  ReportOptions options;
  /// Bytes per element of `options.dtype`.
  int64_t dtypeBytes = 4;

  std::vector<LayerReport> layers;

  /// Parameter totals, as PyTorch counts them: `sum(p.numel())`.
  int64_t parameters = 0;
  int64_t trainableParameters = 0;
  int64_t parameterTensors = 0;
  /// Of `parameters`, the int8 ones (the weights of a quantized model, whose
  /// parameters are then none trainable: it runs inference only).
  int64_t int8Parameters = 0;
  /// Buffer totals (running statistics; not parameters).
  int64_t bufferElements = 0;
  int64_t bufferTensors = 0;
  /// Parameter bytes in f32 / f16 (= bf16) / int8 and in the chosen dtype.
  int64_t parameterBytesF32 = 0;
  int64_t parameterBytesF16 = 0;
  int64_t parameterBytesInt8 = 0;
  int64_t parameterBytes = 0;
  /// Buffer bytes in the chosen dtype (integer buffers in their own type).
  int64_t bufferBytes = 0;

  /// FLOPs of `@forward`, of `@loss`, and of a training step
  /// (forward + loss + backward of both).
  int64_t forwardFlops = 0;
  int64_t lossFlops = 0;
  int64_t backwardFlops = 0;
  int64_t trainingStepFlops = 0;

  /// Exact size of the safetensors checkpoint (f32 parameters and buffers in
  /// their declared types, in declaration order, no metadata).
  int64_t checkpointBytes = 0;

  /// Ops without a cost model (counted as 0 FLOPs, nothing saved).
  std::vector<std::string> uncostedOps;
};

/// Computes the report of `model`, one nested module `module @name
/// attributes {nn.model}` after `-nn-infer-shapes{batch=N}`. Reads its
/// `nn.param` symbols and walks `func.func @forward` and `@loss` (if
/// present). Emits an error at the offending location and fails on an
/// invalid option, a dynamic shape, or a number that does not fit in int64.
llvm::FailureOr<ModelReport> computeReport(mlir::ModuleOp model,
                                           const ReportOptions &options);

/// Prints the report as a table with totals (see docs/report.md).
void printReportTable(const ModelReport &report, llvm::raw_ostream &os);

/// Returns the report as JSON (schema in docs/report.md).
llvm::json::Value reportToJSON(const ModelReport &report);

/// Formats `n` with thousands separators: `246824` -> `246,824`.
std::string formatCount(int64_t n);

/// Formats a byte size: `246,824 B (241.0 KiB)`; below 1 KiB just `624 B`.
std::string formatBytes(int64_t bytes);

/// Formats a FLOP count: `2,300,000 (2.30 MFLOP)`; below 1000 just `624`.
std::string formatFlops(int64_t flops);

} // namespace nnc

#endif // NNC_PASSES_MODELREPORT_H
