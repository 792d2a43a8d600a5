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

#include <gtest/gtest.h>

#include <cstring>
#include <iterator>

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
  nnc_conv2d_fwd(kConvX, kConvW, kConvB, y.data(), s.get(), 2, 4, 7, 6, 6, 3, 3,
                 2, 1, 1, 2, 1, 2, 2);
  EXPECT_CLOSE(y, kConvY);
  std::vector<float> y2(std::size(kConv2Y));
  Scratch s2(
      nnc_conv2d_fwd_scratch_bytes(2, 3, 5, 5, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1));
  nnc_conv2d_fwd(kConv2X, kConv2W, nullptr, y2.data(), s2.get(), 2, 3, 5, 5, 4,
                 2, 2, 1, 1, 0, 0, 1, 1, 1);
  EXPECT_CLOSE(y2, kConv2Y);
}

TEST(Kernel, PoolingMatchesTorch) {
  std::vector<float> y(std::size(kMaxPoolY));
  std::vector<int32_t> idx(y.size());
  nnc_maxpool2d_fwd(kPoolX, y.data(), idx.data(), 2, 3, 6, 7, 3, 2, 2, 2, 1, 1);
  EXPECT_CLOSE(y, kMaxPoolY);
  EXPECT_EQ(idx, std::vector<int32_t>(std::begin(kMaxPoolIdx),
                                      std::end(kMaxPoolIdx)));
  std::vector<float> a(std::size(kAvgPoolY));
  nnc_avgpool2d_fwd(kPoolX, a.data(), 2, 3, 6, 7, 3, 2, 2, 2, 1, 1);
  EXPECT_CLOSE(a, kAvgPoolY);
}

TEST(Kernel, BatchNormMatchesTorch) {
  const int64_t N = 4, C = 3, S = 5;
  std::vector<float> y(N * C * S), rm = vec(kBnRm), rv = vec(kBnRv), m(C),
                                   is(C);
  nnc_batchnorm_train_fwd(kBnX, kBnGamma, kBnBeta, y.data(), rm.data(),
                          rv.data(), m.data(), is.data(), N, C, S, 0.1f, 1e-5f);
  EXPECT_CLOSE(y, kBnTrainY);
  EXPECT_CLOSE(rm, kBnRmNew);
  EXPECT_CLOSE(rv, kBnRvNew);
  nnc_batchnorm_infer_fwd(kBnX, kBnGamma, kBnBeta, kBnRm, kBnRv, y.data(), N, C,
                          S, 1e-5f);
  EXPECT_CLOSE(y, kBnInferY);
}

enum class Kind { Lstm, Gru, RnnTanh, RnnRelu };

/// Runs a recurrent forward on the reference weights (concatenated in
/// state_dict order) in both output modes.
void checkRecurrent(Kind kind, const float *x, const float *wAll,
                    const int64_t *wSizes, size_t numW, int64_t N, int64_t T,
                    int64_t F, int64_t H, int64_t L, int32_t bidir,
                    int32_t bias, const float *wantY, size_t ySize,
                    const float *wantLast, size_t lastSize) {
  std::vector<const float *> w;
  const float *p = wAll;
  for (size_t i = 0; i < numW; ++i) {
    w.push_back(p);
    p += wSizes[i];
  }
  for (int32_t seq : {1, 0}) {
    std::vector<float> y(seq ? ySize : lastSize);
    int64_t rb, fb;
    if (kind == Kind::Lstm) {
      rb = nnc_lstm_reserve_bytes(N, T, F, H, L, bidir);
      fb = nnc_lstm_fwd_scratch_bytes(N, T, F, H, L, bidir);
    } else if (kind == Kind::Gru) {
      rb = nnc_gru_reserve_bytes(N, T, F, H, L, bidir);
      fb = nnc_gru_fwd_scratch_bytes(N, T, F, H, L, bidir);
    } else {
      rb = nnc_rnn_reserve_bytes(N, T, F, H, L, bidir);
      fb = nnc_rnn_fwd_scratch_bytes(N, T, F, H, L, bidir);
    }
    Scratch reserve(rb), scratch(fb);
    float *r = static_cast<float *>(reserve.get());
    if (kind == Kind::Lstm)
      nnc_lstm_fwd(x, w.data(), y.data(), r, scratch.get(), N, T, F, H, L,
                   bidir, bias, seq);
    else if (kind == Kind::Gru)
      nnc_gru_fwd(x, w.data(), y.data(), r, scratch.get(), N, T, F, H, L, bidir,
                  bias, seq);
    else
      nnc_rnn_fwd(x, w.data(), y.data(), r, scratch.get(), N, T, F, H, L, bidir,
                  bias, seq, kind == Kind::RnnRelu);
    EXPECT_LT(maxRelErr(y.data(), seq ? wantY : wantLast,
                        static_cast<int64_t>(y.size())),
              kForwardTol)
        << "seq " << seq;
  }
}

#define CHECK_REC(kind, P, N, T, F, H, L, bidir, bias)                         \
  checkRecurrent(kind, P##X, P##W, P##WSizes, std::size(P##WSizes), N, T, F,   \
                 H, L, bidir, bias, P##Y, std::size(P##Y), P##Last,            \
                 std::size(P##Last))

TEST(Kernel, RecurrentMatchesTorch) {
  CHECK_REC(Kind::Lstm, kLstm, 2, 5, 3, 4, 2, 1, 1);
  CHECK_REC(Kind::Gru, kGru, 2, 4, 3, 5, 1, 1, 1);
  CHECK_REC(Kind::Gru, kGru2, 2, 3, 4, 3, 2, 0, 0);
  CHECK_REC(Kind::RnnTanh, kRnnT, 2, 5, 3, 4, 2, 0, 0);
  CHECK_REC(Kind::RnnRelu, kRnnR, 3, 4, 3, 4, 1, 1, 1);
}

TEST(Kernel, OptimizersMatchTorch) {
  const int64_t n = std::size(kOptP0);
  auto runSteps = [&](auto update) {
    std::vector<float> p = vec(kOptP0), s1(n, 0.0f), s2(n, 0.0f);
    for (int64_t step = 1; step <= 3; ++step)
      update(p.data(), kOptGrads + (step - 1) * n, s1.data(), s2.data(), step);
    return p;
  };
  // Optimizer arithmetic follows torch's op order; allow a few ulps.
  auto expectNear = [&](const std::vector<float> &got, const float *want) {
    EXPECT_LT(maxRelErr(got.data(), want, n), 1e-6);
  };
  expectNear(
      runSteps([&](float *p, const float *g, float *m, float *v, int64_t s) {
        nnc_adam_update(p, g, m, v, n, 1e-2f, 0.9f, 0.99f, 1e-6f, 0.1f, 0, s);
      }),
      kOptAdam);
  expectNear(
      runSteps([&](float *p, const float *g, float *m, float *v, int64_t s) {
        nnc_adam_update(p, g, m, v, n, 1e-2f, 0.8f, 0.999f, 1e-8f, 0.1f, 1, s);
      }),
      kOptAdamW);
  expectNear(
      runSteps([&](float *p, const float *g, float *b, float *, int64_t s) {
        nnc_momentum_update(p, g, b, n, 0.1f, 0.9f, 0.0f, 0.01f, 1, s);
      }),
      kOptNesterov);
  expectNear(
      runSteps([&](float *p, const float *g, float *b, float *, int64_t s) {
        nnc_momentum_update(p, g, b, n, 0.1f, 0.8f, 0.1f, 0.0f, 0, s);
      }),
      kOptMomentum);
  expectNear(runSteps([&](float *p, const float *g, float *, float *, int64_t) {
               nnc_sgd_update(p, g, n, 0.05f, 0.02f);
             }),
             kOptSgd);
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

TEST(Kernel, OutOfRangeIds) {
  std::vector<int64_t> ids = {0, 7, -1, 2};
  auto table = randomVec(3 * 2, 5);
  std::vector<float> out(8), dt(6);
  EXPECT_EQ(nnc_embedding_fwd(ids.data(), table.data(), out.data(), 4, 3, 2),
            2);
  EXPECT_EQ(out[2], table[4]); // 7 clamps to row 2
  EXPECT_EQ(out[4], table[0]); // -1 clamps to row 0
  EXPECT_EQ(nnc_embedding_bwd(ids.data(), out.data(), dt.data(), 4, 3, 2), 2);
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
                   db.data(), bs.get(), N, C, H, W, O, 3, 3, 1, 1, 1, 1, 1, 1,
                   1);
    dx.insert(dx.end(), dw.begin(), dw.end());
    dx.insert(dx.end(), db.begin(), db.end());
    return dx;
  };
  EXPECT_EQ(convRun(), convRun());

  const int64_t Nl = 16, T = 7, F = 6, Hh = 32;
  auto xs = randomVec(Nl * T * F, 10);
  std::vector<std::vector<float>> ws = {randomVec(4 * Hh * F, 11, -0.3f, 0.3f),
                                        randomVec(4 * Hh * Hh, 12, -0.3f, 0.3f),
                                        randomVec(4 * Hh, 13),
                                        randomVec(4 * Hh, 14)};
  std::vector<const float *> wp = {ws[0].data(), ws[1].data(), ws[2].data(),
                                   ws[3].data()};
  auto dys = randomVec(Nl * T * Hh, 15);
  auto lstmRun = [&] {
    Scratch reserve(nnc_lstm_reserve_bytes(Nl, T, F, Hh, 1, 0));
    Scratch fs(nnc_lstm_fwd_scratch_bytes(Nl, T, F, Hh, 1, 0));
    Scratch bsl(nnc_lstm_bwd_scratch_bytes(Nl, T, F, Hh, 1, 0));
    std::vector<float> y(Nl * T * Hh), dx(xs.size());
    std::vector<std::vector<float>> dws;
    std::vector<float *> dwp;
    for (auto &v : ws)
      dws.emplace_back(v.size());
    for (auto &v : dws)
      dwp.push_back(v.data());
    float *r = static_cast<float *>(reserve.get());
    nnc_lstm_fwd(xs.data(), wp.data(), y.data(), r, fs.get(), Nl, T, F, Hh, 1,
                 0, 1, 1);
    nnc_lstm_bwd(dys.data(), xs.data(), wp.data(), r, dx.data(), dwp.data(),
                 bsl.get(), Nl, T, F, Hh, 1, 0, 1, 1);
    for (auto &v : dws)
      y.insert(y.end(), v.begin(), v.end());
    y.insert(y.end(), dx.begin(), dx.end());
    return y;
  };
  EXPECT_EQ(lstmRun(), lstmRun());
}

} // namespace
