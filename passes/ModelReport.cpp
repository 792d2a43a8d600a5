//===- ModelReport.cpp - Compile-time cost report of a model --------------===//
//
// Part of nnc. Computes and prints the report described in docs/report.md:
// parameters from the `nn.param` symbols, per-layer rows and FLOPs from
// CostOpInterface and the checkpoint size from runtime/Safetensors. Memory
// is not here: `nnc report` reads it from the memory plan
// (codegen/MemoryReport.h).
//
//===----------------------------------------------------------------------===//

#include "passes/ModelReport.h"

#include "dialect/NNOps.h"
#include "runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <limits>

#define DEBUG_TYPE "nn-report"

using namespace mlir;
using llvm::FailureOr;

namespace nnc {
namespace {

/// Optimizer state slots per trainable parameter.
std::optional<int64_t> optimizerSlots(StringRef optimizer) {
  return llvm::StringSwitch<std::optional<int64_t>>(optimizer)
      .Case("sgd", 0)
      .Case("momentum", 1)
      .Cases({"adam", "adamw"}, 2)
      .Default(std::nullopt);
}

/// Bytes per element of the report dtype.
std::optional<int64_t> dtypeSize(StringRef dtype) {
  return llvm::StringSwitch<std::optional<int64_t>>(dtype)
      .Case("f32", 4)
      .Cases({"f16", "bf16"}, 2)
      .Case("int8", 1)
      .Default(std::nullopt);
}

/// The safetensors dtype of a checkpoint tensor's element type.
std::optional<TensorDType> checkpointDType(Type type) {
  if (type.isF64())
    return TensorDType::F64;
  if (type.isF32())
    return TensorDType::F32;
  if (type.isF16())
    return TensorDType::F16;
  if (type.isBF16())
    return TensorDType::BF16;
  if (type.isInteger(1))
    return TensorDType::Bool;
  if (type.isInteger(8))
    return type.isUnsignedInteger() ? TensorDType::U8 : TensorDType::I8;
  if (type.isInteger(16))
    return TensorDType::I16;
  if (type.isInteger(32))
    return TensorDType::I32;
  if (type.isInteger(64))
    return TensorDType::I64;
  return std::nullopt;
}

/// What the report knows of one `nn.param`.
struct ParamInfo {
  int64_t elements = 0;
  bool isBuffer = false;
  /// Bytes in the report dtype (integer tensors in their own type).
  int64_t bytes = 0;
  /// Already attributed to a layer row.
  bool attributed = false;
};

/// Computes a report; every failure has been emitted as a located error.
class ReportBuilder {
public:
  ReportBuilder(ModuleOp model, const ReportOptions &options)
      : model(model), options(options) {}

  FailureOr<ModelReport> build();

private:
  /// Emits "model 'x' is too large to report: the <what> does not fit...".
  LogicalResult tooLarge(Location loc, const Twine &what);
  /// `acc += x`, or a "too large" error at `loc`.
  LogicalResult add(int64_t &acc, int64_t x, Location loc, const Twine &what);
  /// `a * b`, or a "too large" error at `loc`.
  FailureOr<int64_t> mul(int64_t a, int64_t b, Location loc, const Twine &what);

  /// Whether `v` is a weight (the result of `nn.param_ref`).
  static bool isWeight(Value v) {
    return v.getDefiningOp<nn::ParamRefOp>() != nullptr;
  }

  LogicalResult collectParams();
  LogicalResult checkBatch();
  LogicalResult walkFunction(func::FuncOp func, StringRef function);
  LogicalResult computeTotals();

  ModuleOp model;
  func::FuncOp forward;
  const ReportOptions &options;
  ModelReport report;
  llvm::StringMap<ParamInfo> params;
};

LogicalResult ReportBuilder::tooLarge(Location loc, const Twine &what) {
  return emitError(loc) << "model '" << report.model
                        << "' is too large to report: the " << what
                        << " does not fit in a 64-bit integer";
}

LogicalResult ReportBuilder::add(int64_t &acc, int64_t x, Location loc,
                                 const Twine &what) {
  if (llvm::AddOverflow(acc, x, acc))
    return tooLarge(loc, what);
  return success();
}

FailureOr<int64_t> ReportBuilder::mul(int64_t a, int64_t b, Location loc,
                                      const Twine &what) {
  int64_t result;
  if (llvm::MulOverflow(a, b, result))
    return tooLarge(loc, what);
  return result;
}

/// Reads the `nn.param` symbols: totals and the checkpoint layout.
LogicalResult ReportBuilder::collectParams() {
  std::vector<TensorEntry> entries;
  for (nn::ParamOp param : model.getBody()->getOps<nn::ParamOp>()) {
    // Optimizer state (after -nn-autodiff) is not a parameter: the report
    // accounts for it through the optimizer's state slots.
    if (param.getState())
      continue;
    Location loc = param.getLoc();
    auto type = cast<RankedTensorType>(param.getType());
    std::optional<int64_t> elements =
        nnc::shape::checkedNumElements(type.getShape());
    if (!elements)
      return tooLarge(loc, "parameter count");
    ParamInfo info;
    info.elements = *elements;
    info.isBuffer = param.getBuffer();
    int64_t size =
        isa<FloatType>(type.getElementType())
            ? report.dtypeBytes
            : std::max<int64_t>(1, type.getElementTypeBitWidth() / 8);
    FailureOr<int64_t> bytes = mul(*elements, size, loc, "size in bytes");
    if (failed(bytes))
      return failure();
    info.bytes = *bytes;

    if (info.isBuffer) {
      if (failed(add(report.bufferElements, *elements, loc,
                     "buffer element count")) ||
          failed(add(report.bufferBytes, info.bytes, loc, "buffer bytes")))
        return failure();
      ++report.bufferTensors;
    } else {
      if (failed(add(report.parameters, *elements, loc, "parameter count")) ||
          failed(
              add(report.parameterBytes, info.bytes, loc, "parameter bytes")))
        return failure();
      ++report.parameterTensors;
      if (type.getElementType().isInteger(8))
        report.int8Parameters += *elements;
    }
    params[param.getSymName()] = info;

    std::optional<TensorDType> dtype = checkpointDType(type.getElementType());
    if (!dtype)
      return emitError(loc) << "nn-report: parameter '" << param.getSymName()
                            << "' has an element type a checkpoint cannot "
                               "hold: "
                            << type.getElementType();
    TensorEntry entry;
    entry.name = param.getSymName().str();
    entry.dtype = *dtype;
    entry.shape.assign(type.getShape().begin(), type.getShape().end());
    entries.push_back(std::move(entry));
  }
  // nn.param has no `frozen` marker: every parameter is trainable, unless the
  // model is quantized (-nn-quantize), which makes it inference only.
  report.trainableParameters = report.int8Parameters ? 0 : report.parameters;

  Location loc = model.getLoc();
  FailureOr<int64_t> f32 = mul(report.parameters, 4, loc, "size in bytes");
  if (failed(f32))
    return failure();
  report.parameterBytesF32 = *f32;
  report.parameterBytesF16 = *f32 / 2;
  report.parameterBytesInt8 = *f32 / 4;

  std::string error;
  // The weights file `nnc train` writes: its progress metadata is laid out
  // at its widest, whatever the epoch and step (runtime/Safetensors.h).
  std::optional<uint64_t> fileSize =
      safetensorsFileSize(entries, trainingProgressReserve(), error);
  if (!fileSize)
    return emitError(loc) << "nn-report: cannot lay out the checkpoint: "
                          << error;
  if (*fileSize > uint64_t(std::numeric_limits<int64_t>::max()))
    return tooLarge(loc, "checkpoint size");
  report.checkpointBytes = int64_t(*fileSize);
  return success();
}

/// Checks that @forward was specialized to the report's batch size.
LogicalResult ReportBuilder::checkBatch() {
  for (BlockArgument arg : forward.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    if (!type || type.getRank() == 0)
      continue;
    if (type.isDynamicDim(0))
      return emitError(forward.getLoc())
             << "nn-report: @forward has a dynamic batch dimension; run "
                "-nn-infer-shapes=batch="
             << options.batch << " first";
    if (type.getDimSize(0) != options.batch)
      return emitError(forward.getLoc())
             << "nn-report: @forward is specialized to batch "
             << type.getDimSize(0) << " but the report is for batch "
             << options.batch;
  }
  return success();
}

/// Adds one row per op of `func` and accumulates FLOPs.
LogicalResult ReportBuilder::walkFunction(func::FuncOp func,
                                          StringRef function) {
  bool isForward = function == "forward";
  for (Operation &op : func.getBody().getOps()) {
    if (isa<nn::ParamRefOp, func::ReturnOp>(op))
      continue;
    Location loc = op.getLoc();
    LayerReport row;
    if (auto name = op.getAttrOfType<StringAttr>("name"))
      row.name = name.str();
    else
      row.name = "-";
    StringRef opName = op.getName().getStringRef();
    row.op =
        opName.starts_with("nn.") ? opName.drop_front(3).str() : opName.str();
    row.function = function.str();
    if (op.getNumResults() > 0) {
      if (auto type = dyn_cast<RankedTensorType>(op.getResult(0).getType()))
        row.outputShape.assign(type.getShape().begin(), type.getShape().end());
    }

    // Parameters read by this op for the first time.
    for (Value operand : op.getOperands()) {
      auto ref = operand.getDefiningOp<nn::ParamRefOp>();
      if (!ref)
        continue;
      auto it = params.find(ref.getSym());
      if (it == params.end() || it->second.attributed)
        continue;
      it->second.attributed = true;
      if (it->second.isBuffer) {
        row.buffers += it->second.elements;
      } else {
        row.params += it->second.elements;
        row.paramBytes += it->second.bytes;
      }
    }

    auto cost = dyn_cast<nn::CostOpInterface>(op);
    if (!cost) {
      report.uncostedOps.push_back(opName.str());
    } else {
      std::optional<int64_t> fwd = cost.getForwardFlops();
      std::optional<int64_t> bwd = cost.getBackwardFlops();
      if (!fwd || !bwd) {
        auto isStatic = [](Type t) {
          auto tensor = dyn_cast<RankedTensorType>(t);
          return !tensor || tensor.hasStaticShape();
        };
        if (!llvm::all_of(op.getOperandTypes(), isStatic) ||
            !llvm::all_of(op.getResultTypes(), isStatic))
          return emitError(loc) << "nn-report: '" << opName
                                << "' has a dynamic shape; run "
                                   "-nn-infer-shapes=batch=N first";
        return tooLarge(loc, "FLOP count of '" + opName + "'");
      }
      row.forwardFlops = *fwd;
      row.backwardFlops = *bwd;
      if (failed(
              add(isForward ? report.forwardFlops : report.lossFlops, *fwd, loc, "FLOP count")) ||
          failed(add(report.backwardFlops, *bwd, loc, "FLOP count")))
        return failure();
    }
    report.layers.push_back(std::move(row));
  }
  return success();
}

/// The FLOPs of a training step.
LogicalResult ReportBuilder::computeTotals() {
  Location loc = model.getLoc();
  return success(succeeded(add(report.trainingStepFlops, report.forwardFlops, loc, "FLOP count")) &&
                 succeeded(add(report.trainingStepFlops, report.lossFlops, loc, "FLOP count")) &&
                 succeeded(add(report.trainingStepFlops, report.backwardFlops, loc, "FLOP count")));
}

FailureOr<ModelReport> ReportBuilder::build() {
  Location loc = model.getLoc();
  report.model = model.getSymName() ? model.getSymName()->str() : "model";
  report.options = options;
  if (options.batch < 1)
    return emitError(loc) << "nn-report: batch must be at least 1, got "
                          << options.batch;
  if (!optimizerSlots(options.optimizer))
    return emitError(loc) << "nn-report: unknown optimizer '"
                          << options.optimizer
                          << "' (expected sgd, momentum, adam or adamw)";
  std::optional<int64_t> size = dtypeSize(options.dtype);
  if (!size)
    return emitError(loc) << "nn-report: unknown dtype '" << options.dtype
                          << "' (expected f32, f16, bf16 or int8)";
  report.dtypeBytes = *size;

  forward = model.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal())
    return emitError(loc) << "nn-report: model '" << report.model
                          << "' has no func.func @forward";
  auto loss = model.lookupSymbol<func::FuncOp>("loss");
  if (loss && loss.isExternal())
    loss = nullptr;

  if (failed(collectParams()) || failed(checkBatch()) || failed(walkFunction(forward, "forward")) ||
      (loss && failed(walkFunction(loss, "loss"))) || failed(computeTotals()))
    return failure();
  return std::move(report);
}

//===----------------------------------------------------------------------===//
// Formatting
//===----------------------------------------------------------------------===//

/// `value` scaled down by `base` with `units`, one decimal: "241.0 KiB".
std::string scaled(int64_t value, double base,
                   llvm::ArrayRef<const char *> units) {
  double v = double(value);
  size_t unit = 0;
  while (v >= base && unit + 1 < units.size()) {
    v /= base;
    ++unit;
  }
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format("%.1f", v) << " " << units[unit];
  return s;
}

std::string formatShapeCompact(llvm::ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i)
      s += ",";
    s += ShapedType::isDynamic(d) ? "N" : std::to_string(d);
  }
  return s + "]";
}

std::string padLeft(const std::string &s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string padRight(const std::string &s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}

} // namespace

std::string formatCount(int64_t n) {
  std::string digits = std::to_string(n);
  size_t start = digits[0] == '-' ? 1 : 0;
  std::string out;
  size_t len = digits.size() - start;
  for (size_t i = 0; i < digits.size(); ++i) {
    out += digits[i];
    size_t pos = i - start + 1; // Digits emitted so far.
    if (i >= start && pos < len && (len - pos) % 3 == 0)
      out += ',';
  }
  return out;
}

std::string formatBytes(int64_t bytes) {
  if (bytes < 1024)
    return formatCount(bytes) + " B";
  return formatCount(bytes) + " B (" +
         scaled(bytes, 1024.0,
                {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}) +
         ")";
}

std::string formatFlops(int64_t flops) {
  if (flops < 1000)
    return formatCount(flops);
  return formatCount(flops) + " (" +
         scaled(
             flops, 1000.0,
             {"FLOP", "KFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP"}) +
         ")";
}

FailureOr<ModelReport> computeReport(ModuleOp model,
                                     const ReportOptions &options) {
  return ReportBuilder(model, options).build();
}

void printReportTable(const ModelReport &r, llvm::raw_ostream &os) {
  const ReportOptions &o = r.options;
  os << "model " << r.model << " @ batch " << o.batch << ", dtype " << o.dtype
     << ", optimizer " << o.optimizer << "\n";

  std::vector<std::array<std::string, 6>> rows;
  rows.push_back({"layer", "op", "output", "params", "bytes(" + o.dtype + ")",
                  "fwd FLOPs"});
  for (const LayerReport &l : r.layers)
    rows.push_back({l.name, l.op, formatShapeCompact(l.outputShape),
                    formatCount(l.params), formatCount(l.paramBytes),
                    formatCount(l.forwardFlops)});
  std::array<size_t, 6> width{};
  for (const auto &row : rows)
    for (size_t c = 0; c < row.size(); ++c)
      width[c] = std::max(width[c], row[c].size());
  for (const auto &row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      // Names left-aligned, numbers right-aligned; 3 spaces between.
      line += c < 3 ? padRight(row[c], width[c]) : padLeft(row[c], width[c]);
      if (c + 1 < row.size())
        line += "   ";
    }
    os << line << "\n";
  }

  if (r.int8Parameters)
    os << "total parameters: " << formatCount(r.parameters) << " (int8 "
       << formatCount(r.int8Parameters)
       << ", the rest f32; quantized: inference only) = " << formatCount(r.parameterBytes)
       << " B as stored\n";
  else
    os << "total parameters: " << formatCount(r.parameters) << " (trainable "
       << formatCount(r.trainableParameters) << ") = " << formatCount(r.parameterBytesF32)
       << " B f32 / " << formatCount(r.parameterBytesF16) << " B f16 / "
       << formatCount(r.parameterBytesInt8) << " B int8\n";
  os << "buffers (not parameters): " << formatCount(r.bufferElements)
     << " elements in " << r.bufferTensors
     << " tensors = " << formatBytes(r.bufferBytes) << " " << o.dtype << "\n";
  os << "FLOPs: forward " << formatFlops(r.forwardFlops)
     << "; training step (forward + loss + backward) "
     << formatFlops(r.trainingStepFlops) << "\n";
  os << "checkpoint: " << formatBytes(r.checkpointBytes)
     << " safetensors (parameters and buffers in their declared types)\n";
  if (!r.uncostedOps.empty()) {
    os << "note: " << r.uncostedOps.size()
       << " op(s) without a cost model counted as 0 FLOPs:";
    for (const std::string &op : r.uncostedOps)
      os << " " << op;
    os << "\n";
  }
}

llvm::json::Value reportToJSON(const ModelReport &r) {
  using llvm::json::Array;
  using llvm::json::Object;
  Array layers;
  for (const LayerReport &l : r.layers) {
    Array shape;
    for (int64_t d : l.outputShape)
      shape.push_back(d);
    layers.push_back(Object{{"name", l.name},
                            {"op", l.op},
                            {"function", l.function},
                            {"output_shape", std::move(shape)},
                            {"params", l.params},
                            {"param_bytes", l.paramBytes},
                            {"buffers", l.buffers},
                            {"forward_flops", l.forwardFlops},
                            {"backward_flops", l.backwardFlops}});
  }
  Array uncosted;
  for (const std::string &op : r.uncostedOps)
    uncosted.push_back(op);
  return Object{
      {"schema_version", kReportSchemaVersion},
      {"model", r.model},
      {"batch", r.options.batch},
      {"optimizer", r.options.optimizer},
      {"dtype", r.options.dtype},
      {"dtype_bytes", r.dtypeBytes},
      {"layers", std::move(layers)},
      {"parameters", Object{{"total", r.parameters},
                            {"trainable", r.trainableParameters},
                            {"tensors", r.parameterTensors},
                            {"bytes", r.parameterBytes},
                            {"bytes_f32", r.parameterBytesF32},
                            {"bytes_f16", r.parameterBytesF16},
                            {"bytes_bf16", r.parameterBytesF16},
                            {"bytes_int8", r.parameterBytesInt8}}},
      {"buffers", Object{{"elements", r.bufferElements},
                         {"tensors", r.bufferTensors},
                         {"bytes", r.bufferBytes}}},
      {"flops", Object{{"forward", r.forwardFlops},
                       {"loss", r.lossFlops},
                       {"backward", r.backwardFlops},
                       {"training_step", r.trainingStepFlops}}},
      {"checkpoint", Object{{"format", "safetensors"}, {"bytes", r.checkpointBytes}}},
      {"uncosted_ops", std::move(uncosted)},
  };
}

} // namespace nnc
