//===- SemaTest.cpp - Evaluation, naming and shape rules of Sema ----------===//

#include "SemaTestUtil.h"

#include "llvm/Support/MemoryBuffer.h"

#include "gtest/gtest.h"

using namespace nnc;
using namespace nnc::test;

namespace {

TEST(SemaTest, LeNetShapesNamesAndParameters) {
  Analyzed a(kLeNet);
  ASSERT_TRUE(a.graphs) << a.diagText;
  const ModelGraph &g = a.graph();
  std::vector<std::string> names;
  for (const Layer &l : g.layers)
    names.push_back(l.name);
  std::vector<std::string> expected = {"conv1", "relu1", "pool1", "conv2",
                                       "relu2", "pool2", "flatten1", "fc1",
                                       "relu3", "fc2",   "relu4",    "fc3"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(a.shapeOf("conv1"), (Shape{kBatch, 6, 28, 28}));
  EXPECT_EQ(a.shapeOf("pool2"), (Shape{kBatch, 16, 5, 5}));
  EXPECT_EQ(a.shapeOf("flatten1"), (Shape{kBatch, 400}));
  EXPECT_EQ(a.shapeOf("fc3"), (Shape{kBatch, 10}));
  EXPECT_EQ(trainableCount(g), 61706);
  ASSERT_EQ(g.params.size(), 10u);
  EXPECT_EQ(g.params[0].name, "conv1.weight");
  EXPECT_EQ(g.params[0].shape, (Shape{6, 1, 5, 5}));
  EXPECT_DOUBLE_EQ(g.params[0].scale, 1.0 / 5.0); // 1/sqrt(fan_in = 25)
  // The default loss applies to [N, classes] logits.
  ASSERT_TRUE(g.loss.has_value());
  EXPECT_EQ(g.loss->kind, LayerKind::CrossEntropy);
  EXPECT_EQ(g.values[g.labels].shape, (Shape{kBatch}));
}

TEST(SemaTest, HyperparameterOverride) {
  Analyzed a(kLeNet, {"classes=20"});
  ASSERT_TRUE(a.graphs) << a.diagText;
  EXPECT_EQ(a.shapeOf("fc3"), (Shape{kBatch, 20}));
  EXPECT_EQ(trainableCount(a.graph()), 61706 + 10 * 84 + 10);
}

TEST(SemaTest, UnknownOverrideIsAnError) {
  Analyzed a(kLeNet, {"depth=3"});
  EXPECT_FALSE(a.graphs);
  EXPECT_NE(a.diagText.find("<command line>: error: -D depth=3: model 'lenet' has no "
                            "hyperparameter 'depth'; its hyperparameters are: classes"),
            std::string::npos)
      << a.diagText;
}

TEST(SemaTest, BlocksRepeatAndBatchNormBuffers) {
  Analyzed a(R"(
block basic(channels) {
  input x
  y = conv2d(x, channels, 3, padding=1, bias=false) |> batchnorm2d |> relu
  output add(x, y)
}
model m(depth = 3) {
  input image: f32[N, 8, 16, 16]
  x = image
  repeat i in depth { x = basic(x, 8) }
  output y = global_avgpool(x)
}
)");
  ASSERT_TRUE(a.graphs) << a.diagText;
  const ModelGraph &g = a.graph();
  EXPECT_EQ(a.shapeOf("basic3.add1"), (Shape{kBatch, 8, 16, 16}));
  EXPECT_EQ(a.shapeOf("pool1"), (Shape{kBatch, 8}));
  // Per block: conv 8*8*3*3 = 576, bn weight+bias 16; buffers: mean, var, count.
  EXPECT_EQ(trainableCount(g), 3 * (576 + 16));
  int buffers = 0;
  for (const ParamInfo &p : g.params)
    buffers += p.buffer;
  EXPECT_EQ(buffers, 3 * 3);
  EXPECT_EQ(g.params[1].name, "basic1.bn1.weight");
  EXPECT_EQ(g.params[5].name, "basic1.bn1.num_batches_tracked");
  EXPECT_EQ(g.params[5].dtype, DType::I64);
  EXPECT_TRUE(g.params[5].shape.empty());
  // The output is [N, 8], not logits of a classifier: cross_entropy still
  // applies by shape, so a loss exists.
  EXPECT_TRUE(g.loss.has_value());
}

TEST(SemaTest, RecurrentParametersMatchPyTorch) {
  Analyzed a(R"(
model m {
  input tokens: i64[N, 12]
  x = embedding(tokens, num=100, dim=16)
  h = lstm(x, 32, layers=2, bidirectional=true)
  output logits = linear(h, 4)
}
)");
  ASSERT_TRUE(a.graphs) << a.diagText;
  EXPECT_EQ(a.shapeOf("embed1"), (Shape{kBatch, 12, 16}));
  EXPECT_EQ(a.shapeOf("lstm1"), (Shape{kBatch, 64}));
  // torch.nn.LSTM(16, 32, num_layers=2, bidirectional=True):
  // layer 0: 2 * (128*16 + 128*32 + 256) = 12800; layer 1: 2 * (128*64 +
  // 128*32 + 256) = 25088; embedding 1600; linear 64*4+4 = 260.
  EXPECT_EQ(trainableCount(a.graph()), 12800 + 25088 + 1600 + 260);
  EXPECT_EQ(a.graph().params[1].name, "lstm1.weight_ih_l0");
  EXPECT_EQ(a.graph().params[5].name, "lstm1.weight_ih_l0_reverse");
}

TEST(SemaTest, ExplicitNamesAndDuplicates) {
  Analyzed ok(R"(
model m {
  input x: f32[N, 4]
  y = linear(x, 3) as head
  output y
}
)");
  ASSERT_TRUE(ok.graphs) << ok.diagText;
  EXPECT_EQ(ok.graph().params[0].name, "head.weight");

  Analyzed dup(R"(
model m {
  input x: f32[N, 4]
  y = linear(x, 3) as fc1
  y = linear(y, 3)
  output y
}
)");
  EXPECT_FALSE(dup.graphs);
  EXPECT_NE(dup.diagText.find("t.nn:5:7: error: duplicate layer name 'fc1'"),
            std::string::npos)
      << dup.diagText;
  EXPECT_NE(dup.diagText.find("t.nn:4:23: note: 'fc1' was first used here"),
            std::string::npos)
      << dup.diagText;
}

TEST(SemaTest, InFeaturesMismatchNamesBothNumbers) {
  Analyzed a(R"(
model m {
  input image: f32[N, 64, 112, 112]
  x = flatten(image)
  fc1 = linear(x, in=64*56*56, out=128)
  output fc1
}
)");
  EXPECT_FALSE(a.graphs);
  EXPECT_NE(a.diagText.find("t.nn:5:9: error: linear 'fc1' declares in_features=200704 "
                            "but its input has 802816 features ([N, 64, 112, 112] "
                            "flattened)"),
            std::string::npos)
      << a.diagText;
}

TEST(SemaTest, ArithmeticIsExact) {
  Analyzed a(R"(
model m(width = 64) {
  input x: f32[N, 4]
  output y = linear(x, width / 3)
}
)");
  EXPECT_FALSE(a.graphs);
  EXPECT_NE(a.diagText.find("integer division 64 / 3 is not exact"), std::string::npos)
      << a.diagText;

  Analyzed overflow(R"(
model m(width = 4611686018427387904) {
  input x: f32[N, 4]
  output y = linear(x, width * 4)
}
)");
  EXPECT_FALSE(overflow.graphs);
  EXPECT_NE(overflow.diagText.find("integer overflow"), std::string::npos)
      << overflow.diagText;
}

TEST(SemaTest, LimitsStopHostileModels) {
  SemaLimits limits;
  limits.maxLayers = 50;
  Analyzed a(R"(
model m(depth = 1000000000) {
  input x: f32[N, 4]
  repeat depth { x = relu(x) }
  output x
}
)");
  EXPECT_FALSE(a.graphs);
  EXPECT_NE(a.diagText.find("repeat count 1000000000 is outside [0, 10000]"),
            std::string::npos)
      << a.diagText;

  Analyzed nested(R"(
model m {
  input x: f32[N, 4]
  repeat 100 { repeat 100 { x = relu(x) } }
  output x
}
)",
                  {}, limits);
  EXPECT_FALSE(nested.graphs);
  EXPECT_NE(nested.diagText.find("has more than 50 layers"), std::string::npos)
      << nested.diagText;

  Analyzed recursive(R"(
block b(n) {
  input x
  output b(x, n)
}
model m {
  input x: f32[N, 4]
  output b(x, 1)
}
)");
  EXPECT_FALSE(recursive.graphs);
  EXPECT_NE(recursive.diagText.find("block 'b' calls itself"), std::string::npos)
      << recursive.diagText;
}

TEST(SemaTest, HugeDimensionsAreRejected) {
  Analyzed a(R"(
model m {
  input x: f32[N, 4294967296, 4294967296]
  output x
}
)");
  EXPECT_FALSE(a.graphs);
  EXPECT_NE(a.diagText.find("error:"), std::string::npos);
}

} // namespace
