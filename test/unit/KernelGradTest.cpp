//===- test/unit/KernelGradTest.cpp - finite-difference checks of kernels -===//
//
// Part of nnc. Every backward kernel in runtime/Kernels.h against central
// finite differences of its forward: L = sum(y * R) for a fixed random R,
// accumulated in f64 from the f32 kernels, eps = 1e-3. The error measure is
// max |analytic - numeric| / max(1, |numeric|) over the checked elements
// (all of them, or 48 spread ones for large tensors); the tolerance is 2e-2
// for f32 (the observed worst case is printed and stays near 1e-3).
//
//===----------------------------------------------------------------------===//

#include "KernelTestUtil.h"
#include "runtime/Kernels.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <string>

using namespace nnc::test;

namespace {

constexpr double kTolerance = 2e-2;
constexpr double kEps = 1e-3;

/// One tensor the loss depends on, with the analytic gradient to check.
struct GradInput {
  std::string name;
  std::vector<float> *value;
  const std::vector<float> *grad;
};

/// Checks each input's analytic gradient against central differences of
/// L = sum(forward() * R); returns the worst error (and prints it).
double checkGradients(const std::string &what,
                      const std::function<std::vector<float>()> &forward,
                      const std::vector<float> &R,
                      const std::vector<GradInput> &inputs) {
  auto loss = [&] {
    std::vector<float> y = forward();
    double l = 0.0;
    for (size_t i = 0; i < y.size(); ++i)
      l += static_cast<double>(y[i]) * R[i];
    return l;
  };
  double worst = 0.0;
  for (const GradInput &in : inputs) {
    std::vector<float> &v = *in.value;
    const int64_t n = static_cast<int64_t>(v.size());
    const int64_t stride = n > 48 ? n / 48 : 1;
    EXPECT_EQ(in.grad->size(), v.size()) << what << " " << in.name;
    for (int64_t i = 0; i < n; i += stride) {
      const float saved = v[i];
      v[i] = saved + static_cast<float>(kEps);
      double up = loss();
      v[i] = saved - static_cast<float>(kEps);
      double down = loss();
      v[i] = saved;
      // The actual perturbation in f32 may differ slightly from 2*eps.
      double h = static_cast<double>(saved + static_cast<float>(kEps)) -
                 static_cast<double>(saved - static_cast<float>(kEps));
      double numeric = (up - down) / h;
      double err = std::fabs((*in.grad)[i] - numeric) /
                   std::max(1.0, std::fabs(numeric));
      EXPECT_LT(err, kTolerance)
          << what << " d" << in.name << "[" << i << "]: analytic "
          << (*in.grad)[i] << " numeric " << numeric;
      worst = std::max(worst, err);
    }
  }
  std::printf("[ gradcheck ] %-40s worst error %.2e\n", what.c_str(), worst);
  return worst;
}

TEST(KernelGrad, Linear) {
  const int64_t M = 3, in = 5, out = 4;
  auto x = randomVec(M * in, 1), w = randomVec(out * in, 2),
       b = randomVec(out, 3), R = randomVec(M * out, 4);
  std::vector<float> dx(x.size()), dw(w.size()), db(b.size());
  nnc_linear_bwd(R.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(),
                 M, in, out);
  auto fwd = [&] {
    std::vector<float> y(M * out);
    nnc_linear_fwd(x.data(), w.data(), b.data(), y.data(), M, in, out);
    return y;
  };
  checkGradients("linear", fwd, R,
                 {{"x", &x, &dx}, {"w", &w, &dw}, {"b", &b, &db}});
}

struct ConvCase {
  int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, g;
  bool bias;
};

class ConvGrad : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGrad, AllGradients) {
  ConvCase c = GetParam();
  const int64_t OH = (c.H + 2 * c.ph - c.dh * (c.KH - 1) - 1) / c.sh + 1;
  const int64_t OW = (c.W + 2 * c.pw - c.dw * (c.KW - 1) - 1) / c.sw + 1;
  auto x = randomVec(c.N * c.C * c.H * c.W, 11),
       w = randomVec(c.O * (c.C / c.g) * c.KH * c.KW, 12),
       b = randomVec(c.O, 13), R = randomVec(c.N * c.O * OH * OW, 14);
#define SHAPE                                                                  \
  c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.g
  Scratch fs(nnc_conv2d_fwd_scratch_bytes(SHAPE));
  Scratch bs(nnc_conv2d_bwd_scratch_bytes(SHAPE));
  std::vector<float> dx(x.size()), dw(w.size()), db(b.size());
  nnc_conv2d_bwd(R.data(), x.data(), w.data(), dx.data(), dw.data(),
                 c.bias ? db.data() : nullptr, bs.get(), SHAPE);
  auto fwd = [&] {
    std::vector<float> y(R.size());
    nnc_conv2d_fwd(x.data(), w.data(), c.bias ? b.data() : nullptr, y.data(),
                   fs.get(), SHAPE);
    return y;
  };
  std::vector<GradInput> inputs = {{"x", &x, &dx}, {"w", &w, &dw}};
  if (c.bias)
    inputs.push_back({"b", &b, &db});
  checkGradients("conv2d", fwd, R, inputs);
  // Each optional output alone gives the same values.
  std::vector<float> dx2(x.size()), dw2(w.size());
  nnc_conv2d_bwd(R.data(), x.data(), w.data(), dx2.data(), nullptr, nullptr,
                 bs.get(), SHAPE);
  nnc_conv2d_bwd(R.data(), x.data(), w.data(), nullptr, dw2.data(), nullptr,
                 bs.get(), SHAPE);
  EXPECT_EQ(dx, dx2);
  EXPECT_EQ(dw, dw2);
#undef SHAPE
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvGrad,
    ::testing::Values(ConvCase{2, 4, 7, 6, 6, 3, 3, 2, 1, 1, 2, 1, 2, 2, true},
                      ConvCase{2, 3, 5, 5, 4, 2, 2, 1, 1, 0, 0, 1, 1, 1, false},
                      ConvCase{1, 1, 8, 8, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1, true},
                      ConvCase{2, 3, 6, 5, 3, 3, 3, 1, 2, 1, 1, 1, 1, 3,
                               true}));

TEST(KernelGrad, MaxPool) {
  const int64_t N = 2, C = 2, H = 6, W = 7, KH = 3, KW = 2, s = 2, p = 1;
  const int64_t OH = (H + 2 * p - KH) / s + 1, OW = (W + 2 * p - KW) / s + 1;
  // Distinct values 0.01 apart, so eps = 1e-3 never changes an argmax.
  std::vector<float> x(N * C * H * W);
  auto perm = randomVec(static_cast<int64_t>(x.size()), 21);
  for (size_t i = 0; i < x.size(); ++i) {
    int rank = 0;
    for (size_t j = 0; j < x.size(); ++j)
      rank += perm[j] < perm[i];
    x[i] = 0.01f * rank - 1.0f;
  }
  auto R = randomVec(N * C * OH * OW, 22);
  std::vector<float> y(R.size()), dx(x.size());
  std::vector<int32_t> idx(R.size());
  nnc_maxpool2d_fwd(x.data(), y.data(), idx.data(), N, C, H, W, KH, KW, s, s, p,
                    p);
  nnc_maxpool2d_bwd(R.data(), idx.data(), dx.data(), N, C, H, W, KH, KW, s, s,
                    p, p);
  auto fwd = [&] {
    std::vector<float> out(R.size());
    std::vector<int32_t> ix(R.size());
    nnc_maxpool2d_fwd(x.data(), out.data(), ix.data(), N, C, H, W, KH, KW, s, s,
                      p, p);
    return out;
  };
  checkGradients("maxpool2d", fwd, R, {{"x", &x, &dx}});
}

TEST(KernelGrad, AvgPool) {
  const int64_t N = 2, C = 2, H = 6, W = 7, KH = 3, KW = 2, sh = 2, sw = 1,
                ph = 1, pw = 1;
  const int64_t OH = (H + 2 * ph - KH) / sh + 1,
                OW = (W + 2 * pw - KW) / sw + 1;
  auto x = randomVec(N * C * H * W, 31), R = randomVec(N * C * OH * OW, 32);
  std::vector<float> dx(x.size());
  nnc_avgpool2d_bwd(R.data(), dx.data(), N, C, H, W, KH, KW, sh, sw, ph, pw);
  auto fwd = [&] {
    std::vector<float> y(R.size());
    nnc_avgpool2d_fwd(x.data(), y.data(), N, C, H, W, KH, KW, sh, sw, ph, pw);
    return y;
  };
  checkGradients("avgpool2d", fwd, R, {{"x", &x, &dx}});
}

TEST(KernelGrad, GlobalAvgPool) {
  const int64_t N = 2, C = 3, S = 10;
  auto x = randomVec(N * C * S, 41), R = randomVec(N * C, 42);
  std::vector<float> dx(x.size());
  nnc_global_avgpool_bwd(R.data(), dx.data(), N, C, S);
  auto fwd = [&] {
    std::vector<float> y(N * C);
    nnc_global_avgpool_fwd(x.data(), y.data(), N, C, S);
    return y;
  };
  checkGradients("global_avgpool", fwd, R, {{"x", &x, &dx}});
}

class BatchNormGrad
    : public ::testing::TestWithParam<std::tuple<int64_t, int64_t, int64_t>> {};

TEST_P(BatchNormGrad, AllGradients) {
  const int64_t N = std::get<0>(GetParam()), C = std::get<1>(GetParam()),
                S = std::get<2>(GetParam());
  auto x = randomVec(N * C * S, 51, -2.0f, 2.0f), g = randomVec(C, 52),
       b = randomVec(C, 53), R = randomVec(N * C * S, 54);
  std::vector<float> mean(C), invstd(C), y(x.size());
  nnc_batchnorm_train_fwd(x.data(), g.data(), b.data(), y.data(), nullptr,
                          nullptr, mean.data(), invstd.data(), N, C, S, 0.1f,
                          1e-5f);
  std::vector<float> dx(x.size()), dg(C), db(C);
  nnc_batchnorm_bwd(R.data(), x.data(), g.data(), mean.data(), invstd.data(),
                    dx.data(), dg.data(), db.data(), N, C, S);
  auto fwd = [&] {
    std::vector<float> out(x.size()), m(C), is(C);
    nnc_batchnorm_train_fwd(x.data(), g.data(), b.data(), out.data(), nullptr,
                            nullptr, m.data(), is.data(), N, C, S, 0.1f, 1e-5f);
    return out;
  };
  checkGradients("batchnorm", fwd, R,
                 {{"x", &x, &dx}, {"gamma", &g, &dg}, {"beta", &b, &db}});
}

INSTANTIATE_TEST_SUITE_P(Ranks, BatchNormGrad,
                         ::testing::Values(std::make_tuple(6, 3, 1),
                                           std::make_tuple(3, 2, 5),
                                           std::make_tuple(2, 3, 12)));

TEST(KernelGrad, Embedding) {
  const int64_t V = 5, D = 3;
  std::vector<int64_t> ids = {4, 0, 2, 4, 1, 4};
  const int64_t n = static_cast<int64_t>(ids.size());
  auto table = randomVec(V * D, 61), R = randomVec(n * D, 62);
  std::vector<float> dt(table.size());
  EXPECT_EQ(nnc_embedding_bwd(ids.data(), R.data(), dt.data(), n, V, D), 0);
  auto fwd = [&] {
    std::vector<float> out(n * D);
    nnc_embedding_fwd(ids.data(), table.data(), out.data(), n, V, D);
    return out;
  };
  checkGradients("embedding", fwd, R, {{"table", &table, &dt}});
}

//===----------------------------------------------------------------------===//
// Losses and elementwise
//===----------------------------------------------------------------------===//

TEST(KernelGrad, CrossEntropy) {
  const int64_t N = 4, C = 6;
  auto logits = randomVec(N * C, 81, -3.0f, 3.0f);
  std::vector<int64_t> labels = {2, 5, 0, 2};
  std::vector<float> dl(logits.size()), R = {1.0f};
  EXPECT_EQ(
      nnc_cross_entropy_bwd(logits.data(), labels.data(), dl.data(), N, C), 0);
  Scratch s(nnc_cross_entropy_fwd_scratch_bytes(N, C));
  auto fwd = [&] {
    std::vector<float> loss(1);
    nnc_cross_entropy_fwd(logits.data(), labels.data(), N, C, loss.data(),
                          nullptr, s.get());
    return loss;
  };
  checkGradients("cross_entropy", fwd, R, {{"logits", &logits, &dl}});
}

TEST(KernelGrad, Mse) {
  const int64_t n = 9;
  auto p = randomVec(n, 91), t = randomVec(n, 92);
  std::vector<float> dp(n), R = {1.0f};
  nnc_mse_bwd(p.data(), t.data(), dp.data(), n);
  auto fwd = [&] {
    std::vector<float> loss(1);
    nnc_mse_fwd(p.data(), t.data(), n, loss.data());
    return loss;
  };
  checkGradients("mse", fwd, R, {{"pred", &p, &dp}});
}

/// Unary activations whose backward reads x (fromOutput false) or y.
struct UnaryCase {
  const char *name;
  void (*fwd)(const float *, float *, int64_t);
  void (*bwd)(const float *, const float *, float *, int64_t);
  bool fromOutput;
};

class UnaryGrad : public ::testing::TestWithParam<UnaryCase> {};

TEST_P(UnaryGrad, Input) {
  UnaryCase c = GetParam();
  const int64_t n = 40;
  // Keep away from relu's kink at 0.
  auto x = randomVec(n, 101, -3.0f, 3.0f);
  for (float &v : x)
    if (std::fabs(v) < 0.05f)
      v = 0.3f;
  auto R = randomVec(n, 102);
  std::vector<float> y(n), dx(n);
  c.fwd(x.data(), y.data(), n);
  c.bwd(R.data(), c.fromOutput ? y.data() : x.data(), dx.data(), n);
  auto fwd = [&] {
    std::vector<float> out(n);
    c.fwd(x.data(), out.data(), n);
    return out;
  };
  checkGradients(c.name, fwd, R, {{"x", &x, &dx}});
}

void leakyFwd(const float *x, float *y, int64_t n) {
  nnc_leaky_relu_fwd(x, y, n, 0.1f);
}
void leakyBwd(const float *dy, const float *x, float *dx, int64_t n) {
  nnc_leaky_relu_bwd(dy, x, dx, n, 0.1f);
}
void dropoutFwd(const float *x, float *y, int64_t n) {
  std::vector<uint8_t> mask(n);
  nnc_dropout_fwd(x, y, mask.data(), n, 0.3f, 42, 7);
}
void dropoutBwd(const float *dy, const float *, float *dx, int64_t n) {
  std::vector<uint8_t> mask(n);
  nnc_dropout_mask(mask.data(), n, 0.3f, 42, 7);
  nnc_dropout_bwd(dy, mask.data(), dx, n, 0.3f);
}

INSTANTIATE_TEST_SUITE_P(
    Activations, UnaryGrad,
    ::testing::Values(UnaryCase{"relu", nnc_relu_fwd, nnc_relu_bwd, false},
                      UnaryCase{"sigmoid", nnc_sigmoid_fwd, nnc_sigmoid_bwd,
                                true},
                      UnaryCase{"tanh", nnc_tanh_fwd, nnc_tanh_bwd, true},
                      UnaryCase{"gelu", nnc_gelu_fwd, nnc_gelu_bwd, false},
                      UnaryCase{"leaky_relu", leakyFwd, leakyBwd, false},
                      UnaryCase{"dropout", dropoutFwd, dropoutBwd, false}),
    [](const ::testing::TestParamInfo<UnaryCase> &info) {
      return std::string(info.param.name);
    });

TEST(KernelGrad, Softmax) {
  const int64_t rows = 3, cols = 7;
  auto x = randomVec(rows * cols, 111, -2.0f, 2.0f),
       R = randomVec(rows * cols, 112);
  for (bool logSoftmax : {false, true}) {
    std::vector<float> y(x.size()), dx(x.size());
    auto f = logSoftmax ? nnc_log_softmax_fwd : nnc_softmax_fwd;
    auto b = logSoftmax ? nnc_log_softmax_bwd : nnc_softmax_bwd;
    f(x.data(), y.data(), rows, cols);
    b(R.data(), y.data(), dx.data(), rows, cols);
    auto fwd = [&] {
      std::vector<float> out(x.size());
      f(x.data(), out.data(), rows, cols);
      return out;
    };
    checkGradients(logSoftmax ? "log_softmax" : "softmax", fwd, R,
                   {{"x", &x, &dx}});
  }
}

} // namespace
