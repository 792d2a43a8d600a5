//===- test/unit/GpuKernelsTest.cpp - The GPU library ops without a GPU --===//
//
// Part of nnc. What of runtime/GpuKernels.h can be checked on a machine with
// no GPU: the convolution scratch rule; the row-major to column-major cuBLAS
// mapping and the strided copy as cublasSgeam, each run on the CPU through a
// plain column-major reference; the recurrent time loop with those mappings
// in place of the device's (it must equal the CPU's); the algorithm choice
// among cuDNN's ranking; cuDNN's descriptors built from the real libcudnn.so.9
// (cuDNN's output size must be nnc's) where it loads; the hand-written
// constants and struct layouts against cudnn.h and cublas_v2.h where they are
// installed. On a GPU (GpuKernelsDevice tests): nnc_gpu_gemm, linear and
// conv2d forward/backward and the RNN time loop against the CPU's kernels. A
// test that needs what this machine lacks is skipped with the reason.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuKernels.h"
#include "runtime/GpuLibraries.h"
#include "runtime/RecurrentLoop.h"

#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#if __has_include(<cudnn.h>) && __has_include(<cublas_v2.h>)
#define NNC_HAVE_CUDA_LIBRARY_HEADERS 1
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <cublas_v2.h>
#include <cudnn.h>
#endif

using namespace nnc::rt::gpu;
using namespace nnc::test;

namespace {

constexpr int64_t MiB = int64_t(1) << 20;

//===----------------------------------------------------------------------===//
// The convolution scratch rule
//===----------------------------------------------------------------------===//

int64_t fwdScratch(const ConvShape &s) {
  return nnc_gpu_conv2d_fwd_scratch_bytes(s.N, s.C, s.H, s.W, s.O, s.KH, s.KW, s.strideH, s.strideW,
                                          s.padH, s.padW, s.dilH, s.dilW, s.groups);
}
int64_t bwdScratch(const ConvShape &s) {
  return nnc_gpu_conv2d_bwd_scratch_bytes(s.N, s.C, s.H, s.W, s.O, s.KH, s.KW, s.strideH, s.strideW,
                                          s.padH, s.padW, s.dilH, s.dilW, s.groups);
}

/// The largest tensor's bytes, between 4 MiB and 256 MiB, 64-byte multiple;
/// backward plans the same.
TEST(GpuKernels, ConvScratchIsTheLargestTensorWithinBounds) {
  // Small: every tensor under 4 MiB -> the floor.
  ConvShape small{2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1};
  EXPECT_EQ(fwdScratch(small), 4 * MiB);
  // y [16,64,64,64] = 16 MiB is the largest (x is 8 MiB).
  ConvShape outputLargest{16, 32, 64, 64, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(fwdScratch(outputLargest), 16 * MiB);
  // Stride 2 shrinks y to 2 MiB: x [16,32,64,64] = 8 MiB is the largest.
  ConvShape inputLargest{16, 32, 64, 64, 64, 3, 3, 2, 2, 1, 1, 1, 1, 1};
  EXPECT_EQ(fwdScratch(inputLargest), 8 * MiB);
  // The weights [1024, 512/1, 3, 3] = 18 MiB beat x and y of batch 1.
  ConvShape weightLargest{1, 512, 8, 8, 1024, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(fwdScratch(weightLargest), 1024 * 512 * 9 * 4);
  // Groups divide the weights: 1024 x 8 x 3 x 3 floats, under the floor.
  ConvShape grouped = weightLargest;
  grouped.groups = 64;
  EXPECT_EQ(fwdScratch(grouped), 4 * MiB);
  // Huge: capped at 256 MiB.
  ConvShape huge{256, 64, 224, 224, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1};
  EXPECT_EQ(fwdScratch(huge), 256 * MiB);
  // Not a multiple of 64 bytes: rounded up (y = 3 x 1023 x 1023 x 1 floats).
  ConvShape odd{3, 1, 1025, 1025, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1};
  int64_t oddBytes = 3 * 1025 * 1025 * 4;
  EXPECT_EQ(fwdScratch(odd), (oddBytes + 63) / 64 * 64);
  EXPECT_NE(fwdScratch(odd), oddBytes);
  for (const ConvShape &s : {small, outputLargest, inputLargest, weightLargest, grouped, huge, odd})
    EXPECT_EQ(bwdScratch(s), fwdScratch(s));
}

/// cuBLAS's workspace is the stated constant.
TEST(GpuKernels, LibraryWorkspaceIs32MiB) {
  EXPECT_EQ(nnc_gpu_library_workspace_bytes(), 32 * MiB);
}

//===----------------------------------------------------------------------===//
// cuBLAS argument mapping, run on the CPU
//===----------------------------------------------------------------------===//

/// cublasSgemm's definition (column-major; element (i, j) of X at X[i + j*ld]).
void referenceSgemm(int transa, int transb, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                    int64_t ldc) {
  auto a = [&](int64_t i, int64_t l) {
    return transa == kCublasOpN ? A[i + l * lda] : A[l + i * lda];
  };
  auto b = [&](int64_t l, int64_t j) {
    return transb == kCublasOpN ? B[l + j * ldb] : B[j + l * ldb];
  };
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i) {
      double sum = 0;
      for (int64_t l = 0; l < k; ++l)
        sum += double(a(i, l)) * b(l, j);
      float &c = C[i + j * ldc];
      c = float(alpha * sum + (beta == 0.0f ? 0.0 : double(beta) * c));
    }
}

/// cublasSgeam's definition for op N on both operands.
void referenceSgeam(int64_t m, int64_t n, float alpha, const float *A, int64_t lda, float beta,
                    const float *B, int64_t ldb, float *C, int64_t ldc) {
  for (int64_t j = 0; j < n; ++j)
    for (int64_t i = 0; i < m; ++i)
      C[i + j * ldc] = alpha * A[i + j * lda] + (beta == 0.0f ? 0.0f : beta * B[i + j * ldb]);
}

/// The row-major product C = alpha op(A) op(B) + beta C by definition.
void rowMajorGemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double sum = 0;
      for (int64_t l = 0; l < K; ++l)
        sum += double(transA ? A[l * lda + i] : A[i * lda + l]) *
               (transB ? B[j * ldb + l] : B[l * ldb + j]);
      C[i * ldc + j] = float(alpha * sum + (beta == 0.0f ? 0.0 : double(beta) * C[i * ldc + j]));
    }
}

/// Every transpose combination, padded leading dimensions, alpha/beta: the
/// mapped column-major call computes the row-major product, and leaves the
/// padding alone.
TEST(GpuKernels, RowMajorGemmMapsToColumnMajorCall) {
  const int64_t M = 7, N = 5, K = 9, pad = 3;
  for (bool transA : {false, true})
    for (bool transB : {false, true})
      for (auto [alpha, beta] : {std::pair{1.0f, 0.0f}, std::pair{0.5f, 1.0f}}) {
        const int64_t lda = (transA ? M : K) + pad, ldb = (transB ? K : N) + pad, ldc = N + pad;
        auto A = randomVec((transA ? K : M) * lda, 1), B = randomVec((transB ? N : K) * ldb, 2);
        auto want = randomVec(M * ldc, 3), got = want;
        rowMajorGemm(transA, transB, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta,
                     want.data(), ldc);
        ColumnMajorGemm g =
            toColumnMajor(transA, transB, M, N, K, A.data(), lda, B.data(), ldb, got.data(), ldc);
        EXPECT_EQ(g.m, N);
        EXPECT_EQ(g.n, M);
        referenceSgemm(g.transa, g.transb, g.m, g.n, g.k, alpha, g.A, g.lda, g.B, g.ldb, beta, g.C,
                       g.ldc);
        EXPECT_LT(maxRelErr(got.data(), want.data(), M * ldc), 1e-6)
            << "transA " << transA << " transB " << transB << " beta " << beta;
      }
}

/// nnc_batch_matmul's mapping to cublasSgemmStridedBatched: each entry's
/// column-major call, at the entry's strides, computes what the CPU's
/// nnc_batch_matmul computes (every transpose combination, alpha 0.5).
TEST(GpuKernels, BatchedGemmMapsToStridedBatchedCall) {
  const int64_t batch = 3, M = 7, N = 5, K = 9;
  for (bool transA : {false, true})
    for (bool transB : {false, true}) {
      auto A = randomVec(batch * M * K, 1), B = randomVec(batch * K * N, 2);
      std::vector<float> want(batch * M * N), got(batch * M * N, NAN);
      nnc_batch_matmul(transA, transB, batch, M, N, K, 0.5f, A.data(), B.data(), want.data());
      ColumnMajorBatchedGemm b =
          toColumnMajorBatched(transA, transB, M, N, K, A.data(), B.data(), got.data());
      const ColumnMajorGemm &g = b.gemm;
      for (int64_t i = 0; i < batch; ++i)
        referenceSgemm(g.transa, g.transb, g.m, g.n, g.k, 0.5f, g.A + i * b.strideA, g.lda,
                       g.B + i * b.strideB, g.ldb, 0.0f, g.C + i * b.strideC, g.ldc);
      EXPECT_LT(maxRelErr(got.data(), want.data(), batch * M * N), 1e-5)
          << "transA " << transA << " transB " << transB;
    }
}

/// The strided row copy as cublasSgeam copies exactly the rows' columns.
TEST(GpuKernels, RowCopyMapsToGeam) {
  const int64_t rows = 4, cols = 3, srcLd = 5, dstLd = 7;
  auto src = randomVec(rows * srcLd, 4);
  std::vector<float> dst(rows * dstLd, -7.0f);
  ColumnMajorCopy c = copyAsGeam(src.data(), srcLd, dst.data(), dstLd, rows, cols);
  referenceSgeam(c.m, c.n, 1.0f, c.A, c.lda, 0.0f, c.A, c.lda, c.C, c.ldc);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dstLd; ++j)
      EXPECT_EQ(dst[r * dstLd + j], j < cols ? src[r * srcLd + j] : -7.0f) << r << "," << j;
}

//===----------------------------------------------------------------------===//
// The recurrent loop with the device's operations, emulated on the CPU
//===----------------------------------------------------------------------===//

/// GpuOps (runtime/GpuKernelsRecurrent.cpp) with each cuBLAS call replaced by
/// its definition: the same argument mappings, all rows in one range.
struct EmulatedGpuOps {
  void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
            int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    ColumnMajorGemm g = toColumnMajor(transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
    referenceSgemm(g.transa, g.transb, g.m, g.n, g.k, alpha, g.A, g.lda, g.B, g.ldb, beta, g.C,
                   g.ldc);
  }
  void fill(float *p, int64_t n, float value) { std::fill(p, p + n, value); }
  void copy2d(const float *src, int64_t srcLd, float *dst, int64_t dstLd, int64_t rows,
              int64_t cols) {
    ColumnMajorCopy c = copyAsGeam(src, srcLd, dst, dstLd, rows, cols);
    referenceSgeam(c.m, c.n, 1.0f, c.A, c.lda, 0.0f, c.A, c.lda, c.C, c.ldc);
  }
  template <typename Body> void forRowRanges(int64_t N, Body body) {
    ++ranges;
    body(int64_t(0), N);
  }
  using RecurrentGemm = nnc::kernels::recurrent::UnpackedGemm<EmulatedGpuOps>;
  int ranges = 0;
};

/// Copies a strided [rows, cols] device view (row stride ld) to the host.
std::vector<float> download(const float *p, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<float> host(rows ? (rows - 1) * ld + cols : 0);
  driver().cuMemcpyDtoHAsync(host.data(), CUdeviceptr(uintptr_t(p)), host.size() * 4, stream());
  driver().cuStreamSynchronize(stream());
  return host;
}
void upload(float *p, const std::vector<float> &host) {
  driver().cuMemcpyHtoDAsync(CUdeviceptr(uintptr_t(p)), host.data(), host.size() * 4, stream());
  driver().cuStreamSynchronize(stream());
}

/// Stands in for the generated tanh RNN inference step (memref arguments xp
/// [rows, H], b_ih, b_hh [H], h [rows, H] with row stride ldh):
/// h = tanh(xp + b_ih + b_hh), on host memory or, with `stepOnDevice`, on
/// device memory (it then waits for the stream and copies).
int64_t stepRows = 0;
bool stepOnDevice = false;
void rnnStep(float *, float *xp, int64_t, int64_t rows, int64_t cols, int64_t ldx, int64_t, float *,
             float *bih, int64_t, int64_t, int64_t, float *, float *bhh, int64_t, int64_t, int64_t,
             float *, float *h, int64_t, int64_t, int64_t, int64_t ldh, int64_t) {
  stepRows = rows;
  std::vector<float> X, BI, BH, Hs;
  float *xs = xp, *bi = bih, *bh = bhh, *hs = h;
  if (stepOnDevice) {
    X = download(xp, rows, cols, ldx), BI = download(bih, 1, cols, cols);
    BH = download(bhh, 1, cols, cols), Hs = download(h, rows, cols, ldh);
    xs = X.data(), bi = BI.data(), bh = BH.data(), hs = Hs.data();
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      hs[r * ldh + j] = std::tanh(xs[r * ldx + j] + bi[j] + bh[j]);
  if (stepOnDevice)
    upload(h, Hs);
}

/// Stands in for the generated tanh RNN backward step (memref arguments go
/// [rows, H] with row stride ldg, dh [rows, H], h [rows, H], dxp [rows, H]):
/// dxp = (go + dh) * (1 - h^2), on host memory.
void rnnBwdStep(float *, float *go, int64_t, int64_t rows, int64_t cols, int64_t ldg, int64_t,
                float *, float *dh, int64_t, int64_t, int64_t, int64_t ldd, int64_t, float *,
                float *h, int64_t, int64_t, int64_t, int64_t ldh, int64_t, float *, float *dxp,
                int64_t, int64_t, int64_t, int64_t ldx, int64_t) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      float hv = h[r * ldh + j];
      dxp[r * ldx + j] = (go[r * ldg + j] + dh[r * ldd + j]) * (1 - hv * hv);
    }
}

/// The recurrent tests' layer: a tanh RNN, two bidirectional layers with
/// biases, and its weights in state_dict order.
struct RnnCase {
  static constexpr int64_t N = 5, T = 4, F = 3, H = 6, L = 2;
  std::vector<std::vector<float>> store;
  std::vector<const float *> weights;
  std::vector<float> x = randomVec(N * T * F, 99);
  RnnCase() {
    uint32_t seed = 10;
    for (int64_t l = 0; l < L; ++l)
      for (int d = 0; d < 2; ++d)
        for (int64_t size : {H * (l == 0 ? F : 2 * H), H * H, H, H})
          store.push_back(randomVec(size, seed++, -0.5f, 0.5f));
    for (auto &w : store)
      weights.push_back(w.data());
  }
  static int64_t ySize(int32_t sequences) { return sequences ? N * T * 2 * H : N * 2 * H; }
  static int64_t scratchBytes() { return nnc_rnn_fwd_scratch_bytes(N, T, F, H, L, 1, 0); }
  /// The CPU's result, one thread.
  std::vector<float> cpuForward(int32_t sequences) const {
    std::vector<float> y(ySize(sequences));
    Scratch s(scratchBytes());
    stepOnDevice = false;
    nnc_set_num_threads(1);
    nnc_rnn_fwd(x.data(), weights.data(), y.data(), nullptr, s.get(),
                reinterpret_cast<nnc_step_fn>(&rnnStep), N, T, F, H, L, 1, 1, sequences, 0);
    nnc_set_num_threads(0);
    return y;
  }
};

/// Two bidirectional layers with biases, sequences and last states: the loop
/// with the device's mappings (one range of all N rows) gives the CPU's
/// results.
TEST(GpuKernels, RecurrentLoopWithDeviceMappingsMatchesCpu) {
  using namespace nnc::kernels::recurrent;
  RnnCase c;
  for (int32_t sequences : {0, 1}) {
    std::vector<float> want = c.cpuForward(sequences), got(RnnCase::ySize(sequences), NAN);
    Scratch s(RnnCase::scratchBytes());
    EmulatedGpuOps ops;
    stepRows = 0;
    recurrentFwd(ops, Rec(Cell::RnnTanh, c.N, c.T, c.F, c.H, c.L, 1, 1, sequences), c.x.data(),
                 c.weights.data(), got.data(), nullptr, s.get(),
                 reinterpret_cast<nnc_step_fn>(&rnnStep));
    EXPECT_EQ(stepRows, c.N) << "the device calls the step with all rows";
    EXPECT_EQ(ops.ranges, c.L * 2);
    EXPECT_LT(maxRelErr(got.data(), want.data(), got.size()), 1e-5) << "sequences " << sequences;
  }
}

/// Training: the forward with a reserve, then the backward (input and every
/// weight gradient; its GEMMs transpose A, sum biases with a row of ones and
/// copy the second bias gradient) with the device's mappings equal the CPU's.
TEST(GpuKernels, RecurrentTrainingWithDeviceMappingsMatchesCpu) {
  using namespace nnc::kernels::recurrent;
  RnnCase c;
  const int64_t N = c.N, T = c.T, F = c.F, H = c.H, L = c.L;
  for (int32_t sequences : {0, 1}) {
    const int64_t ySize = RnnCase::ySize(sequences);
    auto dy = randomVec(ySize, 77);
    struct Result {
      std::vector<float> y, reserve, dx;
      std::vector<std::vector<float>> dw;
      std::vector<float *> dwPtrs;
    };
    auto fresh = [&] {
      Result r{std::vector<float>(ySize),
               std::vector<float>(nnc_rnn_reserve_bytes(N, T, F, H, L, 1) / 4),
               std::vector<float>(N * T * F),
               {},
               {}};
      for (auto &w : c.store)
        r.dw.emplace_back(w.size(), NAN);
      for (auto &g : r.dw)
        r.dwPtrs.push_back(g.data());
      return r;
    };
    Result want = fresh(), got = fresh();
    Scratch f1(nnc_rnn_fwd_scratch_bytes(N, T, F, H, L, 1, 1)),
        b1(nnc_rnn_bwd_scratch_bytes(N, T, F, H, L, 1));
    nnc_set_num_threads(1);
    nnc_rnn_fwd(c.x.data(), c.weights.data(), want.y.data(), want.reserve.data(), f1.get(),
                reinterpret_cast<nnc_step_fn>(&rnnStep), N, T, F, H, L, 1, 1, sequences, 0);
    nnc_rnn_bwd(dy.data(), c.x.data(), c.weights.data(), want.reserve.data(), want.dx.data(),
                want.dwPtrs.data(), b1.get(), reinterpret_cast<nnc_step_fn>(&rnnBwdStep), N, T, F,
                H, L, 1, 1, sequences, 0);
    nnc_set_num_threads(0);
    Scratch f2(nnc_rnn_fwd_scratch_bytes(N, T, F, H, L, 1, 1)),
        b2(nnc_rnn_bwd_scratch_bytes(N, T, F, H, L, 1));
    EmulatedGpuOps ops;
    Rec rec(Cell::RnnTanh, N, T, F, H, L, 1, 1, sequences);
    recurrentFwd(ops, rec, c.x.data(), c.weights.data(), got.y.data(), got.reserve.data(), f2.get(),
                 reinterpret_cast<nnc_step_fn>(&rnnStep));
    recurrentBwd(ops, rec, dy.data(), c.x.data(), c.weights.data(), got.reserve.data(),
                 got.dx.data(), got.dwPtrs.data(), b2.get(),
                 reinterpret_cast<nnc_step_fn>(&rnnBwdStep));
    EXPECT_LT(maxRelErr(got.y.data(), want.y.data(), ySize), 1e-5);
    EXPECT_LT(maxRelErr(got.reserve.data(), want.reserve.data(), got.reserve.size()), 1e-5);
    EXPECT_LT(maxRelErr(got.dx.data(), want.dx.data(), got.dx.size()), 1e-5);
    auto finite = [](const std::vector<float> &v) {
      return std::all_of(v.begin(), v.end(), [](float f) { return std::isfinite(f); });
    };
    EXPECT_TRUE(finite(got.dx) && finite(got.y));
    for (size_t i = 0; i < got.dw.size(); ++i)
      EXPECT_TRUE(finite(got.dw[i])) << "weight " << i << " not written";
    for (size_t i = 0; i < got.dw.size(); ++i)
      EXPECT_LT(maxRelErr(got.dw[i].data(), want.dw[i].data(), got.dw[i].size()), 1e-5)
          << "weight " << i << " sequences " << sequences;
  }
}

//===----------------------------------------------------------------------===//
// Algorithm choice
//===----------------------------------------------------------------------===//

CudnnAlgoPerf perf(int algo, size_t memory, int status = kCudnnSuccess,
                   int determinism = kCudnnDeterministic, int mathType = kCudnnFmaMath) {
  CudnnAlgoPerf p{};
  p.algo = algo;
  p.status = status;
  p.memory = memory;
  p.determinism = determinism;
  p.mathType = mathType;
  return p;
}

/// The first of the ranking that applies, is deterministic, FP32 and fits.
TEST(GpuKernels, ChoosesFirstRankedAlgorithmThatFits) {
  const int64_t ws = 4 * MiB;
  CudnnAlgoPerf ranking[] = {
      perf(6, 1 * MiB, /*status=*/3),                                       // does not apply
      perf(5, 1 * MiB, kCudnnSuccess, /*determinism=*/0),                   // not deterministic
      perf(4, 1 * MiB, kCudnnSuccess, kCudnnDeterministic, /*mathType=*/1), // tensor ops (TF32)
      perf(2, 64 * MiB),                                                    // too big
      perf(1, 4 * MiB),                                                     // fits exactly
      perf(0, 0)};
  EXPECT_EQ(chooseAlgorithm(ranking, 6, ws), 1);
  EXPECT_EQ(chooseAlgorithm(ranking, 6, ws - 1), 0) << "falls back to the implicit GEMM";
  EXPECT_EQ(chooseAlgorithm(ranking, 4, ws), -1) << "nothing fits";
  CudnnAlgoPerf defaultMath[] = {perf(7, 0, kCudnnSuccess, kCudnnDeterministic, 0)};
  EXPECT_EQ(chooseAlgorithm(defaultMath, 1, 0), 7);
}

//===----------------------------------------------------------------------===//
// The libraries themselves
//===----------------------------------------------------------------------===//

void *openCudnn(std::string &error) {
  return openLibrary({"libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9"}, error);
}

/// Convolutions of every kind the examples and the dialect allow.
const ConvShape kConvCases[] = {
    {2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1},   // lenet conv1
    {2, 6, 14, 14, 16, 5, 5, 1, 1, 0, 0, 1, 1, 1},  // lenet conv2
    {8, 3, 32, 32, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1},  // resnet stem
    {8, 16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1}, // resnet downsampling 3x3
    {8, 16, 32, 32, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1}, // resnet 1x1 shortcut
    {3, 8, 17, 19, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8},   // depthwise
    {3, 8, 17, 19, 12, 3, 3, 1, 1, 1, 1, 1, 1, 4},  // grouped
    {1, 4, 20, 20, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1},   // dilation 2
    {2, 3, 23, 31, 5, 3, 5, 2, 3, 1, 2, 2, 1, 1},   // asymmetric everything
    {1, 2, 7, 7, 3, 7, 7, 1, 1, 0, 0, 1, 1, 1},     // 1x1 output
    {65, 3, 9, 10, 4, 2, 2, 3, 3, 0, 0, 1, 1, 1},   // stride past the kernel
};

/// Every function of the tables resolves from the installed libraries.
TEST(GpuKernels, LibraryTablesResolve) {
  std::string error;
  void *dnnLib = openCudnn(error);
  if (!dnnLib)
    GTEST_SKIP() << "cuDNN cannot be loaded here: " << error;
  Cudnn dnn{};
  ASSERT_TRUE(loadCudnn(dnnLib, dnn, error)) << error;
  EXPECT_GE(dnn.cudnnGetVersion(), size_t(90000));
  void *blasLib = openLibrary({"libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13"}, error);
  if (!blasLib)
    GTEST_SKIP() << "cuBLAS cannot be loaded here: " << error;
  Cublas blas{};
  ASSERT_TRUE(loadCublas(blasLib, blas, error)) << error;
  // Its messages: one for success, another for CUBLAS_STATUS_NOT_INITIALIZED.
  EXPECT_STRNE(blas.cublasGetStatusString(kCublasSuccess), blas.cublasGetStatusString(1));
}

/// cuDNN's descriptors (no device needed): its output size is nnc's rule for
/// every case, and a shape cuDNN rejects is an error with its message.
TEST(GpuKernels, CudnnDescriptorsAgreeWithNncShapes) {
  std::string error;
  void *lib = openCudnn(error);
  if (!lib)
    GTEST_SKIP() << "cuDNN cannot be loaded here: " << error;
  Cudnn dnn{};
  ASSERT_TRUE(loadCudnn(lib, dnn, error)) << error;
  for (const ConvShape &s : kConvCases) {
    ConvDescriptors d;
    ASSERT_TRUE(createConvDescriptors(dnn, s, d, error)) << error;
    int n = 0, c = 0, h = 0, w = 0;
    ASSERT_EQ(dnn.cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w),
              kCudnnSuccess);
    // PyTorch's Conv2d formula, written out here independently of ConvShape.
    int64_t oh = (s.H + 2 * s.padH - s.dilH * (s.KH - 1) - 1) / s.strideH + 1;
    int64_t ow = (s.W + 2 * s.padW - s.dilW * (s.KW - 1) - 1) / s.strideW + 1;
    EXPECT_EQ(n, s.N);
    EXPECT_EQ(c, s.O);
    EXPECT_EQ(h, oh) << "H " << s.H << " KH " << s.KH << " stride " << s.strideH;
    EXPECT_EQ(w, ow) << "W " << s.W << " KW " << s.KW << " stride " << s.strideW;
    EXPECT_EQ(s.outH(), oh);
    EXPECT_EQ(s.outW(), ow);
    destroyConvDescriptors(dnn, d);
    EXPECT_EQ(d.conv, nullptr);
  }
  // Channels not divisible by the groups: cuDNN refuses the filter or the
  // group count, and the descriptors are destroyed.
  ConvShape bad{1, 6, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 0};
  ConvDescriptors d;
  error.clear();
  EXPECT_FALSE(createConvDescriptors(dnn, bad, d, error));
  EXPECT_NE(error.find("CUDNN_STATUS_BAD_PARAM"), std::string::npos) << error;
  EXPECT_EQ(d.x, nullptr);
}

/// Without a usable GPU, every entry point reports the one-line reason.
TEST(GpuKernels, EntryPointsReportWhyTheGpuIsUnavailable) {
  if (unavailableReason().empty())
    GTEST_SKIP() << "a GPU is usable here: " << deviceDescription();
  nnc_kernels_clear_error();
  nnc_gpu_gemm(0, 0, 2, 2, 2, 1.0f, nullptr, 2, nullptr, 2, 0.0f, nullptr, 2);
  ASSERT_NE(nnc_kernels_error(), nullptr);
  EXPECT_EQ(std::string(nnc_kernels_error()), "cannot use the GPU: " + unavailableReason());
  nnc_kernels_clear_error();
  nnc_gpu_conv2d_fwd(nullptr, nullptr, nullptr, nullptr, nullptr, 0, 1, 1, 3, 3, 1, 3, 3, 1, 1, 0,
                     0, 1, 1, 1, 0);
  ASSERT_NE(nnc_kernels_error(), nullptr);
  nnc_kernels_clear_error();
}

//===----------------------------------------------------------------------===//
// On a GPU: the entry points against the CPU's kernels (skipped without one)
//===----------------------------------------------------------------------===//

#define SKIP_WITHOUT_GPU()                                                                         \
  if (!unavailableReason().empty())                                                                \
  GTEST_SKIP() << "no usable GPU: " << unavailableReason()

/// Device memory holding a copy of host floats; freed at the end of scope.
class DeviceBuffer {
public:
  explicit DeviceBuffer(const std::vector<float> &host) : n(int64_t(host.size())) {
    makeContextCurrent();
    EXPECT_TRUE(check(driver().cuMemAlloc(&ptr, std::max<size_t>(n, 1) * 4), "cuMemAlloc"));
    if (n)
      EXPECT_TRUE(check(driver().cuMemcpyHtoDAsync(ptr, host.data(), n * 4, stream()),
                        "cuMemcpyHtoDAsync"));
  }
  explicit DeviceBuffer(int64_t n) : DeviceBuffer(std::vector<float>(n, NAN)) {}
  ~DeviceBuffer() { driver().cuMemFree(ptr); }
  float *get() const { return reinterpret_cast<float *>(uintptr_t(ptr)); }
  /// Waits for the stream and copies the contents back.
  std::vector<float> read() const {
    std::vector<float> host(n);
    EXPECT_TRUE(
        check(driver().cuMemcpyDtoHAsync(host.data(), ptr, n * 4, stream()), "cuMemcpyDtoHAsync"));
    EXPECT_TRUE(check(driver().cuStreamSynchronize(stream()), "cuStreamSynchronize"));
    return host;
  }

private:
  CUdeviceptr ptr = 0;
  int64_t n;
};

/// No kernel reported an error since the last call.
void expectNoKernelError() {
  const char *error = nnc_kernels_error();
  EXPECT_EQ(error, nullptr) << error;
  nnc_kernels_clear_error();
}

TEST(GpuKernelsDevice, GemmMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t M = 37, N = 29, K = 45, pad = 3;
  for (int32_t transA : {0, 1})
    for (int32_t transB : {0, 1}) {
      const int64_t lda = (transA ? M : K) + pad, ldb = (transB ? K : N) + pad, ldc = N + pad;
      auto A = randomVec((transA ? K : M) * lda, 1), B = randomVec((transB ? N : K) * ldb, 2);
      auto want = randomVec(M * ldc, 3);
      DeviceBuffer a(A), b(B), c(want);
      nnc_gemm(transA, transB, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 1.0f, want.data(), ldc);
      nnc_gpu_gemm(transA, transB, M, N, K, 0.5f, a.get(), lda, b.get(), ldb, 1.0f, c.get(), ldc);
      auto got = c.read();
      expectNoKernelError();
      EXPECT_LT(maxRelErr(got.data(), want.data(), M * ldc), 1e-5)
          << "transA " << transA << " transB " << transB;
    }
}

TEST(GpuKernelsDevice, BatchMatmulMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t batch = 6, M = 37, N = 29, K = 45;
  for (int32_t transA : {0, 1})
    for (int32_t transB : {0, 1}) {
      auto A = randomVec(batch * M * K, 1), B = randomVec(batch * K * N, 2);
      std::vector<float> want(batch * M * N);
      DeviceBuffer a(A), b(B), c(batch * M * N);
      nnc_batch_matmul(transA, transB, batch, M, N, K, 0.5f, A.data(), B.data(), want.data());
      nnc_gpu_batch_matmul(transA, transB, batch, M, N, K, 0.5f, a.get(), b.get(), c.get());
      auto got = c.read();
      expectNoKernelError();
      EXPECT_LT(maxRelErr(got.data(), want.data(), batch * M * N), 1e-5)
          << "transA " << transA << " transB " << transB;
    }
}

TEST(GpuKernelsDevice, LinearMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t M = 65, in = 33, out = 17;
  auto x = randomVec(M * in, 4), w = randomVec(out * in, 5), bias = randomVec(out, 6);
  auto dy = randomVec(M * out, 7);
  DeviceBuffer dX(x), dW(w), dB(bias), dDy(dy);
  for (int32_t epilogue : {0, 1})
    for (bool hasBias : {false, true}) {
      std::vector<float> want(M * out);
      DeviceBuffer y(M * out);
      nnc_linear_fwd(x.data(), w.data(), hasBias ? bias.data() : nullptr, want.data(), M, in, out,
                     epilogue);
      nnc_gpu_linear_fwd(dX.get(), dW.get(), hasBias ? dB.get() : nullptr, y.get(), M, in, out,
                         epilogue);
      auto got = y.read();
      expectNoKernelError();
      EXPECT_LT(maxRelErr(got.data(), want.data(), M * out), 1e-5)
          << "epilogue " << epilogue << " bias " << hasBias;
    }
  std::vector<float> dx(M * in), dw(out * in), db(out);
  nnc_linear_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), M, in, out);
  DeviceBuffer gx(M * in), gw(out * in), gb(out);
  nnc_gpu_linear_bwd(dDy.get(), dX.get(), dW.get(), gx.get(), gw.get(), gb.get(), M, in, out);
  auto gotDx = gx.read(), gotDw = gw.read(), gotDb = gb.read();
  expectNoKernelError();
  EXPECT_LT(maxRelErr(gotDx.data(), dx.data(), M * in), 1e-5);
  EXPECT_LT(maxRelErr(gotDw.data(), dw.data(), out * in), 1e-5);
  EXPECT_LT(maxRelErr(gotDb.data(), db.data(), out), 1e-5);
}

TEST(GpuKernelsDevice, Conv2dMatchesCpu) {
  SKIP_WITHOUT_GPU();
  uint32_t seed = 20;
  for (const ConvShape &s : kConvCases) {
#define SHAPE                                                                                      \
  s.N, s.C, s.H, s.W, s.O, s.KH, s.KW, s.strideH, s.strideW, s.padH, s.padW, s.dilH, s.dilW,       \
      s.groups
    const int64_t xN = s.N * s.C * s.H * s.W, wN = s.O * (s.C / s.groups) * s.KH * s.KW;
    const int64_t yN = s.N * s.O * s.outH() * s.outW();
    auto x = randomVec(xN, seed++), w = randomVec(wN, seed++), b = randomVec(s.O, seed++);
    auto dy = randomVec(yN, seed++);
    DeviceBuffer dX(x), dW(w), dB(b), dDy(dy);
    const int64_t gpuScratch = nnc_gpu_conv2d_fwd_scratch_bytes(SHAPE);
    DeviceBuffer scratch(gpuScratch / 4);
    for (int32_t epilogue : {0, 1}) {
      std::vector<float> want(yN);
      Scratch cpuScratch(nnc_conv2d_fwd_scratch_bytes(SHAPE));
      nnc_conv2d_fwd(x.data(), w.data(), b.data(), want.data(), cpuScratch.get(), cpuScratch.bytes,
                     SHAPE, epilogue);
      DeviceBuffer y(yN);
      nnc_gpu_conv2d_fwd(dX.get(), dW.get(), dB.get(), y.get(), scratch.get(), gpuScratch, SHAPE,
                         epilogue);
      auto got = y.read();
      expectNoKernelError();
      EXPECT_LT(maxRelErr(got.data(), want.data(), yN), 1e-4)
          << "N " << s.N << " C " << s.C << " groups " << s.groups << " epilogue " << epilogue;
    }
    std::vector<float> dx(xN), dw(wN), db(s.O);
    Scratch cpuScratch(nnc_conv2d_bwd_scratch_bytes(SHAPE));
    nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), cpuScratch.get(),
                   cpuScratch.bytes, SHAPE);
    DeviceBuffer gx(xN), gw(wN), gb(s.O);
    nnc_gpu_conv2d_bwd(dDy.get(), dX.get(), dW.get(), gx.get(), gw.get(), gb.get(), scratch.get(),
                       nnc_gpu_conv2d_bwd_scratch_bytes(SHAPE), SHAPE);
    auto gotDx = gx.read(), gotDw = gw.read(), gotDb = gb.read();
    expectNoKernelError();
    EXPECT_LT(maxRelErr(gotDx.data(), dx.data(), xN), 1e-4) << "dx, C " << s.C;
    EXPECT_LT(maxRelErr(gotDw.data(), dw.data(), wN), 1e-4) << "dw, C " << s.C;
    EXPECT_LT(maxRelErr(gotDb.data(), db.data(), s.O), 1e-4) << "db, C " << s.C;
#undef SHAPE
  }
}

TEST(GpuKernelsDevice, RecurrentLoopMatchesCpu) {
  SKIP_WITHOUT_GPU();
  RnnCase c;
  std::vector<std::unique_ptr<DeviceBuffer>> deviceStore;
  std::vector<const float *> deviceWeights;
  for (auto &w : c.store) {
    deviceStore.push_back(std::make_unique<DeviceBuffer>(w));
    deviceWeights.push_back(deviceStore.back()->get());
  }
  DeviceBuffer x(c.x);
  for (int32_t sequences : {0, 1}) {
    std::vector<float> want = c.cpuForward(sequences);
    DeviceBuffer y(RnnCase::ySize(sequences)), scratch(RnnCase::scratchBytes() / 4 + 16);
    stepOnDevice = true;
    nnc_gpu_rnn_fwd(x.get(), deviceWeights.data(), y.get(), nullptr, scratch.get(),
                    reinterpret_cast<nnc_step_fn>(&rnnStep), c.N, c.T, c.F, c.H, c.L, 1, 1,
                    sequences, 0);
    auto got = y.read();
    stepOnDevice = false;
    expectNoKernelError();
    EXPECT_LT(maxRelErr(got.data(), want.data(), got.size()), 1e-5) << "sequences " << sequences;
  }
}

#ifdef NNC_HAVE_CUDA_LIBRARY_HEADERS
/// GpuLibraries.h's hand-written constants and perf struct are cuDNN's and
/// cuBLAS's.
TEST(GpuKernels, ConstantsMatchTheHeaders) {
  EXPECT_EQ(kCudnnSuccess, CUDNN_STATUS_SUCCESS);
  EXPECT_EQ(kCudnnTensorNchw, CUDNN_TENSOR_NCHW);
  EXPECT_EQ(kCudnnDataFloat, CUDNN_DATA_FLOAT);
  EXPECT_EQ(kCudnnCrossCorrelation, CUDNN_CROSS_CORRELATION);
  EXPECT_EQ(kCudnnFmaMath, CUDNN_FMA_MATH);
  EXPECT_EQ(kCudnnActivationRelu, CUDNN_ACTIVATION_RELU);
  EXPECT_EQ(kCudnnPropagateNan, CUDNN_PROPAGATE_NAN);
  EXPECT_EQ(kCudnnDeterministic, CUDNN_DETERMINISTIC);
  EXPECT_EQ(kCudnnFwdAlgoImplicitGemm, CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM);
  EXPECT_EQ(kCudnnBwdDataAlgo1, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1);
  EXPECT_EQ(kCudnnBwdFilterAlgo1, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1);
  EXPECT_EQ(kCudnnFwdAlgoCount, CUDNN_CONVOLUTION_FWD_ALGO_COUNT);
  EXPECT_EQ(kCudnnBwdDataAlgoCount, CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT);
  EXPECT_EQ(kCudnnBwdFilterAlgoCount, CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT);
  EXPECT_EQ(kCublasSuccess, CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(kCublasOpN, CUBLAS_OP_N);
  EXPECT_EQ(kCublasOpT, CUBLAS_OP_T);
  EXPECT_EQ(kCublasDefaultMath, CUBLAS_DEFAULT_MATH);
}

template <typename Perf> void expectPerfLayout() {
  EXPECT_EQ(sizeof(CudnnAlgoPerf), sizeof(Perf));
  EXPECT_EQ(offsetof(CudnnAlgoPerf, algo), offsetof(Perf, algo));
  EXPECT_EQ(offsetof(CudnnAlgoPerf, status), offsetof(Perf, status));
  EXPECT_EQ(offsetof(CudnnAlgoPerf, time), offsetof(Perf, time));
  EXPECT_EQ(offsetof(CudnnAlgoPerf, memory), offsetof(Perf, memory));
  EXPECT_EQ(offsetof(CudnnAlgoPerf, determinism), offsetof(Perf, determinism));
  EXPECT_EQ(offsetof(CudnnAlgoPerf, mathType), offsetof(Perf, mathType));
}

TEST(GpuKernels, PerfStructsMatchTheHeaders) {
  expectPerfLayout<cudnnConvolutionFwdAlgoPerf_t>();
  expectPerfLayout<cudnnConvolutionBwdDataAlgoPerf_t>();
  expectPerfLayout<cudnnConvolutionBwdFilterAlgoPerf_t>();
}
#else
TEST(GpuKernels, ConstantsMatchTheHeaders) {
  GTEST_SKIP() << "cudnn.h / cublas_v2.h not installed: nothing to compare the constants with";
}
#endif

} // namespace

#ifdef NNC_HAVE_CUDA_LIBRARY_HEADERS
#pragma GCC diagnostic pop
#endif
