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
// installed. A test that needs what this machine lacks is skipped with the
// reason.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuKernels.h"
#include "runtime/GpuLibraries.h"
#include "runtime/RecurrentLoop.h"

#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>

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
  class RecurrentGemm {
  public:
    RecurrentGemm(EmulatedGpuOps &ops, bool transB, int64_t N, int64_t K, const float *B,
                  int64_t ldb, int64_t lda, int64_t ldc, int64_t)
        : ops(ops), transB(transB), N(N), K(K), B(B), ldb(ldb), lda(lda), ldc(ldc) {}
    void run(int64_t M, const float *A, float beta, float *C) const {
      ops.gemm(false, transB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
    }

  private:
    EmulatedGpuOps &ops;
    bool transB;
    int64_t N, K;
    const float *B;
    int64_t ldb, lda, ldc;
  };
  int ranges = 0;
};

/// Stands in for the generated tanh RNN inference step (memref arguments xp
/// [rows, H], b_ih, b_hh [H], h [rows, H] with row stride ldh):
/// h = tanh(xp + b_ih + b_hh).
int64_t stepRows = 0;
void rnnStep(float *, float *xp, int64_t, int64_t rows, int64_t cols, int64_t ldx, int64_t, float *,
             float *bih, int64_t, int64_t, int64_t, float *, float *bhh, int64_t, int64_t, int64_t,
             float *, float *h, int64_t, int64_t, int64_t, int64_t ldh, int64_t) {
  stepRows = rows;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      h[r * ldh + j] = std::tanh(xp[r * ldx + j] + bih[j] + bhh[j]);
}

/// Two bidirectional layers with biases, sequences and last states: the loop
/// with the device's mappings (one range of all N rows) gives the CPU's
/// results.
TEST(GpuKernels, RecurrentLoopWithDeviceMappingsMatchesCpu) {
  using namespace nnc::kernels::recurrent;
  const int64_t N = 5, T = 4, F = 3, H = 6, L = 2;
  std::vector<std::vector<float>> store;
  std::vector<const float *> weights;
  uint32_t seed = 10;
  for (int64_t l = 0; l < L; ++l)
    for (int d = 0; d < 2; ++d)
      for (int64_t size : {H * (l == 0 ? F : 2 * H), H * H, H, H}) {
        store.push_back(randomVec(size, seed++, -0.5f, 0.5f));
        weights.push_back(store.back().data());
      }
  auto x = randomVec(N * T * F, 99);
  nnc_set_num_threads(1);
  for (int32_t sequences : {0, 1}) {
    const int64_t ySize = sequences ? N * T * 2 * H : N * 2 * H;
    std::vector<float> want(ySize), got(ySize, NAN);
    Scratch s1(nnc_rnn_fwd_scratch_bytes(N, T, F, H, L, 1, 0));
    nnc_rnn_fwd(x.data(), weights.data(), want.data(), nullptr, s1.get(),
                reinterpret_cast<nnc_step_fn>(&rnnStep), N, T, F, H, L, 1, 1, sequences, 0);
    Scratch s2(nnc_rnn_fwd_scratch_bytes(N, T, F, H, L, 1, 0));
    EmulatedGpuOps ops;
    stepRows = 0;
    recurrentFwd(ops, Rec(Cell::RnnTanh, N, T, F, H, L, 1, 1, sequences), x.data(), weights.data(),
                 got.data(), nullptr, s2.get(), reinterpret_cast<nnc_step_fn>(&rnnStep));
    EXPECT_EQ(stepRows, N) << "the device calls the step with all rows";
    EXPECT_EQ(ops.ranges, L * 2);
    EXPECT_LT(maxRelErr(got.data(), want.data(), ySize), 1e-5) << "sequences " << sequences;
  }
  nnc_set_num_threads(0);
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
