//===- NNCostTest.cpp - Tests of the nn ops' CostOpInterface --------------===//
//
// Part of nnc. FLOP counts, saved values and extra saved bytes of the nn ops,
// checked against hand-computed values of the conventions in NNOps.td.
//
//===----------------------------------------------------------------------===//

#include "dialect/NNOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include "gtest/gtest.h"

using namespace mlir;

namespace {

constexpr const char *kModule = R"mlir(
func.func @f(%x: tensor<2x1x28x28xf32>, %w: tensor<6x1x5x5xf32>,
             %b: tensor<6xf32>, %fx: tensor<2x400xf32>,
             %fw: tensor<120x400xf32>, %fb: tensor<120xf32>,
             %s: tensor<2x7x10xf32>, %ih: tensor<80x10xf32>,
             %hh: tensor<80x20xf32>, %lb: tensor<80xf32>,
             %labels: tensor<2xi64>, %dyn: tensor<?x10xf32>) {
  %conv = nn.conv2d %x, %w, %b {stride = array<i64: 1, 1>, padding = array<i64: 2, 2>, dilation = array<i64: 1, 1>} : (tensor<2x1x28x28xf32>, tensor<6x1x5x5xf32>, tensor<6xf32>) -> tensor<2x6x28x28xf32>
  %pool = nn.maxpool2d %conv {kernel = array<i64: 2, 2>, stride = array<i64: 2, 2>, padding = array<i64: 0, 0>} : tensor<2x6x28x28xf32> -> tensor<2x6x14x14xf32>
  %fc = nn.linear %fx, %fw, %fb : (tensor<2x400xf32>, tensor<120x400xf32>, tensor<120xf32>) -> tensor<2x120xf32>
  %relu = nn.relu %fc : tensor<2x120xf32>
  %lstm = nn.lstm %s, %ih, %hh, %lb, %lb {hidden_size = 20} : (tensor<2x7x10xf32>, tensor<80x10xf32>, tensor<80x20xf32>, tensor<80xf32>, tensor<80xf32>) -> tensor<2x20xf32>
  %logits = nn.flatten %relu : tensor<2x120xf32> -> tensor<2x120xf32>
  %loss = nn.cross_entropy %logits, %labels : tensor<2x120xf32>, tensor<2xi64>
  %dynrelu = nn.relu %dyn : tensor<?x10xf32>
  return
}
)mlir";

class NNCostTest : public ::testing::Test {
protected:
  void SetUp() override {
    context.loadDialect<nn::NNDialect, func::FuncDialect>();
    module = parseSourceString<ModuleOp>(kModule, &context);
    ASSERT_TRUE(module);
    module->walk([&](nn::CostOpInterface op) { ops.push_back(op); });
  }

  /// The i-th op with a cost model, in program order.
  nn::CostOpInterface op(size_t i) { return ops[i]; }

  MLIRContext context;
  OwningOpRef<ModuleOp> module;
  SmallVector<nn::CostOpInterface> ops;
};

TEST_F(NNCostTest, Conv2dWithBias) {
  // 2*N*O*H'*W'*(C/g)*KH*KW + N*O*H'*W' with N*O*H'*W' = 2*6*28*28 = 9408.
  nn::CostOpInterface conv = op(0);
  EXPECT_EQ(conv.getForwardFlops(), 2 * 9408 * 25 + 9408);
  EXPECT_TRUE(conv.hasTrainableWeights());
  EXPECT_EQ(conv.getBackwardFlops(), 2 * (2 * 9408 * 25 + 9408));
  SmallVector<Value> saved = conv.getSavedForBackward();
  ASSERT_EQ(saved.size(), 1u);
  EXPECT_EQ(saved[0], conv->getOperand(0));
  EXPECT_EQ(conv.getExtraSavedBytes(), 0);
}

TEST_F(NNCostTest, MaxPoolCountsWindowPerOutput) {
  nn::CostOpInterface pool = op(1);
  EXPECT_EQ(pool.getForwardFlops(), 2 * 6 * 14 * 14 * 4);
  EXPECT_EQ(pool.getBackwardFlops(), pool.getForwardFlops());
  ASSERT_EQ(pool.getSavedForBackward().size(), 1u);
  EXPECT_EQ(pool.getSavedForBackward()[0], pool->getOperand(0));
}

TEST_F(NNCostTest, LinearAndRelu) {
  nn::CostOpInterface fc = op(2);
  EXPECT_EQ(fc.getForwardFlops(), 2 * 2 * 400 * 120 + 2 * 120);
  nn::CostOpInterface relu = op(3);
  EXPECT_EQ(relu.getForwardFlops(), 240);
  EXPECT_FALSE(relu.hasTrainableWeights());
  EXPECT_EQ(relu.getBackwardFlops(), 240);
  ASSERT_EQ(relu.getSavedForBackward().size(), 1u);
  EXPECT_EQ(relu.getSavedForBackward()[0], relu->getResult(0));
}

TEST_F(NNCostTest, LstmPerStepAndSavedState) {
  nn::CostOpInterface lstm = op(4);
  // Per step: 2*N*G*H*(F+H) + 2*N*G*H + 9*N*H, times T = 7.
  int64_t step = 2 * 2 * 4 * 20 * 30 + 2 * 2 * 4 * 20 + 9 * 2 * 20;
  EXPECT_EQ(lstm.getForwardFlops(), 7 * step);
  EXPECT_EQ(lstm.getBackwardFlops(), 2 * 7 * step);
  // T*layers*dirs*N*6H*4 bytes.
  EXPECT_EQ(lstm.getExtraSavedBytes(), 7 * 1 * 1 * 2 * 6 * 20 * 4);
}

TEST_F(NNCostTest, ShapeOpsAndLoss) {
  EXPECT_EQ(op(5).getForwardFlops(), 0);
  nn::CostOpInterface loss = op(6);
  EXPECT_EQ(loss.getForwardFlops(), 5 * 2 * 120);
  EXPECT_EQ(loss.getSavedForBackward().size(), 2u);
}

TEST_F(NNCostTest, DynamicShapesHaveNoCount) {
  nn::CostOpInterface relu = op(7);
  EXPECT_EQ(relu.getForwardFlops(), std::nullopt);
  EXPECT_EQ(relu.getBackwardFlops(), std::nullopt);
}

} // namespace

TEST(NNCostAttentionTest, ProjectionsProductsAndSavedBytes) {
  // N = 2, T = 6, d = 8, H = 4, K = 2, hd = 2: qkv rows (4 + 2*2) * 2 = 16.
  constexpr const char *kAttention = R"mlir(
func.func @f(%x: tensor<2x6x8xf32>, %w: tensor<16x8xf32>, %b: tensor<16xf32>,
             %wo: tensor<8x8xf32>, %bo: tensor<8xf32>, %q: tensor<2x6x16xf32>,
             %dy: tensor<2x6x8xf32>) {
  %0 = nn.attention %x, %w, %b, %wo, %bo {heads = 4, kv_heads = 2, causal = true} : (tensor<2x6x8xf32>, tensor<16x8xf32>, tensor<16xf32>, tensor<8x8xf32>, tensor<8xf32>) -> tensor<2x6x8xf32>
  %1 = nn.attention_core %q {heads = 4, kv_heads = 2} : (tensor<2x6x16xf32>) -> tensor<2x6x8xf32>
  %2 = nn.attention_core_backward %dy, %q {heads = 4, kv_heads = 2} : (tensor<2x6x8xf32>, tensor<2x6x16xf32>) -> tensor<2x6x16xf32>
  return
}
)mlir";
  MLIRContext context;
  context.loadDialect<nn::NNDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(kAttention, &context);
  ASSERT_TRUE(module);
  SmallVector<nn::CostOpInterface> ops;
  module->walk([&](nn::CostOpInterface op) { ops.push_back(op); });
  ASSERT_EQ(ops.size(), 3u);
  // Projections: 2*N*T*d*(16 + 8) multiply-adds + N*T*(16 + 8) bias adds.
  int64_t projections = 2 * 2 * 6 * 8 * 24 + 2 * 6 * 24;
  // QK^T and AV: 2*N*H*T*T*hd each, the whole square although causal.
  int64_t product = 2 * 2 * 4 * 6 * 6 * 2;
  EXPECT_EQ(ops[0].getForwardFlops(), projections + 2 * product);
  EXPECT_EQ(ops[0].getBackwardFlops(), 2 * projections + 5 * product);
  EXPECT_TRUE(ops[0].hasTrainableWeights());
  // Kept: the input, plus qkv [2, 6, 16] and the core's output [2, 6, 8].
  ASSERT_EQ(ops[0].getSavedForBackward().size(), 1u);
  EXPECT_EQ(ops[0].getSavedForBackward()[0], ops[0]->getOperand(0));
  EXPECT_EQ(ops[0].getExtraSavedBytes(), 2 * 6 * (16 + 8) * 4);
  EXPECT_EQ(ops[1].getForwardFlops(), 2 * product);
  EXPECT_EQ(ops[2].getForwardFlops(), 5 * product);
}
