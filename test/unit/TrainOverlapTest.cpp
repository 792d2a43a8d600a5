//===- TrainOverlapTest.cpp - The training loop on the fake CUDA driver ---===//
//
// Runs runtime/Train.cpp's loop (Model, DeviceArena) on the hand-written
// artifact of FakeArtifact.cpp, once built for the CPU and once for the GPU
// on the fake CUDA driver (FakeCudaDriver.h): both runs must execute the
// same steps on the same batches, in the same order, and reach the same
// losses and accuracies, whichever order the fake runs its streams in; on
// the GPU every step but each epoch's first must have had its batch's upload
// issued on the copy stream while the previous step was still queued on the
// compute stream (the overlap the loop is for).
//
//===----------------------------------------------------------------------===//

#include "test/unit/FakeCudaDriver.h"

#include "runtime/Gpu.h"
#include "runtime/Model.h"
#include "runtime/Train.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdlib>
#include <cstring>

using namespace nnc::rt;

namespace {

/// One executed step as the artifact saw it.
struct Step {
  float xSum;
  int64_t step;
  int64_t labels[4];
  bool operator==(const Step &o) const {
    return xSum == o.xSum && step == o.step && std::memcmp(labels, o.labels, sizeof(labels)) == 0;
  }
};

struct TrainRun {
  TrainResult result;
  std::vector<Step> steps;
  /// Uploads on a copy stream issued while an entry's launch on the compute
  /// stream had not been waited for.
  int64_t overlappedUploads = 0;
};

/// Trains `artifact` (2 epochs of 10 steps) and reads back what it executed.
TrainRun trainOn(const char *artifact, Device device) {
  TrainRun run;
  Result<std::unique_ptr<Model>> loaded = Model::load(artifact, device);
  if (!loaded) {
    ADD_FAILURE() << loaded.message();
    return run;
  }
  Model &model = **loaded;
  model.initialize(1);
  TrainOptions options;
  options.dataset.data = "synthetic";
  options.dataset.syntheticCount = 40;
  options.epochs = 2;
  options.lr = 0.05;
  options.threads = 1;
  options.progress = nullptr;
  fakeCudaClearLog();
  Result<TrainResult> result = nnc::rt::train(model, options);
  if (!result) {
    ADD_FAILURE() << result.message();
    return run;
  }
  run.result = *result;
  void *handle = dlopen(artifact, RTLD_NOW | RTLD_NOLOAD);
  EXPECT_NE(handle, nullptr);
  auto count = reinterpret_cast<int64_t (*)()>(dlsym(handle, "fakeArtifactSteps"));
  auto step = reinterpret_cast<void (*)(int64_t, float *, int64_t *, int64_t *)>(
      dlsym(handle, "fakeArtifactStep"));
  for (int64_t i = 0, n = count(); i < n; ++i) {
    Step s;
    step(i, &s.xSum, &s.step, s.labels);
    run.steps.push_back(s);
  }
  dlclose(handle);
  if (device == Device::Gpu) {
    int compute = fakeCudaStreamId(gpu::stream());
    bool outstanding = false;
    for (int64_t i = 0; i < fakeCudaLogSize(); ++i) {
      const FakeCudaOp &op = *fakeCudaLog(i);
      if (op.stream == compute && op.kind == FakeStreamSync)
        outstanding = false;
      else if (op.stream == compute && (op.kind == FakeLaunch || op.kind == FakeGraphLaunch))
        outstanding = true; // A step (or an eval batch) runs.
      else if (op.kind == FakeHtoD && outstanding)
        ++run.overlappedUploads;
    }
  }
  return run;
}

class TrainOverlapTest : public ::testing::TestWithParam<FakeCudaPolicy> {};

TEST_P(TrainOverlapTest, GpuRunMatchesCpuRunStepByStep) {
  setenv("NNC_CUDA_DRIVER", NNC_FAKE_CUDA_DRIVER, 1);
  if (const std::string &why = gpu::unavailableReason(); !why.empty())
    GTEST_SKIP() << "the GPU path cannot run on the fake driver: " << why;
  fakeCudaSetPolicy(GetParam());
  fakeCudaClearViolation();
  TrainRun cpu = trainOn(NNC_FAKE_ARTIFACT_CPU, Device::Cpu);
  TrainRun gpu = trainOn(NNC_FAKE_ARTIFACT_GPU, Device::Gpu);
  EXPECT_STREQ(fakeCudaViolation(), "");
  ASSERT_EQ(cpu.result.steps, 20);
  ASSERT_EQ(gpu.steps.size(), cpu.steps.size());
  for (size_t i = 0; i < cpu.steps.size(); ++i)
    EXPECT_TRUE(gpu.steps[i] == cpu.steps[i])
        << "step " << i << ": batch sum " << gpu.steps[i].xSum << " vs " << cpu.steps[i].xSum
        << ", step " << gpu.steps[i].step << " vs " << cpu.steps[i].step;
  EXPECT_EQ(gpu.result.steps, cpu.result.steps);
  EXPECT_EQ(gpu.result.lastEpochLoss, cpu.result.lastEpochLoss);
  EXPECT_EQ(gpu.result.trainAccuracy, cpu.result.trainAccuracy);
  EXPECT_EQ(gpu.result.testAccuracy, cpu.result.testAccuracy);
  // 2 epochs of 10 steps: the first step of an epoch is uploaded by start().
  EXPECT_EQ(gpu.overlappedUploads, 18);
}

INSTANTIATE_TEST_SUITE_P(Policies, TrainOverlapTest,
                         ::testing::Values(FakeEager, FakeLatestStreamFirst,
                                           FakeEarliestStreamFirst),
                         [](const ::testing::TestParamInfo<FakeCudaPolicy> &info) {
                           return fakeCudaPolicyName(info.param);
                         });

} // namespace
