//===- ShapeRulesTest.cpp - Tests of dialect/ShapeRules.h -----------------===//
//
// Part of nnc. The shape arithmetic shared by the nn ops and Sema: results,
// user-facing messages, and overflow safety.
//
//===----------------------------------------------------------------------===//

#include "dialect/ShapeRules.h"

#include "gtest/gtest.h"

#include <limits>

using namespace nnc::shape;

namespace {

constexpr int64_t N = kDynamic;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

/// Expects `result` to be `expected`.
template <typename T>
void expectShape(const llvm::FailureOr<Shape> &result, const T &expected,
                 const std::string &err) {
  ASSERT_TRUE(llvm::succeeded(result)) << err;
  EXPECT_EQ(*result, Shape(expected)) << formatShape(*result);
}

/// Expects `result` to have failed with a message containing `needle`.
void expectError(const llvm::FailureOr<Shape> &result, const std::string &err,
                 llvm::StringRef needle) {
  ASSERT_TRUE(llvm::failed(result)) << formatShape(*result);
  EXPECT_NE(err.find(needle.str()), std::string::npos) << err;
}

Conv2dParams conv(int64_t out, int64_t k, int64_t s = 1, int64_t p = 0,
                  int64_t d = 1, int64_t g = 1) {
  Conv2dParams params;
  params.outChannels = out;
  params.kernel = {k, k};
  params.stride = {s, s};
  params.padding = {p, p};
  params.dilation = {d, d};
  params.groups = g;
  return params;
}

TEST(ShapeRulesUtil, FormatShape) {
  EXPECT_EQ(formatShape({N, 6, 28, 28}), "[N, 6, 28, 28]");
  EXPECT_EQ(formatShape({}), "[]");
}

TEST(ShapeRulesUtil, CheckedNumElements) {
  EXPECT_EQ(checkedNumElements({N, 6, 28, 28}), 6 * 28 * 28);
  EXPECT_EQ(checkedNumElements({}), 1);
  EXPECT_EQ(checkedNumElements({kMax, 2}), std::nullopt);
  EXPECT_EQ(checkedNumElements({int64_t(1) << 31, int64_t(1) << 31}),
            int64_t(1) << 62);
  EXPECT_EQ(checkedNumElements({int64_t(1) << 32, int64_t(1) << 31}),
            std::nullopt);
  EXPECT_EQ(checkedNumElements({-3, 2}), std::nullopt);
}

TEST(ShapeRulesUtil, NormalizeDim) {
  std::string err;
  EXPECT_EQ(*normalizeDim(-1, 4, err), 3);
  EXPECT_EQ(*normalizeDim(0, 4, err), 0);
  EXPECT_TRUE(llvm::failed(normalizeDim(4, 4, err)));
  EXPECT_NE(err.find("out of range for a 4-d tensor"), std::string::npos);
  EXPECT_TRUE(llvm::failed(normalizeDim(-5, 4, err)));
}

TEST(ShapeRulesUtil, CheckShape) {
  std::string err;
  EXPECT_TRUE(llvm::succeeded(checkShape({N, 3}, err)));
  EXPECT_TRUE(llvm::failed(checkShape({3, N}, err)));
  EXPECT_NE(err.find("only the batch dimension may be dynamic"),
            std::string::npos);
  EXPECT_TRUE(llvm::failed(checkShape({N, 0}, err)));
  EXPECT_TRUE(llvm::failed(checkShape({}, err)));
  EXPECT_TRUE(llvm::failed(checkShape({N, kMax, 2}, err)));
  EXPECT_NE(err.find("overflows"), std::string::npos);
}

TEST(ShapeRulesConv2d, LeNet) {
  std::string err;
  expectShape(inferConv2d({N, 1, 28, 28}, conv(6, 5, 1, 2), err),
              Shape{N, 6, 28, 28}, err);
  expectShape(inferConv2d({N, 6, 14, 14}, conv(16, 5), err),
              Shape{N, 16, 10, 10}, err);
  // Stride 2 floors, dilation widens the kernel: (32 + 2 - 2*2 - 1)/2 + 1.
  expectShape(inferConv2d({4, 3, 32, 32}, conv(8, 3, 2, 1, 2), err),
              Shape{4, 8, 15, 15}, err);
}

TEST(ShapeRulesConv2d, RectangularAndWeightShape) {
  std::string err;
  Conv2dParams p = conv(8, 1);
  p.kernel = {3, 5};
  p.padding = {1, 2};
  p.groups = 2;
  expectShape(inferConv2d({N, 4, 10, 20}, p, err), Shape{N, 8, 10, 20}, err);
  EXPECT_EQ(conv2dWeightShape(4, p), Shape({8, 2, 3, 5}));
}

TEST(ShapeRulesConv2d, Errors) {
  std::string err;
  expectError(inferConv2d({N, 784}, conv(6, 5), err), err,
              "expects a 4-d input [N, C, H, W], got [N, 784]");
  expectError(inferConv2d({N, 1, 4, 4}, conv(6, 5), err), err,
              "kernel 5x5 (dilated 5x5) is larger than the padded input 4x4");
  expectError(inferConv2d({N, 1, 8, 8}, conv(6, 3, 1, 0, 4), err), err,
              "kernel 3x3 (dilated 9x9) is larger than the padded input 8x8");
  expectError(inferConv2d({N, 3, 8, 8}, conv(6, 3, 1, 0, 1, 2), err), err,
              "input channels 3 are not divisible by groups 2");
  expectError(inferConv2d({N, 4, 8, 8}, conv(6, 3, 1, 0, 1, 4), err), err,
              "output channels 6 are not divisible by groups 4");
  expectError(inferConv2d({N, 4, 8, 8}, conv(0, 3), err), err,
              "output channels must be positive");
  expectError(inferConv2d({N, 4, 8, 8}, conv(6, 3, 0), err), err,
              "stride must be positive, got 0x0");
  expectError(inferConv2d({N, 4, 8, 8}, conv(6, 3, 1, -1), err), err,
              "padding must be non-negative");
  expectError(inferConv2d({N, 4, 8, 8}, conv(6, 0), err), err,
              "kernel must be positive");
  expectError(inferConv2d({N, 4, 8, 8}, conv(6, 3, 1, 0, 1, 0), err), err,
              "groups must be positive");
  Conv2dParams p = conv(6, 3);
  p.inChannels = 3;
  expectError(inferConv2d({N, 4, 8, 8}, p, err), err,
              "expects 3 input channels, got 4");
}

TEST(ShapeRulesConv2d, HugeSizesAreErrorsNotUB) {
  std::string err;
  expectError(inferConv2d({N, 1, 8, 8}, conv(6, kMax), err), err,
              "is larger than the padded input 8x8");
  expectError(inferConv2d({N, 1, 8, 8}, conv(6, kMax, 1, 0, 2), err), err,
              "dilated kernel size overflows");
  expectError(inferConv2d({N, 1, 8, 8}, conv(6, 3, 1, kMax), err), err,
              "padding 9223372036854775807x9223372036854775807 is too large");
  expectError(inferConv2d({N, 1, 8, 8}, conv(6, 3, 1, 0, kMax / 2 + 1), err),
              err, "dilated kernel size overflows");
  expectError(inferConv2d({N, 1, 8, 8}, conv(kMax, 1), err), err,
              "too many elements");
  expectError(inferConv2d({N, kMax, 8, 8}, conv(4, 1), err), err,
              "too many elements");
  expectError(inferConv2d({N, 1 << 30, 8, 8}, conv(1 << 30, 8), err), err,
              "weight [1073741824, 1073741824, 8, 8] has too many elements");
}

TEST(ShapeRulesConv2d, SamePadding) {
  std::string err;
  auto pad = samePadding({5, 3}, {1, 1}, {1, 2}, err);
  ASSERT_TRUE(llvm::succeeded(pad)) << err;
  EXPECT_EQ((*pad)[0], 2);
  EXPECT_EQ((*pad)[1], 2);
  EXPECT_TRUE(llvm::failed(samePadding({4, 4}, {1, 1}, {1, 1}, err)));
  EXPECT_NE(err.find("odd effective kernel"), std::string::npos);
  EXPECT_TRUE(llvm::failed(samePadding({3, 3}, {2, 2}, {1, 1}, err)));
  EXPECT_NE(err.find("requires stride 1"), std::string::npos);
}

TEST(ShapeRulesPool, Pool2d) {
  std::string err;
  expectShape(inferPool2d({N, 6, 28, 28}, {{2, 2}, {2, 2}, {0, 0}}, err),
              Shape{N, 6, 14, 14}, err);
  // Floor mode: (7 + 2 - 3) / 2 + 1 = 4.
  expectShape(inferPool2d({N, 6, 7, 7}, {{3, 3}, {2, 2}, {1, 1}}, err),
              Shape{N, 6, 4, 4}, err);
  expectError(inferPool2d({N, 6, 7, 7}, {{3, 3}, {1, 1}, {2, 2}}, err), err,
              "padding 2x2 must be at most half the kernel 3x3");
  expectError(inferPool2d({N, 6, 2, 2}, {{3, 3}, {1, 1}, {0, 0}}, err), err,
              "kernel 3x3 is larger than the padded input 2x2");
  expectError(inferPool2d({N, 6}, {{2, 2}, {2, 2}, {0, 0}}, err), err,
              "expects a 4-d input [N, C, H, W], got [N, 6]");
  expectError(inferPool2d({N, 6, 8, 8},
                          {{kMax, kMax}, {1, 1}, {kMax / 2, kMax / 2}}, err),
              err, "is too large");
}

TEST(ShapeRulesPool, GlobalAvgPool) {
  std::string err;
  expectShape(inferGlobalAvgPool({N, 64, 7, 7}, err), Shape{N, 64}, err);
  expectError(inferGlobalAvgPool({N, 64}, err), err, "expects a 4-d input");
}

TEST(ShapeRulesDense, Linear) {
  std::string err;
  expectShape(inferLinear({N, 400}, std::nullopt, 120, err), Shape{N, 120},
              err);
  expectShape(inferLinear({N, 5, 16}, 16, 8, err), Shape{N, 5, 8}, err);
  expectError(inferLinear({N, 400}, 300, 120, err), err,
              "expects 300 input features, got 400");
  expectError(inferLinear({N}, std::nullopt, 10, err), err,
              "expects an input of rank >= 2");
  expectError(inferLinear({N, 4}, std::nullopt, 0, err), err,
              "output features must be positive");
  expectError(inferLinear({N, 1 << 20, 4}, std::nullopt, kMax / 4, err), err,
              "too many elements");
}

TEST(ShapeRulesDense, Embedding) {
  std::string err;
  expectShape(inferEmbedding({N, 12}, 1000, 64, err), Shape{N, 12, 64}, err);
  expectError(inferEmbedding({N, 12}, 0, 64, err), err, "must be positive");
  expectError(inferEmbedding({N, 12}, kMax, 64, err), err, "overflows int64");
}

TEST(ShapeRulesDense, BatchNorm) {
  std::string err;
  expectShape(inferBatchNorm({N, 16, 8, 8}, err), Shape{N, 16, 8, 8}, err);
  expectShape(inferBatchNorm({N, 16}, err), Shape{N, 16}, err);
  expectError(inferBatchNorm({N}, err), err, "rank 2 to 4");
  expectError(inferBatchNorm({N, 1, 2, 3, 4}, err), err, "rank 2 to 4");
  expectError(inferBatchNorm({N, 16}, err, 4, 4), err,
              "expects a 4-d input, got [N, 16]");
}

TEST(ShapeRulesManip, Flatten) {
  std::string err;
  expectShape(inferFlatten({N, 16, 5, 5}, err), Shape{N, 400}, err);
  expectError(inferFlatten({N}, err), err, "rank >= 2");
}

TEST(ShapeRulesManip, Reshape) {
  std::string err;
  expectShape(inferReshape({N, 16, 5, 5}, {-1, 25}, err), Shape{N, 16, 25},
              err);
  expectShape(inferReshape({N, 400}, {16, 5, 5}, err), Shape{N, 16, 5, 5}, err);
  expectError(inferReshape({N, 400}, {-1, -1}, err), err, "more than one -1");
  expectError(inferReshape({N, 400}, {3, -1}, err), err, "not divisible by 3");
  expectError(inferReshape({N, 400}, {20, 30}, err), err,
              "cannot reshape [N, 400] to [N, 20, 30]");
  expectError(inferReshape({N, 400}, {0, 4}, err), err, "non-positive");
  expectError(inferReshape({N, 400}, {kMax, 4}, err), err, "overflows");
}

TEST(ShapeRulesManip, Concat) {
  std::string err;
  expectShape(inferConcat({Shape{N, 3, 4}, Shape{N, 5, 4}}, 1, err),
              Shape{N, 8, 4}, err);
  expectShape(
      inferConcat({Shape{N, 3, 4}, Shape{N, 3, 2}, Shape{N, 3, 1}}, -1, err),
      Shape{N, 3, 7}, err);
  expectShape(inferConcat({Shape{2, 3}, Shape{N, 3}}, 0, err), Shape{N, 3},
              err);
  expectError(inferConcat({Shape{N, 3, 4}, Shape{N, 5, 2}}, 1, err), err,
              "expects equal shapes except along dimension 1, got [N, 3, 4] "
              "and [N, 5, 2]");
  expectError(inferConcat({Shape{N, 3}}, 1, err), err, "at least 2 inputs");
  expectError(inferConcat({Shape{N, 3}, Shape{N, 3}}, 2, err), err,
              "out of range");
  expectError(inferConcat({Shape{N, kMax}, Shape{N, 1}}, 1, err), err,
              "overflows");
}

TEST(ShapeRulesManip, SameShape) {
  std::string err;
  expectShape(inferSameShape({N, 4}, {8, 4}, err), Shape{8, 4}, err);
  expectShape(inferSameShape({N, 4}, {N, 4}, err), Shape{N, 4}, err);
  expectError(inferSameShape({N, 4}, {N, 5}, err), err,
              "expects equal shapes, got [N, 4] and [N, 5]");
  expectError(inferSameShape({N, 4}, {N, 4, 1}, err), err, "equal shapes");
}

TEST(ShapeRulesRecurrent, Shapes) {
  std::string err;
  RecurrentParams p;
  p.kind = RecurrentKind::LSTM;
  p.hiddenSize = 128;
  expectShape(inferRecurrent({N, 28, 28}, p, err), Shape{N, 128}, err);
  p.bidirectional = true;
  p.returnSequences = true;
  expectShape(inferRecurrent({N, 28, 28}, p, err), Shape{N, 28, 256}, err);
  expectError(inferRecurrent({N, 28}, p, err), err,
              "expects a 3-d input [N, T, F], got [N, 28]");
  p.hiddenSize = 0;
  expectError(inferRecurrent({N, 28, 28}, p, err), err,
              "hidden size must be positive");
  p.hiddenSize = kMax / 2;
  expectError(inferRecurrent({N, 28, 28}, p, err), err, "overflow");
  p.hiddenSize = 4;
  p.numLayers = 0;
  expectError(inferRecurrent({N, 28, 28}, p, err), err,
              "number of layers must be in [1, 10000], got 0");
  p.numLayers = kMax;
  expectError(inferRecurrent({N, 28, 28}, p, err), err,
              "number of layers must be in [1, 10000]");
}

TEST(ShapeRulesRecurrent, ParamShapesMatchPyTorch) {
  // torch.nn.LSTM(10, 20, num_layers=2, bidirectional=True).state_dict().
  auto params =
      recurrentParamShapes(RecurrentKind::LSTM, 10, 20, 2, true, true);
  std::vector<std::pair<std::string, Shape>> expected = {
      {"weight_ih_l0", {80, 10}},
      {"weight_hh_l0", {80, 20}},
      {"bias_ih_l0", {80}},
      {"bias_hh_l0", {80}},
      {"weight_ih_l0_reverse", {80, 10}},
      {"weight_hh_l0_reverse", {80, 20}},
      {"bias_ih_l0_reverse", {80}},
      {"bias_hh_l0_reverse", {80}},
      {"weight_ih_l1", {80, 40}},
      {"weight_hh_l1", {80, 20}},
      {"bias_ih_l1", {80}},
      {"bias_hh_l1", {80}},
      {"weight_ih_l1_reverse", {80, 40}},
      {"weight_hh_l1_reverse", {80, 20}},
      {"bias_ih_l1_reverse", {80}},
      {"bias_hh_l1_reverse", {80}},
  };
  ASSERT_EQ(params.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(params[i].first, expected[i].first);
    EXPECT_EQ(params[i].second, expected[i].second) << params[i].first;
  }
}

TEST(ShapeRulesRecurrent, GateCountsAndNoBias) {
  EXPECT_EQ(recurrentGateCount(RecurrentKind::RNN), 1);
  EXPECT_EQ(recurrentGateCount(RecurrentKind::LSTM), 4);
  EXPECT_EQ(recurrentGateCount(RecurrentKind::GRU), 3);
  auto gru = recurrentParamShapes(RecurrentKind::GRU, 8, 16, 1, false, false);
  ASSERT_EQ(gru.size(), 2u);
  EXPECT_EQ(gru[0].first, "weight_ih_l0");
  EXPECT_EQ(gru[0].second, Shape({48, 8}));
  EXPECT_EQ(gru[1].first, "weight_hh_l0");
  EXPECT_EQ(gru[1].second, Shape({48, 16}));
}

TEST(ShapeRulesNorm, LayerNorm) {
  std::string err;
  expectShape(inferLayerNorm({N, 6, 8}, err), Shape({N, 6, 8}), err);
  expectShape(inferLayerNorm({N, 72}, err), Shape({N, 72}), err);
  expectError(inferLayerNorm({N}, err), err,
              "expects an input of rank >= 2 [N, ..., features], got [N]");
}

TEST(ShapeRulesEmbedding, PosEmbedding) {
  std::string err;
  expectShape(inferPosEmbedding({N, 6, 8}, 6, 8, err), Shape({N, 6, 8}), err);
  expectShape(inferPosEmbedding({N, 6, 8}, 10, 8, err), Shape({N, 6, 8}), err);
  expectError(inferPosEmbedding({N, 12, 8}, 10, 8, err), err,
              "has 10 positions, fewer than the input's sequence length 12 ([N, 12, 8])");
  expectError(inferPosEmbedding({N, 6, 8}, 10, 4, err), err,
              "has a table of 4 features per position, but its input has 8 ([N, 6, 8])");
  expectError(inferPosEmbedding({N, 8}, 10, 8, err), err,
              "expects an input [N, T, features] (rank 3), got [N, 8]");
  expectError(inferPosEmbedding({N, 6, 8}, 0, 8, err), err,
              "needs a positive number of positions, got 0");
}

TEST(ShapeRulesLoss, CrossEntropyAndMse) {
  std::string err;
  expectShape(inferCrossEntropy({N, 10}, {N}, err), Shape{}, err);
  expectShape(inferCrossEntropy({8, 10}, {N}, err), Shape{}, err);
  expectError(inferCrossEntropy({8, 10}, {4}, err), err,
              "expects as many labels as logits rows");
  // Sequence logits [N, T, C] take labels [N, T].
  expectShape(inferCrossEntropy({N, 6, 10}, {N, 6}, err), Shape{}, err);
  expectShape(inferCrossEntropy({4, 6, 10}, {N, 6}, err), Shape{}, err);
  expectError(inferCrossEntropy({N, 10, 2}, {N}, err), err,
              "expects a 2-d labels tensor [N, T], got [N]");
  expectError(inferCrossEntropy({4, 6, 10}, {4, 5}, err), err,
              "expects as many labels as logits rows, got logits [4, 6, 10] and labels [4, 5]");
  expectError(inferCrossEntropy({N, 6, 10}, {N, 6}, err, /*allowSequence=*/false), err,
              "expects a 2-d logits tensor [N, C], got [N, 6, 10]");
  expectError(inferCrossEntropy({N, 2, 6, 10}, {N, 2, 6}, err), err,
              "expects a 3-d logits tensor [N, T, C], got [N, 2, 6, 10]");
  expectError(inferCrossEntropy({N, 10}, {N, 1}, err), err,
              "expects a 1-d labels tensor [N]");
  expectShape(inferMse({N, 3}, {N, 3}, err), Shape{}, err);
  expectError(inferMse({N, 3}, {N, 4}, err), err, "equal shapes");
}

} // namespace
