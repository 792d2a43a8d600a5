//===- ScaleMachine.cpp - The machine model of nnc scale --measure --------===//

#include "tools/nnc/ScaleMachine.h"
#include "tools/nnc/Costs.h"

#include "runtime/Kernels.h"
#include "runtime/Train.h"

#include "llvm/Support/Debug.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>

using namespace llvm;
using namespace nnc::driver;

#define DEBUG_TYPE "nnc-scale"

/// The clock of --measure, in seconds: with one kernel thread, the CPU time
/// of the process (on an idle machine the wall time; on a shared one it
/// leaves out the time spent waiting for a CPU, which is not the model's);
/// with more threads, the wall time (their CPU times add up).
double nnc::driver::clockSeconds() {
  if (nnc_get_num_threads() == 1) {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Seconds per call of `fn` on clockSeconds: the best of 5 rounds of enough
/// calls to take ~20 ms.
double nnc::driver::secondsPerCall(function_ref<void()> fn) {
  fn();
  int64_t n = 1;
  double best = INFINITY;
  for (int round = 0; round < 5; ++round) {
    for (;;) {
      double start = clockSeconds();
      for (int64_t i = 0; i < n; ++i)
        fn();
      double s = clockSeconds() - start;
      if (s < 0.02 && round == 0) {
        n *= 2;
        continue;
      }
      best = std::min(best, s / double(n));
      break;
    }
  }
  return best;
}

double RateTable::at(int64_t in, int64_t out) const {
  auto position = [](ArrayRef<int64_t> grid, int64_t v, size_t &i, double &t) {
    double lv = std::log2(double(std::max<int64_t>(v, 1)));
    i = 0;
    t = 0;
    if (lv <= std::log2(double(grid.front())))
      return;
    if (lv >= std::log2(double(grid.back()))) {
      i = grid.size() - 2;
      t = 1;
      return;
    }
    while (std::log2(double(grid[i + 1])) < lv)
      ++i;
    double a = std::log2(double(grid[i])), b = std::log2(double(grid[i + 1]));
    t = (lv - a) / (b - a);
  };
  size_t i, j;
  double ti, tj;
  position(ins, in, i, ti);
  position(outs, out, j, tj);
  auto r = [&](size_t a, size_t b) { return std::log(rates[a * outs.size() + b]); };
  double v = (1 - ti) * ((1 - tj) * r(i, j) + tj * r(i, j + 1)) +
             ti * ((1 - tj) * r(i + 1, j) + tj * r(i + 1, j + 1));
  return std::exp(v);
}

/// The generated-kernel bandwidth: builds a model of one fused relu +
/// maxpool kernel (64 x 16 x 32 x 32 in, 4 MiB; a quarter of it out) and
/// times its forward pass; 0 after reporting.
static double kernelBandwidth(ModelOptions &model) {
  SmallString<128> path;
  int fd = -1;
  if (std::error_code ec = sys::fs::createTemporaryFile("nnc-calibrate", "nn", fd, path)) {
    fail("cannot create a temporary file: " + ec.message());
    return 0;
  }
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << "model calibrate(c = 16) {\n  input x: f32[N, c, 32, 32]\n"
          "  output y = relu(x) |> maxpool2d(2)\n"
          "  train { loss = mse; optimizer = sgd; lr = 0.1; batch = 64; epochs = 1 }\n}\n";
  }
  ModelFileOverride file(model, path);
  BatchOverride batch(model, 64);
  std::unique_ptr<Session> session = Session::open(model);
  if (!session)
    return 0;
  BuildRequest request{model, nullptr, false, std::nullopt};
  std::unique_ptr<LoadedModel> loaded = session->buildAndLoad(request, nnc_get_num_threads());
  if (!loaded)
    return 0;
  nnc::rt::fillSyntheticInputs(*loaded->model);
  double seconds = secondsPerCall([&] { (void)loaded->model->run("forward"); });
  return (4.0 + 1.0) * 1048576.0 / seconds;
}

/// Measures this machine's library and memory throughput at the current
/// kernel threads: convolutions (3x3, 32 x C x 16 x 16 -> O, forward,
/// backward, backward of the weights alone) and GEMMs (linear layers 64 x
/// in -> out, forward and backward) over a grid of channel counts, the
/// bandwidth of a generated kernel, and a tiny library call. 0 bandwidth
/// after reporting.
LibraryRates nnc::driver::calibrateRates(int32_t precision) {
  LibraryRates rates;
  // Training changes the weights every step, so the library's copies of
  // them (reordered, converted to bf16) are remade at every call: each
  // timed call here changes one weight too.
  auto touch = [](std::vector<float> &w) { w[0] = w[0] == 0.01f ? 0.02f : 0.01f; };
  const std::vector<int64_t> convGrid = {1, 4, 16, 64}, gemmGrid = {16, 128, 1024};
  // Convolutions are read by their implicit GEMM's inner size (C x 3 x 3
  // here, C x KH x KW for a layer) and output channels.
  for (RateTable *t : {&rates.convFwd, &rates.convBwd, &rates.convBwdWeights}) {
    t->outs = convGrid;
    for (int64_t c : convGrid)
      t->ins.push_back(9 * c);
  }
  for (RateTable *t : {&rates.gemmFwd, &rates.gemmBwd})
    t->ins = t->outs = gemmGrid;
  const bool f32 = precision == NNC_PRECISION_F32;
  for (int64_t C : convGrid)
    for (int64_t O : convGrid) {
      const int64_t N = 32, H = 28, W = 28, K = 3;
      std::vector<float> x(N * C * H * W, 0.5f), w(O * C * K * K, 0.01f), y(N * O * H * W),
          dx(x.size()), dw(w.size());
      int64_t fwdScratch =
          f32 ? nnc_conv2d_fwd_scratch_bytes(N, C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1)
              : nnc_conv2d_fwd_mixed_scratch_bytes(N, C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1,
                                                   precision);
      int64_t bwdScratch =
          f32 ? nnc_conv2d_bwd_scratch_bytes(N, C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1)
              : nnc_conv2d_bwd_mixed_scratch_bytes(N, C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1,
                                                   precision);
      std::vector<char> scratch(std::max(fwdScratch, bwdScratch) + 64);
      auto backward = [&](float *dxOut) {
        if (f32)
          nnc_conv2d_bwd(y.data(), x.data(), w.data(), dxOut, dw.data(), nullptr, scratch.data(),
                         bwdScratch, N, C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1);
        else
          nnc_conv2d_bwd_mixed(y.data(), x.data(), w.data(), dxOut, dw.data(), nullptr,
                               scratch.data(), bwdScratch, N, C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1,
                               precision);
      };
      double flops = 2.0 * N * O * H * W * C * K * K;
      rates.convFwd.rates.push_back(
          flops / secondsPerCall([&] {
            touch(w);
            if (f32)
              nnc_conv2d_fwd(x.data(), w.data(), nullptr, y.data(), scratch.data(), fwdScratch, N,
                             C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1, 0);
            else
              nnc_conv2d_fwd_mixed(x.data(), w.data(), nullptr, y.data(), scratch.data(),
                                   fwdScratch, N, C, H, W, O, K, K, 1, 1, 1, 1, 1, 1, 1, 0,
                                   precision);
          }));
      rates.convBwd.rates.push_back(2 * flops / secondsPerCall([&] {
                                      touch(w);
                                      backward(dx.data());
                                    }));
      rates.convBwdWeights.rates.push_back(flops / secondsPerCall([&] {
                                             touch(w);
                                             backward(nullptr);
                                           }));
    }
  for (int64_t in : gemmGrid)
    for (int64_t out : gemmGrid) {
      const int64_t M = 64;
      std::vector<float> x(M * in, 0.5f), w(out * in, 0.01f), b(out, 0.f), y(M * out), dx(M * in),
          dw(out * in), db(out);
      int64_t scratchBytes =
          f32 ? 0
              : std::max(nnc_linear_fwd_mixed_scratch_bytes(M, in, out, precision),
                         nnc_linear_bwd_mixed_scratch_bytes(M, in, out, precision));
      std::vector<char> scratch(scratchBytes + 64);
      double flops = 2.0 * M * in * out;
      rates.gemmFwd.rates.push_back(
          flops / secondsPerCall([&] {
            touch(w);
            if (f32)
              nnc_linear_fwd(x.data(), w.data(), b.data(), y.data(), M, in, out, 0);
            else
              nnc_linear_fwd_mixed(x.data(), w.data(), b.data(), y.data(), scratch.data(),
                                   scratchBytes, M, in, out, 0, precision);
          }));
      rates.gemmBwd.rates.push_back(
          2 * flops / secondsPerCall([&] {
            touch(w);
            if (f32)
              nnc_linear_bwd(y.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), M, in,
                             out);
            else
              nnc_linear_bwd_mixed(y.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(),
                                   scratch.data(), scratchBytes, M, in, out, precision);
          }));
    }
  return rates;
}

Machine nnc::driver::calibrate(ModelOptions &model) {
  Machine machine;
  machine.threads = nnc_get_num_threads();
  machine.f32 = calibrateRates(NNC_PRECISION_F32);
  std::vector<float> t1(1), t2(1), t3(1);
  machine.callOverhead =
      secondsPerCall([&] { nnc_linear_fwd(t1.data(), t2.data(), nullptr, t3.data(), 1, 1, 1, 0); });
  machine.bandwidth = kernelBandwidth(model);
  return machine;
}

/// The predicted seconds of one training step: for each step of
/// @train_step, a library call costs its FLOPs at the calibrated rate of its
/// kind and channel counts plus the call overhead; a generated kernel (or
/// runtime op) its bytes read and written at the generated-kernel
/// bandwidth.
double nnc::driver::predictSeconds(const Machine &machine, ArrayRef<nnc::EntryKernels> kernels,
                                   ArrayRef<nnc::LayerReport> layers, const LibraryLayers &library,
                                   StringRef precision, double *recurrentSeconds) {
  if (recurrentSeconds)
    *recurrentSeconds = 0;
  const LibraryRates &rates = precision == "bf16" && machine.bf16 ? *machine.bf16
                              : precision == "f16" && machine.f16 ? *machine.f16
                                                                  : machine.f32;
  std::map<std::string, const nnc::LayerReport *> byName;
  for (const nnc::LayerReport &l : layers)
    byName.emplace(l.name, &l);
  double seconds = 0;
  for (const nnc::EntryKernels &entry : kernels) {
    if (entry.entry != "train_step")
      continue;
    for (const nnc::KernelStep &step : entry.steps) {
      double bytes = double(step.bytesRead + step.bytesWritten);
      if (step.kind != nnc::KernelStep::Kind::Library) {
        seconds += bytes / machine.bandwidth;
        LLVM_DEBUG(dbgs() << step.name << " bytes " << bytes << " ms "
                          << bytes / machine.bandwidth * 1e3 << "\n");
        continue;
      }
      bool backward = StringRef(step.name).contains("backward");
      for (const std::string &name : step.layers) {
        auto it = byName.find(name);
        auto lib = library.find(name);
        if (it == byName.end() || lib == library.end())
          continue;
        const LibraryLayer &l = lib->second;
        double flops = double(backward ? it->second->backwardFlops : it->second->forwardFlops);
        double rate = 0;
        if (l.kind == LibraryLayer::Conv) {
          // A backward call writing about the weights alone computes no
          // input gradient (the first layer): half the FLOPs.
          bool weightsOnly = backward && step.bytesWritten < 2 * l.weightBytes;
          if (weightsOnly)
            flops /= 2;
          const RateTable &t = !backward     ? rates.convFwd
                               : weightsOnly ? rates.convBwdWeights
                                             : rates.convBwd;
          rate = t.at(l.in, l.out);
        } else {
          rate = (backward ? rates.gemmBwd : rates.gemmFwd).at(l.in, l.out);
        }
        if (l.kind == LibraryLayer::Recurrent) {
          auto factor = machine.recurrentFactor.find(l.op);
          double t = flops / rate * (factor != machine.recurrentFactor.end() ? factor->second : 1);
          seconds += t;
          if (recurrentSeconds)
            *recurrentSeconds += t;
          continue;
        }
        seconds += flops / rate;
        LLVM_DEBUG(dbgs() << step.name << " " << name << " in " << l.in << " out " << l.out
                          << " flops " << flops << " rate " << rate * 1e-9 << " ms "
                          << flops / rate * 1e3 << "\n");
      }
      seconds += machine.callOverhead;
    }
  }
  return seconds;
}
