//===- DataParallelTrainTest.cpp - The training loop over MPI ranks ------===//
//
// runtime/Train.cpp's data parallelism with real gradient reduction: the
// hand-written artifacts of FakeDataParallelArtifact.cpp (plain at batch 8;
// 2 ranks at batch 4, unsharded and ZeRO-1) trained on synthetic data whose
// last train and test batches are partial. Under `mpirun -np 2`
// (test/runtime/dp-hooks.test): two ranks train like one process, ZeRO-1
// equals the unsharded run bit for bit (weights, checkpoint files) with half
// the optimizer state, and a ZeRO-1 checkpoint resumes sharded, unsharded and
// on one process. Alone: a 2-rank artifact is refused.
//
//===----------------------------------------------------------------------===//

#include "runtime/DataParallel.h"
#include "runtime/Model.h"
#include "runtime/Train.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

nnc::rt::Communicator &testCommunicator();
std::string &testDirectory();

using namespace nnc::rt;

namespace {

struct Outcome {
  TrainResult result;
  std::vector<float> params, running;
  int64_t stateBytes = 0;
};

TrainOptions baseOptions() {
  TrainOptions o;
  o.dataset.data = "synthetic";
  o.epochs = 3;
  o.lr = 0.01;
  o.seed = 3;
  // 204 = 25 global batches of 8 and one of 4; 100 test samples: 12 x 8 + 4.
  o.trainLimit = 204;
  o.testLimit = 100;
  o.progress = nullptr;
  return o;
}

/// `artifact` trained with `options` (with the test communicator unless
/// `alone`); the error, if any, in `error`.
Outcome train(const char *artifact, TrainOptions options, bool alone,
              std::string *error = nullptr) {
  Outcome out;
  auto model = Model::load(artifact);
  EXPECT_TRUE(bool(model)) << model.message();
  if (!model)
    return out;
  Communicator *comm = alone ? nullptr : &testCommunicator();
  options.comm = comm;
  setCommunicator(comm);
  auto result = nnc::rt::train(**model, options);
  setCommunicator(nullptr);
  if (error)
    *error = result ? "" : result.message();
  else
    EXPECT_TRUE(bool(result)) << result.message();
  if (!result)
    return out;
  out.result = *result;
  for (const Region &r : (*model)->regions()) {
    const float *p = (*model)->dataAs<float>(r);
    if (r.kind == "param")
      out.params.insert(out.params.end(), p, p + r.numElements());
    if (r.kind == "buffer")
      out.running.assign(p, p + r.numElements());
    if (r.kind == "state")
      out.stateBytes += r.bytes;
  }
  return out;
}

std::string path(const std::string &name) { return testDirectory() + "/" + name; }

std::string fileText(const std::string &file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

double largestRelative(const std::vector<float> &a, const std::vector<float> &b) {
  double scale = 1e-30, diff = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    scale = std::max(scale, double(std::fabs(a[i])));
    diff = std::max(diff, double(std::fabs(a[i] - b[i])));
  }
  return a.size() == b.size() ? diff / scale : 1e30;
}

bool twoRanks() { return testCommunicator().size() == 2; }

TEST(DataParallelTrain, TwoRanksTrainLikeOneProcess) {
  if (!twoRanks()) {
    std::string error;
    train(NNC_FAKE_DP_NONE, baseOptions(), /*alone=*/false, &error);
    EXPECT_EQ(error, "model 'fake_dp' was built for 2 data-parallel ranks, but 1 process runs it");
    return;
  }
  int64_t rank = testCommunicator().rank();
  TrainOptions one = baseOptions(), two = baseOptions();
  one.metrics = path("one.rank" + std::to_string(rank) + ".jsonl");
  two.metrics = path("two.jsonl");
  Outcome a = train(NNC_FAKE_DP_PLAIN, one, /*alone=*/true);
  Outcome b = train(NNC_FAKE_DP_NONE, two, /*alone=*/false);
  EXPECT_EQ(a.result.steps, b.result.steps);
  EXPECT_NEAR(a.result.lastEpochLoss, b.result.lastEpochLoss, 1e-5 * a.result.lastEpochLoss);
  EXPECT_NEAR(a.result.testLoss, b.result.testLoss, 1e-5 * a.result.testLoss);
  EXPECT_NEAR(a.result.testAccuracy, b.result.testAccuracy, 0.011); // One sample of 100.
  EXPECT_EQ(a.result.test.samples, 100);
  EXPECT_EQ(b.result.test.samples, 100);
  EXPECT_LT(largestRelative(a.params, b.params), 1e-4);
  // The running means, each rank's averaged: the single process's.
  EXPECT_LT(largestRelative(a.running, b.running), 1e-5);
  // And the training moved the weights (the comparison is not vacuous).
  TrainOptions short_ = baseOptions();
  short_.epochs = 1;
  Outcome c = train(NNC_FAKE_DP_PLAIN, short_, /*alone=*/true);
  EXPECT_GT(largestRelative(a.params, c.params), 1e-2);
  if (rank != 0)
    return;
  // Rank 0's metrics: every step's loss, reduced over the ranks.
  std::istringstream la(fileText(one.metrics)), lb(fileText(two.metrics));
  std::string x, y;
  int64_t steps = 0;
  while (std::getline(la, x) && std::getline(lb, y)) {
    if (x.find("\"step\"") == std::string::npos)
      continue;
    double lossA = std::atof(x.substr(x.find("\"loss\":") + 7).c_str());
    double lossB = std::atof(y.substr(y.find("\"loss\":") + 7).c_str());
    EXPECT_NEAR(lossA, lossB, 1e-4 * lossA) << x << "\n" << y;
    ++steps;
  }
  EXPECT_EQ(steps, a.result.steps + 3); // Step records and the 3 epoch records.
}

TEST(DataParallelTrain, ZeroOneEqualsUnshardedBitForBit) {
  if (!twoRanks())
    return;
  TrainOptions none = baseOptions(), opt = baseOptions();
  none.checkpoint = path("none.safetensors");
  opt.checkpoint = path("opt.safetensors");
  Outcome a = train(NNC_FAKE_DP_NONE, none, false);
  Outcome b = train(NNC_FAKE_DP_OPT, opt, false);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.running, b.running);
  // Adam's two state columns: 51 elements each, or a shard of 52 / 2.
  EXPECT_EQ(a.stateBytes, 2 * 51 * 4);
  EXPECT_EQ(b.stateBytes, 2 * 26 * 4);
  if (testCommunicator().rank() == 0) {
    // Rank 0 gathered the shards into the per-parameter layout: the same
    // files as the unsharded run's.
    EXPECT_EQ(fileText(none.checkpoint), fileText(opt.checkpoint));
    EXPECT_EQ(fileText(none.checkpoint + ".state"), fileText(opt.checkpoint + ".state"));
    EXPECT_GT(fileText(opt.checkpoint + ".state").size(), size_t(2 * 51 * 4));
  }
  EXPECT_FALSE(testCommunicator().barrier().failed());
}

TEST(DataParallelTrain, ZeroOneCheckpointResumesAnywhere) {
  if (!twoRanks())
    return;
  TrainOptions full = baseOptions(), first = baseOptions();
  Outcome uninterrupted = train(NNC_FAKE_DP_OPT, full, false);
  first.stopAfter = 1;
  first.checkpoint = path("first.safetensors");
  train(NNC_FAKE_DP_OPT, first, false);
  EXPECT_FALSE(testCommunicator().barrier().failed()); // Rank 0 wrote it.
  TrainOptions resume = baseOptions();
  resume.resume = first.checkpoint;
  Outcome sharded = train(NNC_FAKE_DP_OPT, resume, false);
  Outcome unsharded = train(NNC_FAKE_DP_NONE, resume, false);
  EXPECT_EQ(sharded.params, uninterrupted.params);
  EXPECT_EQ(unsharded.params, uninterrupted.params);
  // One process at the same global batch: the same run up to the order of
  // the gradient sums.
  Outcome alone = train(NNC_FAKE_DP_PLAIN, resume, /*alone=*/true);
  EXPECT_EQ(alone.result.steps, uninterrupted.result.steps);
  EXPECT_LT(largestRelative(alone.params, uninterrupted.params), 1e-4);
}

} // namespace
