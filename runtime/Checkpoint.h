//===- Checkpoint.h - safetensors checkpoints: write/read/check -*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). Checkpoints are
// safetensors files (runtime/Safetensors.h has the layout) whose tensor names
// and layouts are PyTorch's state_dict names and layouts, so a file written by
// `safetensors.torch.save_file(model.state_dict(), ...)` loads here and one
// written here loads in PyTorch.
//
// Writes are atomic: the file is written to `<path>.tmp.<pid>`, fsync'ed and
// renamed over `path`; on any error (ENOSPC, EFBIG, EIO, ...) the temporary
// file is removed and a previous `path` is untouched.
//
// Reads validate the whole header with a strict JSON parser: the header
// length, JSON syntax, known dtypes, shapes whose byte sizes match their
// offsets, offsets in range, contiguous and covering the data section.
// `checkAgainstModel` then compares the file with the model's tensor list and
// reports every missing, unexpected or mis-shaped tensor:
//
//   lenet.safetensors: tensor 'fc1.weight' has shape [120, 400], the model
//   expects [120, 784]
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_CHECKPOINT_H
#define NNC_RUNTIME_CHECKPOINT_H

#include "runtime/Safetensors.h"
#include "runtime/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace nnc::rt {

using nnc::SafetensorsMetadata;
using nnc::TensorDType;
using nnc::TensorEntry;

/// One tensor to write.
struct WriteTensor {
  /// The PyTorch state_dict name ("conv1.weight").
  std::string name;
  /// The dtype stored in the file.
  TensorDType dtype = TensorDType::F32;
  /// The PyTorch shape (row-major).
  std::vector<uint64_t> shape;
  /// The elements: little-endian values of `dtype`, or of F32 if `fromF32`.
  const void *data = nullptr;
  /// If true, `data` holds F32 values that are converted to `dtype` (F16 or
  /// BF16, round to nearest even) while writing.
  bool fromF32 = false;
};

/// Writes `tensors` (in this order) and `metadata` to `path` atomically.
/// The header is exactly `layoutSafetensors`'s (with `reserve`), so the file
/// size equals the layout's `fileSize()`.
Status writeCheckpoint(const std::string &path,
                       const std::vector<WriteTensor> &tensors,
                       const SafetensorsMetadata &metadata = {},
                       const SafetensorsMetadata &reserve = {});

/// A checkpoint read into memory.
struct Checkpoint {
  /// The file it was read from (used in every message).
  std::string path;
  /// "__metadata__", in file order.
  SafetensorsMetadata metadata;
  /// The tensors in header order; `offsets[i]`/`sizes[i]` locate tensor i's
  /// bytes in `bytes`.
  std::vector<TensorEntry> tensors;
  std::vector<uint64_t> offsets;
  std::vector<uint64_t> sizes;
  /// The whole file.
  std::vector<uint8_t> bytes;

  /// The index of the tensor named `name`, or -1.
  int64_t find(const std::string &name) const;
  /// The little-endian bytes of tensor `i`.
  const uint8_t *tensorData(size_t i) const {
    return bytes.data() + offsets[i];
  }
};

/// Reads and validates the safetensors file at `path`.
Result<Checkpoint> readCheckpoint(const std::string &path);

/// Parses a safetensors file held in memory (`bytes`); `path` names it in
/// messages.
Result<Checkpoint> parseCheckpoint(const std::string &path,
                                   std::vector<uint8_t> bytes);

/// Compares `ckpt` with the tensors the model expects: every missing,
/// unexpected or mis-shaped tensor is one line of the error message. A
/// floating-point dtype mismatch (F16/BF16 in the file, F32 in the model) is
/// allowed when `allowFloatConversion`; any other dtype mismatch is an error.
Status checkAgainstModel(const Checkpoint &ckpt,
                         const std::vector<TensorEntry> &expected,
                         bool allowFloatConversion = true);

/// One model tensor to fill from a checkpoint.
struct LoadTarget {
  std::string name;
  /// The model's dtype and shape (checked against the file).
  TensorDType dtype = TensorDType::F32;
  std::vector<uint64_t> shape;
  /// Where the elements go (the arena); numel * tensorDTypeSize(dtype) bytes.
  void *dest = nullptr;
};

/// Checks `ckpt` against `targets` (as checkAgainstModel) and copies every
/// tensor into its destination, converting F16/BF16 to F32 where needed.
Status loadCheckpoint(const Checkpoint &ckpt,
                      const std::vector<LoadTarget> &targets);

/// Formats a shape as PyTorch prints it inside torch.Size: "[120, 784]".
std::string formatShape(const std::vector<uint64_t> &shape);

/// IEEE half <-> float, round to nearest even.
uint16_t floatToHalf(float f);
float halfToFloat(uint16_t h);
/// bfloat16 <-> float, round to nearest even (NaN stays NaN).
uint16_t floatToBFloat16(float f);
float bfloat16ToFloat(uint16_t b);

/// For tests: makes the next checkpoint write fail with `errnum` once
/// `afterBytes` bytes of the temporary file are written (simulates
/// ENOSPC/EIO); errnum 0 disables the hook.
void setCheckpointWriteFailureForTesting(uint64_t afterBytes, int errnum);

} // namespace nnc::rt

#endif // NNC_RUNTIME_CHECKPOINT_H
