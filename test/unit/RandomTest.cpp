//===- RandomTest.cpp - Tests of the runtime's PCG32 and initializers -----===//
//
// Part of nnc. PCG32 against the reference implementation's published
// stream, unbiased bounded draws, and the moments of the initializers'
// distributions (PyTorch's defaults; not bitwise equal to torch).
//
//===----------------------------------------------------------------------===//

#include "runtime/Random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

using namespace nnc::rt;

namespace {

TEST(RandomTest, MatchesReferencePcg32) {
  // pcg32-demo.c: pcg32_srandom_r(&rng, 42u, 54u) prints these first.
  Pcg32 rng(42, 54);
  const uint32_t expected[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                               0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (uint32_t e : expected)
    EXPECT_EQ(rng.nextU32(), e);
}

TEST(RandomTest, SameSeedSameStream) {
  Pcg32 a(7), b(7), c(8), d(7, 1);
  bool differC = false, differD = false;
  for (int i = 0; i < 16; ++i) {
    uint32_t x = a.nextU32();
    EXPECT_EQ(x, b.nextU32());
    differC |= x != c.nextU32();
    differD |= x != d.nextU32();
  }
  EXPECT_TRUE(differC);
  EXPECT_TRUE(differD);
}

TEST(RandomTest, BoundedAndUniformRanges) {
  Pcg32 rng(1);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) {
    uint32_t v = rng.bounded(6);
    ASSERT_LT(v, 6u);
    ++counts[v];
  }
  for (int c : counts) // 10,000 expected; 5 sigma is about 460.
    EXPECT_NEAR(c, 10000, 500);
  for (int i = 0; i < 10000; ++i) {
    float u = rng.uniform();
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
  }
  EXPECT_EQ(rng.bounded(0), 0u);
}

template <typename Fn>
void moments(int64_t n, Fn fill, double &mean, double &var, float &lo,
             float &hi) {
  std::vector<float> v(static_cast<size_t>(n));
  fill(v.data(), n);
  double s = 0, s2 = 0;
  lo = hi = v[0];
  for (float x : v) {
    s += x;
    s2 += double(x) * x;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  mean = s / n;
  var = s2 / n - mean * mean;
}

TEST(RandomTest, InitializerDistributions) {
  // Linear(400, 120): U(-1/20, 1/20), variance bound^2 / 3.
  Pcg32 rng(3);
  float bound = defaultInitBound(400);
  EXPECT_FLOAT_EQ(bound, 0.05f);
  double mean, var;
  float lo, hi;
  moments(
      200000, [&](float *p, int64_t n) { initUniform(p, n, bound, rng); }, mean,
      var, lo, hi);
  EXPECT_NEAR(mean, 0.0, 3e-4);
  EXPECT_NEAR(var, bound * bound / 3.0, 2e-5);
  EXPECT_GE(lo, -bound);
  EXPECT_LT(hi, bound);
  // Embedding: N(0, 1).
  moments(
      200000, [&](float *p, int64_t n) { initNormal(p, n, 0.0f, 1.0f, rng); },
      mean, var, lo, hi);
  EXPECT_NEAR(mean, 0.0, 0.01);
  EXPECT_NEAR(var, 1.0, 0.01);
  EXPECT_LT(lo, -4.0f);
  EXPECT_GT(hi, 4.0f);
  std::vector<float> ones(5), zeros(5, 3.0f);
  initOnes(ones.data(), 5);
  initZeros(zeros.data(), 5);
  EXPECT_EQ(ones, std::vector<float>(5, 1.0f));
  EXPECT_EQ(zeros, std::vector<float>(5, 0.0f));
  EXPECT_EQ(defaultInitBound(0), 0.0f);
}

TEST(RandomTest, ShuffleIsAPermutationAndSeeded) {
  std::vector<int> a(50), b;
  for (int i = 0; i < 50; ++i)
    a[size_t(i)] = i;
  b = a;
  Pcg32 r1(5), r2(5);
  shuffle(a, r1);
  shuffle(b, r2);
  EXPECT_EQ(a, b);
  std::vector<int> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i)
    EXPECT_EQ(sorted[size_t(i)], i);
}

} // namespace
