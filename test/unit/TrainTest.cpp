//===- TrainTest.cpp - Tests of the training loop's batch-region checks ---===//
//
// Part of nnc. The batcher writes f32 samples or i64/i32 token ids and labels
// through typed pointers into the model's arena; checkBatchRegions refuses
// every region whose element type or size does not match what the data set
// provides (an f16 input once received f32 samples and corrupted the heap).
//
//===----------------------------------------------------------------------===//

#include "runtime/Train.h"

#include <gtest/gtest.h>

#include <set>

using namespace nnc::rt;

namespace {

Region region(const std::string &name, const std::string &dtype,
              std::vector<int64_t> shape) {
  Region r;
  r.name = name;
  r.kind = "input";
  r.dtype = dtype;
  r.shape = std::move(shape);
  return r;
}

::testing::AssertionResult failsWith(const Status &s, const std::string &needle) {
  if (s.ok())
    return ::testing::AssertionFailure()
           << "expected an error containing '" << needle << "', got success";
  if (s.message().find(needle) == std::string::npos)
    return ::testing::AssertionFailure() << "error '" << s.message()
                                         << "' lacks '" << needle << "'";
  return ::testing::AssertionSuccess();
}

Dataset synthetic() {
  Result<Dataset> d = makeSynthetic(SampleSpec{{3, 8, 8}, 10}, 16, /*seed=*/1);
  EXPECT_TRUE(d.ok()) << d.message();
  return std::move(*d);
}

TEST(CheckBatchRegions, AcceptsMatchingRegions) {
  Dataset data = synthetic();
  Region input = region("train_step.x", "f32", {4, 3, 8, 8});
  Region labels = region("train_step.labels", "i64", {4});
  EXPECT_TRUE(checkBatchRegions(data, input, &labels).ok());
  EXPECT_TRUE(checkBatchRegions(data, input, nullptr).ok());
}

TEST(CheckBatchRegions, RefusesReducedPrecisionInputs) {
  Dataset data = synthetic();
  Region labels = region("train_step.labels", "i64", {4});
  for (const char *dtype : {"f16", "bf16", "i32", "i64"}) {
    Region input = region("train_step.x", dtype, {4, 3, 8, 8});
    EXPECT_TRUE(failsWith(checkBatchRegions(data, input, &labels),
                          "'train_step.x' has type " + std::string(dtype) +
                              ", but synthetic(seed=1) provides f32 samples"));
  }
}

TEST(CheckBatchRegions, RefusesWrongSizesAndLabelTypes) {
  Dataset data = synthetic();
  Region small = region("forward.x", "f32", {4, 3, 8, 4});
  EXPECT_TRUE(failsWith(checkBatchRegions(data, small, nullptr),
                        "'forward.x' holds 384 values per batch, but synthetic(seed=1) "
                        "provides 768 samples"));
  Region input = region("train_step.x", "f32", {4, 3, 8, 8});
  Region f32Labels = region("train_step.labels", "f32", {4});
  EXPECT_TRUE(failsWith(checkBatchRegions(data, input, &f32Labels),
                        "has type f32, but synthetic(seed=1) provides i64 class labels"));
  Region i32Labels = region("train_step.labels", "i32", {4});
  EXPECT_TRUE(failsWith(checkBatchRegions(data, input, &i32Labels),
                        "has type i32, but synthetic(seed=1) provides i64 class labels"));
  Region odd = region("train_step.labels", "i64", {3});
  EXPECT_TRUE(failsWith(checkBatchRegions(data, input, &odd),
                        "holds 3 values per batch, but synthetic(seed=1) provides 4"));
  // Labels [N, T] of a sequence model need T labels per sample.
  Region wide = region("train_step.labels", "i64", {4, 2});
  EXPECT_TRUE(failsWith(checkBatchRegions(data, input, &wide),
                        "'train_step.labels' takes 2 class labels per sample, but "
                        "synthetic(seed=1) has 1"));
  data.labelWidth = 2;
  data.labels.resize(data.labels.size() * 2);
  EXPECT_TRUE(checkBatchRegions(data, input, &wide).ok());
}

TEST(CheckBatchRegions, TokensNeedIntegerInputs) {
  Dataset data;
  data.source = "tokens.txt";
  data.sampleShape = {5};
  data.tokenInputs = true;
  data.count = 1;
  data.tokens.assign(5, 1);
  data.labels = {0};
  Region ids = region("forward.t", "i64", {2, 5});
  EXPECT_TRUE(checkBatchRegions(data, ids, nullptr).ok());
  // i32 ids: the batcher writes them narrowed, if they fit.
  Region narrow = region("forward.t", "i32", {2, 5});
  EXPECT_TRUE(checkBatchRegions(data, narrow, nullptr).ok());
  Region floats = region("forward.t", "f32", {2, 5});
  EXPECT_TRUE(failsWith(checkBatchRegions(data, floats, nullptr),
                        "'forward.t' has type f32, but tokens.txt provides i64 token ids"));
  data.tokens[2] = int64_t(1) << 31;
  EXPECT_TRUE(
      failsWith(checkBatchRegions(data, narrow, nullptr),
                "tokens.txt: token id 2147483648 does not fit the i32 input "
                "'forward.t'"));
}

TEST(DropoutSeed, NewMasksEveryStep) {
  // nnc train passed the run's seed unchanged to every train_step, so every
  // step drew the same dropout masks. Each step of a run must get its own
  // seed, and the same (seed, step) the same one (resume is bit-identical).
  std::set<int64_t> seen;
  for (uint64_t seed : {0ULL, 1ULL, 2ULL})
    for (int64_t step = 1; step <= 1000; ++step)
      EXPECT_TRUE(seen.insert(dropoutSeedForStep(seed, step)).second)
          << "seed " << seed << " step " << step;
  EXPECT_EQ(dropoutSeedForStep(7, 42), dropoutSeedForStep(7, 42));
}

} // namespace
