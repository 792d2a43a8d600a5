//===- test/unit/MixedKernelsTest.cpp - bf16/f16 conv2d and linear kernels -===//
//
// Part of nnc. The mixed-precision kernels (runtime/Kernels.h, "Mixed
// precision") against the f32 kernels, at LeNet's and the ResNet's layer
// shapes, with inputs uniform in [-1, 1]. Two checks per result:
// - Rounding: the result equals the f32 kernel run on the inputs rounded to
//   bf16 (f16) first, up to f32 accumulation order: |a - b| <= 1e-5 * K,
//   K the products per output (|x|, |w|, |dy| <= 1). f16 is emulated with the
//   f32 kernels, so there it is bitwise equal.
// - Precision: against the f32 kernel on the unrounded inputs,
//   |a - b| <= 3 * 2^-8 * sqrt(K) (bf16's 8-bit significand: each product
//   is off by at most 2^-8 relative, errors of random sign add up as sqrt(K);
//   3 standard deviations), and some result differs (the kernel did round).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "test/unit/KernelTestUtil.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using nnc::test::Scratch;

namespace {

/// `v` rounded to bf16 (nearest even) and back.
float roundBf16(float v) {
  uint32_t bits;
  std::memcpy(&bits, &v, 4);
  bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
  std::memcpy(&v, &bits, 4);
  return v;
}
float roundF16(float v) { return static_cast<float>(static_cast<_Float16>(v)); }

std::vector<float> rounded(const std::vector<float> &v, int32_t precision) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i)
    out[i] = precision == NNC_PRECISION_BF16 ? roundBf16(v[i]) : roundF16(v[i]);
  return out;
}

std::vector<float> uniform(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(rng);
  return v;
}

/// Checks `got` against `rounding` (the f32 kernel on rounded inputs) and
/// `exact` (on the unrounded ones) as the file comment says.
void expectMixed(const std::vector<float> &got, const std::vector<float> &rounding,
                 const std::vector<float> &exact, int64_t K, int32_t precision,
                 const std::string &what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(got.size(), exact.size());
  const double roundTol = precision == NNC_PRECISION_F16 ? 0.0 : 1e-5 * K;
  const double precTol = 3.0 * std::ldexp(1.0, -8) * std::sqrt(double(K));
  double maxRound = 0, maxPrec = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "element " << i;
    maxRound = std::max(maxRound, std::fabs(double(got[i]) - rounding[i]));
    maxPrec = std::max(maxPrec, std::fabs(double(got[i]) - exact[i]));
  }
  EXPECT_LE(maxRound, roundTol);
  EXPECT_LE(maxPrec, precTol);
  EXPECT_GT(maxPrec, 0.0) << "no result differs from f32: the inputs were not rounded";
}

struct Conv {
  int64_t N, C, H, O, K, s, p;
  int64_t OH() const { return (H + 2 * p - K) / s + 1; }
};

/// Forward and backward of one conv shape at `precision` against the f32
/// kernels.
void checkConv(const Conv &c, int32_t precision) {
  const std::string name = "conv " + std::to_string(c.N) + "x" + std::to_string(c.C) + "x" +
                           std::to_string(c.H) + " -> " + std::to_string(c.O) + " k" +
                           std::to_string(c.K) +
                           (precision == NNC_PRECISION_BF16 ? " bf16" : " f16");
  const int64_t oh = c.OH(), xn = c.N * c.C * c.H * c.H, wn = c.O * c.C * c.K * c.K,
                yn = c.N * c.O * oh * oh;
  std::vector<float> x = uniform(xn, 1), w = uniform(wn, 2), b = uniform(c.O, 3),
                     dy = uniform(yn, 4);
  auto shape = [&](auto fn, auto... args) {
    return fn(args..., c.N, c.C, c.H, c.H, c.O, c.K, c.K, c.s, c.s, c.p, c.p, 1, 1, 1);
  };
  // f32 on the given inputs.
  auto f32Fwd = [&](const std::vector<float> &xi, const std::vector<float> &wi) {
    Scratch s(shape(nnc_conv2d_fwd_scratch_bytes));
    std::vector<float> y(yn);
    nnc_conv2d_fwd(xi.data(), wi.data(), b.data(), y.data(), s.get(), s.bytes, c.N, c.C, c.H, c.H,
                   c.O, c.K, c.K, c.s, c.s, c.p, c.p, 1, 1, 1, 0);
    return y;
  };
  auto f32Bwd = [&](const std::vector<float> &dyi, const std::vector<float> &xi,
                    const std::vector<float> &wi) {
    Scratch s(shape(nnc_conv2d_bwd_scratch_bytes));
    std::vector<float> dx(xn), dw(wn), db(c.O);
    nnc_conv2d_bwd(dyi.data(), xi.data(), wi.data(), dx.data(), dw.data(), db.data(), s.get(),
                   s.bytes, c.N, c.C, c.H, c.H, c.O, c.K, c.K, c.s, c.s, c.p, c.p, 1, 1, 1);
    return std::array<std::vector<float>, 3>{dx, dw, db};
  };

  Scratch fs(nnc_conv2d_fwd_mixed_scratch_bytes(c.N, c.C, c.H, c.H, c.O, c.K, c.K, c.s, c.s, c.p,
                                                c.p, 1, 1, 1, precision));
  std::vector<float> y(yn);
  nnc_conv2d_fwd_mixed(x.data(), w.data(), b.data(), y.data(), fs.get(), fs.bytes, c.N, c.C, c.H,
                       c.H, c.O, c.K, c.K, c.s, c.s, c.p, c.p, 1, 1, 1, 0, precision);
  ASSERT_EQ(nnc_kernels_error(), nullptr) << nnc_kernels_error();
  expectMixed(y, f32Fwd(rounded(x, precision), rounded(w, precision)), f32Fwd(x, w),
              c.C * c.K * c.K, precision, name + " forward");

  Scratch bs(nnc_conv2d_bwd_mixed_scratch_bytes(c.N, c.C, c.H, c.H, c.O, c.K, c.K, c.s, c.s, c.p,
                                                c.p, 1, 1, 1, precision));
  std::vector<float> dx(xn), dw(wn), db(c.O);
  nnc_conv2d_bwd_mixed(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), bs.get(),
                       bs.bytes, c.N, c.C, c.H, c.H, c.O, c.K, c.K, c.s, c.s, c.p, c.p, 1, 1, 1,
                       precision);
  ASSERT_EQ(nnc_kernels_error(), nullptr) << nnc_kernels_error();
  auto exact = f32Bwd(dy, x, w);
  auto round = f32Bwd(rounded(dy, precision), rounded(x, precision), rounded(w, precision));
  expectMixed(dx, round[0], exact[0], c.O * c.K * c.K, precision, name + " dx");
  expectMixed(dw, round[1], exact[1], c.N * oh * oh, precision, name + " dw");
}

TEST(MixedKernels, ConvBf16LeNetAndResNetShapes) {
  nnc_set_num_threads(2);
  checkConv({16, 1, 28, 6, 5, 1, 2}, NNC_PRECISION_BF16);  // LeNet conv1
  checkConv({16, 6, 14, 16, 5, 1, 0}, NNC_PRECISION_BF16); // LeNet conv2
  checkConv({8, 16, 14, 32, 3, 2, 1}, NNC_PRECISION_BF16); // ResNet downsampling
  checkConv({8, 32, 7, 32, 3, 1, 1}, NNC_PRECISION_BF16);  // ResNet block
  const std::string impls = nnc_mixed_implementations();
  EXPECT_NE(impls.find("conv fwd: "), std::string::npos) << impls;
  EXPECT_NE(impls.find("bf16"), std::string::npos) << impls;
}

TEST(MixedKernels, ConvF16EmulatedIsF32OnRoundedInputs) {
  nnc_set_num_threads(2);
  checkConv({16, 6, 14, 16, 5, 1, 0}, NNC_PRECISION_F16);
  checkConv({8, 32, 7, 32, 3, 1, 1}, NNC_PRECISION_F16);
}

/// linear [M,in] -> out, forward with bias and backward, at `precision`.
void checkLinear(int64_t M, int64_t in, int64_t out, int32_t precision) {
  const std::string name =
      "linear " + std::to_string(M) + "x" + std::to_string(in) + " -> " + std::to_string(out);
  std::vector<float> x = uniform(M * in, 5), w = uniform(out * in, 6), b = uniform(out, 7),
                     dy = uniform(M * out, 8);
  auto f32Fwd = [&](const std::vector<float> &xi, const std::vector<float> &wi) {
    std::vector<float> y(M * out);
    nnc_linear_fwd(xi.data(), wi.data(), b.data(), y.data(), M, in, out, 0);
    return y;
  };
  Scratch fs(nnc_linear_fwd_mixed_scratch_bytes(M, in, out, precision));
  std::vector<float> y(M * out);
  nnc_linear_fwd_mixed(x.data(), w.data(), b.data(), y.data(), fs.get(), fs.bytes, M, in, out, 0,
                       precision);
  ASSERT_EQ(nnc_kernels_error(), nullptr) << nnc_kernels_error();
  expectMixed(y, f32Fwd(rounded(x, precision), rounded(w, precision)), f32Fwd(x, w), in, precision,
              name + " forward");

  auto f32Bwd = [&](const std::vector<float> &dyi, const std::vector<float> &xi,
                    const std::vector<float> &wi) {
    std::vector<float> dx(M * in), dw(out * in), db(out);
    nnc_linear_bwd(dyi.data(), xi.data(), wi.data(), dx.data(), dw.data(), db.data(), M, in, out);
    return std::array<std::vector<float>, 3>{dx, dw, db};
  };
  Scratch bs(nnc_linear_bwd_mixed_scratch_bytes(M, in, out, precision));
  std::vector<float> dx(M * in), dw(out * in), db(out);
  nnc_linear_bwd_mixed(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), bs.get(),
                       bs.bytes, M, in, out, precision);
  ASSERT_EQ(nnc_kernels_error(), nullptr) << nnc_kernels_error();
  auto exact = f32Bwd(dy, x, w);
  auto round = f32Bwd(rounded(dy, precision), rounded(x, precision), rounded(w, precision));
  expectMixed(dx, round[0], exact[0], out, precision, name + " dx");
  expectMixed(dw, round[1], exact[1], M, precision, name + " dw");
  if (precision == NNC_PRECISION_BF16) // db is summed in f32 from f32 dy
    for (int64_t j = 0; j < out; ++j)
      EXPECT_EQ(db[j], exact[2][j]) << name << " db " << j;
}

TEST(MixedKernels, LinearBf16LeNetShapes) {
  nnc_set_num_threads(2);
  checkLinear(64, 400, 120, NNC_PRECISION_BF16);
  checkLinear(64, 120, 84, NNC_PRECISION_BF16);
  checkLinear(64, 84, 10, NNC_PRECISION_BF16);
  const std::string impls = nnc_mixed_implementations();
  EXPECT_NE(impls.find("matmul: "), std::string::npos) << impls;
}

TEST(MixedKernels, LinearF16EmulatedIsF32OnRoundedInputs) {
  nnc_set_num_threads(2);
  checkLinear(64, 400, 120, NNC_PRECISION_F16);
}

TEST(MixedKernels, F16OverflowGivesInfinity) {
  // 70000 is beyond f16's largest finite value (65504): rounded to +inf,
  // as an f16 gradient overflows; loss scaling relies on seeing it.
  const int64_t M = 4, in = 8, out = 3;
  std::vector<float> dy(M * out, 1.0f), x(M * in, 1.0f), w(out * in, 0.5f);
  dy[0] = 70000.0f;
  Scratch s(nnc_linear_bwd_mixed_scratch_bytes(M, in, out, NNC_PRECISION_F16));
  std::vector<float> dx(M * in), dw(out * in);
  nnc_linear_bwd_mixed(dy.data(), x.data(), w.data(), dx.data(), dw.data(), nullptr, s.get(),
                       s.bytes, M, in, out, NNC_PRECISION_F16);
  EXPECT_TRUE(std::isinf(dw[0]));
  EXPECT_TRUE(std::isinf(dx[0]));
  EXPECT_TRUE(std::isfinite(dx[in])); // row 1 of dy is finite
  // In bf16 (f32's range) the same gradient stays finite.
  Scratch sb(nnc_linear_bwd_mixed_scratch_bytes(M, in, out, NNC_PRECISION_BF16));
  nnc_linear_bwd_mixed(dy.data(), x.data(), w.data(), dx.data(), dw.data(), nullptr, sb.get(),
                       sb.bytes, M, in, out, NNC_PRECISION_BF16);
  EXPECT_TRUE(std::isfinite(dw[0]));
}

TEST(MixedKernels, F16LossScaleKeepsSmallGradients) {
  // dy = 2e-8 is below half of f16's smallest subnormal (5.96e-8): unscaled
  // it rounds to 0 and the weight gradient vanishes; scaled by 2^16 it is an
  // f16 normal, and the kernel divides the result by the scale again.
  const int64_t M = 4, in = 8, out = 3;
  std::vector<float> dy(M * out, 2e-8f), x(M * in, 1.0f), w(out * in, 0.5f), dx(M * in),
      dw(out * in);
  Scratch s(nnc_linear_bwd_mixed_scratch_bytes(M, in, out, NNC_PRECISION_F16));
  nnc_linear_bwd_mixed(dy.data(), x.data(), w.data(), dx.data(), dw.data(), nullptr, s.get(),
                       s.bytes, M, in, out, NNC_PRECISION_F16);
  EXPECT_EQ(dw[0], 0.0f);
  nnc_set_loss_scale(65536.0f);
  EXPECT_EQ(nnc_get_loss_scale(), 65536.0f);
  nnc_linear_bwd_mixed(dy.data(), x.data(), w.data(), dx.data(), dw.data(), nullptr, s.get(),
                       s.bytes, M, in, out, NNC_PRECISION_F16);
  nnc_set_loss_scale(0.0f); // not positive: back to 1
  EXPECT_EQ(nnc_get_loss_scale(), 1.0f);
  // 4 rows of dy * x: 8e-8, up to f16's rounding of 2e-8 * 2^16 (2^-11).
  EXPECT_NEAR(dw[0], 8e-8f, 8e-8f * 1e-3f);
  EXPECT_NEAR(dx[0], 3e-8f, 3e-8f * 1e-3f);
}

TEST(MixedKernels, UnknownPrecisionIsReported) {
  nnc_kernels_clear_error();
  std::vector<float> x(8, 1.0f), w(8, 1.0f), y(1);
  nnc_linear_fwd_mixed(x.data(), w.data(), nullptr, y.data(), nullptr, 0, 1, 8, 1, 0, 7);
  ASSERT_NE(nnc_kernels_error(), nullptr);
  EXPECT_NE(std::string(nnc_kernels_error()).find("unknown precision 7"), std::string::npos);
  EXPECT_TRUE(std::isnan(y[0]));
  nnc_kernels_clear_error();
}

} // namespace
