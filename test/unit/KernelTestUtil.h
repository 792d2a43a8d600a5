//===- test/unit/KernelTestUtil.h - helpers for the kernel tests -*- C++
//-*-===//
//
// Part of nnc. Seeded random tensors and comparisons shared by KernelTest.cpp
// and KernelGradTest.cpp.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TEST_UNIT_KERNELTESTUTIL_H
#define NNC_TEST_UNIT_KERNELTESTUTIL_H

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace nnc::test {

/// n uniform values in [lo, hi) from a fixed seed.
inline std::vector<float> randomVec(int64_t n, uint32_t seed, float lo = -1.0f,
                                    float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float &x : v)
    x = dist(gen);
  return v;
}

/// max |a - b| / max(1, |b|) over all elements.
inline double maxRelErr(const float *a, const float *b, int64_t n) {
  double worst = 0.0;
  for (int64_t i = 0; i < n; ++i)
    worst = std::max(worst,
                     std::fabs(static_cast<double>(a[i]) - b[i]) /
                         std::max(1.0, std::fabs(static_cast<double>(b[i]))));
  return worst;
}

/// Scratch of at least `bytes` bytes, 64-byte aligned.
struct Scratch {
  explicit Scratch(int64_t bytes)
      : bytes(bytes), store(static_cast<size_t>(bytes / 4 + 32)) {}
  void *get() {
    auto p = reinterpret_cast<uintptr_t>(store.data());
    return reinterpret_cast<void *>((p + 63) / 64 * 64);
  }
  int64_t bytes;
  std::vector<float> store;
};

/// The shape arguments of a conv2d kernel call, and whether it has a bias.
struct ConvCase {
  int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, g;
  bool bias;
  /// Max |a-b| / max(1, |b|) of the results against the f64 reference.
  double tol = 1e-5;
  int64_t OH() const { return (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1; }
  int64_t OW() const { return (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1; }
  int64_t xSize() const { return N * C * H * W; }
  int64_t wSize() const { return O * (C / g) * KH * KW; }
  int64_t ySize() const { return N * O * OH() * OW(); }
};

/// Calls `f(n, o, oh, ow, c, kh, kw, ih, iw)` for every product term of a
/// conv2d (PyTorch semantics: zero padding, dilation, groups); c is the input
/// channel, the weight index is ((o * C/g + c % (C/g)) * KH + kh) * KW + kw.
template <typename F> void forEachConvTerm(const ConvCase &c, F f) {
  const int64_t cg = c.C / c.g, og = c.O / c.g;
  for (int64_t n = 0; n < c.N; ++n)
    for (int64_t o = 0; o < c.O; ++o)
      for (int64_t oh = 0; oh < c.OH(); ++oh)
        for (int64_t ow = 0; ow < c.OW(); ++ow)
          for (int64_t ci = 0; ci < cg; ++ci)
            for (int64_t kh = 0; kh < c.KH; ++kh)
              for (int64_t kw = 0; kw < c.KW; ++kw) {
                int64_t ih = oh * c.sh - c.ph + kh * c.dh;
                int64_t iw = ow * c.sw - c.pw + kw * c.dw;
                if (ih < 0 || ih >= c.H || iw < 0 || iw >= c.W)
                  continue;
                f(n, o, oh, ow, (o / og) * cg + ci, kh, kw, ih, iw);
              }
}

/// Index helpers of the NCHW / OIHW tensors of a conv case.
inline int64_t xAt(const ConvCase &c, int64_t n, int64_t ch, int64_t h,
                   int64_t w) {
  return ((n * c.C + ch) * c.H + h) * c.W + w;
}
inline int64_t yAt(const ConvCase &c, int64_t n, int64_t o, int64_t h,
                   int64_t w) {
  return ((n * c.O + o) * c.OH() + h) * c.OW() + w;
}
inline int64_t wAt(const ConvCase &c, int64_t o, int64_t ch, int64_t kh,
                   int64_t kw) {
  const int64_t cg = c.C / c.g;
  return ((o * cg + ch % cg) * c.KH + kh) * c.KW + kw;
}

/// Reference conv2d forward in f64: y = conv(x, w) + b (b may be empty).
inline std::vector<float> naiveConvForward(const ConvCase &c,
                                           const std::vector<float> &x,
                                           const std::vector<float> &w,
                                           const std::vector<float> &b) {
  std::vector<double> acc(c.ySize(), 0.0);
  forEachConvTerm(c, [&](int64_t n, int64_t o, int64_t oh, int64_t ow,
                         int64_t ch, int64_t kh, int64_t kw, int64_t ih,
                         int64_t iw) {
    acc[yAt(c, n, o, oh, ow)] +=
        double(x[xAt(c, n, ch, ih, iw)]) * w[wAt(c, o, ch, kh, kw)];
  });
  std::vector<float> y(acc.size());
  const int64_t ohw = c.OH() * c.OW();
  for (size_t i = 0; i < y.size(); ++i)
    y[i] = float(acc[i] + (b.empty() ? 0.0 : b[(i / ohw) % c.O]));
  return y;
}

/// Reference conv2d gradients in f64 from dy: dx, dw and db.
inline void naiveConvBackward(const ConvCase &c, const std::vector<float> &dy,
                              const std::vector<float> &x,
                              const std::vector<float> &w,
                              std::vector<float> &dx, std::vector<float> &dw,
                              std::vector<float> &db) {
  std::vector<double> ax(c.xSize(), 0.0), aw(c.wSize(), 0.0), ab(c.O, 0.0);
  forEachConvTerm(c,
                  [&](int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t ch,
                      int64_t kh, int64_t kw, int64_t ih, int64_t iw) {
                    double g = dy[yAt(c, n, o, oh, ow)];
                    ax[xAt(c, n, ch, ih, iw)] += g * w[wAt(c, o, ch, kh, kw)];
                    aw[wAt(c, o, ch, kh, kw)] += g * x[xAt(c, n, ch, ih, iw)];
                  });
  const int64_t ohw = c.OH() * c.OW();
  for (int64_t i = 0; i < c.ySize(); ++i)
    ab[(i / ohw) % c.O] += dy[i];
  dx.assign(ax.begin(), ax.end());
  dw.assign(aw.begin(), aw.end());
  db.assign(ab.begin(), ab.end());
}

} // namespace nnc::test

#endif // NNC_TEST_UNIT_KERNELTESTUTIL_H
