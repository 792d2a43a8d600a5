//===- test/unit/KernelTest.cpp - kernel forwards vs PyTorch, determinism -===//
//
// Part of nnc. Forward kernels and optimizer updates against PyTorch 1.13's
// outputs for the same inputs (Inputs/kernel_reference.inc, written by
// scripts/make_kernel_reference.py), bitwise determinism of repeated runs, and
// the handling of out-of-range ids and labels.
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

TEST(Kernel, CrossEntropyMatchesTorch) {
  Scratch s(nnc_cross_entropy_fwd_scratch_bytes(5, 7));
  float loss = 0.0f;
  int64_t correct = -1;
  EXPECT_EQ(nnc_cross_entropy_fwd(kCeLogits, kCeLabels, 5, 7, &loss, &correct,
                                  s.get()),
            0);
  EXPECT_NEAR(loss, kCeLoss[0], 1e-5);
  EXPECT_EQ(correct, kCeCorrect);
}

TEST(Kernel, ElementwiseMatchesTorch) {
  const int64_t n = std::size(kEwX);
  std::vector<float> y(n);
  nnc_gelu_fwd(kEwX, y.data(), n);
  EXPECT_CLOSE(y, kGeluY);
  nnc_sigmoid_fwd(kEwX, y.data(), n);
  EXPECT_CLOSE(y, kSigmoidY);
  nnc_tanh_fwd(kEwX, y.data(), n);
  EXPECT_CLOSE(y, kTanhY);
  nnc_leaky_relu_fwd(kEwX, y.data(), n, 0.1f);
  EXPECT_CLOSE(y, kLeakyY);
  nnc_softmax_fwd(kEwX, y.data(), 3, 7);
  EXPECT_CLOSE(y, kSoftmaxY);
  nnc_log_softmax_fwd(kEwX, y.data(), 3, 7);
  EXPECT_CLOSE(y, kLogSoftmaxY);
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

TEST(Kernel, OutOfRangeIdsAndLabels) {
  std::vector<int64_t> ids = {0, 7, -1, 2};
  auto table = randomVec(3 * 2, 5);
  std::vector<float> out(8), dt(6);
  EXPECT_EQ(nnc_embedding_fwd(ids.data(), table.data(), out.data(), 4, 3, 2),
            2);
  EXPECT_EQ(out[2], table[4]); // 7 clamps to row 2
  EXPECT_EQ(out[4], table[0]); // -1 clamps to row 0
  EXPECT_EQ(nnc_embedding_bwd(ids.data(), out.data(), dt.data(), 4, 3, 2), 2);

  std::vector<int64_t> labels = {1, 9};
  auto logits = randomVec(2 * 3, 6);
  std::vector<float> dl(6);
  Scratch s(nnc_cross_entropy_fwd_scratch_bytes(2, 3));
  float loss;
  int64_t correct;
  EXPECT_EQ(nnc_cross_entropy_fwd(logits.data(), labels.data(), 2, 3, &loss,
                                  &correct, s.get()),
            1);
  EXPECT_EQ(
      nnc_cross_entropy_bwd(logits.data(), labels.data(), dl.data(), 2, 3), 1);
  EXPECT_EQ(dl[3], 0.0f);
}

TEST(Kernel, CrossEntropyIgnoresPaddingRows) {
  // A partial batch padded with label -100 gives the loss and gradients of
  // the smaller batch, as torch.nn.CrossEntropyLoss(ignore_index=-100) does.
  const int64_t C = 4;
  auto logits = randomVec(3 * C, 11);
  std::vector<int64_t> full = {2, 0, -100}, part = {2, 0};
  Scratch s3(nnc_cross_entropy_fwd_scratch_bytes(3, C)),
      s2(nnc_cross_entropy_fwd_scratch_bytes(2, C));
  float lossFull, lossPart;
  EXPECT_EQ(nnc_cross_entropy_fwd(logits.data(), full.data(), 3, C, &lossFull,
                                  nullptr, s3.get()),
            1);
  EXPECT_EQ(nnc_cross_entropy_fwd(logits.data(), part.data(), 2, C, &lossPart,
                                  nullptr, s2.get()),
            0);
  EXPECT_FLOAT_EQ(lossFull, lossPart);
  std::vector<float> dFull(3 * C), dPart(2 * C);
  nnc_cross_entropy_bwd(logits.data(), full.data(), dFull.data(), 3, C);
  nnc_cross_entropy_bwd(logits.data(), part.data(), dPart.data(), 2, C);
  for (int64_t i = 0; i < 2 * C; ++i)
    EXPECT_FLOAT_EQ(dFull[i], dPart[i]);
  for (int64_t i = 2 * C; i < 3 * C; ++i)
    EXPECT_EQ(dFull[i], 0.0f);
}

TEST(Kernel, DropoutMaskIsCounterBased) {
  const int64_t n = 1000;
  std::vector<uint8_t> a(n), b(n / 2);
  nnc_dropout_mask(a.data(), n, 0.25f, 99, 0);
  nnc_dropout_mask(b.data(), n / 2, 0.25f, 99, n / 2); // resume mid-stream
  EXPECT_EQ(0, std::memcmp(a.data() + n / 2, b.data(), n / 2));
  int kept = 0;
  for (uint8_t m : a)
    kept += m;
  EXPECT_NEAR(kept, 750, 60);
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

}

} // namespace
