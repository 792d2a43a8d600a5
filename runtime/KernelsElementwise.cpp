//===- runtime/KernelsElementwise.cpp - optimizers, numerics checks -------===//
//
// Part of nnc. The optimizer updates with torch.optim's formulas and the
// NaN/Inf checks (see Kernels.h). Activations, softmax, dropout and the
// losses are generated code (codegen/Linalg*.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <atomic>
#include <cmath>

using namespace nnc::kernels;

#define NNC_PARALLEL_FOR                                                       \
  _Pragma("omp parallel for schedule(static) if (n > kParallelGrain)")

extern "C" {

//===----------------------------------------------------------------------===//
// Optimizer updates
//===----------------------------------------------------------------------===//

void nnc_sgd_update(float *param, const float *grad, int64_t n, float lr,
                    float weightDecay) {
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i) {
    float g = weightDecay != 0.0f ? grad[i] + weightDecay * param[i] : grad[i];
    param[i] -= lr * g;
  }
}

void nnc_momentum_update(float *param, const float *grad, float *buf, int64_t n,
                         float lr, float momentum, float dampening,
                         float weightDecay, int32_t nesterov, int64_t step) {
  const bool first = step <= 1;
  const float keep = 1.0f - dampening;
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i) {
    float g = weightDecay != 0.0f ? grad[i] + weightDecay * param[i] : grad[i];
    float b = first ? g : momentum * buf[i] + keep * g;
    buf[i] = b;
    float d = nesterov ? g + momentum * b : b;
    param[i] -= lr * d;
  }
}

void nnc_adam_update(float *param, const float *grad, float *m, float *v,
                     int64_t n, float lr, float beta1, float beta2, float eps,
                     float weightDecay, int32_t adamw, int64_t step) {
  const double s = static_cast<double>(step < 1 ? 1 : step);
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), s);
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), s);
  const float stepSize = static_cast<float>(lr / bc1);
  const float bc2Sqrt = static_cast<float>(std::sqrt(bc2));
  const float decay =
      adamw ? static_cast<float>(1.0 - static_cast<double>(lr) * weightDecay)
            : 1.0f;
  const float l2 = adamw ? 0.0f : weightDecay;
  const float w1 = 1.0f - beta1, w2 = 1.0f - beta2;
  NNC_PARALLEL_FOR
  for (int64_t i = 0; i < n; ++i) {
    float p = param[i] * decay;
    float g = grad[i] + l2 * p;
    float mi = m[i] * beta1 + w1 * g;
    float vi = v[i] * beta2 + w2 * g * g;
    m[i] = mi;
    v[i] = vi;
    float denom = std::sqrt(vi) / bc2Sqrt + eps;
    param[i] = p + (-stepSize * mi) / denom; // addcdiv's order
  }
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
