//===- runtime/GpuKernelsRecurrent.cpp - RNN, LSTM and GRU on the GPU ----===//
//
// Part of nnc. The recurrent layers' time loop (runtime/RecurrentLoop.h, the
// CPU's) run from the host on device buffers: GEMMs with cuBLAS, fills with
// cuMemsetD32Async, strided copies with cublasSgeam, all on the one stream;
// every step calls the generated step function once with all N rows (on the
// GPU that is a host function that launches its kernel on the stream). The
// loop only enqueues work: nothing synchronizes.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuKernels.h"
#include "runtime/GpuLibraries.h"
#include "runtime/RecurrentLoop.h"

using namespace nnc::kernels::recurrent;
using namespace nnc::rt::gpu;

namespace {

/// The time loop's operations on the GPU (RecurrentLoop.h). A failed call
/// has reported its error; the loop goes on enqueueing (its results are then
/// discarded by Model::run).
struct GpuOps {
  const LibraryHandles &h;

  void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
            int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    deviceGemm(h, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
  void fill(float *p, int64_t n, float value) { deviceFill(p, n, value); }
  void copy2d(const float *src, int64_t srcLd, float *dst, int64_t dstLd, int64_t rows,
              int64_t cols) {
    deviceCopy2d(h, src, srcLd, dst, dstLd, rows, cols);
  }
  /// One range: the device runs all rows of a step at once.
  template <typename Body> void forRowRanges(int64_t N, Body body) { body(int64_t(0), N); }
  /// The per-step products: plain cublasSgemm calls on W_hh.
  using RecurrentGemm = UnpackedGemm<GpuOps>;
};

template <typename... Args> void forward(Args... args) {
  if (const LibraryHandles *h = libraryHandles()) {
    GpuOps ops{*h};
    recurrentFwd(ops, args...);
  }
}

template <typename... Args> void backward(Args... args) {
  if (const LibraryHandles *h = libraryHandles()) {
    GpuOps ops{*h};
    recurrentBwd(ops, args...);
  }
}

} // namespace

extern "C" {

void nnc_gpu_rnn_fwd(const float *x, const float *const *weights, float *y, float *reserve,
                     void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                     int64_t L, int32_t bidir, int32_t hasBias, int32_t returnSequences,
                     int32_t relu) {
  forward(Rec(relu ? Cell::RnnRelu : Cell::RnnTanh, N, T, F, H, L, bidir, hasBias, returnSequences),
          x, weights, y, reserve, scratch, step);
}

void nnc_gpu_rnn_bwd(const float *dy, const float *x, const float *const *weights,
                     const float *reserve, float *dx, float *const *dweights, void *scratch,
                     nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L,
                     int32_t bidir, int32_t hasBias, int32_t returnSequences, int32_t relu) {
  backward(
      Rec(relu ? Cell::RnnRelu : Cell::RnnTanh, N, T, F, H, L, bidir, hasBias, returnSequences), dy,
      x, weights, reserve, dx, dweights, scratch, step);
}

void nnc_gpu_lstm_fwd(const float *x, const float *const *weights, float *y, float *reserve,
                      void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                      int64_t L, int32_t bidir, int32_t hasBias, int32_t returnSequences) {
  forward(Rec(Cell::Lstm, N, T, F, H, L, bidir, hasBias, returnSequences), x, weights, y, reserve,
          scratch, step);
}

void nnc_gpu_lstm_bwd(const float *dy, const float *x, const float *const *weights,
                      const float *reserve, float *dx, float *const *dweights, void *scratch,
                      nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L,
                      int32_t bidir, int32_t hasBias, int32_t returnSequences) {
  backward(Rec(Cell::Lstm, N, T, F, H, L, bidir, hasBias, returnSequences), dy, x, weights, reserve,
           dx, dweights, scratch, step);
}

void nnc_gpu_gru_fwd(const float *x, const float *const *weights, float *y, float *reserve,
                     void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                     int64_t L, int32_t bidir, int32_t hasBias, int32_t returnSequences) {
  forward(Rec(Cell::Gru, N, T, F, H, L, bidir, hasBias, returnSequences), x, weights, y, reserve,
          scratch, step);
}

void nnc_gpu_gru_bwd(const float *dy, const float *x, const float *const *weights,
                     const float *reserve, float *dx, float *const *dweights, void *scratch,
                     nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L,
                     int32_t bidir, int32_t hasBias, int32_t returnSequences) {
  backward(Rec(Cell::Gru, N, T, F, H, L, bidir, hasBias, returnSequences), dy, x, weights, reserve,
           dx, dweights, scratch, step);
}

} // extern "C"
