//===- bench/kernel_bench.cpp - LeNet-5 kernel timings --------------------===//
//
// Part of nnc. Times the kernels of a LeNet-5 training step at batch 64
// (conv/pool/linear/loss/SGD), best of several runs, in milliseconds. Usage:
// nnc-kernel-bench [threads]. (The recurrent layers' step math is generated
// code: `nnc bench examples/lstm_rows.nn` times the LSTM end to end.)
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
    nnc_conv2d_fwd(x.data(), w.data(), b.data(), y.data(), fs.data(), N, C, H,
                   W, O, K, K, 1, 1, pad, pad, 1, 1, 1);
  }
  void bwd(bool needDx) {
    nnc_conv2d_bwd(dy.data(), x.data(), w.data(), needDx ? dx.data() : nullptr,
                   dw.data(), db.data(), bs.data(), N, C, H, W, O, K, K, 1, 1,
                   pad, pad, 1, 1, 1);
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

  // A whole LeNet-5 step from kernels (elementwise parts included).
  std::vector<float> a1(N * 6 * 28 * 28), p1(N * 6 * 14 * 14),
      a2(N * 16 * 10 * 10), p2(N * 400), f1(N * 120), f2(N * 84), lo(N * 10);
  std::vector<int32_t> i1(p1.size()), i2(p2.size());
  auto w3 = randomVec(120 * 400, 5), b3 = randomVec(120, 6),
       w4 = randomVec(84 * 120, 7), b4 = randomVec(84, 8),
       w5 = randomVec(10 * 84, 9), b5 = randomVec(10, 10);
  std::vector<float> dw3(w3.size()), db3(120), dw4(w4.size()), db4(84),
      dw5(w5.size()), db5(10), dlo(lo.size()), df2(f2.size()), df1(f1.size()),
      dp2(p2.size()), da2(a2.size()), dp1(p1.size()), da1(a1.size());
  std::vector<int64_t> labels(N);
  for (int64_t i = 0; i < N; ++i)
    labels[i] = i % 10;
  std::vector<double> ceScratch(2 * N + 16);
  double step = timeMs([&] {
    c1.fwd();
    nnc_relu_fwd(c1.y.data(), a1.data(), a1.size());
    nnc_maxpool2d_fwd(a1.data(), p1.data(), i1.data(), N, 6, 28, 28, 2, 2, 2, 2,
                      0, 0);
    std::copy(p1.begin(), p1.end(), c2.x.begin());
    c2.fwd();
    nnc_relu_fwd(c2.y.data(), a2.data(), a2.size());
    nnc_maxpool2d_fwd(a2.data(), p2.data(), i2.data(), N, 16, 10, 10, 2, 2, 2,
                      2, 0, 0);
    nnc_linear_fwd(p2.data(), w3.data(), b3.data(), f1.data(), N, 400, 120);
    nnc_relu_fwd(f1.data(), f1.data(), f1.size());
    nnc_linear_fwd(f1.data(), w4.data(), b4.data(), f2.data(), N, 120, 84);
    nnc_relu_fwd(f2.data(), f2.data(), f2.size());
    nnc_linear_fwd(f2.data(), w5.data(), b5.data(), lo.data(), N, 84, 10);
    float loss;
    int64_t correct;
    nnc_cross_entropy_fwd(lo.data(), labels.data(), N, 10, &loss, &correct,
                          ceScratch.data());
    nnc_cross_entropy_bwd(lo.data(), labels.data(), dlo.data(), N, 10);
    nnc_linear_bwd(dlo.data(), f2.data(), w5.data(), df2.data(), dw5.data(),
                   db5.data(), N, 84, 10);
    nnc_relu_bwd(df2.data(), f2.data(), df2.data(), df2.size());
    nnc_linear_bwd(df2.data(), f1.data(), w4.data(), df1.data(), dw4.data(),
                   db4.data(), N, 120, 84);
    nnc_relu_bwd(df1.data(), f1.data(), df1.data(), df1.size());
    nnc_linear_bwd(df1.data(), p2.data(), w3.data(), dp2.data(), dw3.data(),
                   db3.data(), N, 400, 120);
    nnc_maxpool2d_bwd(dp2.data(), i2.data(), da2.data(), N, 16, 10, 10, 2, 2, 2,
                      2, 0, 0);
    nnc_relu_bwd(da2.data(), a2.data(), c2.dy.data(), da2.size());
    c2.bwd(true);
    nnc_maxpool2d_bwd(c2.dx.data(), i1.data(), da1.data(), N, 6, 28, 28, 2, 2,
                      2, 2, 0, 0);
    nnc_relu_bwd(da1.data(), a1.data(), c1.dy.data(), da1.size());
    c1.bwd(false);
    for (auto *pr : {&c1.w, &c2.w, &w3, &w4, &w5})
      nnc_sgd_update(pr->data(),
                     pr == &c1.w   ? c1.dw.data()
                     : pr == &c2.w ? c2.dw.data()
                     : pr == &w3   ? dw3.data()
                     : pr == &w4   ? dw4.data()
                                   : dw5.data(),
                     pr->size(), 0.01f, 0.0f);
  });
  std::printf("lenet5 step (all kernels) %.3f ms\n", step);

  return 0;
}
