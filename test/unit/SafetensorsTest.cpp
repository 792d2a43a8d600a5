//===- SafetensorsTest.cpp - Tests of the safetensors layout --------------===//
//
// Part of nnc. Checks runtime/Safetensors against the format specification
// and against the file sizes scripts/torch_reference.py computes for the
// PyTorch state_dicts of the examples (test/report/Inputs/torch-reference.txt).
//
//===----------------------------------------------------------------------===//

#include "runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

using namespace nnc;

namespace {

TensorEntry f32(std::string name, std::vector<uint64_t> shape) {
  return {std::move(name), TensorDType::F32, std::move(shape)};
}

TEST(SafetensorsTest, ExactHeaderAndPadding) {
  std::string error;
  std::optional<SafetensorsLayout> layout = layoutSafetensors(
      {f32("a.weight", {2, 3}), {"a.n", TensorDType::I64, {}}}, {}, error);
  ASSERT_TRUE(layout) << error;
  std::string json = "{\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
                     "\"data_offsets\":[0,24]},\"a.n\":{\"dtype\":\"I64\","
                     "\"shape\":[],\"data_offsets\":[24,32]}}";
  // Padded with spaces to a multiple of 8.
  ASSERT_EQ(layout->header.size() % 8, 0u);
  ASSERT_GE(layout->header.size(), json.size());
  ASSERT_LT(layout->header.size(), json.size() + 8);
  EXPECT_EQ(layout->header.substr(0, json.size()), json);
  EXPECT_EQ(layout->header.substr(json.size()),
            std::string(layout->header.size() - json.size(), ' '));
  EXPECT_EQ(layout->offsets, (std::vector<uint64_t>{0, 24, 32}));
  EXPECT_EQ(layout->dataBytes(), 32u);
  EXPECT_EQ(layout->fileSize(), 8 + layout->header.size() + 32);
}

TEST(SafetensorsTest, EmptyAndMetadata) {
  std::string error;
  std::optional<SafetensorsLayout> empty = layoutSafetensors({}, {}, error);
  ASSERT_TRUE(empty) << error;
  EXPECT_EQ(empty->header, "{}      ");
  EXPECT_EQ(empty->fileSize(), 16u);

  std::optional<SafetensorsLayout> meta = layoutSafetensors(
      {{"x", TensorDType::BF16, {4}}}, {{"format", "pt"}}, error);
  ASSERT_TRUE(meta) << error;
  EXPECT_EQ(meta->header.rfind("{\"__metadata__\":{\"format\":\"pt\"},\"x\":"
                               "{\"dtype\":\"BF16\",\"shape\":[4],"
                               "\"data_offsets\":[0,8]}}",
                               0),
            0u);
}

TEST(SafetensorsTest, EscapesNames) {
  std::string error;
  std::optional<SafetensorsLayout> layout =
      layoutSafetensors({f32("q\"b\\\n", {1})}, {}, error);
  ASSERT_TRUE(layout) << error;
  EXPECT_EQ(layout->header.rfind("{\"q\\\"b\\\\\\n\":", 0), 0u);
}

TEST(SafetensorsTest, Errors) {
  std::string error;
  EXPECT_FALSE(layoutSafetensors({f32("w", {1}), f32("w", {2})}, {}, error));
  EXPECT_EQ(error, "tensor 'w' appears twice");
  EXPECT_FALSE(layoutSafetensors({f32("__metadata__", {1})}, {}, error));
  EXPECT_NE(error.find("reserved"), std::string::npos);
  // 2^62 elements * 4 bytes overflows 64 bits.
  EXPECT_FALSE(
      safetensorsFileSize({f32("big", {1ull << 31, 1ull << 31})}, {}, error));
  EXPECT_NE(error.find("too large"), std::string::npos);
  // Two tensors of 2^63 bytes each overflow the data section.
  EXPECT_FALSE(safetensorsFileSize(
      {f32("a", {1ull << 61}), f32("b", {1ull << 61})}, {}, error));
  EXPECT_NE(error.find("too large"), std::string::npos);
}

TEST(SafetensorsTest, DTypes) {
  EXPECT_EQ(tensorDTypeSize(TensorDType::BF16), 2u);
  EXPECT_EQ(tensorDTypeSize(TensorDType::I64), 8u);
  EXPECT_STREQ(safetensorsDTypeName(TensorDType::Bool), "BOOL");
  EXPECT_EQ(parseSafetensorsDType("F16"), TensorDType::F16);
  EXPECT_FALSE(parseSafetensorsDType("F8"));
}

// torch-reference.txt: lenet safetensors_file_bytes 247568.
TEST(SafetensorsTest, LeNetMatchesTorchReference) {
  std::vector<TensorEntry> entries = {
      f32("conv1.weight", {6, 1, 5, 5}),  f32("conv1.bias", {6}),
      f32("conv2.weight", {16, 6, 5, 5}), f32("conv2.bias", {16}),
      f32("fc1.weight", {120, 400}),      f32("fc1.bias", {120}),
      f32("fc2.weight", {84, 120}),       f32("fc2.bias", {84}),
      f32("fc3.weight", {10, 84}),        f32("fc3.bias", {10})};
  std::string error;
  EXPECT_EQ(safetensorsFileSize(entries, {}, error), 247568u) << error;

  // nnc's weights checkpoints: the training-progress metadata is laid out at
  // its widest, so every epoch and step give the file size the report
  // predicts (247568 + 72).
  auto sizeWith = [&](int64_t epoch, int64_t step) -> uint64_t {
    auto layout = layoutSafetensors(entries, trainingProgress(epoch, step), error,
                                    trainingProgressReserve());
    EXPECT_TRUE(layout) << error;
    if (!layout)
      return 0;
    // The header is the JSON object followed by spaces only.
    size_t close = layout->header.rfind('}');
    EXPECT_EQ(layout->header.find_first_not_of(' ', close + 1), std::string::npos);
    EXPECT_EQ(layout->header.size() % 8, 0u);
    return layout->fileSize();
  };
  EXPECT_EQ(safetensorsFileSize(entries, trainingProgressReserve(), error), 247640u);
  EXPECT_EQ(sizeWith(1, 4), 247640u);
  EXPECT_EQ(sizeWith(5, 4690), 247640u);
  EXPECT_EQ(sizeWith(INT64_MAX, INT64_MAX), 247640u);
}

/// Appends a bias-free conv and its batchnorm as PyTorch names them.
void addConvBn(std::vector<TensorEntry> &entries, const std::string &prefix,
               const std::string &conv, const std::string &bn, uint64_t out,
               uint64_t in, uint64_t k) {
  entries.push_back(f32(prefix + conv + ".weight", {out, in, k, k}));
  for (const char *name : {".weight", ".bias", ".running_mean", ".running_var"})
    entries.push_back(f32(prefix + bn + name, {out}));
  entries.push_back(
      {prefix + bn + ".num_batches_tracked", TensorDType::I64, {}});
}

/// The state_dict of examples/resnet.nn in PyTorch's order.
std::vector<TensorEntry> resnetEntries(uint64_t depth, uint64_t width) {
  std::vector<TensorEntry> e;
  addConvBn(e, "", "conv1", "bn1", width, 3, 3);
  int basic = 0, down = 0;
  auto addBasic = [&](uint64_t c) {
    std::string p = "basic" + std::to_string(++basic) + ".";
    addConvBn(e, p, "conv1", "bn1", c, c, 3);
    addConvBn(e, p, "conv2", "bn2", c, c, 3);
  };
  auto addDown = [&](uint64_t in, uint64_t c) {
    std::string p = "down" + std::to_string(++down) + ".";
    addConvBn(e, p, "conv1", "bn1", c, in, 3);
    addConvBn(e, p, "conv2", "bn2", c, c, 3);
    addConvBn(e, p, "conv3", "bn3", c, in, 1);
  };
  for (uint64_t i = 0; i < depth; ++i)
    addBasic(width);
  addDown(width, 2 * width);
  for (uint64_t i = 0; i + 1 < depth; ++i)
    addBasic(2 * width);
  addDown(2 * width, 4 * width);
  for (uint64_t i = 0; i + 1 < depth; ++i)
    addBasic(4 * width);
  e.push_back(f32("fc1.weight", {10, 4 * width}));
  e.push_back(f32("fc1.bias", {10}));
  return e;
}

// torch-reference.txt: resnet safetensors_file_bytes 713232 (defaults) and
// 4361912 (-D depth=3 -D width=32), with int64 num_batches_tracked.
TEST(SafetensorsTest, ResNetMatchesTorchReference) {
  std::string error;
  std::vector<TensorEntry> small = resnetEntries(2, 16);
  EXPECT_EQ(small.size(), 92u); // 47 parameters + 45 buffers.
  EXPECT_EQ(safetensorsFileSize(small, {}, error), 713232u) << error;
  EXPECT_EQ(safetensorsFileSize(resnetEntries(3, 32), {}, error), 4361912u)
      << error;
}

} // namespace
