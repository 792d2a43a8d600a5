//===- bench/kernel_bench.cpp - LeNet-5 kernel timings --------------------===//
//
// Part of nnc. Times the library kernels of LeNet-5 at batch 64 (its
// convolutions and linear layers), best of several runs, in milliseconds;
// generated kernels and recurrent layers are timed in whole steps by
// `nnc bench`. Usage: nnc-kernel-bench [threads].
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

  return 0;
}
