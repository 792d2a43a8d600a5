//===- runtime/KernelsNorm.cpp - batchnorm and embedding kernels ----------===//
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
// Embedding
//===----------------------------------------------------------------------===//

int64_t nnc_embedding_fwd(const int64_t *ids, const float *table, float *out,
                          int64_t numIds, int64_t V, int64_t D) {
  int64_t bad = 0;
#pragma omp parallel for schedule(static) reduction(+ : bad)
  for (int64_t i = 0; i < numIds; ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= V) {
      ++bad;
      id = id < 0 ? 0 : V - 1;
    }
    if (V > 0)
      std::memcpy(out + i * D, table + id * D, sizeof(float) * D);
    else
      std::memset(out + i * D, 0, sizeof(float) * D);
  }
  return bad;
}

int64_t nnc_embedding_bwd(const int64_t *ids, const float *dout, float *dtable,
                          int64_t numIds, int64_t V, int64_t D) {
  std::memset(dtable, 0, sizeof(float) * V * D);
  int64_t bad = 0;
  if (V <= 0)
    return numIds;
  // Sequential over ids (fixed summation order); each row add is vectorized.
  for (int64_t i = 0; i < numIds; ++i) {
    int64_t id = ids[i];
    if (id < 0 || id >= V) {
      ++bad;
      id = id < 0 ? 0 : V - 1;
    }
    float *row = dtable + id * D;
    const float *g = dout + i * D;
    for (int64_t j = 0; j < D; ++j)
      row[j] += g[j];
  }
  return bad;
}

} // extern "C"
