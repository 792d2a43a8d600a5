//===- bench/kernel_bench.cpp - LeNet-5 and LSTM kernel timings -----------===//
//
// Part of nnc. Times the library kernels of LeNet-5 at batch 64 (conv,
// linear) and LSTM(28->128, T=28, N=64) forward+backward (the generated
// kernels are timed in whole steps by `nnc bench`),
// best of several runs, in milliseconds. Usage: nnc-kernel-bench [threads].
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <vector>

namespace {

std::vector<float> randomVec(size_t n, unsigned seed, float scale = 0.1f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(gen);
  return v;
}

/// Best wall time of `reps` runs after one warm-up, in ms.
double timeMs(const std::function<void()> &f, int reps = 20) {
  f();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    f();
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best,
                    std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

struct Conv {
  int64_t N, C, H, W, O, K, pad;
  std::vector<float> x, w, b, y, dy, dx, dw, db, fs, bs;
  Conv(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t K,
       int64_t pad)
      : N(N), C(C), H(H), W(W), O(O), K(K), pad(pad) {
    int64_t OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
    x = randomVec(N * C * H * W, 1);
    w = randomVec(O * C * K * K, 2);
    b = randomVec(O, 3);
    y.resize(N * O * OH * OW);
    dy = randomVec(y.size(), 4);
    dx.resize(x.size());
    dw.resize(w.size());
    db.resize(O);
    fs.resize(nnc_conv2d_fwd_scratch_bytes(N, C, H, W, O, K, K, 1, 1, pad, pad,
                                           1, 1, 1) /
                  4 +
              16);
    bs.resize(nnc_conv2d_bwd_scratch_bytes(N, C, H, W, O, K, K, 1, 1, pad, pad,
                                           1, 1, 1) /
                  4 +
              16);
  }
  void fwd() {
    nnc_conv2d_fwd(x.data(), w.data(), b.data(), y.data(), fs.data(),
                   int64_t(fs.size() * 4), N, C, H, W, O, K, K, 1, 1, pad, pad,
                   1, 1, 1, 0);
  }
  void bwd(bool needDx) {
    nnc_conv2d_bwd(dy.data(), x.data(), w.data(), needDx ? dx.data() : nullptr,
                   dw.data(), db.data(), bs.data(), int64_t(bs.size() * 4), N,
                   C, H, W, O, K, K, 1, 1, pad, pad, 1, 1, 1);
  }
};

} // namespace

int main(int argc, char **argv) {
  if (argc > 1)
    nnc_set_num_threads(std::atoi(argv[1]));
  std::printf("threads %d\n", nnc_get_num_threads());
  const int64_t N = 64;

  Conv c1(N, 1, 28, 28, 6, 5, 2), c2(N, 6, 14, 14, 16, 5, 0);
  std::printf("conv1 fwd %.3f ms  bwd(dw,db) %.3f ms\n",
              timeMs([&] { c1.fwd(); }), timeMs([&] { c1.bwd(false); }));
  std::printf("conv2 fwd %.3f ms  bwd(dx,dw,db) %.3f ms\n",
              timeMs([&] { c2.fwd(); }), timeMs([&] { c2.bwd(true); }));

  // LSTM(28 -> 128), T = 28, N = 64, last output, no dx (first layer).
  const int64_t T = 28, F = 28, H = 128;
  auto x = randomVec(N * T * F, 11);
  std::vector<std::vector<float>> ws = {
      randomVec(4 * H * F, 12), randomVec(4 * H * H, 13), randomVec(4 * H, 14),
      randomVec(4 * H, 15)};
  std::vector<const float *> wp;
  std::vector<std::vector<float>> dws;
  std::vector<float *> dwp;
  for (auto &w : ws) {
    wp.push_back(w.data());
    dws.emplace_back(w.size());
  }
  for (auto &d : dws)
    dwp.push_back(d.data());
  std::vector<float> y(N * H), dy = randomVec(N * H, 16);
  std::vector<float> reserve(nnc_lstm_reserve_bytes(N, T, F, H, 1, 0) / 4),
      fs(nnc_lstm_fwd_scratch_bytes(N, T, F, H, 1, 0) / 4 + 16),
      bs(nnc_lstm_bwd_scratch_bytes(N, T, F, H, 1, 0) / 4 + 16);
  double f = timeMs([&] {
    nnc_lstm_fwd(x.data(), wp.data(), y.data(), reserve.data(), fs.data(), N, T,
                 F, H, 1, 0, 1, 0);
  });
  double b = timeMs([&] {
    nnc_lstm_bwd(dy.data(), x.data(), wp.data(), reserve.data(), nullptr,
                 dwp.data(), bs.data(), N, T, F, H, 1, 0, 1, 0);
  });
  std::printf("lstm fwd %.3f ms  bwd %.3f ms  total %.3f ms\n", f, b, f + b);
  return 0;
}
