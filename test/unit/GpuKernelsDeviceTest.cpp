//===- test/unit/GpuKernelsDeviceTest.cpp - GPU library ops on a GPU -----===//
//
// Part of nnc. runtime/GpuKernels.h on a real device against the CPU's kernels
// (runtime/Kernels.h) on the same inputs: nnc_gpu_gemm, linear forward and
// backward (bias, relu), conv2d forward and backward for the examples' kinds
// of convolution (groups, stride, padding, dilation), and the recurrent time
// loop (tanh RNN, two bidirectional layers) with a stand-in step function. Every
// test is skipped, with the reason, where the GPU path is unavailable
// (gpu::unavailableReason()): on machines without a GPU, they only compile.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuKernels.h"
#include "runtime/GpuLibraries.h"

#include "KernelTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

using namespace nnc::rt::gpu;
using namespace nnc::test;

namespace {

#define SKIP_WITHOUT_GPU()                                                                         \
  if (!unavailableReason().empty())                                                                \
  GTEST_SKIP() << "no usable GPU: " << unavailableReason()

/// Device memory holding a copy of host floats; freed at the end of scope.
class DeviceBuffer {
public:
  explicit DeviceBuffer(const std::vector<float> &host) : n(int64_t(host.size())) {
    makeContextCurrent();
    EXPECT_TRUE(check(driver().cuMemAlloc(&ptr, std::max<size_t>(n, 1) * 4), "cuMemAlloc"));
    if (n)
      EXPECT_TRUE(check(driver().cuMemcpyHtoDAsync(ptr, host.data(), n * 4, stream()),
                        "cuMemcpyHtoDAsync"));
  }
  explicit DeviceBuffer(int64_t n) : DeviceBuffer(std::vector<float>(n, NAN)) {}
  ~DeviceBuffer() { driver().cuMemFree(ptr); }
  float *get() const { return reinterpret_cast<float *>(uintptr_t(ptr)); }
  /// Waits for the stream and copies the contents back.
  std::vector<float> read() const {
    std::vector<float> host(n);
    EXPECT_TRUE(
        check(driver().cuMemcpyDtoHAsync(host.data(), ptr, n * 4, stream()), "cuMemcpyDtoHAsync"));
    EXPECT_TRUE(check(driver().cuStreamSynchronize(stream()), "cuStreamSynchronize"));
    return host;
  }

private:
  CUdeviceptr ptr = 0;
  int64_t n;
};

/// No kernel reported an error since the last call.
void expectNoKernelError() {
  const char *error = nnc_kernels_error();
  EXPECT_EQ(error, nullptr) << error;
  nnc_kernels_clear_error();
}

TEST(GpuKernelsDevice, GemmMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t M = 37, N = 29, K = 45, pad = 3;
  for (int32_t transA : {0, 1})
    for (int32_t transB : {0, 1}) {
      const int64_t lda = (transA ? M : K) + pad, ldb = (transB ? K : N) + pad, ldc = N + pad;
      auto A = randomVec((transA ? K : M) * lda, 1), B = randomVec((transB ? N : K) * ldb, 2);
      auto want = randomVec(M * ldc, 3);
      DeviceBuffer a(A), b(B), c(want);
      nnc_gemm(transA, transB, M, N, K, 0.5f, A.data(), lda, B.data(), ldb, 1.0f, want.data(), ldc);
      nnc_gpu_gemm(transA, transB, M, N, K, 0.5f, a.get(), lda, b.get(), ldb, 1.0f, c.get(), ldc);
      auto got = c.read();
      expectNoKernelError();
      EXPECT_LT(maxRelErr(got.data(), want.data(), M * ldc), 1e-5)
          << "transA " << transA << " transB " << transB;
    }
}

TEST(GpuKernelsDevice, LinearMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t M = 65, in = 33, out = 17;
  auto x = randomVec(M * in, 4), w = randomVec(out * in, 5), bias = randomVec(out, 6);
  auto dy = randomVec(M * out, 7);
  DeviceBuffer dX(x), dW(w), dB(bias), dDy(dy);
  for (int32_t epilogue : {0, 1})
    for (bool hasBias : {false, true}) {
      std::vector<float> want(M * out);
      DeviceBuffer y(M * out);
      nnc_linear_fwd(x.data(), w.data(), hasBias ? bias.data() : nullptr, want.data(), M, in, out,
                     epilogue);
      nnc_gpu_linear_fwd(dX.get(), dW.get(), hasBias ? dB.get() : nullptr, y.get(), M, in, out,
                         epilogue);
      auto got = y.read();
      expectNoKernelError();
      EXPECT_LT(maxRelErr(got.data(), want.data(), M * out), 1e-5)
          << "epilogue " << epilogue << " bias " << hasBias;
    }
  std::vector<float> dx(M * in), dw(out * in), db(out);
  nnc_linear_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), M, in, out);
  DeviceBuffer gx(M * in), gw(out * in), gb(out);
  nnc_gpu_linear_bwd(dDy.get(), dX.get(), dW.get(), gx.get(), gw.get(), gb.get(), M, in, out);
  auto gotDx = gx.read(), gotDw = gw.read(), gotDb = gb.read();
  expectNoKernelError();
  EXPECT_LT(maxRelErr(gotDx.data(), dx.data(), M * in), 1e-5);
  EXPECT_LT(maxRelErr(gotDw.data(), dw.data(), out * in), 1e-5);
  EXPECT_LT(maxRelErr(gotDb.data(), db.data(), out), 1e-5);
}

TEST(GpuKernelsDevice, Conv2dMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const ConvShape cases[] = {
      {2, 1, 28, 28, 6, 5, 5, 1, 1, 2, 2, 1, 1, 1},
      {8, 16, 32, 32, 32, 3, 3, 2, 2, 1, 1, 1, 1, 1},
      {8, 16, 32, 32, 32, 1, 1, 2, 2, 0, 0, 1, 1, 1},
      {3, 8, 17, 19, 8, 3, 3, 1, 1, 1, 1, 1, 1, 8},
      {3, 8, 17, 19, 12, 3, 3, 1, 1, 1, 1, 1, 1, 4},
      {1, 4, 20, 20, 4, 3, 3, 1, 1, 2, 2, 2, 2, 1},
      {2, 3, 23, 31, 5, 3, 5, 2, 3, 1, 2, 2, 1, 1},
  };
  uint32_t seed = 20;
  for (const ConvShape &s : cases) {
#define SHAPE                                                                                      \
  s.N, s.C, s.H, s.W, s.O, s.KH, s.KW, s.strideH, s.strideW, s.padH, s.padW, s.dilH, s.dilW,       \
      s.groups
    const int64_t xN = s.N * s.C * s.H * s.W, wN = s.O * (s.C / s.groups) * s.KH * s.KW;
    const int64_t yN = s.N * s.O * s.outH() * s.outW();
    auto x = randomVec(xN, seed++), w = randomVec(wN, seed++), b = randomVec(s.O, seed++);
    auto dy = randomVec(yN, seed++);
    DeviceBuffer dX(x), dW(w), dB(b), dDy(dy);
    const int64_t gpuScratch = nnc_gpu_conv2d_fwd_scratch_bytes(SHAPE);
    DeviceBuffer scratch(gpuScratch / 4);
    for (int32_t epilogue : {0, 1}) {
      std::vector<float> want(yN);
      Scratch cpuScratch(nnc_conv2d_fwd_scratch_bytes(SHAPE));
      nnc_conv2d_fwd(x.data(), w.data(), b.data(), want.data(), cpuScratch.get(), cpuScratch.bytes,
                     SHAPE, epilogue);
      DeviceBuffer y(yN);
      nnc_gpu_conv2d_fwd(dX.get(), dW.get(), dB.get(), y.get(), scratch.get(), gpuScratch, SHAPE,
                         epilogue);
      auto got = y.read();
      expectNoKernelError();
      EXPECT_LT(maxRelErr(got.data(), want.data(), yN), 1e-4)
          << "N " << s.N << " C " << s.C << " groups " << s.groups << " epilogue " << epilogue;
    }
    std::vector<float> dx(xN), dw(wN), db(s.O);
    Scratch cpuScratch(nnc_conv2d_bwd_scratch_bytes(SHAPE));
    nnc_conv2d_bwd(dy.data(), x.data(), w.data(), dx.data(), dw.data(), db.data(), cpuScratch.get(),
                   cpuScratch.bytes, SHAPE);
    DeviceBuffer gx(xN), gw(wN), gb(s.O);
    nnc_gpu_conv2d_bwd(dDy.get(), dX.get(), dW.get(), gx.get(), gw.get(), gb.get(), scratch.get(),
                       nnc_gpu_conv2d_bwd_scratch_bytes(SHAPE), SHAPE);
    auto gotDx = gx.read(), gotDw = gw.read(), gotDb = gb.read();
    expectNoKernelError();
    EXPECT_LT(maxRelErr(gotDx.data(), dx.data(), xN), 1e-4) << "dx, C " << s.C;
    EXPECT_LT(maxRelErr(gotDw.data(), dw.data(), wN), 1e-4) << "dw, C " << s.C;
    EXPECT_LT(maxRelErr(gotDb.data(), db.data(), s.O), 1e-4) << "db, C " << s.C;
#undef SHAPE
  }
}

/// A strided [rows, cols] view (row stride ld) of device memory, read to and
/// written from the host (the stand-in step functions below run on the host:
/// they wait for the stream).
std::vector<float> download(const float *p, int64_t rows, int64_t cols, int64_t ld) {
  std::vector<float> host(rows ? (rows - 1) * ld + cols : 0);
  driver().cuMemcpyDtoHAsync(host.data(), CUdeviceptr(uintptr_t(p)), host.size() * 4, stream());
  driver().cuStreamSynchronize(stream());
  return host;
}
void upload(float *p, const std::vector<float> &host) {
  driver().cuMemcpyHtoDAsync(CUdeviceptr(uintptr_t(p)), host.data(), host.size() * 4, stream());
  driver().cuStreamSynchronize(stream());
}

/// The tanh RNN inference step (memref arguments xp [rows, H], b_ih, b_hh
/// [H], h [rows, H] with row stride ldh): h = tanh(xp + b_ih + b_hh), on
/// host or device memory.
bool onDevice = false;
void rnnStep(float *, float *xp, int64_t, int64_t rows, int64_t cols, int64_t ldx, int64_t, float *,
             float *bih, int64_t, int64_t, int64_t, float *, float *bhh, int64_t, int64_t, int64_t,
             float *, float *h, int64_t, int64_t, int64_t, int64_t ldh, int64_t) {
  std::vector<float> X, BI, BH, Hs;
  float *xs = xp, *bi = bih, *bh = bhh, *hs = h;
  if (onDevice) {
    X = download(xp, rows, cols, ldx), BI = download(bih, 1, cols, cols);
    BH = download(bhh, 1, cols, cols), Hs = download(h, rows, cols, ldh);
    xs = X.data(), bi = BI.data(), bh = BH.data(), hs = Hs.data();
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j)
      hs[r * ldh + j] = std::tanh(xs[r * ldx + j] + bi[j] + bh[j]);
  if (onDevice)
    upload(h, Hs);
}

TEST(GpuKernelsDevice, RecurrentLoopMatchesCpu) {
  SKIP_WITHOUT_GPU();
  const int64_t N = 5, T = 4, F = 3, H = 6, L = 2;
  std::vector<std::vector<float>> store;
  std::vector<const float *> weights;
  uint32_t seed = 40;
  for (int64_t l = 0; l < L; ++l)
    for (int d = 0; d < 2; ++d)
      for (int64_t size : {H * (l == 0 ? F : 2 * H), H * H, H, H}) {
        store.push_back(randomVec(size, seed++, -0.5f, 0.5f));
        weights.push_back(store.back().data());
      }
  std::vector<std::unique_ptr<DeviceBuffer>> deviceStore;
  std::vector<const float *> deviceWeights;
  for (auto &w : store) {
    deviceStore.push_back(std::make_unique<DeviceBuffer>(w));
    deviceWeights.push_back(deviceStore.back()->get());
  }
  auto x = randomVec(N * T * F, 98);
  DeviceBuffer dX(x);
  const int64_t scratchBytes = nnc_rnn_fwd_scratch_bytes(N, T, F, H, L, 1, 0);
  for (int32_t sequences : {0, 1}) {
    const int64_t ySize = sequences ? N * T * 2 * H : N * 2 * H;
    std::vector<float> want(ySize);
    Scratch s(scratchBytes);
    onDevice = false;
    nnc_rnn_fwd(x.data(), weights.data(), want.data(), nullptr, s.get(),
                reinterpret_cast<nnc_step_fn>(&rnnStep), N, T, F, H, L, 1, 1, sequences, 0);
    DeviceBuffer y(ySize), scratch(scratchBytes / 4 + 16);
    onDevice = true;
    nnc_gpu_rnn_fwd(dX.get(), deviceWeights.data(), y.get(), nullptr, scratch.get(),
                    reinterpret_cast<nnc_step_fn>(&rnnStep), N, T, F, H, L, 1, 1, sequences, 0);
    auto got = y.read();
    expectNoKernelError();
    EXPECT_LT(maxRelErr(got.data(), want.data(), ySize), 1e-5) << "sequences " << sequences;
  }
}

} // namespace
