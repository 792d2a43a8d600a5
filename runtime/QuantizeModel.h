//===- QuantizeModel.h - quantization table and quantized weights -*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). The model-level numerics
// of post-training int8 quantization (docs/quantization.md) and the
// quantized weights file (docs/abi.md, "Quantized weights"):
//
// - The quantization table: which conv/linear layers are int8, the batchnorm
//   folded into each, each layer's input quantization parameters, the layers
//   kept in f32, as a struct and as the JSON the -nn-quantize pass reads.
// - Batchnorm folding into a conv's (or linear's) weights and bias.
// - The quantized tensor set built from the f32 weights and the table:
//   `<layer>.weight` I8 (per-output-channel symmetric), `<layer>.weight_scale`
//   F32 [O], `<layer>.bias` F32 [O] (the batchnorm folded in), every other
//   tensor as it was, minus the folded batchnorms' tensors.
// - Writing and reading it as safetensors whose `__metadata__` key
//   "nnc.quantization" holds the table's JSON.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_QUANTIZEMODEL_H
#define NNC_RUNTIME_QUANTIZEMODEL_H

#include "runtime/Quantize.h"
#include "runtime/Safetensors.h"
#include "runtime/Status.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nnc::rt {

/// The `__metadata__` key of a quantized weights file holding the table.
inline constexpr const char *kQuantizationMetadataKey = "nnc.quantization";

/// One int8 layer of the table.
struct QuantizedLayer {
  /// The conv2d/linear layer's name ("conv1"): its tensors are
  /// `<layer>.weight` and `<layer>.bias`.
  std::string layer;
  /// The inference batchnorm folded into it ("bn1"), if any.
  std::optional<std::string> batchnorm;
  /// The quantization of its input: u8 (qmin 0, qmax 255, any zero point) or
  /// s8 (qmin >= -128, qmax <= 127).
  QuantParams input;
};

/// The quantization table (JSON: docs/quantization.md, "The table").
struct QuantizationTable {
  int64_t version = 1;
  /// The calibration method that produced the input parameters ("minmax",
  /// "percentile", "entropy", ...; free-form).
  std::string method;
  /// Layers kept in f32 ("first", "last" or layer names, as given).
  std::vector<std::string> f32Layers;
  std::vector<QuantizedLayer> layers;

  /// The layer named `name`, or null.
  const QuantizedLayer *find(std::string_view name) const;
};

/// The table as JSON text (one line; floats written so they read back
/// exactly).
std::string quantizationTableToJson(const QuantizationTable &table);

/// Parses and validates a table: version 1, a method string, f32_layers an
/// array of strings, layers an array of {"layer": string, "batchnorm": string
/// or null, "input": {"scale": positive finite number, "zero_point",
/// "qmin", "qmax": integers with -128 <= qmin < qmax <= 255, qmin <=
/// zero_point <= qmax}}; no unknown keys, no layer or batchnorm named twice,
/// no layer both int8 and f32. Errors name `source` and the offending
/// element ("t.json: layers[2].input.scale: must be a positive finite
/// number").
Result<QuantizationTable> parseQuantizationTable(std::string_view text, const std::string &source);

/// A tensor held in memory: little-endian elements of `dtype`, row-major.
struct HostTensor {
  TensorDType dtype = TensorDType::F32;
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;

  size_t numel() const;
  /// The elements as floats (only for F32).
  const float *f32() const { return reinterpret_cast<const float *>(bytes.data()); }
  /// An F32 tensor of `shape` holding `values`.
  static HostTensor fromF32(std::vector<uint64_t> shape, const std::vector<float> &values);
};

/// Tensors by name (sorted: files are written in name order).
using TensorMap = std::map<std::string, HostTensor>;

/// Folds an inference batchnorm (gamma, beta, mean, var [O], eps) that
/// follows a conv or linear layer with weights w [O, perChannel] and bias b
/// [O] (null: none) into new weights and bias, computed in double and rounded
/// once: s = gamma / sqrt(var + eps), w' = w * s, b' = (b - mean) * s + beta.
void foldBatchNorm(const float *w, size_t channels, size_t perChannel, const float *b,
                   const float *gamma, const float *beta, const float *mean, const float *var,
                   double eps, std::vector<float> &wOut, std::vector<float> &bOut);

/// Builds the quantized tensor set from f32 tensors (a model's state_dict)
/// and a table. For each table layer: its batchnorm folded in (with eps from
/// `batchnormEps`, 1e-5 for a batchnorm not listed), the weights quantized per
/// output channel (runtime/Quantize.h), `<layer>.weight` I8, `<layer>
/// .weight_scale` F32 [O], `<layer>.bias` F32 [O] (absent only for a layer
/// with neither bias nor batchnorm). Every other tensor is kept as it is,
/// except the folded batchnorms' (`<bn>.weight`, `.bias`, `.running_mean`,
/// `.running_var`, `.num_batches_tracked`). Errors: a missing tensor, a
/// weight that is not F32 of rank >= 2, a bias or batchnorm tensor that is
/// not F32 [O].
Result<TensorMap> buildQuantizedTensors(const TensorMap &f32, const QuantizationTable &table,
                                        const std::map<std::string, double> &batchnormEps = {});

/// A quantized weights file's contents.
struct QuantizedWeights {
  QuantizationTable table;
  TensorMap tensors;
};

/// Writes `tensors` (in name order) and the table (`__metadata__`
/// "nnc.quantization") to a safetensors file, atomically.
Status writeQuantizedWeights(const std::string &path, const TensorMap &tensors,
                             const QuantizationTable &table);

/// Reads a quantized weights file and checks it: the metadata holds a valid
/// table, and each table layer has `<layer>.weight` I8 of rank >= 2,
/// `<layer>.weight_scale` F32 [O] with positive finite scales and, if
/// present, `<layer>.bias` F32 [O].
Result<QuantizedWeights> readQuantizedWeights(const std::string &path);

} // namespace nnc::rt

#endif // NNC_RUNTIME_QUANTIZEMODEL_H
