//===- test/unit/QuantKernelsTest.cpp - int8 conv2d/linear kernels -------===//
//
// Part of nnc. nnc_qconv2d_fwd and nnc_qlinear_fwd (runtime/Kernels.h,
// "Int8") against a plain integer reference: int64 accumulation of
// (x - xZeroPoint) * w over the valid (unpadded) positions, the scaling, bias
// and relu in double, requantization with round-half-even and saturation.
//
// Error bounds (the kernel's accumulation is exact; only its f32 scaling
// rounds):
// - f32 output: |y - ref| <= 1e-5 * (xScale * wScale[o] * sum |x - zp| |w| +
//   |b[o]|), i.e. relative 1e-5 of the accumulated magnitude.
// - s8/u8 output: |q - ref| <= 1 unit (a value within f32 rounding of a tie
//   may round the other way), and such off-by-one results are rare (at most
//   1% of the elements: a kernel that truncated or rounded ties away would
//   miss far more).
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

/// One int8 case: conv geometry (K = 0 and H = W = 1 for a linear layer, C =
/// in, O = out, N = M), types and quantization parameters.
struct QCase {
  int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, g;
  bool xUnsigned;
  int32_t xZp;
  int32_t yType; // 0 f32, 1 s8, 2 u8
  int32_t yZp;
  bool relu;
  bool bias = true;
  bool linear = false;

  int64_t OH() const { return (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1; }
  int64_t OW() const { return (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1; }
  int64_t ySize() const { return N * O * OH() * OW(); }
  std::string name() const {
    return (linear ? "linear " : "conv ") + std::to_string(N) + "x" + std::to_string(C) + "x" +
           std::to_string(H) + "x" + std::to_string(W) + " -> " + std::to_string(O) + " k" +
           std::to_string(KH) + " s" + std::to_string(sh) + " p" + std::to_string(ph) + " g" +
           std::to_string(g) + (xUnsigned ? " u8" : " s8") + " zp" + std::to_string(xZp) + " y" +
           std::to_string(yType) + " yzp" + std::to_string(yZp) + (relu ? " relu" : "");
  }
};

QCase conv(int64_t N, int64_t C, int64_t H, int64_t O, int64_t K, int64_t s, int64_t p,
           int64_t g = 1, int64_t d = 1) {
  return {N, C, H, H, O, K, K, s, s, p, p, d, d, g, true, 0, 0, 0, false};
}
QCase linear(int64_t M, int64_t in, int64_t out) {
  QCase c{M, in, 1, 1, out, 1, 1, 1, 1, 0, 0, 1, 1, 1, true, 0, 0, 0, false};
  c.linear = true;
  return c;
}
QCase with(QCase c, bool xUnsigned, int32_t xZp, int32_t yType, int32_t yZp, bool relu) {
  c.xUnsigned = xUnsigned;
  c.xZp = xZp;
  c.yType = yType;
  c.yZp = yZp;
  c.relu = relu;
  return c;
}

/// The tensors and parameters of a case, from a fixed seed.
struct QData {
  std::vector<int8_t> x, w;
  std::vector<float> wScale, b;
  float xScale = 0.02f, yScale = 1.0f;
};

QData makeData(const QCase &c, uint32_t seed) {
  std::mt19937 gen(seed);
  QData d;
  const int64_t cg = c.C / c.g;
  d.x.resize(c.N * c.C * c.H * c.W);
  d.w.resize(c.O * cg * c.KH * c.KW);
  std::uniform_int_distribution<int> xs(c.xUnsigned ? 0 : -128, c.xUnsigned ? 255 : 127);
  std::uniform_int_distribution<int> ws(-127, 127);
  for (int8_t &v : d.x)
    v = static_cast<int8_t>(static_cast<uint8_t>(xs(gen)));
  for (int8_t &v : d.w)
    v = static_cast<int8_t>(ws(gen));
  std::uniform_real_distribution<float> scale(0.001f, 0.01f), bias(-2.0f, 2.0f);
  for (int64_t o = 0; o < c.O; ++o) {
    d.wScale.push_back(scale(gen));
    d.b.push_back(bias(gen));
  }
  return d;
}

/// The reference: f_ref[i] (the real result after bias and relu) and the
/// accumulated magnitude bound[i] = xScale * wScale[o] * sum |x - zp| |w| +
/// |b[o]|.
void reference(const QCase &c, const QData &d, std::vector<double> &ref, std::vector<double> &mag) {
  const int64_t OH = c.OH(), OW = c.OW(), cg = c.C / c.g, og = c.O / c.g;
  ref.assign(c.ySize(), 0.0);
  mag.assign(c.ySize(), 0.0);
  auto xAt = [&](int64_t i) {
    return c.xUnsigned ? int64_t(static_cast<uint8_t>(d.x[i])) : int64_t(d.x[i]);
  };
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.O; ++o) {
      const int64_t grp = o / og;
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t acc = 0, absAcc = 0;
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t kh = 0; kh < c.KH; ++kh)
              for (int64_t kw = 0; kw < c.KW; ++kw) {
                const int64_t ih = oh * c.sh - c.ph + kh * c.dh;
                const int64_t iw = ow * c.sw - c.pw + kw * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W)
                  continue; // padding is a real 0
                const int64_t xv = xAt(((n * c.C + grp * cg + ci) * c.H + ih) * c.W + iw) - c.xZp;
                const int64_t wv = d.w[((o * cg + ci) * c.KH + kh) * c.KW + kw];
                acc += xv * wv;
                absAcc += std::llabs(xv * wv);
              }
          const double s = double(d.xScale) * d.wScale[o];
          const double b = c.bias ? d.b[o] : 0.0;
          double f = s * double(acc) + b;
          if (c.relu)
            f = std::max(f, 0.0);
          const int64_t i = ((n * c.O + o) * OH + oh) * OW + ow;
          ref[i] = f;
          mag[i] = s * double(absAcc) + std::fabs(b);
        }
    }
}

/// Runs the kernel of the case into y (bytes), with the given scratch.
void runKernel(const QCase &c, const QData &d, void *y, Scratch &scratch) {
  const float *b = c.bias ? d.b.data() : nullptr;
  if (c.linear)
    nnc_qlinear_fwd(d.x.data(), d.w.data(), d.wScale.data(), b, y, scratch.get(), scratch.bytes,
                    c.N, c.C, c.O, d.xScale, c.xZp, c.xUnsigned, c.relu, c.yType, d.yScale, c.yZp);
  else
    nnc_qconv2d_fwd(d.x.data(), d.w.data(), d.wScale.data(), b, y, scratch.get(), scratch.bytes,
                    c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph, c.pw, c.dh, c.dw, c.g,
                    d.xScale, c.xZp, c.xUnsigned, c.relu, c.yType, d.yScale, c.yZp);
}

int64_t scratchFor(const QCase &c) {
  return c.linear
             ? nnc_qlinear_fwd_scratch_bytes(c.N, c.C, c.O, c.xUnsigned, c.yType)
             : nnc_qconv2d_fwd_scratch_bytes(c.N, c.C, c.H, c.W, c.O, c.KH, c.KW, c.sh, c.sw, c.ph,
                                             c.pw, c.dh, c.dw, c.g, c.xUnsigned, c.yType);
}

/// Runs the case and checks it against the reference within the bounds of
/// the file comment.
void check(const QCase &c, uint32_t seed = 1) {
  SCOPED_TRACE(c.name());
  QData d = makeData(c, seed);
  std::vector<double> ref, mag;
  reference(c, d, ref, mag);
  if (c.yType != 0) {
    // An output scale that uses the int8 range and saturates a few values.
    double peak = 0.0;
    for (double v : ref)
      peak = std::max(peak, std::fabs(v));
    d.yScale = static_cast<float>(peak / 100.0 + 1e-6);
  }
  Scratch scratch(scratchFor(c));
  ASSERT_GT(scratch.bytes, 0);
  nnc_kernels_clear_error();
  const int64_t n = c.ySize();
  if (c.yType == 0) {
    std::vector<float> y(n, -7.0f);
    runKernel(c, d, y.data(), scratch);
    ASSERT_EQ(nnc_kernels_error(), nullptr) << nnc_kernels_error();
    for (int64_t i = 0; i < n; ++i)
      ASSERT_LE(std::fabs(double(y[i]) - ref[i]), 1e-5 * mag[i] + 1e-30)
          << "at " << i << ": " << y[i] << " vs " << ref[i];
    return;
  }
  std::vector<int8_t> y(n, 0x55);
  runKernel(c, d, y.data(), scratch);
  ASSERT_EQ(nnc_kernels_error(), nullptr) << nnc_kernels_error();
  const int lo = c.yType == 1 ? -128 : 0, hi = c.yType == 1 ? 127 : 255;
  int64_t offByOne = 0, saturated = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double q = std::nearbyint(ref[i] / d.yScale) + c.yZp; // ties to even
    const int want = static_cast<int>(std::min<double>(std::max<double>(q, lo), hi));
    const int got = c.yType == 1 ? int(y[i]) : int(static_cast<uint8_t>(y[i]));
    ASSERT_LE(std::abs(got - want), 1) << "at " << i << ": " << got << " vs " << want;
    offByOne += got != want;
    saturated += want == lo || want == hi;
  }
  EXPECT_LE(offByOne, n / 100) << offByOne << " of " << n << " off by one";
  EXPECT_LT(saturated, n) << "every value saturated: the test checks nothing";
}

std::vector<QCase> geometries() {
  return {
      conv(2, 3, 9, 5, 3, 2, 1),        // stride 2, padding
      conv(1, 16, 14, 32, 1, 2, 0),     // 1x1 stride-2 projection
      conv(1, 1, 28, 6, 5, 1, 2),       // LeNet conv1
      conv(1, 6, 14, 16, 5, 1, 0),      // LeNet conv2
      conv(1, 16, 28, 16, 3, 1, 1),     // ResNet stage 1
      conv(1, 32, 14, 64, 3, 2, 1),     // ResNet stage 2 -> 3 downsampling
      conv(2, 8, 10, 12, 3, 1, 1, 2),   // groups 2
      conv(1, 4, 11, 8, 3, 1, 2, 1, 2), // dilation 2
      linear(1, 400, 120),              // LeNet fc1
      linear(3, 84, 10),                // LeNet fc3
  };
}

TEST(QuantKernelsTest, F32OutputMatchesIntegerReference) {
  for (const QCase &g : geometries()) {
    check(with(g, true, 0, 0, 0, false));
    check(with(g, true, 37, 0, 0, true), 2);
    check(with(g, false, 0, 0, 0, true), 3);
    check(with(g, false, -5, 0, 0, false), 4);
  }
}

TEST(QuantKernelsTest, Int8OutputMatchesIntegerReference) {
  for (const QCase &g : geometries()) {
    check(with(g, true, 128, 1, 0, false));
    check(with(g, true, 3, 1, -10, true), 2);
    check(with(g, false, 0, 2, 0, true), 3);
    check(with(g, true, 0, 2, 17, false), 4);
  }
}

TEST(QuantKernelsTest, WithoutBias) {
  QCase c = with(conv(1, 6, 14, 16, 5, 1, 0), true, 9, 0, 0, true);
  c.bias = false;
  check(c);
  QCase l = with(linear(2, 400, 120), false, 0, 2, 5, false);
  l.bias = false;
  check(l);
}

TEST(QuantKernelsTest, Batch64Shapes) {
  check(with(conv(64, 16, 28, 16, 3, 1, 1), true, 11, 1, 0, true)); // ResNet stage 1
  check(with(conv(64, 16, 28, 32, 1, 2, 0), true, 0, 0, 0, false)); // projection
  check(with(conv(64, 6, 14, 16, 5, 1, 0), true, 0, 2, 0, true));   // LeNet conv2
  check(with(linear(64, 400, 120), true, 5, 2, 0, true));           // LeNet fc1
}

/// Bytes of y after running `c` with `threads` threads.
std::vector<int8_t> runWithThreads(const QCase &c, int threads) {
  nnc_set_num_threads(threads);
  QData d = makeData(c, 7);
  d.yScale = 0.05f;
  Scratch scratch(scratchFor(c));
  const size_t bytes = c.ySize() * (c.yType == 0 ? 4 : 1);
  std::vector<int8_t> y(bytes, 1), again(bytes, 2);
  runKernel(c, d, y.data(), scratch);
  runKernel(c, d, again.data(), scratch);
  EXPECT_EQ(y, again) << c.name() << ": two calls differ with " << threads << " threads";
  return y;
}

TEST(QuantKernelsTest, DeterministicAcrossCallsAndThreadCounts) {
  const int before = nnc_get_num_threads();
  for (const QCase &c : {with(conv(8, 16, 14, 32, 3, 1, 1), true, 9, 0, 0, true),
                         with(conv(8, 16, 14, 32, 3, 2, 1), false, 0, 1, 3, false),
                         with(linear(64, 400, 120), true, 5, 0, 0, true)}) {
    std::vector<int8_t> one = runWithThreads(c, 1), two = runWithThreads(c, 2);
    EXPECT_EQ(one, two) << c.name() << ": 1 and 2 threads differ";
  }
  nnc_set_num_threads(before);
}

TEST(QuantKernelsTest, NewWeightsOfTheSameShapeAreUsed) {
  // The reordered weights are kept across calls: different weights with the
  // same shape (another layer, or new weights) must not reuse them.
  QCase c = with(conv(1, 16, 14, 32, 3, 1, 1), true, 0, 0, 0, false);
  check(c, 11);
  check(c, 12);
  check(c, 11);
}

TEST(QuantKernelsTest, TooLittleScratchIsReported) {
  QCase c = with(conv(2, 16, 14, 32, 3, 1, 1), true, 0, 0, 0, false);
  QData d = makeData(c, 1);
  Scratch scratch(64);
  std::vector<float> y(c.ySize(), 1.0f);
  nnc_kernels_clear_error();
  runKernel(c, d, y.data(), scratch);
  ASSERT_NE(nnc_kernels_error(), nullptr);
  EXPECT_NE(std::string(nnc_kernels_error()).find("nnc_qconv2d_fwd"), std::string::npos)
      << nnc_kernels_error();
  EXPECT_TRUE(std::isnan(y[0]));
  nnc_kernels_clear_error();
}

TEST(QuantKernelsTest, ReportsImplementations) {
  check(with(conv(1, 16, 14, 32, 3, 1, 1), true, 0, 0, 0, false));
  check(with(linear(2, 84, 10), true, 0, 0, 0, false));
  const std::string impls = nnc_int8_implementations();
  EXPECT_NE(impls.find("conv: "), std::string::npos) << impls;
  EXPECT_NE(impls.find("matmul: "), std::string::npos) << impls;
  std::printf("int8 implementations: %s\n", impls.c_str());
}

} // namespace
