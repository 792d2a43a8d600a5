//===- ScaleMachine.cpp - The machine model of nnc scale --measure --------===//

#include "tools/nnc/ScaleMachine.h"
#include "tools/nnc/Costs.h"

#include "runtime/Kernels.h"
#include "runtime/Train.h"

#include "llvm/Support/Debug.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
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

/// Bytes the bandwidth model's relu + maxpool kernel moves per input channel
/// (64 x 32 x 32 f32 in, a quarter of it out).
static constexpr double kKernelBytesPerChannel = 1.25 * 262144;

/// The generated-kernel bandwidth: builds a model of one fused relu +
/// maxpool kernel (64 x c x 32 x 32 in, c x 256 KiB; a quarter of it out)
/// and times its forward pass; 0 after reporting.
static double kernelBandwidth(ModelOptions &model, int64_t c) {
  SmallString<128> path;
  int fd = -1;
  if (std::error_code ec = sys::fs::createTemporaryFile("nnc-calibrate", "nn", fd, path)) {
    fail("cannot create a temporary file: " + ec.message());
    return 0;
  }
  {
    raw_fd_ostream os(fd, /*shouldClose=*/true);
    os << "model calibrate(c = " << c
       << ") {\n  input x: f32[N, c, 32, 32]\n"
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
  return kKernelBytesPerChannel * double(c) / seconds;
}

// Training changes the weights every step, so the library's copies of them
// (reordered, converted to bf16) are remade at every call: each timed call
// here changes one weight too.
namespace {
/// A buffer aligned to 64 bytes, as the arena aligns every region: some of
/// oneDNN's kernels use aligned loads on their scratchpad (the f32
/// convolution backward at 128 x 256 x 4 x 4 -> 512 crashed on a 16-byte
/// aligned one).
template <typename T> class Aligned {
public:
  explicit Aligned(size_t n, T value = T()) : n(n) {
    size_t bytes = (std::max<size_t>(n, 1) * sizeof(T) + 63) / 64 * 64;
    p = static_cast<T *>(std::aligned_alloc(64, bytes));
    if (!p)
      report_fatal_error("nnc scale: out of memory timing a library call");
    std::fill(p, p + n, value);
  }
  Aligned(const Aligned &) = delete;
  Aligned &operator=(const Aligned &) = delete;
  ~Aligned() { std::free(p); }
  T *data() { return p; }
  size_t size() const { return n; }
  T &operator[](size_t i) { return p[i]; }

private:
  size_t n;
  T *p = nullptr;
};
} // namespace

static void touch(Aligned<float> &w) { w[0] = w[0] == 0.01f ? 0.02f : 0.01f; }

namespace {
enum class Call { Forward, Backward, BackwardWeights };
} // namespace

static const char *precisionName(int32_t precision) {
  return precision == NNC_PRECISION_BF16 ? "bf16" : precision == NNC_PRECISION_F16 ? "f16" : "f32";
}

/// Times one convolution call at its shape in isolation.
static TimedCall timeConv(const LibraryLayer &l, int64_t N, Call call, int32_t precision) {
  const bool f32 = precision == NNC_PRECISION_F32;
  const int64_t C = l.c, H = l.h, W = l.w, O = l.o, G = l.groups;
  const int64_t HO = (H + 2 * l.ph - l.dh * (l.kh - 1) - 1) / l.sh + 1;
  const int64_t WO = (W + 2 * l.pw - l.dw * (l.kw - 1) - 1) / l.sw + 1;
  Aligned<float> x(N * C * H * W, 0.5f), w(O * (C / G) * l.kh * l.kw, 0.01f),
      y(N * O * HO * WO, 0.25f), dx(x.size()), dw(w.size());
  auto scratchBytes = [&](bool forward) {
    if (forward)
      return f32 ? nnc_conv2d_fwd_scratch_bytes(N, C, H, W, O, l.kh, l.kw, l.sh, l.sw, l.ph, l.pw,
                                                l.dh, l.dw, G)
                 : nnc_conv2d_fwd_mixed_scratch_bytes(N, C, H, W, O, l.kh, l.kw, l.sh, l.sw, l.ph,
                                                      l.pw, l.dh, l.dw, G, precision);
    return f32 ? nnc_conv2d_bwd_scratch_bytes(N, C, H, W, O, l.kh, l.kw, l.sh, l.sw, l.ph, l.pw,
                                              l.dh, l.dw, G)
               : nnc_conv2d_bwd_mixed_scratch_bytes(N, C, H, W, O, l.kh, l.kw, l.sh, l.sw, l.ph,
                                                    l.pw, l.dh, l.dw, G, precision);
  };
  const int64_t bytes = scratchBytes(call == Call::Forward);
  Aligned<char> scratch(bytes + 64);
  const double flops = 2.0 * N * O * HO * WO * (C / G) * l.kh * l.kw;
  TimedCall t;
  t.flops = call == Call::Backward ? 2 * flops : flops;
  t.seconds = secondsPerCall([&] {
    touch(w);
    if (call == Call::Forward) {
      if (f32)
        nnc_conv2d_fwd(x.data(), w.data(), nullptr, y.data(), scratch.data(), bytes, N, C, H, W, O,
                       l.kh, l.kw, l.sh, l.sw, l.ph, l.pw, l.dh, l.dw, G, 0);
      else
        nnc_conv2d_fwd_mixed(x.data(), w.data(), nullptr, y.data(), scratch.data(), bytes, N, C, H,
                             W, O, l.kh, l.kw, l.sh, l.sw, l.ph, l.pw, l.dh, l.dw, G, 0, precision);
      return;
    }
    float *dxOut = call == Call::Backward ? dx.data() : nullptr;
    if (f32)
      nnc_conv2d_bwd(y.data(), x.data(), w.data(), dxOut, dw.data(), nullptr, scratch.data(), bytes,
                     N, C, H, W, O, l.kh, l.kw, l.sh, l.sw, l.ph, l.pw, l.dh, l.dw, G);
    else
      nnc_conv2d_bwd_mixed(y.data(), x.data(), w.data(), dxOut, dw.data(), nullptr, scratch.data(),
                           bytes, N, C, H, W, O, l.kh, l.kw, l.sh, l.sw, l.ph, l.pw, l.dh, l.dw, G,
                           precision);
  });
  t.what = formatv("conv2d {0} {1}x{2}x{3}x{4} -> {5}, {6}x{7} stride {8}, {9}",
                   call == Call::Forward    ? "forward"
                   : call == Call::Backward ? "backward"
                                            : "backward (weights)",
                   N, C, H, W, O, l.kh, l.kw, l.sh, precisionName(precision))
               .str();
  return t;
}

/// Times one GEMM call (a linear layer M x in -> out) in isolation.
static TimedCall timeGemm(int64_t M, int64_t in, int64_t out, Call call, int32_t precision) {
  const bool f32 = precision == NNC_PRECISION_F32;
  Aligned<float> x(M * in, 0.5f), w(out * in, 0.01f), b(out, 0.f), y(M * out, 0.25f), dx(M * in),
      dw(out * in), db(out);
  int64_t bytes = f32 ? 0
                      : std::max(nnc_linear_fwd_mixed_scratch_bytes(M, in, out, precision),
                                 nnc_linear_bwd_mixed_scratch_bytes(M, in, out, precision));
  Aligned<char> scratch(bytes + 64);
  TimedCall t;
  t.flops = (call == Call::Backward ? 4.0 : 2.0) * M * in * out;
  float *dxOut = call == Call::Backward ? dx.data() : nullptr;
  t.seconds = secondsPerCall([&] {
    touch(w);
    if (call == Call::Forward) {
      if (f32)
        nnc_linear_fwd(x.data(), w.data(), b.data(), y.data(), M, in, out, 0);
      else
        nnc_linear_fwd_mixed(x.data(), w.data(), b.data(), y.data(), scratch.data(), bytes, M, in,
                             out, 0, precision);
    } else if (f32) {
      nnc_linear_bwd(y.data(), x.data(), w.data(), dxOut, dw.data(), db.data(), M, in, out);
    } else {
      nnc_linear_bwd_mixed(y.data(), x.data(), w.data(), dxOut, dw.data(), db.data(),
                           scratch.data(), bytes, M, in, out, precision);
    }
  });
  t.what = formatv("gemm {0} {1}x{2} -> {3}, {4}",
                   call == Call::Forward    ? "forward"
                   : call == Call::Backward ? "backward"
                                            : "backward (weights)",
                   M, in, out, precisionName(precision))
               .str();
  return t;
}

/// The memoized time of a library call.
static const TimedCall &timedCall(Machine &machine, const LibraryLayer &l, int64_t batch, Call call,
                                  int32_t precision) {
  bool conv = l.kind == LibraryLayer::Conv;
  std::vector<int64_t> key = {precision, int64_t(call), int64_t(conv), batch};
  if (conv)
    key.insert(key.end(),
               {l.c, l.h, l.w, l.o, l.kh, l.kw, l.sh, l.sw, l.ph, l.pw, l.dh, l.dw, l.groups});
  else
    key.insert(key.end(), {l.rows, l.in, l.out});
  auto it = machine.calls.find(key);
  if (it != machine.calls.end())
    return it->second;
  TimedCall t = conv ? timeConv(l, batch, call, precision)
                     : timeGemm(batch * l.rows, l.in, l.out, call, precision);
  return machine.calls.emplace(key, std::move(t)).first->second;
}

Machine nnc::driver::calibrate(ModelOptions &model) {
  Machine machine;
  machine.threads = nnc_get_num_threads();
  std::vector<float> t1(1), t2(1), t3(1);
  machine.callOverhead =
      secondsPerCall([&] { nnc_linear_fwd(t1.data(), t2.data(), nullptr, t3.data(), 1, 1, 1, 0); });
  machine.bandwidth = kernelBandwidth(model, 16);
  if (machine.bandwidth > 0)
    machine.cachedBandwidth = kernelBandwidth(model, 1);
  return machine;
}

double Machine::bandwidthAt(double bytes) const {
  // The two calibration kernels (1 and 16 channels) move 320 KiB and 5 MiB.
  const double small = kKernelBytesPerChannel, large = 16 * small;
  if (cachedBandwidth <= 0 || bytes >= large)
    return bandwidth;
  if (bytes <= small)
    return cachedBandwidth;
  double t = std::log(bytes / small) / std::log(large / small);
  return std::exp((1 - t) * std::log(cachedBandwidth) + t * std::log(bandwidth));
}

/// The predicted seconds of one training step: for each step of
/// @train_step, a library call costs its time at its shape (timed in
/// isolation) plus the call overhead, a recurrent layer its per-timestep
/// GEMMs' time times its kind's factor; a generated kernel (or runtime op)
/// its bytes read and written at the generated-kernel bandwidth.
double nnc::driver::predictSeconds(Machine &machine, ArrayRef<nnc::EntryKernels> kernels,
                                   ArrayRef<nnc::LayerReport> layers, const LibraryLayers &library,
                                   StringRef precisionName, int64_t batch,
                                   double *recurrentSeconds) {
  if (recurrentSeconds)
    *recurrentSeconds = 0;
  const int32_t precision = precisionName == "bf16"  ? NNC_PRECISION_BF16
                            : precisionName == "f16" ? NNC_PRECISION_F16
                                                     : NNC_PRECISION_F32;
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
        double bandwidth = machine.bandwidthAt(bytes);
        seconds += bytes / bandwidth;
        LLVM_DEBUG(dbgs() << step.name << " bytes " << bytes << " ms " << bytes / bandwidth * 1e3
                          << "\n");
        continue;
      }
      bool backward = StringRef(step.name).contains("backward");
      for (const std::string &name : step.layers) {
        auto it = byName.find(name);
        auto lib = library.find(name);
        if (it == byName.end() || lib == library.end())
          continue;
        const LibraryLayer &l = lib->second;
        // A backward call writing less than half of its input's bytes
        // beyond the weight gradient computes no input gradient (the first
        // layer).
        const double inputBytes =
            4.0 * double(batch) *
            (l.kind == LibraryLayer::Conv ? double(l.c * l.h * l.w) : double(l.rows * l.in));
        Call call = !backward ? Call::Forward
                    : l.kind != LibraryLayer::Recurrent &&
                            double(step.bytesWritten - l.weightBytes) < inputBytes / 2
                        ? Call::BackwardWeights
                        : Call::Backward;
        // Reduced precision applies to convolutions and linear layers; the
        // recurrent layers compute in f32.
        const TimedCall &t =
            timedCall(machine, l, batch, call,
                      l.kind == LibraryLayer::Recurrent ? NNC_PRECISION_F32 : precision);
        double s = t.seconds;
        if (l.kind == LibraryLayer::Recurrent) {
          // The layer's FLOPs over one timestep GEMM's: the GEMMs it runs.
          double flops = double(backward ? it->second->backwardFlops : it->second->forwardFlops);
          auto factor = machine.recurrentFactor.find(l.shape);
          s = flops / t.flops * t.seconds *
              (factor != machine.recurrentFactor.end() ? factor->second : 1);
          if (recurrentSeconds)
            *recurrentSeconds += s;
        }
        seconds += s;
        LLVM_DEBUG(dbgs() << step.name << " " << name << " " << t.what << " ms " << s * 1e3
                          << "\n");
      }
      seconds += machine.callOverhead;
    }
  }
  return seconds;
}
