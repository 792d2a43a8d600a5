//===- runtime/KernelsElementwise.cpp - numerics checks -------------------===//
//
// Part of nnc. The NaN/Inf checks of --check-numerics (see Kernels.h).
// Activations, softmax, dropout, losses, pooling, batchnorm, embeddings and
// the optimizer updates are generated code (codegen/Linalg*.cpp).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <atomic>
#include <cmath>

using namespace nnc::kernels;

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
