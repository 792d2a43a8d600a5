//===- ReadersFuzzer.cpp - libFuzzer target for the runtime's file readers ===//
//
// Feeds arbitrary bytes to the readers that parse untrusted files: the
// safetensors checkpoint reader (parseCheckpoint, then loading into a fixed
// model layout), the IDX reader (plain or gzip) and the int8 quantization
// table of a quantized weights file (parseQuantizationTable; a table it
// accepts must also survive a round trip through its JSON). The first input
// byte picks the reader. Every input must be accepted or refused with an error message;
// a crash, hang or sanitizer report is a bug.
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/Data.h"
#include "runtime/QuantizeModel.h"

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using namespace nnc::rt;

namespace {

/// A small model layout to load a parsed checkpoint into (LeNet's fc3).
void loadIntoModel(const Checkpoint &ckpt) {
  static std::vector<float> weight(10 * 84), bias(10);
  std::vector<LoadTarget> targets = {
      {"fc3.weight", nnc::TensorDType::F32, {10, 84}, weight.data()},
      {"fc3.bias", nnc::TensorDType::F32, {10}, bias.data()}};
  Status st = loadCheckpoint(ckpt, targets);
  if (st.failed() && st.message().empty())
    std::abort(); // Every failure must say why.
}

/// The IDX reader reads files: each input goes to one per-process file.
const std::string &idxPath() {
  static const std::string path =
      "/tmp/nnc-idx-fuzz-" + std::to_string(getpid()) + ".gz";
  return path;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t which = data[0] % 3;
  std::vector<uint8_t> bytes(data + 1, data + size);
  if (which == 2) {
    std::string text(bytes.begin(), bytes.end());
    Result<QuantizationTable> table = parseQuantizationTable(text, "fuzz.json");
    if (!table) {
      if (table.message().empty())
        std::abort();
      return 0;
    }
    std::string json = quantizationTableToJson(*table);
    Result<QuantizationTable> again = parseQuantizationTable(json, "round trip");
    if (!again || quantizationTableToJson(*again) != json)
      std::abort(); // What the writer writes, the reader takes back unchanged.
    return 0;
  }
  if (which == 0) {
    Result<Checkpoint> ckpt = parseCheckpoint("fuzz.safetensors", std::move(bytes));
    if (ckpt)
      loadIntoModel(*ckpt);
    else if (ckpt.message().empty())
      std::abort();
    return 0;
  }
  // IDX: the reader detects gzip by its magic, so one path serves both.
  if (FILE *f = std::fopen(idxPath().c_str(), "wb")) {
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
  }
  Result<IdxArray> idx = readIdx(idxPath(), "image");
  if (!idx && idx.message().empty())
    std::abort();
  return 0;
}
