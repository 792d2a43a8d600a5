//===- Random.h - Deterministic PCG32 random numbers ------------*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). One random number
// generator for initializers, shuffling and dropout: PCG32 (XSH-RR, 64-bit
// state; M. E. O'Neill, pcg-random.org), with our own uniform, bounded and
// normal (Box-Muller) draws. std::uniform_*_distribution and std::shuffle are
// implementation-defined, so a seed would give different runs on libstdc++
// and libc++; these give the same integer streams everywhere. Normal draws
// use std::log/std::sqrt/std::cos, whose last bit may differ between C
// libraries; uniform and integer draws are exact.
//
// The initializers reproduce the distributions of PyTorch's defaults (not
// its bit streams): Linear/Conv weights and biases U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5)), recurrent weights
// U(-1/sqrt(hidden), 1/sqrt(hidden)), Embedding N(0, 1), BatchNorm weight 1,
// bias 0.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_RANDOM_H
#define NNC_RUNTIME_RANDOM_H

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace nnc::rt {

/// PCG32: 32-bit outputs, 2^64 period, 2^63 selectable streams.
class Pcg32 {
public:
  /// The reference implementation's default seed and stream.
  Pcg32() : Pcg32(0x853c49e6748fea9bULL, 0xda3e39cb94b95bdbULL) {}
  /// A generator seeded with `seed` on stream `stream` (pcg32_srandom_r).
  explicit Pcg32(uint64_t seed, uint64_t stream = 0x5851f42d4c957f2dULL) {
    this->seed(seed, stream);
  }

  /// Re-seeds, exactly as pcg32_srandom_r(initstate=seed, initseq=stream).
  void seed(uint64_t seed, uint64_t stream) {
    state_ = 0;
    inc_ = (stream << 1) | 1;
    nextU32();
    state_ += seed;
    nextU32();
    hasSpare_ = false;
  }

  /// The next 32 uniformly distributed bits.
  uint32_t nextU32() {
    uint64_t old = state_;
    state_ = old * 6364136223846793005ULL + inc_;
    uint32_t xorshifted = static_cast<uint32_t>(((old >> 18) ^ old) >> 27);
    uint32_t rot = static_cast<uint32_t>(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
  }

  /// A uniform integer in [0, bound) without modulo bias (pcg32_boundedrand);
  /// 0 if bound is 0.
  uint32_t bounded(uint32_t bound) {
    if (bound == 0)
      return 0;
    uint32_t threshold = (0u - bound) % bound;
    for (;;) {
      uint32_t r = nextU32();
      if (r >= threshold)
        return r % bound;
    }
  }

  /// A uniform float in [0, 1) with 24 random bits (exact on every machine).
  float uniform() { return static_cast<float>(nextU32() >> 8) * 0x1p-24f; }

  /// A uniform double in [0, 1) with 53 random bits.
  double uniformDouble() {
    uint64_t hi = nextU32() >> 5, lo = nextU32() >> 6; // 27 + 26 bits.
    return static_cast<double>((hi << 26) | lo) * 0x1p-53;
  }

  /// A standard normal draw (Box-Muller; the second value of each pair is
  /// kept for the next call).
  double normal() {
    if (hasSpare_) {
      hasSpare_ = false;
      return spare_;
    }
    double u1 = 1.0 - uniformDouble(); // (0, 1]: log is finite.
    double u2 = uniformDouble();
    double r = std::sqrt(-2.0 * std::log(u1));
    double theta = 6.283185307179586476925286766559 * u2;
    spare_ = r * std::sin(theta);
    hasSpare_ = true;
    return r * std::cos(theta);
  }

private:
  uint64_t state_ = 0;
  uint64_t inc_ = 1;
  double spare_ = 0;
  bool hasSpare_ = false;
};

/// Fills `data[0..n)` with U(-bound, bound).
inline void initUniform(float *data, int64_t n, float bound, Pcg32 &rng) {
  for (int64_t i = 0; i < n; ++i)
    data[i] = (2.0f * rng.uniform() - 1.0f) * bound;
}

/// Fills `data[0..n)` with N(mean, stddev^2).
inline void initNormal(float *data, int64_t n, float mean, float stddev,
                       Pcg32 &rng) {
  for (int64_t i = 0; i < n; ++i)
    data[i] = static_cast<float>(mean + stddev * rng.normal());
}

/// Fills `data[0..n)` with `value`.
inline void initConstant(float *data, int64_t n, float value) {
  for (int64_t i = 0; i < n; ++i)
    data[i] = value;
}

/// Fills `data[0..n)` with 0 (BatchNorm bias, running mean).
inline void initZeros(float *data, int64_t n) { initConstant(data, n, 0.0f); }

/// Fills `data[0..n)` with 1 (BatchNorm weight, running variance).
inline void initOnes(float *data, int64_t n) { initConstant(data, n, 1.0f); }

/// The bound of PyTorch's default Linear/Conv initializer for both weight
/// and bias: 1/sqrt(fan_in), where fan_in = in_features or
/// in_channels/groups * kernel_h * kernel_w. (For recurrent layers pass the
/// hidden size.) 0 if fanIn <= 0, as PyTorch does for the bias.
inline float defaultInitBound(int64_t fanIn) {
  return fanIn > 0 ? static_cast<float>(1.0 / std::sqrt(double(fanIn))) : 0;
}

/// Shuffles `items` in place (Fisher-Yates with unbiased bounded draws): the
/// same seed gives the same order on every machine.
template <typename T> void shuffle(std::vector<T> &items, Pcg32 &rng) {
  for (size_t i = items.size(); i > 1; --i) {
    size_t j = rng.bounded(static_cast<uint32_t>(i));
    std::swap(items[i - 1], items[j]);
  }
}

} // namespace nnc::rt

#endif // NNC_RUNTIME_RANDOM_H
