//===- runtime/KernelsNorm.cpp - embedding and loss kernels ---------------===//
//
// Part of nnc. Per-channel and per-row reductions run in a fixed order and
// accumulate in f64, so results do not depend on the thread count.
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <cmath>
#include <cstring>

using namespace nnc::kernels;

extern "C" {

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

int64_t nnc_cross_entropy_fwd_scratch_bytes(int64_t N, int64_t C) {
  (void)C;
  return alignUp(N * static_cast<int64_t>(sizeof(double) + sizeof(int64_t)));
}

int64_t nnc_cross_entropy_fwd(const float *logits, const int64_t *labels,
                              int64_t N, int64_t C, float *loss,
                              int64_t *correct, void *scratch) {
  double *rowLoss = static_cast<double *>(scratch);
  int64_t *rowFlag = reinterpret_cast<int64_t *>(rowLoss + N);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const float *r = logits + i * C;
    int64_t label = labels[i];
    if (label < 0 || label >= C || C <= 0) {
      rowLoss[i] = 0.0;
      rowFlag[i] = 2; // invalid label
      continue;
    }
    float mx = r[0];
    int64_t arg = 0;
    for (int64_t j = 1; j < C; ++j)
      if (r[j] > mx) {
        mx = r[j];
        arg = j;
      }
    double sum = 0.0;
    for (int64_t j = 0; j < C; ++j)
      sum += std::exp(static_cast<double>(r[j]) - mx);
    rowLoss[i] = static_cast<double>(mx) + std::log(sum) - r[label];
    rowFlag[i] = arg == label ? 1 : 0;
  }
  double total = 0.0;
  int64_t hits = 0, bad = 0;
  for (int64_t i = 0; i < N; ++i) {
    total += rowLoss[i];
    hits += rowFlag[i] == 1;
    bad += rowFlag[i] == 2;
  }
  // Like PyTorch's ignore_index: the mean is over the rows with a valid label
  // (the padding rows of a partial batch carry -100).
  int64_t valid = N - bad;
  *loss = valid > 0 ? static_cast<float>(total / static_cast<double>(valid)) : 0.0f;
  if (correct)
    *correct = hits;
  return bad;
}

int64_t nnc_cross_entropy_bwd(const float *logits, const int64_t *labels,
                              float *dlogits, int64_t N, int64_t C) {
  int64_t bad = 0;
  for (int64_t i = 0; i < N; ++i)
    bad += labels[i] < 0 || labels[i] >= C;
  const float invN = N - bad > 0 ? 1.0f / static_cast<float>(N - bad) : 0.0f;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < N; ++i) {
    const float *r = logits + i * C;
    float *d = dlogits + i * C;
    int64_t label = labels[i];
    if (label < 0 || label >= C) {
      std::memset(d, 0, sizeof(float) * C);
      continue;
    }
    float mx = r[0];
    for (int64_t j = 1; j < C; ++j)
      mx = r[j] > mx ? r[j] : mx;
    float sum = 0.0f;
    for (int64_t j = 0; j < C; ++j) {
      d[j] = std::exp(r[j] - mx);
      sum += d[j];
    }
    const float k = invN / sum;
    for (int64_t j = 0; j < C; ++j)
      d[j] *= k;
    d[label] -= invN;
  }
  return bad;
}

void nnc_mse_fwd(const float *pred, const float *target, int64_t n,
                 float *loss) {
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    double d = static_cast<double>(pred[i]) - target[i];
    sum += d * d;
  }
  *loss = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
}

void nnc_mse_bwd(const float *pred, const float *target, float *dpred,
                 int64_t n) {
  const float k = n > 0 ? 2.0f / static_cast<float>(n) : 0.0f;
#pragma omp parallel for schedule(static) if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    dpred[i] = k * (pred[i] - target[i]);
}

} // extern "C"
