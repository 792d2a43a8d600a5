//===- PruneTrainTest.cpp - Pruning masks through the real training loop --===//
//
// runtime/Train.cpp's loop on FakeArtifact.cpp's CPU artifact (a linear
// classifier trained by SGD in its train_step), with nnc prune's way of
// keeping masks: magnitude masks re-applied in TrainOptions::afterStep. After
// two epochs the pruned weights are exactly 0, the kept ones trained, the
// checkpoint holds the zeros, and without the hook the same run moves the
// pruned weights (so the check can fail).
//
//===----------------------------------------------------------------------===//

#include "runtime/Checkpoint.h"
#include "runtime/Model.h"
#include "runtime/Prune.h"
#include "runtime/Train.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <unistd.h>

using namespace nnc::rt;

namespace {

struct PrunedRun {
  std::vector<float> before, after, checkpointed;
  PruneMasks masks;
  int64_t hookCalls = 0, steps = 0;
};

/// Prunes the artifact's weight `w` [2, 16] at 50% and trains it 2 epochs
/// (10 steps each), re-applying the masks after each step if `masked`.
PrunedRun trainPruned(bool masked) {
  PrunedRun run;
  Result<std::unique_ptr<Model>> loaded = Model::load(NNC_FAKE_ARTIFACT_CPU, Device::Cpu);
  if (!loaded) {
    ADD_FAILURE() << loaded.message();
    return run;
  }
  Model &model = **loaded;
  model.initialize(3);
  const Region *w = model.region("w");
  std::vector<PruneTensor> tensors = {{"w", model.dataAs<float>(*w), w->numElements()}};
  run.masks = magnitudeMasks(tensors, 0.5, PruneScope::Global);
  applyMasks(tensors, run.masks);
  run.before.assign(tensors[0].data, tensors[0].data + 32);
  std::string start =
      ::testing::TempDir() + "prune-train-start-" + std::to_string(getpid()) + ".safetensors";
  std::string checkpoint =
      ::testing::TempDir() + "prune-train-" + std::to_string(getpid()) + ".safetensors";
  if (Result<int64_t> bytes = saveWeights(model, start); !bytes) {
    ADD_FAILURE() << bytes.message();
    return run;
  }
  TrainOptions options;
  options.dataset.data = "synthetic";
  options.dataset.syntheticCount = 40;
  options.epochs = 2;
  options.lr = 0.05;
  options.threads = 1;
  options.progress = nullptr;
  options.weights = start;
  options.checkpoint = checkpoint;
  if (masked)
    options.afterStep = [&](Model &) {
      ++run.hookCalls;
      applyMasks(tensors, run.masks);
      return Status::success();
    };
  Result<TrainResult> result = train(model, options);
  if (!result) {
    ADD_FAILURE() << result.message();
    return run;
  }
  run.steps = result->steps;
  run.after.assign(tensors[0].data, tensors[0].data + 32);
  Result<Checkpoint> saved = readCheckpoint(checkpoint);
  if (saved && saved->find("w") >= 0) {
    const float *data = reinterpret_cast<const float *>(saved->tensorData(saved->find("w")));
    run.checkpointed.assign(data, data + 32);
  } else {
    ADD_FAILURE() << "no checkpoint of w";
  }
  std::remove(start.c_str());
  std::remove(checkpoint.c_str());
  std::remove((checkpoint + ".state").c_str());
  return run;
}

TEST(PruneTrain, MasksStayZeroThroughEveryStepAndTheCheckpoint) {
  PrunedRun run = trainPruned(/*masked=*/true);
  ASSERT_EQ(run.after.size(), 32u);
  EXPECT_EQ(run.steps, 20);
  EXPECT_EQ(run.hookCalls, run.steps + 1); // once after loading, then per step
  int pruned = 0, trained = 0;
  for (int i = 0; i < 32; ++i) {
    if (!run.masks[0][i]) {
      ++pruned;
      EXPECT_EQ(run.after[i], 0.0f) << "pruned weight " << i;
      EXPECT_EQ(run.checkpointed[i], 0.0f) << "pruned weight " << i << " in the checkpoint";
    } else {
      trained += run.after[i] != run.before[i];
      EXPECT_EQ(run.checkpointed[i], run.after[i]);
    }
  }
  EXPECT_EQ(pruned, 16);
  EXPECT_GT(trained, 8);
}

TEST(PruneTrain, WithoutTheHookThePrunedWeightsMove) {
  PrunedRun run = trainPruned(/*masked=*/false);
  ASSERT_EQ(run.after.size(), 32u);
  int regrown = 0;
  for (int i = 0; i < 32; ++i)
    regrown += !run.masks[0][i] && run.after[i] != 0.0f;
  EXPECT_GT(regrown, 8);
}

} // namespace
