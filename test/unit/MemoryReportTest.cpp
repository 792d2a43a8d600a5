//===- MemoryReportTest.cpp - The arena split of nnc report ----------------===//
//
// breakDownArena on hand-made plans: the parts sum to the arena, bytes two
// live buffers share count once, and the peak is the step with the most live
// bytes.
//
//===----------------------------------------------------------------------===//

#include "codegen/MemoryReport.h"

#include <gtest/gtest.h>

using namespace nnc;

namespace {

PlannedBuffer region(const char *kind, const char *name, int64_t bytes) {
  PlannedBuffer b;
  b.kind = kind;
  b.name = name;
  b.bytes = bytes;
  return b;
}

PlannedBuffer buffer(const char *kind, const char *layer, int64_t offset, int64_t bytes,
                     int64_t first, int64_t last) {
  PlannedBuffer b;
  b.kind = kind;
  b.layer = layer;
  b.offset = offset;
  b.bytes = bytes;
  b.first = first;
  b.last = last;
  return b;
}

/// Persistent regions of 1000 B (padded to 1024), a training entry of four
/// steps and a smaller forward entry.
MemoryPlan trainingPlan() {
  MemoryPlan plan;
  plan.regions = {region("param", "conv1.weight", 600), region("param", "fc1.weight", 200),
                  region("state", "conv1.weight.exp_avg", 100), region("input", "x", 60),
                  region("output", "y", 40)};
  plan.persistentBytes = 1000;
  EntryPlan forward;
  forward.entry = "forward";
  forward.steps = {"conv2d conv1", "linear fc1"};
  forward.buffers = {buffer("temporary", "conv1", 1024, 512, 0, 1)};
  forward.planned = 1536;
  EntryPlan step;
  step.entry = "train_step";
  step.steps = {"conv2d conv1", "k0_relu1", "conv2d_backward conv1", "k1_adam_update"};
  step.buffers = {
      buffer("activation", "relu1", 1024, 256, 1, 2), buffer("scratch", "conv1", 1280, 1024, 0, 0),
      // Step 2: the scratch of the backward convolution, and the
      // gradient it writes, sharing 64 B at 1536 (a plan whose
      // live ranges touch at one step).
      buffer("scratch", "conv1", 1280, 320, 2, 2), buffer("gradient", "conv1", 1536, 128, 2, 3),
      buffer("temporary", "relu1", 1664, 64, 1, 1)};
  step.planned = 2304;
  plan.entries = {forward, step};
  plan.arenaBytes = 2304;
  return plan;
}

TEST(MemoryReportTest, PartsSumToTheArena) {
  ArenaBreakdown b = breakDownArena(trainingPlan());
  EXPECT_EQ(b.parameters, 800);
  EXPECT_EQ(b.optimizerState, 100);
  EXPECT_EQ(b.io, 100);
  EXPECT_EQ(b.buffers, 0);
  EXPECT_EQ(b.entry, "train_step");
  // Live bytes per step: 0: 1024; 1: 256 + 64; 2: 256 + 320 + 128 - 64
  // shared = 640; 3: 128. The peak is step 0.
  EXPECT_EQ(b.peakStep, 0);
  EXPECT_EQ(b.peakStepName, "conv2d conv1");
  EXPECT_EQ(b.scratch, 1024);
  EXPECT_EQ(b.activations, 0);
  EXPECT_EQ(b.fragmentation, 2304 - 1000 - 1024);
  EXPECT_EQ(b.parameters + b.buffers + b.optimizerState + b.io + b.gradients + b.activations +
                b.temporaries + b.scratch + b.results + b.fragmentation,
            b.arena);
  EXPECT_EQ(b.largestScratch, 1024);
  EXPECT_EQ(b.largestScratchLayer, "conv1");
  EXPECT_EQ(b.largestActivation, 256);
  EXPECT_EQ(b.largestActivationLayer, "relu1");
  ASSERT_EQ(b.entries.size(), 2u);
  EXPECT_EQ(b.entries[0].planned, 1536);
}

TEST(MemoryReportTest, SharedBytesCountOnce) {
  MemoryPlan plan = trainingPlan();
  // Without the large scratch of step 0, step 2 is the peak: 256 + 320 +
  // 128 live, 64 of them shared.
  plan.entries[1].buffers.erase(plan.entries[1].buffers.begin() + 1);
  ArenaBreakdown b = breakDownArena(plan);
  EXPECT_EQ(b.peakStep, 2);
  EXPECT_EQ(b.activations, 256);
  EXPECT_EQ(b.scratch, 320);
  // The first buffer in offset order owns the shared bytes.
  EXPECT_EQ(b.gradients, 128 - 64);
  EXPECT_EQ(b.activations + b.scratch + b.gradients, 256 + 320 + 128 - 64);
  EXPECT_EQ(b.fragmentation, 2304 - 1000 - 640);
}

TEST(MemoryReportTest, KeptConvolutionWeights) {
  RuntimeCosts c = runtimeCostsOf(trainingPlan());
  // conv1's forward and backward, each a primitive once however many
  // entries call it; linear layers keep nothing.
  EXPECT_EQ(c.convPrimitives, 2);
  EXPECT_EQ(c.plainCopyBytes, 2 * 8 * 600);
}

} // namespace
