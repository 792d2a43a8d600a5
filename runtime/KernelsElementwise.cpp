//===- runtime/KernelsElementwise.cpp - activations, dropout, optimizers --===//
//
// Part of nnc. Elementwise helpers the code generator may call while its own
// fused kernels are not tuned yet, the counter-based dropout RNG, and the
// optimizer updates with torch.optim's formulas (see Kernels.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <atomic>
#include <cmath>

using namespace nnc::kernels;

namespace {

/// SplitMix64's finalizer over the seed-scrambled counter.
inline uint64_t mix64(uint64_t seed, uint64_t counter) {
  uint64_t z = (seed * 0x9E3779B97F4A7C15ULL) ^ counter;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Uniform in [0, 1) with 24 bits (exactly representable in f32).
inline float uniform(uint64_t seed, uint64_t counter) {
  return static_cast<float>(mix64(seed, counter) >> 40) * 0x1.0p-24f;
}

} // namespace

#define NNC_PARALLEL_FOR                                                       \
  _Pragma("omp parallel for schedule(static) if (n > kParallelGrain)")

extern "C" {

//===----------------------------------------------------------------------===//
// Activations
//===----------------------------------------------------------------------===//

void nnc_relu_fwd(const float *x, float *y, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void nnc_relu_bwd(const float *dy, const float *x, float *dx, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    dx[i] = x[i] > 0.0f ? dy[i] : 0.0f;
}

void nnc_sigmoid_fwd(const float *x, float *y, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    y[i] = 1.0f / (1.0f + std::exp(-x[i]));
}

void nnc_sigmoid_bwd(const float *dy, const float *y, float *dx, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    dx[i] = dy[i] * y[i] * (1.0f - y[i]);
}

void nnc_tanh_fwd(const float *x, float *y, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    y[i] = std::tanh(x[i]);
}

void nnc_tanh_bwd(const float *dy, const float *y, float *dx, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    dx[i] = dy[i] * (1.0f - y[i] * y[i]);
}

void nnc_gelu_fwd(const float *x, float *y, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    y[i] =
        x[i] * 0.5f * (1.0f + std::erf(x[i] * static_cast<float>(M_SQRT1_2)));
}

void nnc_gelu_bwd(const float *dy, const float *x, float *dx, int64_t n) {
  const float kAlpha = static_cast<float>(M_SQRT1_2);
  const float kBeta = static_cast<float>(M_2_SQRTPI * M_SQRT1_2 * 0.5);
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i) {
    float cdf = 0.5f * (1.0f + std::erf(x[i] * kAlpha));
    float pdf = kBeta * std::exp(-0.5f * x[i] * x[i]);
    dx[i] = dy[i] * (cdf + x[i] * pdf);
  }
}

void nnc_leaky_relu_fwd(const float *x, float *y, int64_t n, float slope) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    y[i] = x[i] > 0.0f ? x[i] : x[i] * slope;
}

void nnc_leaky_relu_bwd(const float *dy, const float *x, float *dx, int64_t n,
                        float slope) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    dx[i] = x[i] > 0.0f ? dy[i] : dy[i] * slope;
}

//===----------------------------------------------------------------------===//
// Softmax over the last dim
//===----------------------------------------------------------------------===//

void nnc_softmax_fwd(const float *x, float *y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const float *p = x + r * cols;
    float *q = y + r * cols;
    float mx = -INFINITY;
    for (int64_t j = 0; j < cols; ++j)
      mx = p[j] > mx ? p[j] : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; ++j) {
      q[j] = std::exp(p[j] - mx);
      sum += q[j];
    }
    const float inv = 1.0f / sum;
    for (int64_t j = 0; j < cols; ++j)
      q[j] *= inv;
  }
}

void nnc_softmax_bwd(const float *dy, const float *y, float *dx, int64_t rows,
                     int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const float *g = dy + r * cols, *p = y + r * cols;
    float *q = dx + r * cols;
    float dot = 0.0f;
    for (int64_t j = 0; j < cols; ++j)
      dot += g[j] * p[j];
    for (int64_t j = 0; j < cols; ++j)
      q[j] = p[j] * (g[j] - dot);
  }
}

void nnc_log_softmax_fwd(const float *x, float *y, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const float *p = x + r * cols;
    float *q = y + r * cols;
    float mx = -INFINITY;
    for (int64_t j = 0; j < cols; ++j)
      mx = p[j] > mx ? p[j] : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; ++j)
      sum += std::exp(p[j] - mx);
    const float lse = mx + std::log(sum);
    for (int64_t j = 0; j < cols; ++j)
      q[j] = p[j] - lse;
  }
}

void nnc_log_softmax_bwd(const float *dy, const float *y, float *dx,
                         int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (rows * cols > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const float *g = dy + r * cols, *p = y + r * cols;
    float *q = dx + r * cols;
    float sum = 0.0f;
    for (int64_t j = 0; j < cols; ++j)
      sum += g[j];
    for (int64_t j = 0; j < cols; ++j)
      q[j] = g[j] - std::exp(p[j]) * sum;
  }
}

void nnc_add(const float *a, const float *b, float *y, int64_t n) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

//===----------------------------------------------------------------------===//
// Dropout
//===----------------------------------------------------------------------===//

void nnc_dropout_mask(uint8_t *mask, int64_t n, float p, uint64_t seed,
                      uint64_t offset) {
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    mask[i] = uniform(seed, offset + static_cast<uint64_t>(i)) >= p ? 1 : 0;
}

void nnc_dropout_fwd(const float *x, float *y, uint8_t *mask, int64_t n,
                     float p, uint64_t seed, uint64_t offset) {
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) {
    bool keep = uniform(seed, offset + static_cast<uint64_t>(i)) >= p;
    mask[i] = keep ? 1 : 0;
    y[i] = keep ? x[i] * scale : 0.0f;
  }
}

void nnc_dropout_bwd(const float *dy, const uint8_t *mask, float *dx, int64_t n,
                     float p) {
  const float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i)
    dx[i] = mask[i] ? dy[i] * scale : 0.0f;
}

} // extern "C"

//===----------------------------------------------------------------------===//
// Numerics checks
//===----------------------------------------------------------------------===//

namespace {
/// The first op with a non-finite result since the last reset (-1: none).
std::atomic<int64_t> firstNonFinite{-1};
} // namespace

void nnc_check_finite(const float *p, int64_t n, int64_t op) {
  if (firstNonFinite.load(std::memory_order_relaxed) >= 0)
    return;
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) {
      int64_t none = -1;
      firstNonFinite.compare_exchange_strong(none, op);
      return;
    }
}

void nnc_numerics_reset(void) { firstNonFinite.store(-1); }

int64_t nnc_numerics_first(void) { return firstNonFinite.load(); }
