//===- runtime/GpuKernels.cpp - Convolution and GEMMs on the GPU ---------===//
//
// Part of nnc. nnc_gpu_conv2d_* with cuDNN and nnc_gpu_gemm/linear_* with
// cuBLAS (runtime/GpuKernels.h), every call enqueued on the process's one
// stream. Per convolution shape, the descriptors and the algorithms chosen
// at its first call are cached for the life of the process.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuKernels.h"
#include "runtime/GpuLibraries.h"
#include "runtime/KernelsInternal.h"

#include <array>
#include <map>
#include <mutex>

using namespace nnc::rt;
using namespace nnc::rt::gpu;

namespace {

/// One convolution shape's descriptors and chosen algorithms (-2: not chosen
/// yet; -1: none fits the scratch).
struct ConvPlan {
  ConvDescriptors d;
  int fwd = -2, bwdData = -2, bwdFilter = -2;
};

/// The plans by shape and scratch size.
std::mutex plansMutex;
std::map<std::array<int64_t, 15>, ConvPlan> plans;

ConvPlan *planFor(const LibraryHandles &h, const ConvShape &s, int64_t scratchBytes) {
  std::array<int64_t, 15> key = {s.N,    s.C,    s.H,       s.W,       s.O,
                                 s.KH,   s.KW,   s.strideH, s.strideW, s.padH,
                                 s.padW, s.dilH, s.dilW,    s.groups,  scratchBytes};
  std::lock_guard<std::mutex> lock(plansMutex);
  auto it = plans.find(key);
  if (it != plans.end())
    return &it->second;
  ConvPlan plan;
  std::string error;
  if (!createConvDescriptors(h.dnn, s, plan.d, error)) {
    nnc::kernels::reportError("conv2d on the GPU: " + error);
    return nullptr;
  }
  return &plans.emplace(key, plan).first->second;
}

/// Chooses an algorithm with `rank` (a cudnnGet*Algorithm_v7 call) once.
template <typename Rank>
bool choose(const LibraryHandles &h, int &algo, int count, int64_t scratchBytes, Rank rank,
            const char *what) {
  if (algo == -2) {
    std::array<CudnnAlgoPerf, 8> perf{};
    int returned = 0;
    if (!checkCudnn(h, rank(std::min<int>(count, perf.size()), &returned, perf.data()), what))
      return false;
    algo = chooseAlgorithm(perf.data(), returned, scratchBytes);
  }
  if (algo < 0)
    nnc::kernels::reportError(std::string(what) +
                              ": no deterministic FP32 algorithm fits the planned workspace of " +
                              std::to_string(scratchBytes) + " bytes");
  return algo >= 0;
}

/// Fills `n` floats with NaN (an output the call could not compute).
void poison(float *p, int64_t n) {
  if (p)
    deviceFill(p, n, __builtin_nanf(""));
}

/// Cached [M, n, 1, 1] tensor descriptors (linear layers' outputs, biases).
cudnnTensorDescriptor_t rowsDescriptor(const LibraryHandles &h, int64_t M, int64_t n) {
  static std::mutex mutex;
  static std::map<std::pair<int64_t, int64_t>, cudnnTensorDescriptor_t> cache;
  std::lock_guard<std::mutex> lock(mutex);
  cudnnTensorDescriptor_t &d = cache[{M, n}];
  if (!d) {
    if (!checkCudnn(h, h.dnn.cudnnCreateTensorDescriptor(&d), "cudnnCreateTensorDescriptor"))
      return d = nullptr;
    if (!checkCudnn(h,
                    h.dnn.cudnnSetTensor4dDescriptor(d, kCudnnTensorNchw, kCudnnDataFloat, int(M),
                                                     int(n), 1, 1),
                    "cudnnSetTensor4dDescriptor")) {
      h.dnn.cudnnDestroyTensorDescriptor(d);
      return d = nullptr;
    }
  }
  return d;
}

/// y += b broadcast over dimension 1, then relu in place if `relu`.
bool biasAndRelu(const LibraryHandles &h, cudnnTensorDescriptor_t yDesc, float *y,
                 cudnnTensorDescriptor_t bDesc, const float *b, bool relu) {
  const float one = 1.0f, zero = 0.0f;
  if (b && !checkCudnn(h, h.dnn.cudnnAddTensor(h.dnnHandle, &one, bDesc, b, &one, yDesc, y),
                       "cudnnAddTensor"))
    return false;
  return !relu ||
         checkCudnn(
             h, h.dnn.cudnnActivationForward(h.dnnHandle, h.relu, &one, yDesc, y, &zero, yDesc, y),
             "cudnnActivationForward");
}

} // namespace

extern "C" {

void nnc_gpu_gemm(int32_t transA, int32_t transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc) {
  if (const LibraryHandles *h = libraryHandles())
    deviceGemm(*h, transA != 0, transB != 0, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void nnc_gpu_batch_matmul(int32_t transA, int32_t transB, int64_t batch, int64_t M, int64_t N,
                          int64_t K, float alpha, const float *A, const float *B, float *C) {
  if (const LibraryHandles *h = libraryHandles())
    deviceBatchedGemm(*h, transA != 0, transB != 0, batch, M, N, K, alpha, A, B, C);
}

void nnc_gpu_linear_fwd(const float *x, const float *w, const float *b, float *y, int64_t M,
                        int64_t in, int64_t out, int32_t epilogue) {
  const LibraryHandles *h = libraryHandles();
  if (!h || !deviceGemm(*h, false, true, M, out, in, 1.0f, x, in, w, in, 0.0f, y, out))
    return;
  if (!b && epilogue == 0)
    return;
  cudnnTensorDescriptor_t yDesc = rowsDescriptor(*h, M, out);
  cudnnTensorDescriptor_t bDesc = rowsDescriptor(*h, 1, out);
  if (yDesc && bDesc)
    biasAndRelu(*h, yDesc, y, bDesc, b, epilogue == 1);
}

void nnc_gpu_linear_bwd(const float *dy, const float *x, const float *w, float *dx, float *dw,
                        float *db, int64_t M, int64_t in, int64_t out) {
  const LibraryHandles *h = libraryHandles();
  if (!h)
    return;
  if (dx)
    deviceGemm(*h, false, false, M, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
  if (dw)
    deviceGemm(*h, true, false, out, in, M, 1.0f, dy, out, x, in, 0.0f, dw, in);
  if (db) {
    cudnnTensorDescriptor_t dyDesc = rowsDescriptor(*h, M, out);
    cudnnTensorDescriptor_t dbDesc = rowsDescriptor(*h, 1, out);
    const float one = 1.0f, zero = 0.0f;
    if (dyDesc && dbDesc)
      checkCudnn(
          *h,
          h->dnn.cudnnConvolutionBackwardBias(h->dnnHandle, &one, dyDesc, dy, &zero, dbDesc, db),
          "cudnnConvolutionBackwardBias");
  }
}

void nnc_gpu_conv2d_fwd(const float *x, const float *w, const float *b, float *y, void *scratch,
                        int64_t scratchBytes, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                        int64_t KH, int64_t KW, int64_t strideH, int64_t strideW, int64_t padH,
                        int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                        int32_t epilogue) {
  const LibraryHandles *h = libraryHandles();
  if (!h)
    return;
  ConvShape s{N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups};
  ConvPlan *plan = planFor(*h, s, scratchBytes);
  const ConvDescriptors *d = plan ? &plan->d : nullptr;
  if (!d || !choose(
                *h, plan->fwd, kCudnnFwdAlgoCount, scratchBytes,
                [&](int n, int *returned, CudnnAlgoPerf *perf) {
                  return h->dnn.cudnnGetConvolutionForwardAlgorithm_v7(
                      h->dnnHandle, d->x, d->w, d->conv, d->y, n, returned, perf);
                },
                "cudnnGetConvolutionForwardAlgorithm_v7")) {
    poison(y, N * O * s.outH() * s.outW());
    return;
  }
  const float one = 1.0f, zero = 0.0f;
  if (!checkCudnn(*h,
                  h->dnn.cudnnConvolutionForward(h->dnnHandle, &one, d->x, x, d->w, w, d->conv,
                                                 plan->fwd, scratch, size_t(scratchBytes), &zero,
                                                 d->y, y),
                  "cudnnConvolutionForward"))
    return;
  biasAndRelu(*h, d->y, y, d->bias, b, epilogue == 1);
}

void nnc_gpu_conv2d_bwd(const float *dy, const float *x, const float *w, float *dx, float *dw,
                        float *db, void *scratch, int64_t scratchBytes, int64_t N, int64_t C,
                        int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW, int64_t strideH,
                        int64_t strideW, int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                        int64_t groups) {
  const LibraryHandles *h = libraryHandles();
  if (!h)
    return;
  ConvShape s{N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups};
  ConvPlan *plan = planFor(*h, s, scratchBytes);
  const ConvDescriptors *d = plan ? &plan->d : nullptr;
  const float one = 1.0f, zero = 0.0f;
  if (dx) {
    if (d && choose(
                 *h, plan->bwdData, kCudnnBwdDataAlgoCount, scratchBytes,
                 [&](int n, int *returned, CudnnAlgoPerf *perf) {
                   return h->dnn.cudnnGetConvolutionBackwardDataAlgorithm_v7(
                       h->dnnHandle, d->w, d->y, d->conv, d->x, n, returned, perf);
                 },
                 "cudnnGetConvolutionBackwardDataAlgorithm_v7"))
      checkCudnn(*h,
                 h->dnn.cudnnConvolutionBackwardData(h->dnnHandle, &one, d->w, w, d->y, dy, d->conv,
                                                     plan->bwdData, scratch, size_t(scratchBytes),
                                                     &zero, d->x, dx),
                 "cudnnConvolutionBackwardData");
    else
      poison(dx, N * C * H * W);
  }
  if (dw) {
    if (d && choose(
                 *h, plan->bwdFilter, kCudnnBwdFilterAlgoCount, scratchBytes,
                 [&](int n, int *returned, CudnnAlgoPerf *perf) {
                   return h->dnn.cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                       h->dnnHandle, d->x, d->y, d->conv, d->w, n, returned, perf);
                 },
                 "cudnnGetConvolutionBackwardFilterAlgorithm_v7"))
      checkCudnn(*h,
                 h->dnn.cudnnConvolutionBackwardFilter(h->dnnHandle, &one, d->x, x, d->y, dy,
                                                       d->conv, plan->bwdFilter, scratch,
                                                       size_t(scratchBytes), &zero, d->w, dw),
                 "cudnnConvolutionBackwardFilter");
    else
      poison(dw, O * (C / groups) * KH * KW);
  }
  if (db && d)
    checkCudnn(
        *h, h->dnn.cudnnConvolutionBackwardBias(h->dnnHandle, &one, d->y, dy, &zero, d->bias, db),
        "cudnnConvolutionBackwardBias");
}

} // extern "C"
