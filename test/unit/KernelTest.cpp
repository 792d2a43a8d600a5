//===- test/unit/KernelTest.cpp - kernel forwards vs PyTorch, determinism -===//
//
// Part of nnc. Forward kernels and optimizer updates against PyTorch 1.13's
// outputs for the same inputs (Inputs/kernel_reference.inc, written by
// scripts/make_kernel_reference.py), bitwise determinism of repeated runs, and
// the handling of out-of-range ids. (The generated kernels' tests:
// GeneratedKernelTest.cpp.)
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <gtest/gtest.h>
#include <oneapi/dnnl/dnnl.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <string>

using namespace nnc::test;

namespace {

#include "Inputs/kernel_reference.inc"

/// Forward outputs match PyTorch to this max |a-b| / max(1, |b|).
constexpr double kForwardTol = 1e-5;

template <size_t N> std::vector<float> vec(const float (&a)[N]) {
  return std::vector<float>(a, a + N);
}

#define EXPECT_CLOSE(got, want)                                                \
  do {                                                                         \
    ASSERT_EQ((got).size(), std::size(want));                                  \
    EXPECT_LT(maxRelErr((got).data(), want, std::size(want)), kForwardTol);    \
  } while (0)

TEST(Kernel, Conv2dMatchesTorch) {
  std::vector<float> y(std::size(kConvY));
  Scratch s(
      nnc_conv2d_fwd_scratch_bytes(2, 4, 7, 6, 6, 3, 3, 2, 1, 1, 2, 1, 2, 2));
  nnc_conv2d_fwd(kConvX, kConvW, kConvB, y.data(), s.get(), s.bytes, 2, 4, 7, 6,
                 6, 3, 3, 2, 1, 1, 2, 1, 2, 2, 0);
  EXPECT_CLOSE(y, kConvY);
  std::vector<float> y2(std::size(kConv2Y));
  Scratch s2(
      nnc_conv2d_fwd_scratch_bytes(2, 3, 5, 5, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1));
  nnc_conv2d_fwd(kConv2X, kConv2W, nullptr, y2.data(), s2.get(), s2.bytes, 2, 3,
                 5, 5, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1, 0);
  EXPECT_CLOSE(y2, kConv2Y);
}

/// The oneDNN conv primitives against the f64 reference for strides,
/// paddings (also a last window that stops short of the input), dilations,
/// groups (depthwise included), 1x1 kernels and blocked channel counts.
class ConvVsReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvVsReference, ForwardEpilogueAndBackward) {
  const ConvCase c = GetParam();
#define SHAPE                                                                  \
  c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.g
  auto x = randomVec(c.xSize(), 21), w = randomVec(c.wSize(), 22),
       dy = randomVec(c.ySize(), 24);
  std::vector<float> b = c.bias ? randomVec(c.O, 23) : std::vector<float>();
  const float *bp = c.bias ? b.data() : nullptr;
  std::vector<float> want = naiveConvForward(c, x, w, b);

  Scratch fs(nnc_conv2d_fwd_scratch_bytes(SHAPE));
  std::vector<float> y(c.ySize()), yRelu(c.ySize());
  nnc_conv2d_fwd(x.data(), w.data(), bp, y.data(), fs.get(), fs.bytes, SHAPE,
                 0);
  nnc_conv2d_fwd(x.data(), w.data(), bp, yRelu.data(), fs.get(), fs.bytes,
                 SHAPE, 1);
  EXPECT_LT(maxRelErr(y.data(), want.data(), y.size()), c.tol);
  // The relu epilogue clamps the negatives, which the plain call keeps.
  EXPECT_TRUE(std::any_of(y.begin(), y.end(), [](float v) { return v < 0; }));
  for (float &v : want)
    v = std::max(v, 0.0f);
  EXPECT_LT(maxRelErr(yRelu.data(), want.data(), y.size()), c.tol);

  std::vector<float> wantDx, wantDw, wantDb;
  naiveConvBackward(c, dy, x, w, wantDx, wantDw, wantDb);
  Scratch bs(nnc_conv2d_bwd_scratch_bytes(SHAPE));
  std::vector<float> dx(x.size()), dw(w.size()), db(c.O);
  nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(),
                 c.bias ? db.data() : nullptr, bs.get(), bs.bytes, SHAPE);
  EXPECT_LT(maxRelErr(dx.data(), wantDx.data(), dx.size()), c.tol);
  EXPECT_LT(maxRelErr(dw.data(), wantDw.data(), dw.size()), c.tol);
  if (c.bias)
    EXPECT_LT(maxRelErr(db.data(), wantDb.data(), db.size()), c.tol);
  // db without dw (summed outside oneDNN).
  std::vector<float> db2(c.O);
  nnc_conv2d_bwd(dy.data(), x.data(), w.data(), nullptr, nullptr, db2.data(),
                 bs.get(), bs.bytes, SHAPE);
  EXPECT_LT(maxRelErr(db2.data(), wantDb.data(), db2.size()), c.tol);
  EXPECT_EQ(nnc_kernels_error(), nullptr);
#undef SHAPE
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvVsReference,
    ::testing::Values(
        // N C H W O KH KW sh sw ph pw dh dw g bias
        ConvCase{2, 4, 7, 6, 6, 3, 3, 2, 1, 1, 2, 1, 2, 2, true},
        ConvCase{2, 4, 9, 8, 4, 3, 3, 2, 2, 2, 1, 2, 2, 4, true}, // depthwise
        ConvCase{1, 3, 10, 11, 5, 3, 2, 3, 3, 0, 1, 1, 1, 1, false}, // short
        ConvCase{3, 16, 8, 8, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1, true},  // 1x1
        ConvCase{2, 16, 10, 10, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},
        ConvCase{2, 32, 6, 6, 32, 3, 3, 1, 1, 1, 1, 1, 1, 2, false},
        ConvCase{4, 1, 12, 12, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1, true}, // LeNet
        ConvCase{1, 2, 5, 5, 3, 3, 3, 1, 1, 3, 3, 3, 3, 1, true},
        // Winograd (see ConvPicksWinogradAtLargeShapes); its transforms and
        // the 2048-term weight-gradient sums (3.6e-5 with the direct
        // algorithm) lose more precision.
        ConvCase{8, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true, 2e-4}));

/// The oneDNN primitives one conv call runs, from oneDNN's verbose trace
/// ("onednn_verbose,exec,cpu,<kind>,<implementation>,..." per execution).
std::vector<std::string> tracedExecutions(const std::function<void()> &call) {
  dnnl_set_verbose(2);
  ::testing::internal::CaptureStdout();
  call();
  std::fflush(stdout);
  std::string out = ::testing::internal::GetCapturedStdout();
  dnnl_set_verbose(0);
  std::vector<std::string> lines;
  std::istringstream stream(out);
  for (std::string line; std::getline(stream, line);)
    if (line.find(",exec,") != std::string::npos)
      lines.push_back(line);
  return lines;
}

size_t countContaining(const std::vector<std::string> &lines,
                       const std::string &what) {
  return std::count_if(lines.begin(), lines.end(), [&](const std::string &l) {
    return l.find(what) != std::string::npos;
  });
}

/// 3x3 stride-1 convs with >= 32 channels and >= 2048 output positions run
/// oneDNN's Winograd algorithm in every direction (faster there); at batch 1
/// the direct one.
TEST(Kernel, ConvPicksWinogradAtLargeShapes) {
  if (dnnl_get_effective_cpu_isa() < dnnl_cpu_isa_avx512_core)
    GTEST_SKIP() << "oneDNN's Winograd convolution needs AVX-512";
  for (int64_t n : {8, 1}) {
    const ConvCase c{n, 32, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, false};
#define SHAPE                                                                  \
  c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.g
    auto x = randomVec(c.xSize(), 1), w = randomVec(c.wSize(), 2),
         dy = randomVec(c.ySize(), 3);
    std::vector<float> y(c.ySize()), dx(x.size()), dw(w.size());
    Scratch fs(nnc_conv2d_fwd_scratch_bytes(SHAPE)),
        bs(nnc_conv2d_bwd_scratch_bytes(SHAPE));
    auto lines = tracedExecutions([&] {
      nnc_conv2d_fwd(x.data(), w.data(), nullptr, y.data(), fs.get(), fs.bytes,
                     SHAPE, 0);
      nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(),
                     nullptr, bs.get(), bs.bytes, SHAPE);
    });
#undef SHAPE
    EXPECT_EQ(countContaining(lines, ",convolution,"), 3u) << n;
    EXPECT_EQ(countContaining(lines, ",convolution,jit_wino"), n == 8 ? 3u : 0u)
        << n;
  }
  EXPECT_EQ(nnc_kernels_error(), nullptr);
}

/// Weights reordered into oneDNN's layout are kept across calls while their
/// bytes are unchanged (inference passes the same weights call after call),
/// and never reused once they change: an in-place update of one element (the
/// last: the comparison covers every byte), new weights at the same address,
/// or several call sites of one shape alternating.
TEST(Kernel, ConvKeepsReorderedWeightsWhileUnchanged) {
  const ConvCase c{2, 16, 10, 10, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
#define SHAPE                                                                  \
  c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.g
  auto x = randomVec(c.xSize(), 7), w = randomVec(c.wSize(), 8),
       w2 = randomVec(c.wSize(), 9), b = randomVec(c.O, 10),
       dy = randomVec(c.ySize(), 11);
  Scratch fs(nnc_conv2d_fwd_scratch_bytes(SHAPE)),
      bs(nnc_conv2d_bwd_scratch_bytes(SHAPE));
  std::vector<float> y(c.ySize());
  auto forward = [&](const std::vector<float> &weights) {
    nnc_conv2d_fwd(x.data(), weights.data(), b.data(), y.data(), fs.get(),
                   fs.bytes, SHAPE, 0);
    return y;
  };
  auto backwardData = [&](const std::vector<float> &weights) {
    std::vector<float> dx(x.size());
    nnc_conv2d_bwd(dy.data(), x.data(), weights.data(), dx.data(), nullptr,
                   nullptr, bs.get(), bs.bytes, SHAPE);
    return dx;
  };
  auto expectMatches = [&](const std::vector<float> &weights,
                           const char *what) {
    std::vector<float> want = naiveConvForward(c, x, weights, b);
    std::vector<float> got = forward(weights);
    EXPECT_LT(maxRelErr(got.data(), want.data(), got.size()), c.tol) << what;
    std::vector<float> wantDx, wantDw, wantDb;
    naiveConvBackward(c, dy, x, weights, wantDx, wantDw, wantDb);
    std::vector<float> dx = backwardData(weights);
    EXPECT_LT(maxRelErr(dx.data(), wantDx.data(), dx.size()), c.tol) << what;
  };
  expectMatches(w, "first call");
  // Unchanged weights: no reorder of them (the 32x16x3x3 tensor).
  auto lines = tracedExecutions([&] {
    forward(w);
    backwardData(w);
  });
  EXPECT_EQ(countContaining(lines, ",convolution,"), 2u);
  if (dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core)
    EXPECT_EQ(countContaining(lines, ",32x16x3x3,"), 0u);
  // An in-place change of the last element is seen.
  w.back() += 0.75f;
  expectMatches(w, "last element changed in place");
  // New weights copied over the old ones at the same address.
  std::vector<float> saved = w;
  std::copy(w2.begin(), w2.end(), w.begin());
  expectMatches(w, "new weights at the same address");
  // Two call sites of the shape alternating, each seen before.
  for (int round = 0; round < 2; ++round) {
    expectMatches(saved, "call site A");
    expectMatches(w2, "call site B");
  }
  EXPECT_EQ(nnc_kernels_error(), nullptr);
#undef SHAPE
}

/// The backward pass reorders dy into oneDNN's blocked layout once: backward-
/// weights reads backward-data's copy. Its results match the separate calls'.
TEST(Kernel, ConvBackwardReordersDyOnce) {
  const ConvCase c{2, 16, 10, 10, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
#define SHAPE                                                                  \
  c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.g
  auto x = randomVec(c.xSize(), 4), w = randomVec(c.wSize(), 5),
       dy = randomVec(c.ySize(), 6);
  std::vector<float> dx(x.size()), dw(w.size()), db(c.O);
  Scratch bs(nnc_conv2d_bwd_scratch_bytes(SHAPE));
  // Stale scratch (no earlier call's reorder of dy) for the traced call.
  std::memset(bs.get(), 0x7f, bs.bytes);
  auto lines = tracedExecutions([&] {
    nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(),
                   db.data(), bs.get(), bs.bytes, SHAPE);
  });
  // dy is [2,32,10,10]; x [2,16,10,10] is reordered in and dx out.
  const size_t dyReorders = countContaining(lines, ",reorder,") -
                            countContaining(lines, ",2x16x10x10,") -
                            countContaining(lines, ",32x16x3x3,");
  EXPECT_LE(dyReorders, 1u);
  if (dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core)
    EXPECT_EQ(dyReorders, 1u); // both read dy as nChw16c
  // The same results as backward-data and backward-weights on their own
  // (where dy is reordered in each).
  std::vector<float> dx2(x.size()), dw2(w.size()), db2(c.O);
  nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx2.data(), nullptr, nullptr,
                 bs.get(), bs.bytes, SHAPE);
  std::memset(bs.get(), 0x7f, bs.bytes);
  nnc_conv2d_bwd(dy.data(), x.data(), w.data(), nullptr, dw2.data(), db2.data(),
                 bs.get(), bs.bytes, SHAPE);
#undef SHAPE
  EXPECT_EQ(dx, dx2);
  EXPECT_EQ(dw, dw2);
  EXPECT_EQ(db, db2);
  EXPECT_EQ(nnc_kernels_error(), nullptr);
}

/// A conv whose oneDNN primitive needs more scratch than the caller planned
/// (an artifact built on another CPU) computes nothing: it reports why and
/// leaves NaN, never stale values or a hidden allocation.
TEST(Kernel, ConvScratchShortfallIsReported) {
  const ConvCase c{2, 16, 10, 10, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true};
#define SHAPE                                                                  \
  c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.g
  const int64_t need = nnc_conv2d_bwd_scratch_bytes(SHAPE);
  ASSERT_GT(need, 0);
  auto x = randomVec(c.xSize(), 1), w = randomVec(c.wSize(), 2),
       dy = randomVec(c.ySize(), 3);
  std::vector<float> dx(x.size()), dw(w.size()), db(c.O);
  Scratch bs(need);
  nnc_kernels_clear_error();
  nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(),
                 bs.get(), need - 64, SHAPE);
  const char *why = nnc_kernels_error();
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::string(why).find("scratch bytes"), std::string::npos) << why;
  EXPECT_NE(std::string(why).find("[2,16,10,10] * [32,16,3,3]"),
            std::string::npos)
      << why;
  EXPECT_TRUE(std::isnan(dx[0]) && std::isnan(dw[0]) && std::isnan(db[0]));
  nnc_kernels_clear_error();
  EXPECT_EQ(nnc_kernels_error(), nullptr);
  nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(),
                 bs.get(), need, SHAPE);
  EXPECT_EQ(nnc_kernels_error(), nullptr);
  EXPECT_FALSE(std::isnan(dx[0]));
#undef SHAPE
}

/// nnc_linear_fwd: bias and the relu epilogue against a reference.
TEST(Kernel, LinearEpilogue) {
  const int64_t M = 5, in = 7, out = 9;
  auto x = randomVec(M * in, 31), w = randomVec(out * in, 32),
       b = randomVec(out, 33);
  std::vector<float> want(M * out);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < out; ++j) {
      double acc = b[j];
      for (int64_t k = 0; k < in; ++k)
        acc += double(x[i * in + k]) * w[j * in + k];
      want[i * out + j] = float(acc);
    }
  std::vector<float> y(M * out), yRelu(M * out);
  nnc_linear_fwd(x.data(), w.data(), b.data(), y.data(), M, in, out, 0);
  EXPECT_LT(maxRelErr(y.data(), want.data(), y.size()), 1e-5);
  EXPECT_TRUE(std::any_of(y.begin(), y.end(), [](float v) { return v < 0; }));
  x[0] = std::nanf(""); // NaN reaches row 0 through relu
  nnc_linear_fwd(x.data(), w.data(), b.data(), yRelu.data(), M, in, out, 1);
  for (int64_t j = 0; j < out; ++j)
    EXPECT_TRUE(std::isnan(yRelu[j]));
  for (int64_t i = out; i < M * out; ++i)
    EXPECT_NEAR(yRelu[i], std::max(want[i], 0.0f), 1e-5) << i;
}

TEST(Kernel, GemmTransposes) {
  // C = A^T * B^T with padded leading dimensions, against a naive loop.
  const int64_t M = 5, N = 4, K = 3, lda = M + 2, ldb = K + 1, ldc = N + 3;
  auto A = randomVec(K * lda, 1), B = randomVec(N * ldb, 2),
       C = randomVec(M * ldc, 3);
  std::vector<float> want = C;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0.0;
      for (int64_t k = 0; k < K; ++k)
        s += A[k * lda + i] * B[j * ldb + k];
      want[i * ldc + j] = static_cast<float>(2.0 * s + 0.5 * C[i * ldc + j]);
    }
  nnc_gemm(1, 1, M, N, K, 2.0f, A.data(), lda, B.data(), ldb, 0.5f, C.data(),
           ldc);
  EXPECT_LT(maxRelErr(C.data(), want.data(), M * ldc), 1e-5);
}

/// Two runs of the heavier kernels give bitwise equal results.
TEST(Kernel, Deterministic) {
  nnc_set_num_threads(0);
  const int64_t N = 8, C = 3, H = 12, W = 12, O = 5;
  auto x = randomVec(N * C * H * W, 7), w = randomVec(O * C * 9, 8);
  auto dy = randomVec(N * O * H * W, 9);
  Scratch bs(
      nnc_conv2d_bwd_scratch_bytes(N, C, H, W, O, 3, 3, 1, 1, 1, 1, 1, 1, 1));
  auto convRun = [&] {
    std::vector<float> dx(x.size()), dw(w.size()), db(O);
    nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(),
                   db.data(), bs.get(), bs.bytes, N, C, H, W, O, 3, 3, 1, 1, 1,
                   1, 1, 1, 1);
    dx.insert(dx.end(), dw.begin(), dw.end());
    dx.insert(dx.end(), db.begin(), db.end());
    return dx;
  };
  EXPECT_EQ(convRun(), convRun());
}

/// One call of the fake LSTM step function below: the first of its rows
/// (gates rows counted from the first step's row 0, so t * N + row), its
/// row count and the OpenMP thread that made it.
struct StepCall {
  const float *gates;
  int64_t rows;
  int thread;
};
std::mutex stepMutex;
std::vector<StepCall> stepCalls;

/// Stands in for a generated LSTM inference step function (its memref
/// arguments: gates [rows, 4H], b_ih, b_hh [4H], c [rows, H], h [rows, H]
/// with row stride ldh): zeroes c and h and records the call.
void fakeLstmStep(float *, float *gates, int64_t, int64_t rows, int64_t,
                  int64_t, int64_t, float *, float *, int64_t, int64_t,
                  int64_t, float *, float *, int64_t, int64_t, int64_t,
                  float *, float *c, int64_t, int64_t cRows, int64_t cols,
                  int64_t ldc, int64_t, float *, float *h, int64_t,
                  int64_t hRows, int64_t, int64_t ldh, int64_t) {
  EXPECT_EQ(cRows, rows);
  EXPECT_EQ(hRows, rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      c[r * ldc + j] = h[r * ldh + j] = 0.0f;
  std::lock_guard<std::mutex> lock(stepMutex);
  stepCalls.push_back({gates, rows, omp_get_thread_num()});
}

/// The recurrent time loop gives each thread its own range of batch rows for
/// all steps: the step function is called once per step and thread, on row
/// ranges that cover the batch exactly once; one thread gets all rows.
TEST(Kernel, RecurrentStepRunsOnRowRangesPerThread) {
  const int64_t N = 16, T = 3, F = 2, H = 4;
  auto wih = randomVec(4 * H * F, 1), whh = randomVec(4 * H * H, 2);
  auto x = randomVec(N * T * F, 3);
  const float *weights[] = {wih.data(), whh.data()};
  std::vector<float> y(N * H);
  for (int threads : {1, 2}) {
    nnc_set_num_threads(threads);
    stepCalls.clear();
    Scratch s(nnc_lstm_fwd_scratch_bytes(N, T, F, H, 1, 0, 0));
    nnc_lstm_fwd(x.data(), weights, y.data(), nullptr, s.get(),
                 reinterpret_cast<nnc_step_fn>(&fakeLstmStep), N, T, F, H, 1,
                 0, /*hasBias=*/0, /*returnSequences=*/0);
    ASSERT_EQ(stepCalls.size(), static_cast<size_t>(T * threads));
    const float *first = std::min_element(stepCalls.begin(), stepCalls.end(),
                                          [](auto &a, auto &b) {
                                            return a.gates < b.gates;
                                          })
                             ->gates;
    std::vector<int> covered(N * T, 0);
    std::set<int> threadIds;
    for (const StepCall &call : stepCalls) {
      int64_t row = (call.gates - first) / (4 * H);
      EXPECT_EQ((call.gates - first) % (4 * H), 0);
      EXPECT_EQ(call.rows, N / threads);
      for (int64_t r = row; r < row + call.rows && r < N * T; ++r)
        ++covered[r];
      threadIds.insert(call.thread);
    }
    EXPECT_EQ(covered, std::vector<int>(N * T, 1)) << threads << " threads";
    EXPECT_EQ(threadIds.size(), static_cast<size_t>(threads));
  }
  nnc_set_num_threads(0);
}

/// PackedGemm's products equal gemm's on the unpacked B (both layouts of B,
/// beta 0 and 1, any rows per product), and B is packed from a batch of 16
/// rows on.
TEST(Kernel, PackedGemmMatchesGemm) {
  nnc_set_num_threads(1);
  const int64_t N = 48, K = 24, lda = 30, ldc = 50, ldb = 52;
  auto A = randomVec(40 * lda, 4), B = randomVec(N * ldb, 5);
  for (bool transB : {false, true})
    for (int64_t batch : {8, 40}) {
      std::vector<float> storage;
      // B: [N, K] (transB) or [K, N], row stride ldb either way.
      nnc::kernels::PackedGemm packed(transB, N, K, B.data(), ldb, lda, ldc,
                                      batch, storage);
      EXPECT_EQ(packed.isPacked(), batch >= 16);
      for (int64_t M : {int64_t(1), int64_t(13), batch})
        for (float beta : {0.0f, 1.0f}) {
          auto got = randomVec(M * ldc, 6), want = got;
          packed.run(M, A.data(), beta, got.data());
          nnc::kernels::gemm(false, transB, M, N, K, 1.0f, A.data(), lda,
                             B.data(), ldb, beta, want.data(), ldc);
          EXPECT_LT(maxRelErr(got.data(), want.data(), M * ldc), 1e-5)
              << "transB " << transB << " batch " << batch << " M " << M
              << " beta " << beta;
        }
    }
  nnc_set_num_threads(0);
}

} // namespace
