//===- runtime/GpuLibraries.cpp - cuDNN and cuBLAS set-up ----------------===//
//
// Part of nnc. Resolves the function tables of runtime/GpuLibraries.h from the
// libraries runtime/Gpu.cpp loaded, creates the process's cuDNN and cuBLAS
// handles on the one stream, builds convolution descriptors, chooses
// convolution algorithms, and implements the scratch rule and the small
// device operations the library ops share.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuLibraries.h"
#include "runtime/GpuKernels.h"
#include "runtime/KernelsInternal.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <mutex>

using namespace nnc::rt;
using namespace nnc::rt::gpu;

namespace {

/// cuBLAS's workspace: NVIDIA recommends 32 MiB on Hopper (cuBLAS
/// documentation, cublasSetWorkspace); Ampere needs 4 MiB.
constexpr int64_t kCublasWorkspaceBytes = int64_t(32) << 20;

/// The convolution scratch rule's bounds (GpuKernels.h).
constexpr int64_t kConvScratchMin = int64_t(4) << 20;
constexpr int64_t kConvScratchMax = int64_t(256) << 20;

/// Resolves `name` from `library` into `fn`; false with `error` if absent.
template <typename Fn> bool resolve(void *library, const char *name, Fn &fn, std::string &error) {
  fn = reinterpret_cast<Fn>(dlsym(library, name));
  if (!fn && error.empty())
    error = std::string("missing symbol ") + name;
  return fn != nullptr;
}

int64_t convScratchBytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH,
                         int64_t KW, int64_t strideH, int64_t strideW, int64_t padH, int64_t padW,
                         int64_t dilH, int64_t dilW, int64_t groups) {
  ConvShape s{N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups};
  int64_t floats = std::max({N * C * H * W, O * (C / std::max<int64_t>(groups, 1)) * KH * KW,
                             N * O * s.outH() * s.outW()});
  int64_t bytes = std::clamp<int64_t>(floats * 4, kConvScratchMin, kConvScratchMax);
  return (bytes + 63) / 64 * 64;
}

} // namespace

#define NNC_RESOLVE(table, name) ok &= resolve(library, #name, table.name, error)

bool gpu::loadCudnn(void *library, Cudnn &t, std::string &error) {
  bool ok = true;
  NNC_RESOLVE(t, cudnnGetVersion);
  NNC_RESOLVE(t, cudnnGetErrorString);
  NNC_RESOLVE(t, cudnnCreate);
  NNC_RESOLVE(t, cudnnSetStream);
  NNC_RESOLVE(t, cudnnCreateTensorDescriptor);
  NNC_RESOLVE(t, cudnnSetTensor4dDescriptor);
  NNC_RESOLVE(t, cudnnDestroyTensorDescriptor);
  NNC_RESOLVE(t, cudnnCreateFilterDescriptor);
  NNC_RESOLVE(t, cudnnSetFilter4dDescriptor);
  NNC_RESOLVE(t, cudnnDestroyFilterDescriptor);
  NNC_RESOLVE(t, cudnnCreateConvolutionDescriptor);
  NNC_RESOLVE(t, cudnnSetConvolution2dDescriptor);
  NNC_RESOLVE(t, cudnnSetConvolutionGroupCount);
  NNC_RESOLVE(t, cudnnSetConvolutionMathType);
  NNC_RESOLVE(t, cudnnGetConvolution2dForwardOutputDim);
  NNC_RESOLVE(t, cudnnDestroyConvolutionDescriptor);
  NNC_RESOLVE(t, cudnnGetConvolutionForwardAlgorithm_v7);
  NNC_RESOLVE(t, cudnnGetConvolutionBackwardDataAlgorithm_v7);
  NNC_RESOLVE(t, cudnnGetConvolutionBackwardFilterAlgorithm_v7);
  NNC_RESOLVE(t, cudnnConvolutionForward);
  NNC_RESOLVE(t, cudnnConvolutionBackwardData);
  NNC_RESOLVE(t, cudnnConvolutionBackwardFilter);
  NNC_RESOLVE(t, cudnnConvolutionBackwardBias);
  NNC_RESOLVE(t, cudnnAddTensor);
  NNC_RESOLVE(t, cudnnCreateActivationDescriptor);
  NNC_RESOLVE(t, cudnnSetActivationDescriptor);
  NNC_RESOLVE(t, cudnnActivationForward);
  return ok;
}

bool gpu::loadCublas(void *library, Cublas &t, std::string &error) {
  bool ok = true;
  NNC_RESOLVE(t, cublasCreate_v2);
  NNC_RESOLVE(t, cublasSetStream_v2);
  NNC_RESOLVE(t, cublasSetWorkspace_v2);
  NNC_RESOLVE(t, cublasSetMathMode);
  NNC_RESOLVE(t, cublasGetStatusString);
  NNC_RESOLVE(t, cublasSgemm_v2);
  NNC_RESOLVE(t, cublasSgemmStridedBatched);
  NNC_RESOLVE(t, cublasSgeam);
  return ok;
}

#undef NNC_RESOLVE

bool gpu::createConvDescriptors(const Cudnn &dnn, const ConvShape &s, ConvDescriptors &d,
                                std::string &error) {
  d = ConvDescriptors();
  auto fail = [&](cudnnStatus_t status, const char *what) {
    if (status == kCudnnSuccess)
      return false;
    error = std::string(what) + ": " + dnn.cudnnGetErrorString(status);
    destroyConvDescriptors(dnn, d);
    return true;
  };
  const int cPerGroup = int(s.C / std::max<int64_t>(s.groups, 1));
  if (fail(dnn.cudnnCreateTensorDescriptor(&d.x), "cudnnCreateTensorDescriptor") ||
      fail(dnn.cudnnCreateTensorDescriptor(&d.y), "cudnnCreateTensorDescriptor") ||
      fail(dnn.cudnnCreateTensorDescriptor(&d.bias), "cudnnCreateTensorDescriptor") ||
      fail(dnn.cudnnCreateFilterDescriptor(&d.w), "cudnnCreateFilterDescriptor") ||
      fail(dnn.cudnnCreateConvolutionDescriptor(&d.conv), "cudnnCreateConvolutionDescriptor") ||
      fail(dnn.cudnnSetTensor4dDescriptor(d.x, kCudnnTensorNchw, kCudnnDataFloat, int(s.N),
                                          int(s.C), int(s.H), int(s.W)),
           "cudnnSetTensor4dDescriptor (x)") ||
      fail(dnn.cudnnSetTensor4dDescriptor(d.bias, kCudnnTensorNchw, kCudnnDataFloat, 1, int(s.O), 1,
                                          1),
           "cudnnSetTensor4dDescriptor (bias)") ||
      fail(dnn.cudnnSetFilter4dDescriptor(d.w, kCudnnDataFloat, kCudnnTensorNchw, int(s.O),
                                          cPerGroup, int(s.KH), int(s.KW)),
           "cudnnSetFilter4dDescriptor") ||
      fail(dnn.cudnnSetConvolution2dDescriptor(d.conv, int(s.padH), int(s.padW), int(s.strideH),
                                               int(s.strideW), int(s.dilH), int(s.dilW),
                                               kCudnnCrossCorrelation, kCudnnDataFloat),
           "cudnnSetConvolution2dDescriptor") ||
      fail(dnn.cudnnSetConvolutionGroupCount(d.conv, int(s.groups)),
           "cudnnSetConvolutionGroupCount") ||
      fail(dnn.cudnnSetConvolutionMathType(d.conv, kCudnnFmaMath), "cudnnSetConvolutionMathType"))
    return false;
  int n = 0, c = 0, h = 0, w = 0;
  if (fail(dnn.cudnnGetConvolution2dForwardOutputDim(d.conv, d.x, d.w, &n, &c, &h, &w),
           "cudnnGetConvolution2dForwardOutputDim"))
    return false;
  if (n != s.N || c != s.O || h != s.outH() || w != s.outW()) {
    error = "cuDNN's convolution output [" + std::to_string(n) + "," + std::to_string(c) + "," +
            std::to_string(h) + "," + std::to_string(w) + "] is not nnc's [" + std::to_string(s.N) +
            "," + std::to_string(s.O) + "," + std::to_string(s.outH()) + "," +
            std::to_string(s.outW()) + "]";
    destroyConvDescriptors(dnn, d);
    return false;
  }
  return !fail(dnn.cudnnSetTensor4dDescriptor(d.y, kCudnnTensorNchw, kCudnnDataFloat, n, c, h, w),
               "cudnnSetTensor4dDescriptor (y)");
}

void gpu::destroyConvDescriptors(const Cudnn &dnn, ConvDescriptors &d) {
  for (cudnnTensorDescriptor_t t : {d.x, d.y, d.bias})
    if (t)
      dnn.cudnnDestroyTensorDescriptor(t);
  if (d.w)
    dnn.cudnnDestroyFilterDescriptor(d.w);
  if (d.conv)
    dnn.cudnnDestroyConvolutionDescriptor(d.conv);
  d = ConvDescriptors();
}

int gpu::chooseAlgorithm(const CudnnAlgoPerf *perf, int count, int64_t workspaceBytes) {
  for (int i = 0; i < count; ++i) {
    const CudnnAlgoPerf &p = perf[i];
    if (p.status == kCudnnSuccess && p.determinism == kCudnnDeterministic &&
        (p.mathType == 0 || p.mathType == kCudnnFmaMath) && int64_t(p.memory) <= workspaceBytes)
      return p.algo;
  }
  return -1;
}

const LibraryHandles *gpu::libraryHandles() {
  static LibraryHandles handles;
  static std::string error;
  static std::once_flag once;
  std::call_once(once, [] {
    const std::string &reason = unavailableReason();
    if (!reason.empty()) {
      error = "cannot use the GPU: " + reason;
      return;
    }
    makeContextCurrent();
    LibraryHandles h{};
    std::string missing;
    if (!loadCudnn(library(Library::Cudnn), h.dnn, missing)) {
      error = "cuDNN: " + missing;
      return;
    }
    if (!loadCublas(library(Library::Cublas), h.blas, missing)) {
      error = "cuBLAS: " + missing;
      return;
    }
    auto dnnFailed = [&](cudnnStatus_t s, const char *what) {
      if (s != kCudnnSuccess)
        error = std::string(what) + ": " + h.dnn.cudnnGetErrorString(s);
      return s != kCudnnSuccess;
    };
    auto blasFailed = [&](cublasStatus_t s, const char *what) {
      if (s != kCublasSuccess)
        error = std::string(what) + ": " + h.blas.cublasGetStatusString(s);
      return s != kCublasSuccess;
    };
    CUdeviceptr workspace = 0;
    if (dnnFailed(h.dnn.cudnnCreate(&h.dnnHandle), "cudnnCreate") ||
        dnnFailed(h.dnn.cudnnSetStream(h.dnnHandle, stream()), "cudnnSetStream") ||
        dnnFailed(h.dnn.cudnnCreateActivationDescriptor(&h.relu),
                  "cudnnCreateActivationDescriptor") ||
        dnnFailed(h.dnn.cudnnSetActivationDescriptor(h.relu, kCudnnActivationRelu,
                                                     kCudnnPropagateNan, 0.0),
                  "cudnnSetActivationDescriptor") ||
        blasFailed(h.blas.cublasCreate_v2(&h.blasHandle), "cublasCreate") ||
        blasFailed(h.blas.cublasSetStream_v2(h.blasHandle, stream()), "cublasSetStream") ||
        blasFailed(h.blas.cublasSetMathMode(h.blasHandle, kCublasDefaultMath), "cublasSetMathMode"))
      return;
    CUresult r = driver().cuMemAlloc(&workspace, size_t(kCublasWorkspaceBytes));
    if (r != kSuccess) {
      error = "cuMemAlloc of cuBLAS's workspace: " + errorText(r);
      return;
    }
    if (blasFailed(h.blas.cublasSetWorkspace_v2(h.blasHandle, reinterpret_cast<void *>(workspace),
                                                size_t(kCublasWorkspaceBytes)),
                   "cublasSetWorkspace"))
      return;
    handles = h;
  });
  if (!error.empty()) {
    kernels::reportError(error);
    return nullptr;
  }
  // Every thread that calls the libraries needs the context current.
  static thread_local bool current = false;
  if (!current) {
    makeContextCurrent();
    current = true;
  }
  return &handles;
}

bool gpu::checkCudnn(const LibraryHandles &h, cudnnStatus_t status, const char *what) {
  if (status == kCudnnSuccess)
    return true;
  kernels::reportError(std::string(what) + ": " + h.dnn.cudnnGetErrorString(status));
  return false;
}

bool gpu::checkCublas(const LibraryHandles &h, cublasStatus_t status, const char *what) {
  if (status == kCublasSuccess)
    return true;
  kernels::reportError(std::string(what) + ": " + h.blas.cublasGetStatusString(status));
  return false;
}

bool gpu::deviceGemm(const LibraryHandles &h, bool transA, bool transB, int64_t M, int64_t N,
                     int64_t K, float alpha, const float *A, int64_t lda, const float *B,
                     int64_t ldb, float beta, float *C, int64_t ldc) {
  if (M == 0 || N == 0)
    return true;
  ColumnMajorGemm g = toColumnMajor(transA, transB, M, N, K, A, lda, B, ldb, C, ldc);
  return checkCublas(h,
                     h.blas.cublasSgemm_v2(h.blasHandle, g.transa, g.transb, int(g.m), int(g.n),
                                           int(g.k), &alpha, g.A, int(g.lda), g.B, int(g.ldb),
                                           &beta, g.C, int(g.ldc)),
                     "cublasSgemm");
}

bool gpu::deviceBatchedGemm(const LibraryHandles &h, bool transA, bool transB, int64_t batch,
                            int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                            const float *B, float *C) {
  if (batch == 0 || M == 0 || N == 0)
    return true;
  ColumnMajorGemm g =
      toColumnMajor(transA, transB, M, N, K, A, transA ? M : K, B, transB ? K : N, C, N);
  const float zero = 0.0f;
  // g.A is the row-major B (K N per entry), g.B the row-major A (M K).
  return checkCublas(h,
                     h.blas.cublasSgemmStridedBatched(
                         h.blasHandle, g.transa, g.transb, int(g.m), int(g.n), int(g.k), &alpha,
                         g.A, int(g.lda), (long long)(K * N), g.B, int(g.ldb), (long long)(M * K),
                         &zero, g.C, int(g.ldc), (long long)(M * N), int(batch)),
                     "cublasSgemmStridedBatched");
}

bool gpu::deviceFill(float *p, int64_t n, float value) {
  if (n == 0)
    return true;
  unsigned bits;
  std::memcpy(&bits, &value, sizeof bits);
  return check(driver().cuMemsetD32Async(CUdeviceptr(reinterpret_cast<uintptr_t>(p)), bits,
                                         size_t(n), stream()),
               "cuMemsetD32Async");
}

bool gpu::deviceCopy2d(const LibraryHandles &h, const float *src, int64_t srcLd, float *dst,
                       int64_t dstLd, int64_t rows, int64_t cols) {
  if (rows == 0 || cols == 0)
    return true;
  ColumnMajorCopy c = copyAsGeam(src, srcLd, dst, dstLd, rows, cols);
  const float one = 1.0f, zero = 0.0f;
  // B is not read with beta 0; it is A to be a valid operand.
  return checkCublas(h,
                     h.blas.cublasSgeam(h.blasHandle, kCublasOpN, kCublasOpN, int(c.m), int(c.n),
                                        &one, c.A, int(c.lda), &zero, c.A, int(c.lda), c.C,
                                        int(c.ldc)),
                     "cublasSgeam");
}

extern "C" {

int64_t nnc_gpu_library_workspace_bytes(void) { return kCublasWorkspaceBytes; }

int64_t nnc_gpu_conv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                         int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                         int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                         int64_t groups) {
  return convScratchBytes(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups);
}

int64_t nnc_gpu_conv2d_bwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                         int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                         int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                         int64_t groups) {
  return convScratchBytes(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups);
}

} // extern "C"
