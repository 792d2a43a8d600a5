//===- Safetensors.cpp - The safetensors checkpoint layout ----------------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR).
//
//===----------------------------------------------------------------------===//

#include "runtime/Safetensors.h"

#include "runtime/Json.h"

#include <cstdio>
#include <limits>
#include <set>

namespace nnc {

namespace {
struct DTypeInfo {
  TensorDType dtype;
  const char *name;
  unsigned size;
};
constexpr DTypeInfo kDTypes[] = {
    {TensorDType::F64, "F64", 8}, {TensorDType::F32, "F32", 4},
    {TensorDType::F16, "F16", 2}, {TensorDType::BF16, "BF16", 2},
    {TensorDType::I64, "I64", 8}, {TensorDType::I32, "I32", 4},
    {TensorDType::I16, "I16", 2}, {TensorDType::I8, "I8", 1},
    {TensorDType::U8, "U8", 1},   {TensorDType::Bool, "BOOL", 1},
};

const DTypeInfo &info(TensorDType dtype) {
  for (const DTypeInfo &i : kDTypes)
    if (i.dtype == dtype)
      return i;
  return kDTypes[1]; // Unreachable: every enumerator is listed.
}

bool checkedMul(uint64_t a, uint64_t b, uint64_t &out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a)
    return false;
  out = a * b;
  return true;
}

bool checkedAdd(uint64_t a, uint64_t b, uint64_t &out) {
  if (b > std::numeric_limits<uint64_t>::max() - a)
    return false;
  out = a + b;
  return true;
}
} // namespace

const char *safetensorsDTypeName(TensorDType dtype) { return info(dtype).name; }

unsigned tensorDTypeSize(TensorDType dtype) { return info(dtype).size; }

std::optional<TensorDType> parseSafetensorsDType(const std::string &name) {
  for (const DTypeInfo &i : kDTypes)
    if (name == i.name)
      return i.dtype;
  return std::nullopt;
}

std::optional<SafetensorsLayout>
layoutSafetensors(const std::vector<TensorEntry> &entries,
                  const SafetensorsMetadata &metadata, std::string &error,
                  const SafetensorsMetadata &reserve) {
  uint64_t minHeader = 0;
  if (!reserve.empty()) {
    std::optional<SafetensorsLayout> widest =
        layoutSafetensors(entries, reserve, error);
    if (!widest)
      return std::nullopt;
    minHeader = widest->header.size();
  }
  // Writing a name that is not UTF-8 would need replacement characters, and
  // then the file would not hold the tensor under its name.
  for (const auto &[key, value] : metadata) {
    if (!rt::isValidUtf8(key) || !rt::isValidUtf8(value)) {
      error = "metadata entry '" + key +
              "' is not valid UTF-8 (a safetensors header is JSON)";
      return std::nullopt;
    }
  }
  SafetensorsLayout layout;
  rt::Json header = rt::Json::object();
  if (!metadata.empty()) {
    rt::Json &meta = header["__metadata__"] = rt::Json::object();
    for (const auto &[key, value] : metadata)
      meta[key] = value;
  }

  std::set<std::string> seen;
  layout.offsets.reserve(entries.size() + 1);
  layout.offsets.push_back(0);
  for (const TensorEntry &e : entries) {
    if (e.name == "__metadata__") {
      error =
          "tensor name '__metadata__' is reserved by the safetensors format";
      return std::nullopt;
    }
    if (!seen.insert(e.name).second) {
      error = "tensor '" + e.name + "' appears twice";
      return std::nullopt;
    }
    if (!rt::isValidUtf8(e.name)) {
      error = "tensor name '" + e.name +
              "' is not valid UTF-8 (a safetensors header is JSON)";
      return std::nullopt;
    }
    uint64_t bytes = tensorDTypeSize(e.dtype);
    for (uint64_t d : e.shape) {
      if (!checkedMul(bytes, d, bytes)) {
        error = "tensor '" + e.name +
                "' is too large (its byte size "
                "overflows 64 bits)";
        return std::nullopt;
      }
    }
    uint64_t begin = layout.offsets.back(), end;
    if (!checkedAdd(begin, bytes, end)) {
      error = "the checkpoint is too large (its byte size overflows 64 bits)";
      return std::nullopt;
    }
    layout.offsets.push_back(end);
    header[e.name] = {{"dtype", safetensorsDTypeName(e.dtype)},
                      {"shape", e.shape},
                      {"data_offsets", {begin, end}}};
  }
  std::string &h = layout.header;
  h = rt::toJsonText(header);
  if (h.size() < minHeader)
    h.append(minHeader - h.size(), ' ');
  h.append((8 - h.size() % 8) % 8, ' ');
  if (h.size() > kSafetensorsMaxHeaderSize) {
    error = "the safetensors header would exceed " +
            std::to_string(kSafetensorsMaxHeaderSize) +
            " bytes (too many tensors)";
    return std::nullopt;
  }
  // 8 + header + data must fit as well.
  uint64_t total;
  if (!checkedAdd(8 + h.size(), layout.dataBytes(), total)) {
    error = "the checkpoint is too large (its byte size overflows 64 bits)";
    return std::nullopt;
  }
  return layout;
}

SafetensorsMetadata trainingProgress(int64_t epoch, int64_t step) {
  return {{"epoch", std::to_string(epoch)}, {"step", std::to_string(step)}};
}

SafetensorsMetadata trainingProgressReserve() {
  int64_t widest = std::numeric_limits<int64_t>::max();
  return trainingProgress(widest, widest);
}

std::optional<uint64_t>
safetensorsFileSize(const std::vector<TensorEntry> &entries,
                    const SafetensorsMetadata &metadata, std::string &error) {
  std::optional<SafetensorsLayout> layout =
      layoutSafetensors(entries, metadata, error);
  if (!layout)
    return std::nullopt;
  return layout->fileSize();
}

} // namespace nnc
