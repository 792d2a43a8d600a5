//===- Quantize.cpp - int8 post-training quantization calibration ---------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). See Quantize.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/Quantize.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace nnc::rt {

double roundHalfEven(double x) {
  double lower = std::floor(x);
  double diff = x - lower;
  if (diff > 0.5)
    return lower + 1.0;
  if (diff < 0.5)
    return lower;
  return std::fmod(lower, 2.0) == 0.0 ? lower : lower + 1.0;
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

ChannelQuantizedWeights quantizeWeightsPerChannel(const float *w, size_t channels,
                                                  size_t perChannel) {
  ChannelQuantizedWeights q;
  q.values.resize(channels * perChannel);
  q.scales.resize(channels);
  for (size_t c = 0; c < channels; ++c) {
    const float *row = w + c * perChannel;
    float maxAbs = 0.0f;
    for (size_t i = 0; i < perChannel; ++i)
      maxAbs = std::max(maxAbs, std::fabs(row[i]));
    float scale = maxAbs > 0.0f ? maxAbs / 127.0f : 1.0f;
    // A channel so small that maxAbs / 127 underflows keeps the smallest scale.
    scale = std::max(scale, std::numeric_limits<float>::denorm_min());
    q.scales[c] = scale;
    for (size_t i = 0; i < perChannel; ++i) {
      double r = roundHalfEven(static_cast<double>(row[i]) / scale);
      q.values[c * perChannel + i] = static_cast<int8_t>(std::clamp(r, -127.0, 127.0));
    }
  }
  return q;
}

void dequantizeWeightsPerChannel(const ChannelQuantizedWeights &q, size_t perChannel, float *out) {
  for (size_t i = 0; i < q.values.size(); ++i)
    out[i] = static_cast<float>(q.values[i]) * q.scales[i / perChannel];
}

size_t quantizedWeightBytes(size_t channels, size_t perChannel) {
  return channels * perChannel * sizeof(int8_t) + channels * sizeof(float);
}

//===----------------------------------------------------------------------===//
// Per-tensor parameters
//===----------------------------------------------------------------------===//

QuantParams paramsFromRange(float lo, float hi, QuantScheme scheme) {
  QuantParams p;
  if (scheme == QuantScheme::Symmetric) {
    float maxAbs = std::max(std::fabs(lo), std::fabs(hi));
    p.scale = maxAbs > 0.0f ? maxAbs / 127.0f : 1.0f;
    return p;
  }
  p.qmin = 0;
  p.qmax = 255;
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  if (hi - lo <= 0.0f)
    return p; // scale 1, zero point 0
  p.scale = (hi - lo) / 255.0f;
  double zp = roundHalfEven(-static_cast<double>(lo) / p.scale);
  p.zeroPoint = static_cast<int32_t>(std::clamp(zp, 0.0, 255.0));
  return p;
}

int32_t quantizeValue(float x, const QuantParams &p) {
  double q = roundHalfEven(static_cast<double>(x) / p.scale) + p.zeroPoint;
  return static_cast<int32_t>(std::clamp(q, double(p.qmin), double(p.qmax)));
}

float dequantizeValue(int32_t q, const QuantParams &p) {
  return static_cast<float>(q - p.zeroPoint) * p.scale;
}

//===----------------------------------------------------------------------===//
// HistogramObserver
//===----------------------------------------------------------------------===//

HistogramObserver::HistogramObserver(unsigned absBins)
    : absBins(absBins), bins(2 * size_t(absBins), 0) {
  assert(absBins >= 256 && absBins % 2 == 0 && "absBins must be even and >= 256");
}

/// The smallest power of two >= x (x > 0, finite).
static float powerOfTwoAtLeast(float x) {
  int exp;
  float frac = std::frexp(x, &exp); // x = frac * 2^exp, frac in [0.5, 1)
  return frac == 0.5f ? x : std::ldexp(1.0f, exp);
}

void HistogramObserver::growTo(float newRange) {
  if (halfRange == 0.0f) {
    halfRange = newRange;
    bins[absBins] += zerosBeforeRange; // the bin [0, width)
    zerosBeforeRange = 0;
    return;
  }
  size_t n = bins.size();
  while (halfRange < newRange) {
    // Old bin j covers [-R + j w, -R + (j + 1) w); with range 2R and width 2w
    // that is inside new bin n / 4 + j / 2.
    std::vector<uint64_t> merged(n, 0);
    for (size_t j = 0; j < n; ++j)
      merged[n / 4 + j / 2] += bins[j];
    bins.swap(merged);
    halfRange *= 2.0f;
  }
}

void HistogramObserver::observe(const float *data, size_t n) {
  float batchMaxAbs = 0.0f;
  for (size_t i = 0; i < n; ++i) {
    float x = data[i];
    if (!std::isfinite(x)) {
      ++nonFinite;
      continue;
    }
    if (total == 0) {
      minValue = maxValue = x;
    } else {
      minValue = std::min(minValue, x);
      maxValue = std::max(maxValue, x);
    }
    ++total;
    exactZeros += x == 0.0f;
    batchMaxAbs = std::max(batchMaxAbs, std::fabs(x));
  }
  if (batchMaxAbs > halfRange)
    growTo(powerOfTwoAtLeast(batchMaxAbs));
  double half = double(absBins);
  size_t last = bins.size() - 1;
  for (size_t i = 0; i < n; ++i) {
    float x = data[i];
    if (!std::isfinite(x))
      continue;
    if (halfRange == 0.0f) {
      ++zerosBeforeRange;
      continue;
    }
    double pos = (static_cast<double>(x) / halfRange + 1.0) * half;
    bins[std::min(static_cast<size_t>(std::max(pos, 0.0)), last)] += 1;
  }
}

std::vector<uint64_t> HistogramObserver::absHistogram() const {
  std::vector<uint64_t> h(absBins, 0);
  for (size_t k = 0; k < absBins; ++k)
    h[k] = bins[absBins + k] + bins[absBins - 1 - k];
  h[0] += zerosBeforeRange;
  return h;
}

float HistogramObserver::signedEdge(size_t j) const {
  return static_cast<float>(-double(halfRange) + double(j) * halfRange / absBins);
}

QuantParams HistogramObserver::minMax(QuantScheme scheme) const {
  return paramsFromRange(min(), max(), scheme);
}

float HistogramObserver::percentileThreshold(double p) const {
  if (halfRange == 0.0f)
    return 0.0f;
  std::vector<uint64_t> h = absHistogram();
  double needed = p * double(total);
  uint64_t cumulative = 0;
  float maxAbs = std::max(std::fabs(min()), std::fabs(max()));
  for (size_t k = 0; k < absBins; ++k) {
    cumulative += h[k];
    if (double(cumulative) >= needed)
      return std::min(float(double(k + 1) * halfRange / absBins), maxAbs);
  }
  return maxAbs;
}

QuantParams HistogramObserver::percentile(double p, QuantScheme scheme) const {
  if (scheme == QuantScheme::Symmetric) {
    float t = percentileThreshold(p);
    return paramsFromRange(-t, t, scheme);
  }
  if (halfRange == 0.0f)
    return paramsFromRange(0.0f, 0.0f, scheme);
  double needed = p * double(total);
  size_t n = bins.size();
  float hi = max(), lo = min();
  uint64_t cumulative = 0;
  for (size_t j = 0; j < n; ++j) {
    cumulative += bins[j];
    if (double(cumulative) >= needed) {
      hi = std::min(hi, signedEdge(j + 1));
      break;
    }
  }
  cumulative = 0;
  for (size_t j = n; j-- > 0;) {
    cumulative += bins[j];
    if (double(cumulative) >= needed) {
      lo = std::max(lo, signedEdge(j));
      break;
    }
  }
  return paramsFromRange(lo, hi, scheme);
}

float HistogramObserver::entropyThreshold(unsigned levels) const {
  assert(levels >= 2 && levels <= absBins && "levels must be in [2, absBins]");
  if (halfRange == 0.0f)
    return 0.0f;
  std::vector<uint64_t> h = absHistogram();
  float maxAbs = std::max(std::fabs(min()), std::fabs(max()));
  // Exact zeros (a relu's) quantize exactly under any threshold, so they
  // take no part in the choice: left in, their spike in bin 0 is smeared
  // over Q's first group, which favours the narrowest groups, i.e. far too
  // small thresholds (LeNet's post-relu inputs were clipped at a third of
  // their range).
  h[0] -= exactZeros;
  uint64_t counted = total - exactZeros;
  if (counted == 0)
    return 0.0f;
  // Counts above each bin: outliers[i] = sum of h[i, absBins).
  std::vector<uint64_t> outliers(absBins + 1, 0);
  for (size_t k = absBins; k-- > 0;)
    outliers[k] = outliers[k + 1] + h[k];

  double bestKl = std::numeric_limits<double>::infinity();
  size_t bestI = absBins;
  std::vector<double> q;
  for (size_t i = levels; i <= absBins; ++i) {
    // P: h[0, i) with the outliers folded into bin i - 1; its total is `total`.
    uint64_t lastP = h[i - 1] + outliers[i];
    // Q: `levels` groups of h[0, i), each spread evenly over its nonzero bins.
    q.assign(i, 0.0);
    double qTotal = 0.0;
    for (size_t g = 0; g < levels; ++g) {
      size_t begin = g * i / levels, end = (g + 1) * i / levels;
      uint64_t sum = 0, nonzero = 0;
      for (size_t k = begin; k < end; ++k) {
        sum += h[k];
        nonzero += h[k] != 0;
      }
      if (nonzero == 0)
        continue;
      double each = double(sum) / double(nonzero);
      for (size_t k = begin; k < end; ++k)
        if (h[k] != 0)
          q[k] = each;
      qTotal += double(sum);
    }
    if (qTotal == 0.0)
      continue; // every value is an outlier: Q is empty
    // Only the last bin can hold P > 0 where Q == 0 (folded outliers alone):
    // Q gets half a count there, which keeps KL finite.
    if (q[i - 1] == 0.0 && lastP != 0) {
      q[i - 1] = 0.5;
      qTotal += 0.5;
    }
    double kl = 0.0;
    for (size_t k = 0; k < i; ++k) {
      uint64_t pk = k + 1 == i ? lastP : h[k];
      if (pk == 0)
        continue;
      double pn = double(pk) / double(counted), qn = q[k] / qTotal;
      kl += pn * std::log(pn / qn);
    }
    if (kl < bestKl) {
      bestKl = kl;
      bestI = i;
    }
  }
  return std::min(float(double(bestI) * halfRange / absBins), maxAbs);
}

QuantParams HistogramObserver::entropy(QuantScheme scheme) const {
  if (scheme == QuantScheme::Symmetric) {
    float t = entropyThreshold(128);
    return paramsFromRange(-t, t, scheme);
  }
  bool oneSign = min() >= 0.0f || max() <= 0.0f;
  float t = entropyThreshold(oneSign ? 255 : 128);
  return paramsFromRange(std::max(min(), -t), std::min(max(), t), scheme);
}

} // namespace nnc::rt
