//===- test/unit/KernelGradTest.cpp - finite-difference checks of kernels -===//
//
// Part of nnc. Every backward kernel in runtime/Kernels.h against central
// finite differences of its forward: L = sum(y * R) for a fixed random R,
// accumulated in f64 from the f32 kernels, eps = 1e-3. The error measure is
// max |analytic - numeric| / max(1, |numeric|) over the checked elements
// (all of them, or 48 spread ones for large tensors); the tolerance is 2e-2
// for f32 (the observed worst case is printed and stays near 1e-3). The
// generated kernels' gradients: GeneratedKernelTest.cpp.
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
    nnc_linear_fwd(x.data(), w.data(), b.data(), y.data(), M, in, out, 0);
    return y;
  };
  checkGradients("linear", fwd, R,
                 {{"x", &x, &dx}, {"w", &w, &dw}, {"b", &b, &db}});
}

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
                 c.bias ? db.data() : nullptr, bs.get(), bs.bytes, SHAPE);
  auto fwd = [&] {
    std::vector<float> y(R.size());
    nnc_conv2d_fwd(x.data(), w.data(), c.bias ? b.data() : nullptr, y.data(),
                   fs.get(), fs.bytes, SHAPE, 0);
    return y;
  };
  std::vector<GradInput> inputs = {{"x", &x, &dx}, {"w", &w, &dw}};
  if (c.bias)
    inputs.push_back({"b", &b, &db});
  checkGradients("conv2d", fwd, R, inputs);
  // Each optional output alone gives the same values.
  std::vector<float> dx2(x.size()), dw2(w.size());
  nnc_conv2d_bwd(R.data(), x.data(), w.data(), dx2.data(), nullptr, nullptr,
                 bs.get(), bs.bytes, SHAPE);
  nnc_conv2d_bwd(R.data(), x.data(), w.data(), nullptr, dw2.data(), nullptr,
                 bs.get(), bs.bytes, SHAPE);
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

} // namespace
