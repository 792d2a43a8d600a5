//===- runtime/KernelsRecurrent.cpp - RNN, LSTM and GRU time loops --------===//
//
// Part of nnc. The CPU's recurrent layers: the time loop of
// runtime/RecurrentLoop.h with oneDNN GEMMs on host memory.
//
// The batch rows are independent through the whole time loop, so it runs in
// one parallel region: each thread takes a fixed range of rows and runs every
// step on them (its GEMMs single-threaded, the step function on its rows), with
// no synchronization between steps. A row's arithmetic does not depend on the
// split, so the results are the same for any thread count. The per-step
// GEMMs share one W_hh, packed once per layer and direction (PackedGemm).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"
#include "runtime/RecurrentLoop.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

using namespace nnc::kernels;
using namespace nnc::kernels::recurrent;

namespace {

/// A thread's time loop gets at least this many batch rows (fewer make its
/// per-step GEMM too small to pay for the thread).
constexpr int64_t kMinRowsPerThread = 4;

/// Calls `body(r0, n)` on consecutive ranges of rows [r0, r0 + n) that cover
/// [0, N), one range per thread of one parallel region (a single call on the
/// calling thread when N is too small to split).
template <typename Body> void forRowRanges(int64_t N, Body body) {
  const int64_t parts =
      std::min<int64_t>(omp_get_max_threads(), N / kMinRowsPerThread);
  if (parts <= 1 || omp_in_parallel()) {
    body(int64_t(0), N);
    return;
  }
#pragma omp parallel num_threads(static_cast<int>(parts))
  {
    const int64_t p = omp_get_thread_num(), n = omp_get_num_threads();
    const int64_t r0 = N * p / n, r1 = N * (p + 1) / n;
    body(r0, r1 - r0);
  }
}

/// The packed copy of the recurrent weights of the time loop running on this
/// thread (kept between calls: no allocation per call).
thread_local std::vector<float> packedWeights;

/// The time loop's operations on the CPU (RecurrentLoop.h).
struct CpuOps {
  void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
            int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    nnc::kernels::gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  void fill(float *p, int64_t n, float value) { std::fill(p, p + n, value); }
  void copy2d(const float *src, int64_t srcLd, float *dst, int64_t dstLd, int64_t rows,
              int64_t cols) {
    for (int64_t i = 0; i < rows; ++i)
      std::memcpy(dst + i * dstLd, src + i * srcLd, sizeof(float) * cols);
  }
  template <typename Body> void forRowRanges(int64_t N, Body body) { ::forRowRanges(N, body); }
  /// W_hh packed once per layer and direction.
  class RecurrentGemm {
  public:
    RecurrentGemm(CpuOps &, bool transB, int64_t N, int64_t K, const float *B, int64_t ldb,
                  int64_t lda, int64_t ldc, int64_t batch)
        : packed(transB, N, K, B, ldb, lda, ldc, batch, packedWeights) {}
    void run(int64_t M, const float *A, float beta, float *C) const { packed.run(M, A, beta, C); }

  private:
    PackedGemm packed;
  };
};

} // namespace

extern "C" {

#define NNC_REC_SIZES(name, cellKind)                                          \
  int64_t nnc_##name##_reserve_bytes(int64_t N, int64_t T, int64_t F,          \
                                     int64_t H, int64_t L, int32_t bidir) {    \
    return Rec(cellKind, N, T, F, H, L, bidir).reserveBytes();                 \
  }                                                                            \
  int64_t nnc_##name##_fwd_scratch_bytes(int64_t N, int64_t T, int64_t F,     \
                                         int64_t H, int64_t L, int32_t bidir,  \
                                         int32_t train) {                      \
    return Rec(cellKind, N, T, F, H, L, bidir).fwdScratchBytes(train != 0);    \
  }                                                                            \
  int64_t nnc_##name##_bwd_scratch_bytes(                                      \
      int64_t N, int64_t T, int64_t F, int64_t H, int64_t L, int32_t bidir) {  \
    return Rec(cellKind, N, T, F, H, L, bidir).bwdScratchBytes();              \
  }

NNC_REC_SIZES(rnn, Cell::RnnTanh)
NNC_REC_SIZES(lstm, Cell::Lstm)
NNC_REC_SIZES(gru, Cell::Gru)
#undef NNC_REC_SIZES

void nnc_rnn_fwd(const float *x, const float *const *weights, float *y,
                 float *reserve, void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F,
                 int64_t H, int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences, int32_t relu) {
  nnc::rt::LibraryTimer timer;
  CpuOps ops;
  recurrentFwd(
      ops,
      Rec(relu ? Cell::RnnRelu : Cell::RnnTanh, N, T, F, H, L, bidir, hasBias, returnSequences), x,
      weights, y, reserve, scratch, step);
}

void nnc_rnn_bwd(const float *dy, const float *x, const float *const *weights,
                 const float *reserve, float *dx, float *const *dweights,
                 void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                 int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences, int32_t relu) {
  nnc::rt::LibraryTimer timer;
  CpuOps ops;
  recurrentBwd(
      ops,
      Rec(relu ? Cell::RnnRelu : Cell::RnnTanh, N, T, F, H, L, bidir, hasBias, returnSequences), dy,
      x, weights, reserve, dx, dweights, scratch, step);
}

void nnc_lstm_fwd(const float *x, const float *const *weights, float *y,
                  float *reserve, void *scratch, nnc_step_fn step, int64_t N, int64_t T,
                  int64_t F, int64_t H, int64_t L, int32_t bidir,
                  int32_t hasBias, int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  CpuOps ops;
  recurrentFwd(ops, Rec(Cell::Lstm, N, T, F, H, L, bidir, hasBias, returnSequences), x, weights, y,
               reserve, scratch, step);
}

void nnc_lstm_bwd(const float *dy, const float *x, const float *const *weights,
                  const float *reserve, float *dx, float *const *dweights,
                  void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                  int64_t L, int32_t bidir, int32_t hasBias,
                  int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  CpuOps ops;
  recurrentBwd(ops, Rec(Cell::Lstm, N, T, F, H, L, bidir, hasBias, returnSequences), dy, x, weights,
               reserve, dx, dweights, scratch, step);
}

void nnc_gru_fwd(const float *x, const float *const *weights, float *y,
                 float *reserve, void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F,
                 int64_t H, int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  CpuOps ops;
  recurrentFwd(ops, Rec(Cell::Gru, N, T, F, H, L, bidir, hasBias, returnSequences), x, weights, y,
               reserve, scratch, step);
}

void nnc_gru_bwd(const float *dy, const float *x, const float *const *weights,
                 const float *reserve, float *dx, float *const *dweights,
                 void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                 int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  CpuOps ops;
  recurrentBwd(ops, Rec(Cell::Gru, N, T, F, H, L, bidir, hasBias, returnSequences), dy, x, weights,
               reserve, dx, dweights, scratch, step);
}

} // extern "C"
