//===- PruneTest.cpp - Magnitude-pruning masks (runtime/Prune.h) ----------===//

#include "runtime/Prune.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace nnc::rt;

namespace {

int64_t pruned(const std::vector<uint8_t> &mask) {
  int64_t n = 0;
  for (uint8_t m : mask)
    n += m == 0;
  return n;
}

TEST(Prune, CountRoundsHalfUp) {
  EXPECT_EQ(prunedCount(10, 0.8), 8);
  EXPECT_EQ(prunedCount(5, 0.5), 3); // 2.5 -> 3
  EXPECT_EQ(prunedCount(7, 0.0), 0);
  EXPECT_EQ(prunedCount(7, 1.0), 7);
  EXPECT_EQ(prunedCount(61470, 0.8), 49176);
}

TEST(Prune, LayerScopePrunesSmallestOfEachTensor) {
  std::vector<float> a = {0.5f, -0.1f, 0.3f, -0.9f}, b = {10, -20, 30, 40};
  std::vector<PruneTensor> t = {{"a", a.data(), 4}, {"b", b.data(), 4}};
  PruneMasks masks = magnitudeMasks(t, 0.5, PruneScope::Layer);
  EXPECT_EQ(masks[0], (std::vector<uint8_t>{1, 0, 0, 1}));
  EXPECT_EQ(masks[1], (std::vector<uint8_t>{0, 0, 1, 1}));
}

TEST(Prune, GlobalScopeUsesOneThreshold) {
  // The four smallest magnitudes of the model are all in `a`.
  std::vector<float> a = {0.5f, -0.1f, 0.3f, -0.9f}, b = {10, -20, 30, 40};
  std::vector<PruneTensor> t = {{"a", a.data(), 4}, {"b", b.data(), 4}};
  PruneMasks masks = magnitudeMasks(t, 0.5, PruneScope::Global);
  EXPECT_EQ(masks[0], (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(masks[1], (std::vector<uint8_t>{1, 1, 1, 1}));
  applyMasks(t, masks);
  EXPECT_EQ(countZeros(t[0]), 4);
  EXPECT_EQ(countZeros(t[1]), 0);
  EXPECT_EQ(b[3], 40.0f);
}

TEST(Prune, TiesAtTheThresholdPruneExactlyTheCount) {
  // Six equal magnitudes (signs differ): 50% prunes exactly three, the
  // earliest ones, in either scope.
  std::vector<float> a = {1, -1, 1}, b = {-1, 1, -1};
  std::vector<PruneTensor> t = {{"a", a.data(), 3}, {"b", b.data(), 3}};
  PruneMasks global = magnitudeMasks(t, 0.5, PruneScope::Global);
  EXPECT_EQ(global[0], (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ(global[1], (std::vector<uint8_t>{1, 1, 1}));
  PruneMasks layer = magnitudeMasks(t, 0.5, PruneScope::Layer);
  EXPECT_EQ(layer[0], (std::vector<uint8_t>{0, 0, 1})); // round(1.5) = 2 per tensor
  EXPECT_EQ(layer[1], (std::vector<uint8_t>{0, 0, 1}));
  // A tie straddling the threshold: magnitudes 1, 2, 2, 2, 3 at 60% prune
  // the 1 and the first two 2s.
  std::vector<float> c = {2, 3, -2, 1, 2};
  std::vector<PruneTensor> tc = {{"c", c.data(), 5}};
  EXPECT_EQ(magnitudeMasks(tc, 0.6, PruneScope::Global)[0], (std::vector<uint8_t>{0, 1, 0, 0, 1}));
}

TEST(Prune, ZerosAndNaNs) {
  // Existing zeros go first; NaN counts as the largest magnitude.
  float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a = {nan, 0.0f, 5.0f, -0.0f, 1.0f, 3.0f};
  std::vector<PruneTensor> t = {{"a", a.data(), 6}};
  PruneMasks masks = magnitudeMasks(t, 0.5, PruneScope::Global);
  EXPECT_EQ(masks[0], (std::vector<uint8_t>{1, 0, 1, 0, 0, 1}));
  applyMasks(t, masks);
  EXPECT_TRUE(std::isnan(a[0]));
  EXPECT_EQ(countZeros(t[0]), 3);
  // A resumed run recovers the masks from the zeros.
  EXPECT_EQ(nonZeroMasks(t)[0], masks[0]);
}

TEST(Prune, MasksKeepPrunedWeightsZeroAcrossUpdates) {
  // What fine-tuning does: an update moves every weight, the masks bring
  // the pruned ones back to exactly 0 and leave the others as updated.
  std::vector<float> w = {0.01f, -2.0f, 0.02f, 3.0f, -0.03f, 1.5f, 0.7f, -0.004f};
  std::vector<PruneTensor> t = {{"w", w.data(), 8}};
  PruneMasks masks = magnitudeMasks(t, 0.5, PruneScope::Layer);
  EXPECT_EQ(pruned(masks[0]), 4);
  applyMasks(t, masks);
  for (int step = 0; step < 3; ++step) {
    for (float &x : w)
      x += 0.25f;
    applyMasks(t, masks);
    for (size_t i = 0; i < w.size(); ++i)
      if (!masks[0][i])
        EXPECT_EQ(w[i], 0.0f) << "element " << i << " after step " << step;
  }
  EXPECT_EQ(w[1], -2.0f + 0.75f);
  EXPECT_EQ(countZeros(t[0]), 4);
}

TEST(Prune, LargeRandomTensorHasTheExactSparsity) {
  std::vector<float> w(10007);
  uint32_t s = 7;
  for (float &x : w) {
    s = s * 1664525u + 1013904223u;
    x = float(int(s >> 20) - 2048) / 256.0f; // many ties
  }
  std::vector<PruneTensor> t = {{"w", w.data(), int64_t(w.size())}};
  PruneMasks masks = magnitudeMasks(t, 0.8, PruneScope::Layer);
  EXPECT_EQ(pruned(masks[0]), prunedCount(10007, 0.8));
  // Every kept magnitude is >= every pruned one.
  float maxPruned = 0, minKept = INFINITY;
  for (size_t i = 0; i < w.size(); ++i)
    (masks[0][i] ? minKept : maxPruned) =
        masks[0][i] ? std::min(minKept, std::fabs(w[i])) : std::max(maxPruned, std::fabs(w[i]));
  EXPECT_LE(maxPruned, minKept);
}

} // namespace
