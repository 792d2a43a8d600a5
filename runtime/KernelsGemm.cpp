//===- runtime/KernelsGemm.cpp - threads, GEMM and linear kernels ---------===//
//
// Part of nnc. GEMM goes to oneDNN's dnnl_sgemm (row-major, OpenMP-threaded,
// deterministic for a fixed thread count): at the sizes of LeNet-5 and
// LSTM(28->128) at batch 64 it beat OpenBLAS 0.3.21 by 1.0-6x on one thread
// and 1.2-8x on two (see the kernels report in docs/training.md).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <unistd.h>

namespace {
/// Threads kernels use; 0 until first asked (then the online core count).
std::atomic<int32_t> numThreads{0};

int32_t defaultThreads() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int32_t>(n) : 1;
}

/// The first error a kernel reported since the last clear.
std::mutex errorMutex;
bool hasError = false;
std::string errorMessage;
} // namespace

void nnc::kernels::reportError(const std::string &message) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (hasError)
    return;
  hasError = true;
  errorMessage = message;
}

void nnc::kernels::gemm(bool transA, bool transB, int64_t M, int64_t N,
                        int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C,
                        int64_t ldc) {
  if (M <= 0 || N <= 0)
    return;
  if (K <= 0 || alpha == 0.0f) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  // oneDNN rejects an unused leading dimension of 0; any value >= 1 is fine.
  dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A,
             lda > 0 ? lda : 1, B, ldb > 0 ? ldb : 1, beta, C,
             ldc > 0 ? ldc : 1);
}

extern "C" {

void nnc_set_num_threads(int32_t n) {
  if (n <= 0)
    n = defaultThreads();
  numThreads.store(n);
  omp_set_num_threads(n);
}

int32_t nnc_get_num_threads(void) {
  int32_t n = numThreads.load();
  if (n == 0) {
    nnc_set_num_threads(0);
    n = numThreads.load();
  }
  return n;
}

const char *nnc_kernels_error(void) {
  std::lock_guard<std::mutex> lock(errorMutex);
  return hasError ? errorMessage.c_str() : nullptr;
}

void nnc_kernels_clear_error(void) {
  std::lock_guard<std::mutex> lock(errorMutex);
  hasError = false;
  errorMessage.clear();
}

void nnc_gemm(int32_t transA, int32_t transB, int64_t M, int64_t N, int64_t K,
              float alpha, const float *A, int64_t lda, const float *B,
              int64_t ldb, float beta, float *C, int64_t ldc) {
  nnc::rt::LibraryTimer timer;
  nnc::kernels::gemm(transA != 0, transB != 0, M, N, K, alpha, A, lda, B, ldb,
                     beta, C, ldc);
}

void nnc_linear_fwd(const float *x, const float *w, const float *b, float *y,
                    int64_t M, int64_t in, int64_t out, int32_t epilogue) {
  nnc::rt::LibraryTimer timer;
  nnc::kernels::gemm(false, true, M, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  if (!b && epilogue != 1)
    return;
  // Bias and relu in one pass over y while it is still in cache.
  const bool relu = epilogue == 1;
#pragma omp parallel for schedule(static) if (M * out >=                       \
                                              nnc::kernels::kParallelGrain)
  for (int64_t i = 0; i < M; ++i) {
    float *row = y + i * out;
    if (b)
      for (int64_t j = 0; j < out; ++j)
        row[j] += b[j];
    if (relu)
      for (int64_t j = 0; j < out; ++j)
        row[j] = row[j] < 0.0f ? 0.0f : row[j]; // NaN stays NaN
  }
}

void nnc_linear_bwd(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, float *db, int64_t M, int64_t in, int64_t out) {
  nnc::rt::LibraryTimer timer;
  if (dx)
    nnc::kernels::gemm(false, false, M, in, out, 1.0f, dy, out, w, in, 0.0f, dx,
                       in);
  if (dw)
    nnc::kernels::gemm(true, false, out, in, M, 1.0f, dy, out, x, in, 0.0f, dw,
                       in);
  if (db) {
    // Row order fixed: deterministic for any thread count.
    for (int64_t j = 0; j < out; ++j)
      db[j] = 0.0f;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < out; ++j)
        db[j] += dy[i * out + j];
  }
}

} // extern "C"
