//===- Safetensors.h - The safetensors checkpoint layout --------*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). The layout of a
// safetensors file (https://github.com/huggingface/safetensors, "Format"):
//
//   8 bytes   N, the header length, unsigned little-endian 64-bit
//   N bytes   a UTF-8 JSON object: for each tensor
//             "name":{"dtype":"F32","shape":[6,1,5,5],"data_offsets":[b,e]}
//             (offsets relative to the data section), optionally preceded by
//             "__metadata__":{"key":"value",...}; padded with spaces (0x20)
//             to a multiple of 8 bytes, as the format allows
//   data      the tensors back to back, little-endian, row-major
//
// nnc writes the header in exactly one way: compact JSON (no whitespace), the
// tensors in the order given, contiguous offsets. The compiler's report
// predicts the checkpoint size with `safetensorsFileSize` and the checkpoint
// writer builds its header with `layoutSafetensors`, so the prediction is
// the real file size.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_SAFETENSORS_H
#define NNC_RUNTIME_SAFETENSORS_H

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nnc {

/// Element types a checkpoint tensor can have (a subset of safetensors').
enum class TensorDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

/// The safetensors spelling of `dtype`: "F32", "BF16", "I64", "BOOL", ...
const char *safetensorsDTypeName(TensorDType dtype);

/// Bytes per element of `dtype`.
unsigned tensorDTypeSize(TensorDType dtype);

/// Parses a safetensors dtype name ("F32", ...); std::nullopt if unknown.
std::optional<TensorDType> parseSafetensorsDType(const std::string &name);

/// One tensor of a checkpoint, in file order.
struct TensorEntry {
  std::string name;
  TensorDType dtype = TensorDType::F32;
  std::vector<uint64_t> shape;
};

/// Free-form string metadata, written as "__metadata__" first if non-empty.
using SafetensorsMetadata = std::vector<std::pair<std::string, std::string>>;

/// The computed layout of a safetensors file.
struct SafetensorsLayout {
  /// The header JSON including its trailing space padding; its size is a
  /// multiple of 8.
  std::string header;
  /// `offsets[i]` / `offsets[i + 1]` delimit tensor i in the data section;
  /// `offsets.size() == entries.size() + 1`, `offsets.front() == 0`.
  std::vector<uint64_t> offsets;

  /// Bytes of tensor data.
  uint64_t dataBytes() const { return offsets.empty() ? 0 : offsets.back(); }
  /// Size of the whole file: 8 + header + data.
  uint64_t fileSize() const { return 8 + header.size() + dataBytes(); }
};

/// The largest header the reference implementation accepts (100 MB).
inline constexpr uint64_t kSafetensorsMaxHeaderSize = 100'000'000;

/// Computes the layout of a file holding `entries` in order. With a
/// non-empty `reserve`, the header is padded with spaces to at least the
/// size it has with `reserve` in place of `metadata`, so files whose metadata
/// values vary (an epoch count) have one size. Returns
/// std::nullopt and sets `error` if a name repeats or is "__metadata__", a
/// tensor name or metadata string is not valid UTF-8 (the header is JSON), a
/// byte size overflows uint64_t, or the header exceeds
/// kSafetensorsMaxHeaderSize.
std::optional<SafetensorsLayout>
layoutSafetensors(const std::vector<TensorEntry> &entries,
                  const SafetensorsMetadata &metadata, std::string &error,
                  const SafetensorsMetadata &reserve = {});

/// The exact size in bytes of the safetensors file holding `entries` (and
/// `metadata`), or std::nullopt with `error` set as for layoutSafetensors.
std::optional<uint64_t>
safetensorsFileSize(const std::vector<TensorEntry> &entries,
                    const SafetensorsMetadata &metadata, std::string &error);

/// The `__metadata__` of the weights checkpoints `nnc train` writes: the
/// epochs completed and the optimizer steps taken, as decimal strings.
SafetensorsMetadata trainingProgress(int64_t epoch, int64_t step);

/// The `reserve` nnc writes training checkpoints with: the progress metadata
/// at its widest (19 digits each, any int64), so a weights checkpoint's size
/// depends on the tensors only and the model report predicts it exactly.
SafetensorsMetadata trainingProgressReserve();

} // namespace nnc

#endif // NNC_RUNTIME_SAFETENSORS_H
