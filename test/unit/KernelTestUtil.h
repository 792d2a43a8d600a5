//===- test/unit/KernelTestUtil.h - helpers for the kernel tests -*- C++
//-*-===//
//
// Part of nnc. Seeded random tensors and comparisons shared by KernelTest.cpp
// and KernelGradTest.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TEST_UNIT_KERNELTESTUTIL_H
#define NNC_TEST_UNIT_KERNELTESTUTIL_H

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace nnc::test {

/// n uniform values in [lo, hi) from a fixed seed.
inline std::vector<float> randomVec(int64_t n, uint32_t seed, float lo = -1.0f,
                                    float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = dist(gen);
  return v;
}

/// max |a - b| / max(1, |b|) over all elements.
inline double maxRelErr(const float *a, const float *b, int64_t n) {
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i)
    worst = std::max(worst,
                     std::fabs(static_cast<double>(a[i]) - b[i]) /
                         std::max(1.0, std::fabs(static_cast<double>(b[i]))));
  return worst;
}

/// Scratch of at least `bytes` bytes, 64-byte aligned.
struct Scratch {
  explicit Scratch(int64_t bytes)
      : store(static_cast<size_t>(bytes / 4 + 32)) {}
  void *get() {
    auto p = reinterpret_cast<uintptr_t>(store.data());
    return reinterpret_cast<void *>((p + 63) / 64 * 64);
  }
  std::vector<float> store;
};

} // namespace nnc::test

#endif // NNC_TEST_UNIT_KERNELTESTUTIL_H
