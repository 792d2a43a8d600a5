//===- Quantize.h - int8 post-training quantization calibration -*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). The numerics of static
// int8 post-training quantization, as pure functions (docs/quantization.md):
//
// - Weights: per-output-channel symmetric int8. For a row-major tensor whose
//   first dimension is the output channel, scale[c] = max|w[c,...]| / 127 and
//   q = clamp(roundHalfEven(w / scale[c]), -127, 127); a channel of zeros gets
//   scale 1 (all its q are 0, which dequantize to exactly 0).
// - Activations: a HistogramObserver accumulates running min/max and a
//   histogram over N batches, and derives per-tensor QuantParams by min/max,
//   percentile or entropy (KL divergence) calibration.
//
// Rounding is round-half-to-even everywhere, independent of the floating-point
// environment's rounding mode. Inputs are expected finite; the observer skips
// NaN and infinities (and counts them).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_QUANTIZE_H
#define NNC_RUNTIME_QUANTIZE_H

#include <cstddef>
#include <cstdint>
#include <vector>

namespace nnc::rt {

/// Rounds to the nearest integer, ties to even (2.5 -> 2, 3.5 -> 4, -2.5 -> -2).
double roundHalfEven(double x);

//===----------------------------------------------------------------------===//
// Weights: per-output-channel symmetric int8
//===----------------------------------------------------------------------===//

/// A weight tensor quantized per output channel: `values` has the tensor's
/// shape (row-major, channel first), `scales` one entry per channel.
struct ChannelQuantizedWeights {
  std::vector<int8_t> values;
  std::vector<float> scales;
};

/// Quantizes `channels * perChannel` floats (channel c at
/// w[c * perChannel, (c + 1) * perChannel)) to symmetric int8 in [-127, 127].
ChannelQuantizedWeights quantizeWeightsPerChannel(const float *w, size_t channels,
                                                  size_t perChannel);

/// Writes values[i] * scales[i / perChannel] to out[i] for every element.
void dequantizeWeightsPerChannel(const ChannelQuantizedWeights &q, size_t perChannel, float *out);

/// Bytes the quantized tensor stores: one int8 per element plus one f32 scale
/// per channel, i.e. channels * perChannel + 4 * channels (f32: 4 * channels *
/// perChannel, so the ratio is 4 * perChannel / (perChannel + 4)).
size_t quantizedWeightBytes(size_t channels, size_t perChannel);

//===----------------------------------------------------------------------===//
// Activations: per-tensor parameters and calibration
//===----------------------------------------------------------------------===//

/// Symmetric: int8 in [-127, 127], zero point 0. Asymmetric: uint8 in
/// [0, 255] with a zero point.
enum class QuantScheme { Symmetric, Asymmetric };

/// x ~ (q - zeroPoint) * scale, q in [qmin, qmax].
struct QuantParams {
  float scale = 1.0f;
  int32_t zeroPoint = 0;
  int32_t qmin = -127;
  int32_t qmax = 127;
};

/// Parameters covering [lo, hi] (lo <= hi). Symmetric: scale = max(|lo|, |hi|)
/// / 127. Asymmetric: the range is first widened to contain 0, scale =
/// (hi - lo) / 255, zeroPoint = roundHalfEven(-lo / scale) in [0, 255], so 0.0
/// is exactly representable. An empty range (all zero) gets scale 1.
QuantParams paramsFromRange(float lo, float hi, QuantScheme scheme);

/// clamp(roundHalfEven(x / scale) + zeroPoint, qmin, qmax).
int32_t quantizeValue(float x, const QuantParams &p);
/// (q - zeroPoint) * scale.
float dequantizeValue(int32_t q, const QuantParams &p);

/// Accumulates statistics of one activation tensor over calibration batches.
///
/// Besides the running min/max it keeps a histogram of x with 2 * absBins
/// equal bins over [-range, range]. range is the smallest power of two >=
/// max|x| seen so far; when a batch exceeds it, range doubles (as often as
/// needed) and each pair of adjacent bins merges into one bin of the middle
/// half, which is exact. The histogram thus depends only on the multiset of
/// values seen, not on how they were split into batches. Folding the two
/// halves gives a histogram of |x| with absBins bins of width range / absBins.
class HistogramObserver {
public:
  /// absBins: bins of |x| (even, at least 256).
  explicit HistogramObserver(unsigned absBins = 2048);

  /// Adds n values (one batch); non-finite values are skipped and counted.
  void observe(const float *data, size_t n);

  uint64_t count() const { return total; }
  uint64_t nonFiniteCount() const { return nonFinite; }
  /// Running min/max of the finite values (0 before any).
  float min() const { return total ? minValue : 0.0f; }
  float max() const { return total ? maxValue : 0.0f; }
  /// The histogram's half range (0 while every value seen is 0).
  float range() const { return halfRange; }
  /// The histogram of |x|: bin k counts |x| in [k, k + 1) * range / absBins.
  std::vector<uint64_t> absHistogram() const;

  /// Values that were exactly 0 (or -0).
  uint64_t zeroCount() const { return exactZeros; }
  /// (a) The observed [min, max].
  QuantParams minMax(QuantScheme scheme) const;

  /// The smallest bin edge t with at least a fraction p (0 < p <= 1) of the
  /// values in |x| <= t, capped at max|x|.
  float percentileThreshold(double p) const;
  /// (b) Symmetric: [-t, t] with t = percentileThreshold(p). Asymmetric: the
  /// upper edge of the first bin where the fraction p of values lies below
  /// it, and the mirrored lower edge, each capped at the observed min/max.
  QuantParams percentile(double p, QuantScheme scheme) const;

  /// The clipping threshold t (a bin edge i * range / absBins, i >= levels,
  /// capped at max|x|) minimizing KL(P || Q) over the |x| histogram H: P is
  /// H[0, i) with the count of H[i, absBins) (the clipped outliers) added to
  /// its last bin; Q splits H[0, i) (without the outliers) into `levels`
  /// contiguous groups and spreads each group's count evenly over its nonzero
  /// bins. Where P's last bin holds only outliers (Q is 0 there), Q gets half
  /// a count in it so that KL stays finite; candidates with an empty Q (every
  /// value clipped) are skipped. On ties the smallest threshold wins; 0 when
  /// all values are 0. Resolution limit: t >= levels * range / absBins (range
  /// / 16 with the defaults), so with extreme outliers (range >> the bulk)
  /// t stays well below the outliers but above the bulk.
  float entropyThreshold(unsigned levels) const;
  /// (c) Symmetric: [-t, t] with t = entropyThreshold(128). Asymmetric: t
  /// from 255 levels when all values have one sign (else 128), and the range
  /// [max(min, -t), min(max, t)].
  QuantParams entropy(QuantScheme scheme) const;

private:
  unsigned absBins;
  std::vector<uint64_t> bins; // 2 * absBins bins over [-halfRange, halfRange]
  float halfRange = 0.0f;
  float minValue = 0.0f, maxValue = 0.0f;
  uint64_t total = 0, nonFinite = 0, zerosBeforeRange = 0;
  /// Values exactly 0 (or -0): what a relu zeroed.
  uint64_t exactZeros = 0;

  void growTo(float newRange);
  /// Bin edges of the signed histogram: edge(j) = -range + j * width.
  float signedEdge(size_t j) const;
};

} // namespace nnc::rt

#endif // NNC_RUNTIME_QUANTIZE_H
