//===- bench/quant_bench.cpp - int8 vs f32 conv/linear kernel timings ----===//
//
// Part of nnc. Times nnc's int8 kernels (nnc_qconv2d_fwd, nnc_qlinear_fwd)
// against its f32 ones (nnc_conv2d_fwd, nnc_linear_fwd) on the layers of the
// ResNet (Fashion-MNIST: 1x28x28, 16/32/64 channels) and LeNet-5 at batch 64:
// per layer, the f32 kernel and the int8 kernel with u8 input (zero point 0)
// and u8 output with relu (the inner layers of a quantized model) and with f32
// output, run alternately in rounds; each time is the median over the rounds,
// in ms. Prints the oneDNN implementations used. Usage: nnc-quant-bench
// [threads] [rounds]. With ONEDNN_VERBOSE=1, bench/quant_reorders.py splits the
// time into the primitives and their layout reorders.
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace {

/// Scratch of at least `bytes` bytes, 64-byte aligned.
struct Scratch {
  explicit Scratch(int64_t bytes) : bytes(bytes), store(bytes + 64) {}
  void *get() {
    auto p = reinterpret_cast<uintptr_t>(store.data());
    return reinterpret_cast<void *>((p + 63) / 64 * 64);
  }
  int64_t bytes;
  std::vector<char> store;
};

double nowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// One layer at batch N: a conv (K > 0) or a linear layer (K = 0, C = in,
/// O = out), with f32 and int8 data of the same shape.
struct Layer {
  std::string name;
  int64_t N, C, H, O, K, stride, pad;
  std::vector<float> x, w, b, y, wScale;
  std::vector<int8_t> qx, qw, qy;
  std::vector<float> qyF;
  Scratch fs{0}, q8s{0}, qfs{0};

  bool conv() const { return K > 0; }
  int64_t OH() const { return conv() ? (H + 2 * pad - K) / stride + 1 : 1; }

  Layer(std::string name, int64_t N, int64_t C, int64_t H, int64_t O, int64_t K, int64_t stride,
        int64_t pad)
      : name(std::move(name)), N(N), C(C), H(H), O(O), K(K), stride(stride), pad(pad) {
    std::mt19937 gen(1);
    std::uniform_real_distribution<float> dist(-0.1f, 0.1f);
    std::uniform_int_distribution<int> bytes(-128, 127);
    const int64_t hw = conv() ? H * H : 1, kk = conv() ? K * K : 1;
    x.resize(N * C * hw);
    w.resize(O * C * kk);
    b.resize(O);
    for (std::vector<float> *v : {&x, &w, &b})
      for (float &e : *v)
        e = dist(gen);
    y.resize(N * O * OH() * OH());
    qx.resize(x.size());
    qw.resize(w.size());
    for (int8_t &e : qx)
      e = static_cast<int8_t>(bytes(gen));
    for (int8_t &e : qw)
      e = static_cast<int8_t>(bytes(gen) / 2);
    wScale.assign(O, 0.001f);
    qy.resize(y.size());
    qyF.resize(y.size());
    if (conv()) {
      fs = Scratch(
          nnc_conv2d_fwd_scratch_bytes(N, C, H, H, O, K, K, stride, stride, pad, pad, 1, 1, 1));
      q8s = Scratch(nnc_qconv2d_fwd_scratch_bytes(N, C, H, H, O, K, K, stride, stride, pad, pad, 1,
                                                  1, 1, 1, 2));
      qfs = Scratch(nnc_qconv2d_fwd_scratch_bytes(N, C, H, H, O, K, K, stride, stride, pad, pad, 1,
                                                  1, 1, 1, 0));
    } else {
      q8s = Scratch(nnc_qlinear_fwd_scratch_bytes(N, C, O, 1, 2));
      qfs = Scratch(nnc_qlinear_fwd_scratch_bytes(N, C, O, 1, 0));
    }
  }

  void f32() {
    if (conv())
      nnc_conv2d_fwd(x.data(), w.data(), b.data(), y.data(), fs.get(), fs.bytes, N, C, H, H, O, K,
                     K, stride, stride, pad, pad, 1, 1, 1, 1);
    else
      nnc_linear_fwd(x.data(), w.data(), b.data(), y.data(), N, C, O, 1);
  }
  /// yType 2 (u8 output, relu) or 0 (f32 output, relu).
  void int8(int32_t yType) {
    Scratch &s = yType == 0 ? qfs : q8s;
    void *out = yType == 0 ? static_cast<void *>(qyF.data()) : qy.data();
    if (conv())
      nnc_qconv2d_fwd(qx.data(), qw.data(), wScale.data(), b.data(), out, s.get(), s.bytes, N, C, H,
                      H, O, K, K, stride, stride, pad, pad, 1, 1, 1, 0.01f, 0, 1, 1, yType, 0.02f,
                      0);
    else
      nnc_qlinear_fwd(qx.data(), qw.data(), wScale.data(), b.data(), out, s.get(), s.bytes, N, C, O,
                      0.01f, 0, 1, 1, yType, 0.02f, 0);
  }
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// Median time of `f` over `rounds` rounds of `reps` calls each (ms per call).
void timeRound(const std::function<void()> &f, int reps, std::vector<double> &times) {
  const double t0 = nowMs();
  for (int i = 0; i < reps; ++i)
    f();
  times.push_back((nowMs() - t0) / reps);
}

} // namespace

int main(int argc, char **argv) {
  if (argc > 1)
    nnc_set_num_threads(std::atoi(argv[1]));
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 15;
  const int64_t N = 64;
  const bool verbose = std::getenv("ONEDNN_VERBOSE") != nullptr;
  std::printf("threads %d, batch %lld, median of %d rounds, ms per call\n", nnc_get_num_threads(),
              static_cast<long long>(N), rounds);
  std::vector<Layer> layers;
  layers.emplace_back("resnet stem 1->16 3x3 28", N, 1, 28, 16, 3, 1, 1);
  layers.emplace_back("resnet 16->16 3x3 28", N, 16, 28, 16, 3, 1, 1);
  layers.emplace_back("resnet 16->32 3x3 s2 28", N, 16, 28, 32, 3, 2, 1);
  layers.emplace_back("resnet 16->32 1x1 s2 28", N, 16, 28, 32, 1, 2, 0);
  layers.emplace_back("resnet 32->32 3x3 14", N, 32, 14, 32, 3, 1, 1);
  layers.emplace_back("resnet 32->64 3x3 s2 14", N, 32, 14, 64, 3, 2, 1);
  layers.emplace_back("resnet 32->64 1x1 s2 14", N, 32, 14, 64, 1, 2, 0);
  layers.emplace_back("resnet 64->64 3x3 7", N, 64, 7, 64, 3, 1, 1);
  layers.emplace_back("resnet fc 64->10", N, 64, 1, 10, 0, 1, 0);
  layers.emplace_back("lenet conv1 1->6 5x5 p2 28", N, 1, 28, 6, 5, 1, 2);
  layers.emplace_back("lenet conv2 6->16 5x5 14", N, 6, 14, 16, 5, 1, 0);
  layers.emplace_back("lenet fc1 400->120", N, 400, 1, 120, 0, 1, 0);
  layers.emplace_back("lenet fc2 120->84", N, 120, 1, 84, 0, 1, 0);
  layers.emplace_back("lenet fc3 84->10", N, 84, 1, 10, 0, 1, 0);

  std::printf("%-28s %9s %9s %9s %8s %8s\n", "layer", "f32", "i8->u8", "i8->f32", "f32/u8",
              "f32/f32");
  double sum[3] = {0, 0, 0}, lenet[3] = {0, 0, 0};
  for (Layer &l : layers) {
    // One marker line per layer, so that quant_reorders.py can attribute
    // oneDNN's verbose lines to it.
    std::printf("== %s\n", l.name.c_str());
    std::fflush(stdout);
    l.f32(); // warm-up: primitive creation, weight reorders
    l.int8(2);
    l.int8(0);
    const int reps = l.conv() && l.H >= 14 ? 5 : 50;
    std::vector<double> t[3];
    const char *kinds[3] = {"f32", "i8->u8", "i8->f32"};
    const std::function<void()> calls[3] = {[&] { l.f32(); }, [&] { l.int8(2); },
                                            [&] { l.int8(0); }};
    for (int r = 0; r < rounds; ++r)
      for (int k = 0; k < 3; ++k) {
        if (verbose) // the calls whose verbose lines follow
          std::printf("@@ %s %d\n", kinds[k], reps);
        std::fflush(stdout);
        timeRound(calls[k], reps, t[k]);
      }
    double m[3] = {median(t[0]), median(t[1]), median(t[2])};
    std::printf("%-28s %9.3f %9.3f %9.3f %7.2fx %7.2fx\n", l.name.c_str(), m[0], m[1], m[2],
                m[0] / m[1], m[0] / m[2]);
    for (int i = 0; i < 3; ++i)
      (l.name.rfind("lenet", 0) == 0 ? lenet : sum)[i] += m[i];
  }
  std::printf("%-28s %9.3f %9.3f %9.3f %7.2fx %7.2fx\n", "resnet layers (sum)", sum[0], sum[1],
              sum[2], sum[0] / sum[1], sum[0] / sum[2]);
  std::printf("%-28s %9.3f %9.3f %9.3f %7.2fx %7.2fx\n", "lenet layers (sum)", lenet[0], lenet[1],
              lenet[2], lenet[0] / lenet[1], lenet[0] / lenet[2]);
  std::printf("int8 implementations: %s\n", nnc_int8_implementations());
  return 0;
}
