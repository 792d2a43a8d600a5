//===- PruneChannelsTest.cpp - Structured pruning plans (PruneChannels.h) -===//
//
// Plans for LeNet and a small ResNet: the groups, the exact parameter counts,
// the channels chosen by L1 norm, and the emitted model file, which Sema
// must accept with exactly the planned parameter shapes. That the pruned
// model computes what the original does with the removed channels zeroed is
// checked end to end in test/tools/nnc/prune-structured.test.
//
//===----------------------------------------------------------------------===//

#include "SemaTestUtil.h"

#include "frontend/PruneChannels.h"

#include <map>

using namespace nnc;
using namespace nnc::test;

namespace {

const char *kResNet = R"(
block basic(channels) {
  input x
  y = conv2d(x, channels, 3, padding=1, bias=false) |> batchnorm2d |> relu
  y = conv2d(y, channels, 3, padding=1, bias=false) |> batchnorm2d
  output add(x, y) |> relu
}
block down(channels) {
  input x
  y = conv2d(x, channels, 3, stride=2, padding=1, bias=false) |> batchnorm2d |> relu
  y = conv2d(y, channels, 3, padding=1, bias=false) |> batchnorm2d
  shortcut = conv2d(x, channels, 1, stride=2, bias=false) |> batchnorm2d
  output add(shortcut, y) |> relu
}
model resnet(depth = 2, width = 8, classes = 10) {
  input image: f32[N, 1, 12, 12]
  x = conv2d(image, width, 3, padding=1, bias=false) |> batchnorm2d |> relu
  repeat depth { x = basic(x, width) }
  x = down(x, 2 * width)
  repeat depth - 1 { x = basic(x, 2 * width) }
  x = down(x, 4 * width)
  repeat depth - 1 { x = basic(x, 4 * width) }
  output logits = global_avgpool(x) |> linear(classes)
  train { optimizer = momentum; lr = 0.1; batch = 32 }
}
)";

int64_t prunedTrainableCount(const ModelGraph &g, const ChannelPrunePlan &plan) {
  int64_t n = 0;
  for (size_t i = 0; i < plan.params.size(); ++i)
    if (!g.params[i].buffer)
      n += numel(plan.params[i].newShape);
  return n;
}

/// Deterministic weights: parameter `p`'s element `i` is `f(p, i)`.
struct Weights {
  std::map<std::string, std::vector<float>> data;
  explicit Weights(const ModelGraph &g) {
    uint32_t s = 1;
    for (const ParamInfo &p : g.params) {
      std::vector<float> &v = data[p.name];
      v.resize(numel(p.shape));
      for (float &x : v) {
        s = s * 1664525u + 1013904223u;
        x = float(int(s >> 16) % 2001 - 1000) / 1000.0f;
      }
    }
  }
  const float *operator()(const ParamInfo &p) { return data[p.name].data(); }
};

/// Sema's parameters of the emitted model equal the plan's new names and
/// shapes, in order.
void expectModelTextMatches(const ChannelPrunePlan &plan) {
  Analyzed pruned(plan.modelText);
  ASSERT_TRUE(pruned.graphs) << pruned.diagText << "\n" << plan.modelText;
  const ModelGraph &g = pruned.graph();
  ASSERT_EQ(g.params.size(), plan.params.size());
  for (size_t i = 0; i < g.params.size(); ++i) {
    EXPECT_EQ(g.params[i].name, plan.params[i].newName);
    EXPECT_EQ(g.params[i].shape, plan.params[i].newShape) << g.params[i].name;
  }
}

TEST(PruneChannels, LeNetHalf) {
  Analyzed lenet(kLeNet);
  ASSERT_TRUE(lenet.graphs) << lenet.diagText;
  Weights w(lenet.graph());
  auto plan = planChannelPruning(lenet.graph(), 0.5, w);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  ASSERT_EQ(plan->groups.size(), 4u); // conv1, conv2, fc1, fc2; never fc3
  EXPECT_EQ(plan->groups[0].layers, std::vector<std::string>{"conv1"});
  EXPECT_EQ(plan->groups[0].kept, 3);
  EXPECT_EQ(plan->groups[1].kept, 8);
  EXPECT_EQ(plan->groups[2].kept, 60);
  EXPECT_EQ(plan->groups[3].kept, 42);
  // conv1 [3,1,5,5]+3, conv2 [8,3,5,5]+8, fc1 [60,8*25]+60, fc2 [42,60]+42,
  // fc3 [10,42]+10.
  EXPECT_EQ(trainableCount(lenet.graph()), 61706);
  EXPECT_EQ(prunedTrainableCount(lenet.graph(), *plan),
            75 + 3 + 600 + 8 + 12000 + 60 + 2520 + 42 + 420 + 10);
  EXPECT_EQ(prunedTrainableCount(lenet.graph(), *plan), 15738);
  expectModelTextMatches(*plan);
  // The model's input channel and the classifier's outputs are untouched.
  EXPECT_EQ(plan->params[0].newShape[1], 1);
  EXPECT_EQ(plan->params[8].oldName, "fc3.weight");
  EXPECT_EQ(plan->params[8].newShape[0], 10);
  // flatten: fc1's input keeps 25 consecutive columns per kept conv2 channel.
  const PrunedParam &fc1 = plan->params[4];
  ASSERT_EQ(fc1.oldName, "fc1.weight");
  const std::vector<bool> &conv2Out = plan->params[2].keep[0];
  ASSERT_EQ(fc1.keep[1].size(), 400u);
  for (int64_t col = 0; col < 400; ++col)
    EXPECT_EQ(fc1.keep[1][col], conv2Out[col / 25]) << col;
}

TEST(PruneChannels, ChoosesLowestL1AndBreaksTiesByIndex) {
  Analyzed lenet(kLeNet);
  ASSERT_TRUE(lenet.graphs) << lenet.diagText;
  Weights w(lenet.graph());
  // conv1's 6 filters of 25 weights: L1 norms 5, 1, 4, 1, 6, 1 (three tied
  // at 1). Removing 3 takes exactly the tied ones; removing 4 adds channel 2.
  std::vector<float> &c1 = w.data["conv1.weight"];
  const float norms[6] = {5, 1, 4, 1, 6, 1};
  for (int c = 0; c < 6; ++c)
    for (int i = 0; i < 25; ++i)
      c1[c * 25 + i] = (i % 2 ? -1.0f : 1.0f) * norms[c] / 25;
  auto half = planChannelPruning(lenet.graph(), 0.5, w);
  ASSERT_TRUE(bool(half));
  EXPECT_EQ(half->params[0].keep[0], (std::vector<bool>{1, 0, 1, 0, 1, 0}));
  EXPECT_EQ(half->params[1].keep[0], half->params[0].keep[0]); // conv1.bias
  EXPECT_EQ(half->params[2].keep[1], half->params[0].keep[0]); // conv2's inputs
  auto more = planChannelPruning(lenet.graph(), 0.6, w);       // round(3.6) = 4
  ASSERT_TRUE(bool(more));
  EXPECT_EQ(more->params[0].keep[0], (std::vector<bool>{1, 0, 0, 0, 1, 0}));
  // All but one channel at most.
  auto most = planChannelPruning(lenet.graph(), 0.99, w);
  ASSERT_TRUE(bool(most));
  EXPECT_EQ(most->groups[0].kept, 1);
  expectModelTextMatches(*most);
}

TEST(PruneChannels, ResNetGroupsFollowTheShortcuts) {
  Analyzed resnet(kResNet);
  ASSERT_TRUE(resnet.graphs) << resnet.diagText;
  Weights w(resnet.graph());
  auto plan = planChannelPruning(resnet.graph(), 0.5, w);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  std::vector<std::vector<std::string>> groups;
  for (const ChannelGroup &g : plan->groups) {
    groups.push_back(g.layers);
    EXPECT_EQ(g.kept * 2, g.channels);
  }
  EXPECT_EQ(groups,
            (std::vector<std::vector<std::string>>{{"conv1", "basic1.conv2", "basic2.conv2"},
                                                   {"basic1.conv1"},
                                                   {"basic2.conv1"},
                                                   {"down1.conv1"},
                                                   {"down1.conv2", "down1.conv3", "basic3.conv2"},
                                                   {"basic3.conv1"},
                                                   {"down2.conv1"},
                                                   {"down2.conv2", "down2.conv3", "basic4.conv2"},
                                                   {"basic4.conv1"}}));
  // Half of every group is the same network at half the width.
  Analyzed halfWidth(kResNet, {"width=4"});
  ASSERT_TRUE(halfWidth.graphs) << halfWidth.diagText;
  EXPECT_EQ(prunedTrainableCount(resnet.graph(), *plan), trainableCount(halfWidth.graph()));
  EXPECT_EQ(trainableCount(halfWidth.graph()), 11302);
  expectModelTextMatches(*plan);
  // One set of channels across a residual group: the stem's outputs, its
  // batchnorm, the blocks' second convs and the next block's inputs.
  std::map<std::string, const PrunedParam *> byName;
  for (const PrunedParam &p : plan->params)
    byName[p.oldName] = &p;
  const std::vector<bool> &stem = byName["conv1.weight"]->keep[0];
  EXPECT_EQ(byName["bn1.weight"]->keep[0], stem);
  EXPECT_EQ(byName["bn1.running_var"]->keep[0], stem);
  EXPECT_EQ(byName["basic1.conv2.weight"]->keep[0], stem);
  EXPECT_EQ(byName["basic2.bn2.bias"]->keep[0], stem);
  EXPECT_EQ(byName["basic2.conv1.weight"]->keep[1], stem);
  EXPECT_EQ(byName["down1.conv3.weight"]->keep[1], stem);
  EXPECT_EQ(byName["basic1.bn1.num_batches_tracked"]->newName, "basic1_bn1.num_batches_tracked");
  EXPECT_EQ(byName["fc1.weight"]->newShape, (Shape{10, 16}));
  EXPECT_EQ(byName["conv1.weight"]->newShape, (Shape{4, 1, 3, 3}));
}

TEST(PruneChannels, SliceKeepsTheKeptElementsInOrder) {
  PrunedParam p;
  p.oldShape = {2, 3};
  p.keep = {{true, false}, {false, true, true}};
  std::vector<float> data = {1, 2, 3, 4, 5, 6};
  std::vector<char> out, zeroed;
  slicePrunedParam(p, reinterpret_cast<const char *>(data.data()), sizeof(float), out, &zeroed);
  ASSERT_EQ(out.size(), 2 * sizeof(float));
  const float *o = reinterpret_cast<const float *>(out.data());
  EXPECT_EQ(o[0], 2.0f);
  EXPECT_EQ(o[1], 3.0f);
  const float *z = reinterpret_cast<const float *>(zeroed.data());
  EXPECT_EQ(std::vector<float>(z, z + 6), (std::vector<float>{0, 2, 3, 0, 0, 0}));
}

TEST(PruneChannels, RefusesRecurrentLayers) {
  Analyzed rnn(R"(
model m {
  input x: f32[N, 5, 3]
  output y = lstm(x, 8) |> linear(2)
}
)");
  ASSERT_TRUE(rnn.graphs) << rnn.diagText;
  Weights w(rnn.graph());
  auto plan = planChannelPruning(rnn.graph(), 0.5, w);
  ASSERT_FALSE(bool(plan));
  EXPECT_EQ(llvm::toString(plan.takeError()),
            "structured pruning cannot prune through layer 'lstm1' (lstm): it supports conv2d, "
            "linear, batchnorm, pooling, activations, dropout, flatten, reshape, add and concat");
}

TEST(PruneChannels, FixedSpacesAreNotPruned) {
  // The concat's inputs, the softmax over the channels and the model output
  // keep their channels; the conv feeding only a relu and a conv is pruned.
  Analyzed m(R"(
model m {
  input x: f32[N, 2, 6, 6]
  a = conv2d(x, 4, 3, padding=1) |> relu |> conv2d(4, 3, padding=1)
  b = conv2d(x, 4, 3, padding=1)
  output y = concat(a, b) |> global_avgpool |> linear(3) |> softmax(dim=1)
}
)");
  ASSERT_TRUE(m.graphs) << m.diagText;
  Weights w(m.graph());
  auto plan = planChannelPruning(m.graph(), 0.5, w);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  ASSERT_EQ(plan->groups.size(), 1u);
  EXPECT_EQ(plan->groups[0].layers, std::vector<std::string>{"conv1"});
  expectModelTextMatches(*plan);
}

} // namespace
