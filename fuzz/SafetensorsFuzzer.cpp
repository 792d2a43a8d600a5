//===- SafetensorsFuzzer.cpp - libFuzzer target for the safetensors layout ===//
//
// Decodes the input into a list of tensors (names, dtypes, shapes with small
// and huge dimensions, repeated and reserved names) plus metadata, runs
// layoutSafetensors / safetensorsFileSize (runtime/Safetensors.h) and checks
// the result against an independent model of the format:
//  - it fails exactly when a name repeats or is "__metadata__", a name or
//    metadata string is not valid UTF-8, or a byte size overflows 64 bits,
//    and then says why;
//  - otherwise the offsets are contiguous byte sizes, the header is a
//    multiple of 8 bytes of space-padded JSON, it parses (llvm::json, a
//    parser independent of the runtime's nlohmann-json) to exactly the
//    tensors and metadata given, and the runtime's checkpoint reader reads
//    the file back (when its data section is small enough to allocate).
// The reader's own fuzzer (raw file bytes in) is ReadersFuzzer.cpp.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/Safetensors.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstdlib>
#include <set>

using namespace nnc;

namespace {

[[noreturn]] void bug(const std::string &what) {
  llvm::errs() << "nnc-safetensors-fuzzer: BUG: " << what << "\n";
  std::abort();
}
void check(bool cond, const std::string &what) {
  if (!cond)
    bug(what);
}

constexpr TensorDType kAllDTypes[] = {
    TensorDType::F64, TensorDType::F32, TensorDType::F16, TensorDType::BF16,
    TensorDType::I64, TensorDType::I32, TensorDType::I16, TensorDType::I8,
    TensorDType::U8,  TensorDType::Bool};

uint64_t consumeDim(FuzzedDataProvider &fdp) {
  switch (fdp.ConsumeIntegralInRange<int>(0, 3)) {
  case 0:
    return fdp.ConsumeIntegralInRange<uint64_t>(0, 8);
  case 1:
    return fdp.ConsumeIntegralInRange<uint64_t>(0, 1 << 20);
  case 2:
    return uint64_t(1) << fdp.ConsumeIntegralInRange<int>(0, 63);
  default:
    return fdp.ConsumeIntegral<uint64_t>();
  }
}

std::string consumeName(FuzzedDataProvider &fdp,
                        const std::vector<TensorEntry> &entries) {
  switch (fdp.ConsumeIntegralInRange<int>(0, 7)) {
  case 0:
    if (!entries.empty())
      return entries[fdp.ConsumeIntegralInRange<size_t>(0, entries.size() - 1)]
          .name;
    break;
  case 1:
    return "__metadata__";
  default:
    break;
  }
  return fdp.ConsumeRandomLengthString(24);
}

void checkLayout(const std::vector<TensorEntry> &entries,
                 const SafetensorsMetadata &metadata) {
  // The model: which error, if any, must be reported. The header is JSON,
  // so every string must be UTF-8.
  bool mustFail = false;
  for (const auto &[k, v] : metadata)
    mustFail |= !llvm::json::isUTF8(k) || !llvm::json::isUTF8(v);
  std::set<std::string> names;
  unsigned __int128 total = 0;
  std::vector<uint64_t> sizes;
  for (const TensorEntry &e : entries) {
    if (e.name == "__metadata__" || !names.insert(e.name).second ||
        !llvm::json::isUTF8(e.name)) {
      mustFail = true;
      break;
    }
    unsigned __int128 bytes = tensorDTypeSize(e.dtype);
    bool overflow = false;
    for (uint64_t d : e.shape) {
      bytes *= d;
      if (bytes > UINT64_MAX) {
        overflow = true;
        break;
      }
    }
    if (overflow) {
      mustFail = true;
      break;
    }
    total += bytes;
    if (total > UINT64_MAX) {
      mustFail = true;
      break;
    }
    sizes.push_back(uint64_t(bytes));
  }

  std::string error;
  std::optional<SafetensorsLayout> layout =
      layoutSafetensors(entries, metadata, error);
  std::string error2;
  std::optional<uint64_t> fileSize =
      safetensorsFileSize(entries, metadata, error2);
  check(layout.has_value() == fileSize.has_value() && error == error2,
        "layoutSafetensors and safetensorsFileSize disagree");
  if (!layout) {
    check(!error.empty(), "failed without an error message");
    // The only other failures: 8 + header + data overflows 64 bits (the
    // fuzzer's headers are far below 16 MiB), or a header over 100 MB (out
    // of the fuzzer's reach).
    bool nearOverflow = total + 8 + (1u << 24) > UINT64_MAX;
    check(mustFail || nearOverflow, "rejected a valid checkpoint: " + error);
    return;
  }
  check(!mustFail, "accepted an invalid checkpoint");
  // 8 + header + data fits in 64 bits (the model above ignores the header).
  check(uint64_t(8 + layout->header.size()) + layout->dataBytes() >=
            layout->dataBytes(),
        "file size overflows");
  check(*fileSize == layout->fileSize(),
        "safetensorsFileSize is not the layout's");
  check(layout->header.size() % 8 == 0, "header not padded to 8 bytes");
  check(layout->offsets.size() == entries.size() + 1 &&
            layout->offsets.front() == 0,
        "wrong number of offsets");
  for (size_t i = 0; i < entries.size(); ++i)
    check(layout->offsets[i + 1] - layout->offsets[i] == sizes[i],
          "offsets are not contiguous byte sizes");

  const std::string &h = layout->header;
  size_t close = h.find_last_not_of(' ');
  check(close != std::string::npos && h[close] == '}' && h[0] == '{',
        "header is not a padded object");

  // The header is JSON describing exactly these tensors.
  std::set<std::string> metaKeys;
  for (const auto &[k, v] : metadata)
    metaKeys.insert(k);
  llvm::Expected<llvm::json::Value> json =
      llvm::json::parse(h.substr(0, close + 1));
  if (!json)
    bug("header is not JSON: " + llvm::toString(json.takeError()));
  const llvm::json::Object *root = json->getAsObject();
  check(root, "header is not an object");
  check(root->size() == entries.size() + (metadata.empty() ? 0 : 1),
        "header has the wrong number of keys");
  if (!metadata.empty()) {
    const llvm::json::Object *meta = root->getObject("__metadata__");
    check(meta, "no __metadata__ object");
    check(meta->size() == metaKeys.size(), "wrong metadata size");
    if (metaKeys.size() == metadata.size()) // No repeated keys.
      for (const auto &[k, v] : metadata)
        check(meta->getString(k) == llvm::StringRef(v), "wrong metadata value");
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const TensorEntry &e = entries[i];
    const llvm::json::Object *t = root->getObject(e.name);
    check(t, "tensor missing from the header");
    check(t->size() == 3, "tensor has extra keys");
    check(t->getString("dtype") ==
              llvm::StringRef(safetensorsDTypeName(e.dtype)),
          "wrong dtype");
    const llvm::json::Array *shape = t->getArray("shape");
    check(shape && shape->size() == e.shape.size(), "wrong rank");
    for (size_t d = 0; d < e.shape.size(); ++d)
      check((*shape)[d].getAsUINT64() == e.shape[d], "wrong dimension");
    const llvm::json::Array *offs = t->getArray("data_offsets");
    check(offs && offs->size() == 2 &&
              (*offs)[0].getAsUINT64() == layout->offsets[i] &&
              (*offs)[1].getAsUINT64() == layout->offsets[i + 1],
          "wrong data_offsets");
  }

  // The runtime's reader takes the file back: the same tensors in the same
  // order, the same metadata (a repeated key written once, with its last
  // value).
  if (layout->dataBytes() > (1u << 20))
    return;
  std::vector<uint8_t> file(layout->fileSize(), 0);
  for (int i = 0; i < 8; ++i)
    file[i] = uint8_t(uint64_t(h.size()) >> (8 * i));
  std::copy(h.begin(), h.end(), file.begin() + 8);
  rt::Result<rt::Checkpoint> ckpt = rt::parseCheckpoint("fuzz", file);
  if (!ckpt)
    bug("the reader rejects the header: " + ckpt.message());
  check(ckpt->tensors.size() == entries.size(), "read back: tensor count");
  for (size_t i = 0; i < entries.size(); ++i)
    check(ckpt->tensors[i].name == entries[i].name &&
              ckpt->tensors[i].dtype == entries[i].dtype &&
              ckpt->tensors[i].shape == entries[i].shape &&
              ckpt->sizes[i] == layout->offsets[i + 1] - layout->offsets[i],
          "read back: tensor " + std::to_string(i) + " differs");
  check(ckpt->metadata.size() == metaKeys.size(), "read back: metadata size");
  for (const auto &[k, v] : ckpt->metadata) {
    auto last = std::find_if(metadata.rbegin(), metadata.rend(),
                             [&](const auto &m) { return m.first == k; });
    check(last != metadata.rend() && last->second == v,
          "read back: metadata value");
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider fdp(data, size);

  // The dtype table round-trips.
  std::string dtypeName = fdp.ConsumeRandomLengthString(8);
  if (std::optional<TensorDType> dt = parseSafetensorsDType(dtypeName))
    check(dtypeName == safetensorsDTypeName(*dt), "dtype name round trip");

  SafetensorsMetadata metadata(fdp.ConsumeIntegralInRange<size_t>(0, 3));
  for (auto &[k, v] : metadata) {
    k = fdp.ConsumeRandomLengthString(16);
    v = fdp.ConsumeRandomLengthString(32);
  }
  std::vector<TensorEntry> entries;
  size_t n = fdp.ConsumeIntegralInRange<size_t>(0, 24);
  while (entries.size() < n && fdp.remaining_bytes()) {
    TensorEntry e;
    e.name = consumeName(fdp, entries);
    e.dtype = fdp.PickValueInArray(kAllDTypes);
    e.shape.resize(fdp.ConsumeIntegralInRange<size_t>(0, 6));
    for (uint64_t &d : e.shape)
      d = consumeDim(fdp);
    entries.push_back(std::move(e));
  }
  checkLayout(entries, metadata);
  return 0;
}
