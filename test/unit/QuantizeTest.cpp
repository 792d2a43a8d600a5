//===- QuantizeTest.cpp - Tests of int8 calibration numerics --------------===//
//
// Part of nnc. runtime/Quantize.h: per-channel weight quantization (round
// trip within scale / 2, exact on the grid, extremes at +-127, zero channels,
// the byte count), per-tensor parameters (0.0 exactly representable, error
// bounds), and the observer's min/max, percentile and entropy calibration on
// known distributions.
//
//===----------------------------------------------------------------------===//

#include "runtime/Quantize.h"
#include "runtime/Random.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

using namespace nnc::rt;

namespace {

TEST(QuantizeTest, RoundHalfEven) {
  EXPECT_EQ(roundHalfEven(0.5), 0.0);
  EXPECT_EQ(roundHalfEven(1.5), 2.0);
  EXPECT_EQ(roundHalfEven(2.5), 2.0);
  EXPECT_EQ(roundHalfEven(3.5), 4.0);
  EXPECT_EQ(roundHalfEven(-2.5), -2.0);
  EXPECT_EQ(roundHalfEven(-3.5), -4.0);
  EXPECT_EQ(roundHalfEven(1.4999), 1.0);
  EXPECT_EQ(roundHalfEven(-1.5001), -2.0);
  EXPECT_EQ(roundHalfEven(7.0), 7.0);
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

TEST(QuantizeTest, WeightRoundTripWithinHalfScale) {
  const size_t channels = 8, perChannel = 300;
  std::vector<float> w(channels * perChannel);
  Pcg32 rng(3);
  for (size_t c = 0; c < channels; ++c)
    for (size_t i = 0; i < perChannel; ++i)
      w[c * perChannel + i] = float(rng.normal()) * std::ldexp(1.0f, int(c) - 4);
  ChannelQuantizedWeights q = quantizeWeightsPerChannel(w.data(), channels, perChannel);
  ASSERT_EQ(q.values.size(), w.size());
  ASSERT_EQ(q.scales.size(), channels);
  std::vector<float> back(w.size());
  dequantizeWeightsPerChannel(q, perChannel, back.data());
  for (size_t c = 0; c < channels; ++c) {
    float maxAbs = 0.0f;
    for (size_t i = 0; i < perChannel; ++i)
      maxAbs = std::max(maxAbs, std::fabs(w[c * perChannel + i]));
    EXPECT_EQ(q.scales[c], maxAbs / 127.0f) << "channel " << c;
    for (size_t i = 0; i < perChannel; ++i) {
      size_t k = c * perChannel + i;
      EXPECT_LE(std::fabs(back[k] - w[k]), q.scales[c] * 0.5f * (1.0f + 1e-5f)) << k;
      EXPECT_GE(q.values[k], -127);
    }
  }
}

TEST(QuantizeTest, WeightsOnTheGridAreExact) {
  // scale = 127 * 0.25 / 127 = 0.25: every k * 0.25 is on the grid.
  std::vector<float> w;
  for (int k = -127; k <= 127; ++k)
    w.push_back(float(k) * 0.25f);
  ChannelQuantizedWeights q = quantizeWeightsPerChannel(w.data(), 1, w.size());
  EXPECT_EQ(q.scales[0], 0.25f);
  std::vector<float> back(w.size());
  dequantizeWeightsPerChannel(q, w.size(), back.data());
  for (size_t i = 0; i < w.size(); ++i) {
    EXPECT_EQ(q.values[i], int(i) - 127);
    EXPECT_EQ(back[i], w[i]);
  }
}

TEST(QuantizeTest, WeightExtremesAndTies) {
  // Channel 0: +-3 are the extremes. Channel 1: only the negative extreme.
  // Then one channel of max 127: scale 1, so halves round to even.
  std::vector<float> w = {3.0f,  -3.0f, 1.0f, 0.0f, -5.0f, 2.0f,  0.0f,  1.0f,
                          127.f, 0.5f,  1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 0.0f};
  ChannelQuantizedWeights q = quantizeWeightsPerChannel(w.data(), 2, 4);
  EXPECT_EQ(q.values[0], 127);
  EXPECT_EQ(q.values[1], -127);
  EXPECT_EQ(q.values[4], -127);
  EXPECT_EQ(q.values[5], 51); // 2 / (5 / 127) = 50.8
  ChannelQuantizedWeights t = quantizeWeightsPerChannel(w.data() + 8, 1, 8);
  EXPECT_EQ(t.scales[0], 1.0f);
  std::vector<int8_t> expected = {127, 0, 2, 2, 0, -2, -2, 0};
  EXPECT_EQ(t.values, expected);
}

TEST(QuantizeTest, ZeroChannelDequantizesToZero) {
  std::vector<float> w = {0.0f, 0.0f, 0.0f, 1.0f, -0.5f, 0.25f};
  ChannelQuantizedWeights q = quantizeWeightsPerChannel(w.data(), 2, 3);
  EXPECT_EQ(q.scales[0], 1.0f);
  EXPECT_EQ(q.scales[1], 1.0f / 127.0f);
  std::vector<float> back(6, -1.0f);
  dequantizeWeightsPerChannel(q, 3, back.data());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(q.values[i], 0);
    EXPECT_EQ(back[i], 0.0f);
  }
  EXPECT_EQ(q.values[3], 127);
  EXPECT_EQ(q.values[4], -64); // -63.5 rounds to even
}

TEST(QuantizeTest, WeightBytes) {
  // A 3x3 conv with 64 inputs and 64 outputs: 64 channels of 576 weights.
  const size_t channels = 64, perChannel = 576;
  EXPECT_EQ(quantizedWeightBytes(channels, perChannel), 64u * 576u + 64u * 4u);
  std::vector<float> w(channels * perChannel, 0.5f);
  ChannelQuantizedWeights q = quantizeWeightsPerChannel(w.data(), channels, perChannel);
  EXPECT_EQ(quantizedWeightBytes(channels, perChannel),
            q.values.size() * sizeof(int8_t) + q.scales.size() * sizeof(float));
  double ratio = double(w.size() * sizeof(float)) / quantizedWeightBytes(channels, perChannel);
  EXPECT_NEAR(ratio, 4.0 * 576 / (576 + 4), 1e-12);
  EXPECT_GT(ratio, 3.97);
}

//===----------------------------------------------------------------------===//
// Per-tensor parameters
//===----------------------------------------------------------------------===//

TEST(QuantizeTest, ZeroIsExactlyRepresentable) {
  const float ranges[][2] = {{-1.0f, 3.0f}, {-0.37f, 5.1f}, {-7.3f, 0.2f},
                             {0.5f, 2.0f},  {-4.0f, -1.0f}, {-1e-3f, 1e3f}};
  for (const auto &r : ranges) {
    QuantParams p = paramsFromRange(r[0], r[1], QuantScheme::Asymmetric);
    EXPECT_EQ(p.qmin, 0);
    EXPECT_EQ(p.qmax, 255);
    EXPECT_GE(p.zeroPoint, 0);
    EXPECT_LE(p.zeroPoint, 255);
    EXPECT_EQ(quantizeValue(0.0f, p), p.zeroPoint);
    EXPECT_EQ(dequantizeValue(quantizeValue(0.0f, p), p), 0.0f);
  }
  EXPECT_EQ(paramsFromRange(0.5f, 2.0f, QuantScheme::Asymmetric).zeroPoint, 0);
  EXPECT_EQ(paramsFromRange(-4.0f, -1.0f, QuantScheme::Asymmetric).zeroPoint, 255);
  QuantParams s = paramsFromRange(-2.0f, 1.0f, QuantScheme::Symmetric);
  EXPECT_EQ(s.zeroPoint, 0);
  EXPECT_EQ(s.scale, 2.0f / 127.0f);
  EXPECT_EQ(dequantizeValue(quantizeValue(0.0f, s), s), 0.0f);
}

TEST(QuantizeTest, RoundTripErrorBoundAndClamping) {
  const float ranges[][2] = {{-1.0f, 3.0f}, {-0.37f, 5.1f}, {-7.3f, 0.2f}, {0.0f, 1.0f}};
  Pcg32 rng(11);
  for (QuantScheme scheme : {QuantScheme::Symmetric, QuantScheme::Asymmetric}) {
    for (const auto &r : ranges) {
      QuantParams p = paramsFromRange(r[0], r[1], scheme);
      for (int i = 0; i < 2000; ++i) {
        float x = r[0] + (r[1] - r[0]) * rng.uniform();
        int32_t q = quantizeValue(x, p);
        EXPECT_GE(q, p.qmin);
        EXPECT_LE(q, p.qmax);
        EXPECT_LE(std::fabs(dequantizeValue(q, p) - x), p.scale * 0.5f * (1.0f + 1e-4f));
      }
      EXPECT_EQ(quantizeValue(r[1] + 100.0f, p), p.qmax);
      if (scheme == QuantScheme::Symmetric || r[0] < 0.0f)
        EXPECT_EQ(quantizeValue(r[0] - 100.0f, p), p.qmin);
    }
  }
  QuantParams empty = paramsFromRange(0.0f, 0.0f, QuantScheme::Asymmetric);
  EXPECT_EQ(empty.scale, 1.0f);
  EXPECT_EQ(empty.zeroPoint, 0);
}

//===----------------------------------------------------------------------===//
// HistogramObserver
//===----------------------------------------------------------------------===//

std::vector<float> gaussian(size_t n, uint64_t seed) {
  Pcg32 rng(seed);
  std::vector<float> v(n);
  for (float &x : v)
    x = float(rng.normal());
  return v;
}

void observeInBatches(HistogramObserver &obs, const std::vector<float> &v, size_t batches) {
  size_t begin = 0;
  for (size_t b = 0; b < batches; ++b) {
    size_t end = (b + 1) * v.size() / batches;
    obs.observe(v.data() + begin, end - begin);
    begin = end;
  }
}

TEST(QuantizeTest, UniformAllMethodsNearTheMax) {
  Pcg32 rng(5);
  std::vector<float> v(200000);
  for (float &x : v)
    x = 2.0f * rng.uniform() - 1.0f;
  HistogramObserver obs;
  observeInBatches(obs, v, 10);
  EXPECT_EQ(obs.count(), v.size());
  float maxAbs = std::max(-obs.min(), obs.max());
  EXPECT_GT(maxAbs, 0.999f);
  EXPECT_EQ(obs.minMax(QuantScheme::Symmetric).scale, maxAbs / 127.0f);
  float t = obs.entropyThreshold(128);
  EXPECT_GE(t, 0.95f * maxAbs);
  EXPECT_LE(t, maxAbs);
  EXPECT_GE(obs.percentileThreshold(0.9999), 0.99f);
  QuantParams a = obs.entropy(QuantScheme::Asymmetric);
  EXPECT_NEAR(a.scale, (obs.max() - obs.min()) / 255.0f, 0.05f * a.scale);
}

// A relu's exact zeros take no part in the entropy threshold: it is the
// threshold of the positive values alone. (Counted in, the spike in bin 0
// pulled LeNet's post-relu thresholds down to a third of the range, and the
// threshold here to about 1.2.)
TEST(QuantizeTest, EntropyIgnoresReluZeros) {
  std::vector<float> v = gaussian(100000, 11), positive;
  for (float &x : v) {
    if (x > 0)
      positive.push_back(x);
    x = std::max(x, 0.0f);
  }
  HistogramObserver relu, alone;
  observeInBatches(relu, v, 5);
  observeInBatches(alone, positive, 3);
  EXPECT_EQ(relu.zeroCount(), v.size() - positive.size());
  EXPECT_EQ(alone.zeroCount(), 0u);
  float t = relu.entropyThreshold(255);
  EXPECT_EQ(t, alone.entropyThreshold(255));
  EXPECT_GT(t, 2.5f);
  EXPECT_LE(t, relu.max());
  // All zeros: threshold 0, as for an empty observer.
  HistogramObserver zeros;
  std::vector<float> z(100, 0.0f);
  zeros.observe(z.data(), z.size());
  EXPECT_EQ(zeros.entropyThreshold(128), 0.0f);
}

TEST(QuantizeTest, GaussianWithOutliers) {
  std::vector<float> v = gaussian(100000, 7);
  v[100] = 50.0f;
  v[5000] = -45.0f;
  v[90000] = 48.0f;
  HistogramObserver obs;
  observeInBatches(obs, v, 4);
  // min/max takes the outlier.
  EXPECT_EQ(obs.minMax(QuantScheme::Symmetric).scale, 50.0f / 127.0f);
  // Percentile and entropy clip far below it, near the bulk (|x| < ~4.5).
  float p = obs.percentileThreshold(0.9999);
  EXPECT_GT(p, 3.0f);
  EXPECT_LT(p, 5.0f);
  float e = obs.entropyThreshold(128);
  EXPECT_GT(e, 2.0f);
  EXPECT_LT(e, 6.0f);
  EXPECT_EQ(obs.entropy(QuantScheme::Symmetric).scale, e / 127.0f);
  EXPECT_EQ(obs.percentile(0.9999, QuantScheme::Symmetric).scale, p / 127.0f);
  QuantParams pa = obs.percentile(0.9999, QuantScheme::Asymmetric);
  EXPECT_LT(pa.scale * 255.0f, 10.0f);
  EXPECT_EQ(dequantizeValue(quantizeValue(0.0f, pa), pa), 0.0f);
  QuantParams ea = obs.entropy(QuantScheme::Asymmetric);
  EXPECT_NEAR(ea.scale * 255.0f, 2.0f * e, 1e-3f);
  // Quantizing the bulk with the entropy parameters: within scale / 2.
  QuantParams es = obs.entropy(QuantScheme::Symmetric);
  for (float x : v)
    if (std::fabs(x) <= e)
      EXPECT_LE(std::fabs(dequantizeValue(quantizeValue(x, es), es) - x),
                es.scale * 0.5f * (1.0f + 1e-4f));
}

TEST(QuantizeTest, HugeOutlierEntropyResolutionFloor) {
  // With an outlier at 1000 the histogram's range is 1024; the entropy
  // threshold is at least 128 bins = 1024 / 16 = 64 (documented), far below
  // the outlier, while the percentile finds the bulk.
  std::vector<float> v = gaussian(100000, 9);
  v[777] = 1000.0f;
  HistogramObserver obs;
  obs.observe(v.data(), v.size());
  EXPECT_EQ(obs.range(), 1024.0f);
  float e = obs.entropyThreshold(128);
  EXPECT_GE(e, 64.0f);
  EXPECT_LE(e, 100.0f);
  EXPECT_LT(obs.percentileThreshold(0.9999), 5.0f);
  EXPECT_EQ(obs.minMax(QuantScheme::Symmetric).scale, 1000.0f / 127.0f);
}

TEST(QuantizeTest, AllZeroTensor) {
  std::vector<float> zeros(1000, 0.0f);
  HistogramObserver obs;
  observeInBatches(obs, zeros, 3);
  EXPECT_EQ(obs.count(), 1000u);
  EXPECT_EQ(obs.min(), 0.0f);
  EXPECT_EQ(obs.max(), 0.0f);
  EXPECT_EQ(obs.range(), 0.0f);
  EXPECT_EQ(obs.absHistogram()[0], 1000u);
  for (QuantScheme s : {QuantScheme::Symmetric, QuantScheme::Asymmetric}) {
    for (QuantParams p : {obs.minMax(s), obs.percentile(0.999, s), obs.entropy(s)}) {
      EXPECT_EQ(p.scale, 1.0f);
      EXPECT_EQ(p.zeroPoint, 0);
      EXPECT_EQ(dequantizeValue(quantizeValue(0.0f, p), p), 0.0f);
    }
  }
  // Zeros seen before the range exists land in the bin [0, width) later.
  std::vector<float> ones(10, 1.0f);
  obs.observe(ones.data(), ones.size());
  EXPECT_EQ(obs.range(), 1.0f);
  std::vector<uint64_t> h = obs.absHistogram();
  EXPECT_EQ(h[0], 1000u);
  EXPECT_EQ(h.back(), 10u);
}

TEST(QuantizeTest, ConstantTensor) {
  std::vector<float> v(1000, 3.0f);
  HistogramObserver obs;
  observeInBatches(obs, v, 2);
  EXPECT_EQ(obs.range(), 4.0f);
  EXPECT_EQ(obs.percentileThreshold(0.9999), 3.0f);
  EXPECT_EQ(obs.entropyThreshold(128), 3.0f);
  for (QuantParams p :
       {obs.minMax(QuantScheme::Symmetric), obs.percentile(0.9999, QuantScheme::Symmetric),
        obs.entropy(QuantScheme::Symmetric)}) {
    EXPECT_EQ(p.scale, 3.0f / 127.0f);
    EXPECT_EQ(quantizeValue(3.0f, p), 127);
  }
  for (QuantParams p :
       {obs.minMax(QuantScheme::Asymmetric), obs.percentile(0.9999, QuantScheme::Asymmetric),
        obs.entropy(QuantScheme::Asymmetric)}) {
    EXPECT_EQ(p.scale, 3.0f / 255.0f);
    EXPECT_EQ(p.zeroPoint, 0);
    EXPECT_EQ(quantizeValue(3.0f, p), 255);
  }
  std::vector<float> neg(500, -2.0f);
  HistogramObserver n;
  n.observe(neg.data(), neg.size());
  QuantParams p = n.entropy(QuantScheme::Asymmetric);
  EXPECT_EQ(p.zeroPoint, 255);
  EXPECT_EQ(p.scale, 2.0f / 255.0f);
}

TEST(QuantizeTest, BatchSplitDoesNotMatter) {
  // Growing magnitudes force several re-binnings when split.
  std::vector<float> v = gaussian(60000, 13);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] *= 1.0f + float(i) / 2000.0f;
  HistogramObserver one, many;
  one.observe(v.data(), v.size());
  observeInBatches(many, v, 17);
  EXPECT_EQ(one.count(), many.count());
  EXPECT_EQ(one.min(), many.min());
  EXPECT_EQ(one.max(), many.max());
  EXPECT_EQ(one.range(), many.range());
  EXPECT_EQ(one.absHistogram(), many.absHistogram());
  for (QuantScheme s : {QuantScheme::Symmetric, QuantScheme::Asymmetric}) {
    for (auto [a, b] : {std::pair{one.minMax(s), many.minMax(s)},
                        std::pair{one.percentile(0.999, s), many.percentile(0.999, s)},
                        std::pair{one.entropy(s), many.entropy(s)}}) {
      EXPECT_EQ(a.scale, b.scale);
      EXPECT_EQ(a.zeroPoint, b.zeroPoint);
    }
  }
}

TEST(QuantizeTest, RebinningIsExact) {
  // 0.3 first (range 0.5), then -3.1 (range 4): 0.3 must sit where a
  // one-batch observer puts it, bin floor(0.3 / 4 * 2048) = 153 of |x|.
  HistogramObserver obs;
  float a = 0.3f, b = -3.1f;
  obs.observe(&a, 1);
  EXPECT_EQ(obs.range(), 0.5f);
  obs.observe(&b, 1);
  EXPECT_EQ(obs.range(), 4.0f);
  std::vector<uint64_t> h = obs.absHistogram();
  EXPECT_EQ(h[153], 1u);
  EXPECT_EQ(h[1587], 1u);
  uint64_t sum = 0;
  for (uint64_t c : h)
    sum += c;
  EXPECT_EQ(sum, 2u);
}

TEST(QuantizeTest, NonFiniteValuesAreSkipped) {
  std::vector<float> v = {1.0f, std::numeric_limits<float>::quiet_NaN(), -2.0f,
                          std::numeric_limits<float>::infinity()};
  HistogramObserver obs;
  obs.observe(v.data(), v.size());
  EXPECT_EQ(obs.count(), 2u);
  EXPECT_EQ(obs.nonFiniteCount(), 2u);
  EXPECT_EQ(obs.min(), -2.0f);
  EXPECT_EQ(obs.max(), 1.0f);
  EXPECT_EQ(obs.range(), 2.0f);
}

} // namespace
