//===- runtime/KernelsNorm.cpp - batchnorm, embedding and loss kernels ----===//
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
// Batch normalization
//===----------------------------------------------------------------------===//

void nnc_batchnorm_train_fwd(const float *x, const float *gamma,
                             const float *beta, float *y, float *runningMean,
                             float *runningVar, float *savedMean,
                             float *savedInvstd, int64_t N, int64_t C,
                             int64_t S, float momentum, float eps) {
  const int64_t count = N * S;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    double sum = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float *p = x + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i)
        sum += p[i];
    }
    const double mean = count > 0 ? sum / static_cast<double>(count) : 0.0;
    double sq = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float *p = x + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i) {
        double d = p[i] - mean;
        sq += d * d;
      }
    }
    const double var = count > 0 ? sq / static_cast<double>(count) : 0.0;
    const double invstd = 1.0 / std::sqrt(var + static_cast<double>(eps));
    savedMean[c] = static_cast<float>(mean);
    savedInvstd[c] = static_cast<float>(invstd);
    if (runningMean)
      runningMean[c] = static_cast<float>((1.0 - momentum) * runningMean[c] +
                                          momentum * mean);
    if (runningVar) {
      double unbiased = count > 1 ? sq / static_cast<double>(count - 1) : var;
      runningVar[c] = static_cast<float>((1.0 - momentum) * runningVar[c] +
                                         momentum * unbiased);
    }
    const float scale = static_cast<float>(invstd) * (gamma ? gamma[c] : 1.0f);
    const float shift =
        (beta ? beta[c] : 0.0f) - static_cast<float>(mean) * scale;
    for (int64_t n = 0; n < N; ++n) {
      const float *p = x + (n * C + c) * S;
      float *q = y + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i)
        q[i] = p[i] * scale + shift;
    }
  }
}

void nnc_batchnorm_infer_fwd(const float *x, const float *gamma,
                             const float *beta, const float *runningMean,
                             const float *runningVar, float *y, int64_t N,
                             int64_t C, int64_t S, float eps) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const float invstd = 1.0f / std::sqrt(runningVar[c] + eps);
      const float scale = invstd * (gamma ? gamma[c] : 1.0f);
      const float shift = (beta ? beta[c] : 0.0f) - runningMean[c] * scale;
      const float *p = x + (n * C + c) * S;
      float *q = y + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i)
        q[i] = p[i] * scale + shift;
    }
}

void nnc_batchnorm_bwd(const float *dy, const float *x, const float *gamma,
                       const float *savedMean, const float *savedInvstd,
                       float *dx, float *dgamma, float *dbeta, int64_t N,
                       int64_t C, int64_t S) {
  const int64_t count = N * S;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < C; ++c) {
    const double mean = savedMean[c], invstd = savedInvstd[c];
    double sumDy = 0.0, sumDyXhat = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float *g = dy + (n * C + c) * S;
      const float *p = x + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i) {
        sumDy += g[i];
        sumDyXhat += g[i] * ((p[i] - mean) * invstd);
      }
    }
    if (dbeta)
      dbeta[c] = static_cast<float>(sumDy);
    if (dgamma)
      dgamma[c] = static_cast<float>(sumDyXhat);
    if (!dx || count == 0)
      continue;
    const double gm = gamma ? gamma[c] : 1.0;
    const float k = static_cast<float>(gm * invstd);
    const float meanDy = static_cast<float>(sumDy / count);
    const float meanDyXhat = static_cast<float>(sumDyXhat / count);
    const float fMean = static_cast<float>(mean), fInv = savedInvstd[c];
    for (int64_t n = 0; n < N; ++n) {
      const float *g = dy + (n * C + c) * S;
      const float *p = x + (n * C + c) * S;
      float *q = dx + (n * C + c) * S;
      for (int64_t i = 0; i < S; ++i) {
        float xhat = (p[i] - fMean) * fInv;
        q[i] = k * (g[i] - meanDy - xhat * meanDyXhat);
      }
    }
  }
}

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
