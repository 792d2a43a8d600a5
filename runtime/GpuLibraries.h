//===- GpuLibraries.h - cuDNN and cuBLAS, loaded at run time -----*- C++ -*-===//
//
// Part of nnc's runtime; private to runtime/GpuKernels*.cpp and their tests.
// The few cuDNN and cuBLAS types, constants and functions the GPU library ops
// use, declared by hand (the runtime builds without CUDA headers) from
// NVIDIA's API references:
//   cuDNN 9:  https://docs.nvidia.com/deeplearning/cudnn/api/latest/api/cudnn-graph-library.html
//             https://docs.nvidia.com/deeplearning/cudnn/api/latest/api/cudnn-ops-library.html
//             https://docs.nvidia.com/deeplearning/cudnn/api/latest/api/cudnn-cnn-library.html
//   cuBLAS:   https://docs.nvidia.com/cuda/cublas/#cublas-level-3-function-reference
// Handles and descriptors are opaque pointers, enums are ints, every call
// returns a status (0 = success). test/unit/GpuKernelsTest.cpp checks the
// constants and the perf-struct layouts against cudnn.h and cublas_v2.h where
// the toolkit is installed.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_GPULIBRARIES_H
#define NNC_RUNTIME_GPULIBRARIES_H

#include "runtime/Gpu.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace nnc::rt::gpu {

//===----------------------------------------------------------------------===//
// cuDNN
//===----------------------------------------------------------------------===//

using cudnnStatus_t = int;
using cudnnHandle_t = struct cudnnContext *;
using cudnnTensorDescriptor_t = struct cudnnTensorStruct *;
using cudnnFilterDescriptor_t = struct cudnnFilterStruct *;
using cudnnConvolutionDescriptor_t = struct cudnnConvolutionStruct *;
using cudnnActivationDescriptor_t = struct cudnnActivationStruct *;

constexpr cudnnStatus_t kCudnnSuccess = 0;   // CUDNN_STATUS_SUCCESS
constexpr int kCudnnTensorNchw = 0;          // CUDNN_TENSOR_NCHW
constexpr int kCudnnDataFloat = 0;           // CUDNN_DATA_FLOAT
constexpr int kCudnnCrossCorrelation = 1;    // CUDNN_CROSS_CORRELATION
constexpr int kCudnnFmaMath = 3;             // CUDNN_FMA_MATH (no TF32)
constexpr int kCudnnActivationRelu = 1;      // CUDNN_ACTIVATION_RELU
constexpr int kCudnnPropagateNan = 1;        // CUDNN_PROPAGATE_NAN
constexpr int kCudnnDeterministic = 1;       // CUDNN_DETERMINISTIC
constexpr int kCudnnFwdAlgoImplicitGemm = 0; // CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM
constexpr int kCudnnBwdDataAlgo1 = 1;        // CUDNN_CONVOLUTION_BWD_DATA_ALGO_1
constexpr int kCudnnBwdFilterAlgo1 = 1;      // CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1
constexpr int kCudnnFwdAlgoCount = 8;        // CUDNN_CONVOLUTION_FWD_ALGO_COUNT
constexpr int kCudnnBwdDataAlgoCount = 6;    // CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT
constexpr int kCudnnBwdFilterAlgoCount = 7;  // CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT

/// cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t (one layout for all
/// three): an algorithm, whether it applies, its expected time, workspace,
/// determinism and math type.
struct CudnnAlgoPerf {
  int algo;
  cudnnStatus_t status;
  float time;
  size_t memory;
  int determinism;
  int mathType;
  int reserved[3];
};

/// The cuDNN functions the runtime calls, resolved by dlsym.
struct Cudnn {
  size_t (*cudnnGetVersion)();
  const char *(*cudnnGetErrorString)(cudnnStatus_t status);
  cudnnStatus_t (*cudnnCreate)(cudnnHandle_t *handle);
  cudnnStatus_t (*cudnnSetStream)(cudnnHandle_t handle, CUstream stream);
  cudnnStatus_t (*cudnnCreateTensorDescriptor)(cudnnTensorDescriptor_t *desc);
  cudnnStatus_t (*cudnnSetTensor4dDescriptor)(cudnnTensorDescriptor_t desc, int format,
                                              int dataType, int n, int c, int h, int w);
  cudnnStatus_t (*cudnnDestroyTensorDescriptor)(cudnnTensorDescriptor_t desc);
  cudnnStatus_t (*cudnnCreateFilterDescriptor)(cudnnFilterDescriptor_t *desc);
  cudnnStatus_t (*cudnnSetFilter4dDescriptor)(cudnnFilterDescriptor_t desc, int dataType,
                                              int format, int k, int c, int h, int w);
  cudnnStatus_t (*cudnnDestroyFilterDescriptor)(cudnnFilterDescriptor_t desc);
  cudnnStatus_t (*cudnnCreateConvolutionDescriptor)(cudnnConvolutionDescriptor_t *desc);
  cudnnStatus_t (*cudnnSetConvolution2dDescriptor)(cudnnConvolutionDescriptor_t desc, int padH,
                                                   int padW, int strideH, int strideW, int dilH,
                                                   int dilW, int mode, int computeType);
  cudnnStatus_t (*cudnnSetConvolutionGroupCount)(cudnnConvolutionDescriptor_t desc, int groups);
  cudnnStatus_t (*cudnnSetConvolutionMathType)(cudnnConvolutionDescriptor_t desc, int mathType);
  cudnnStatus_t (*cudnnGetConvolution2dForwardOutputDim)(cudnnConvolutionDescriptor_t conv,
                                                         cudnnTensorDescriptor_t x,
                                                         cudnnFilterDescriptor_t w, int *n, int *c,
                                                         int *h, int *wOut);
  cudnnStatus_t (*cudnnDestroyConvolutionDescriptor)(cudnnConvolutionDescriptor_t desc);
  cudnnStatus_t (*cudnnGetConvolutionForwardAlgorithm_v7)(cudnnHandle_t, cudnnTensorDescriptor_t x,
                                                          cudnnFilterDescriptor_t w,
                                                          cudnnConvolutionDescriptor_t conv,
                                                          cudnnTensorDescriptor_t y, int requested,
                                                          int *returned, CudnnAlgoPerf *perf);
  cudnnStatus_t (*cudnnGetConvolutionBackwardDataAlgorithm_v7)(
      cudnnHandle_t, cudnnFilterDescriptor_t w, cudnnTensorDescriptor_t dy,
      cudnnConvolutionDescriptor_t conv, cudnnTensorDescriptor_t dx, int requested, int *returned,
      CudnnAlgoPerf *perf);
  cudnnStatus_t (*cudnnGetConvolutionBackwardFilterAlgorithm_v7)(
      cudnnHandle_t, cudnnTensorDescriptor_t x, cudnnTensorDescriptor_t dy,
      cudnnConvolutionDescriptor_t conv, cudnnFilterDescriptor_t dw, int requested, int *returned,
      CudnnAlgoPerf *perf);
  cudnnStatus_t (*cudnnConvolutionForward)(cudnnHandle_t, const void *alpha,
                                           cudnnTensorDescriptor_t xDesc, const void *x,
                                           cudnnFilterDescriptor_t wDesc, const void *w,
                                           cudnnConvolutionDescriptor_t conv, int algo,
                                           void *workspace, size_t workspaceBytes, const void *beta,
                                           cudnnTensorDescriptor_t yDesc, void *y);
  cudnnStatus_t (*cudnnConvolutionBackwardData)(cudnnHandle_t, const void *alpha,
                                                cudnnFilterDescriptor_t wDesc, const void *w,
                                                cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                cudnnConvolutionDescriptor_t conv, int algo,
                                                void *workspace, size_t workspaceBytes,
                                                const void *beta, cudnnTensorDescriptor_t dxDesc,
                                                void *dx);
  cudnnStatus_t (*cudnnConvolutionBackwardFilter)(cudnnHandle_t, const void *alpha,
                                                  cudnnTensorDescriptor_t xDesc, const void *x,
                                                  cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                  cudnnConvolutionDescriptor_t conv, int algo,
                                                  void *workspace, size_t workspaceBytes,
                                                  const void *beta, cudnnFilterDescriptor_t dwDesc,
                                                  void *dw);
  cudnnStatus_t (*cudnnConvolutionBackwardBias)(cudnnHandle_t, const void *alpha,
                                                cudnnTensorDescriptor_t dyDesc, const void *dy,
                                                const void *beta, cudnnTensorDescriptor_t dbDesc,
                                                void *db);
  cudnnStatus_t (*cudnnAddTensor)(cudnnHandle_t, const void *alpha, cudnnTensorDescriptor_t aDesc,
                                  const void *a, const void *beta, cudnnTensorDescriptor_t cDesc,
                                  void *c);
  cudnnStatus_t (*cudnnCreateActivationDescriptor)(cudnnActivationDescriptor_t *desc);
  cudnnStatus_t (*cudnnSetActivationDescriptor)(cudnnActivationDescriptor_t desc, int mode,
                                                int nanOpt, double coef);
  cudnnStatus_t (*cudnnActivationForward)(cudnnHandle_t, cudnnActivationDescriptor_t desc,
                                          const void *alpha, cudnnTensorDescriptor_t xDesc,
                                          const void *x, const void *beta,
                                          cudnnTensorDescriptor_t yDesc, void *y);
};

//===----------------------------------------------------------------------===//
// cuBLAS
//===----------------------------------------------------------------------===//

using cublasStatus_t = int;
using cublasHandle_t = struct cublasContext *;

constexpr cublasStatus_t kCublasSuccess = 0; // CUBLAS_STATUS_SUCCESS
constexpr int kCublasOpN = 0;                // CUBLAS_OP_N
constexpr int kCublasOpT = 1;                // CUBLAS_OP_T
constexpr int kCublasDefaultMath = 0;        // CUBLAS_DEFAULT_MATH (FP32 sgemm: no TF32)

/// The cuBLAS functions the runtime calls, resolved by dlsym (the `_v2` names
/// are those cublas_v2.h maps the plain names to).
struct Cublas {
  cublasStatus_t (*cublasCreate_v2)(cublasHandle_t *handle);
  cublasStatus_t (*cublasSetStream_v2)(cublasHandle_t handle, CUstream stream);
  cublasStatus_t (*cublasSetWorkspace_v2)(cublasHandle_t handle, void *workspace, size_t bytes);
  cublasStatus_t (*cublasSetMathMode)(cublasHandle_t handle, int mode);
  const char *(*cublasGetStatusString)(cublasStatus_t status);
  cublasStatus_t (*cublasSgemm_v2)(cublasHandle_t, int transa, int transb, int m, int n, int k,
                                   const float *alpha, const float *A, int lda, const float *B,
                                   int ldb, const float *beta, float *C, int ldc);
  cublasStatus_t (*cublasSgemmStridedBatched)(cublasHandle_t, int transa, int transb, int m, int n,
                                              int k, const float *alpha, const float *A, int lda,
                                              long long strideA, const float *B, int ldb,
                                              long long strideB, const float *beta, float *C,
                                              int ldc, long long strideC, int batchCount);
  cublasStatus_t (*cublasSgeam)(cublasHandle_t, int transa, int transb, int m, int n,
                                const float *alpha, const float *A, int lda, const float *beta,
                                const float *B, int ldb, float *C, int ldc);
};

/// Resolves every function of the table from the dlopen handle `library`;
/// false, with `error` naming the first missing symbol, if one is absent.
bool loadCudnn(void *library, Cudnn &table, std::string &error);
bool loadCublas(void *library, Cublas &table, std::string &error);

//===----------------------------------------------------------------------===//
// Row-major GEMM as cuBLAS's column-major call
//===----------------------------------------------------------------------===//

/// The arguments of cublasSgemm for a row-major product. A row-major [R, C]
/// matrix with row stride ld is, read column-major, its transpose [C, R]
/// with the same ld; so row-major C = op(A) op(B) is column-major
/// C^T = op(B)^T op(A)^T: the call swaps the operands (and M with N) and
/// keeps each operand's own transpose flag.
struct ColumnMajorGemm {
  int transa, transb; ///< kCublasOpN / kCublasOpT
  int64_t m, n, k;
  const float *A; ///< the row-major B
  int64_t lda;
  const float *B; ///< the row-major A
  int64_t ldb;
  float *C;
  int64_t ldc;
};

/// Row-major C[M,N] = op(A)[M,K] op(B)[K,N] (nnc_gemm's arguments) as a
/// column-major cuBLAS call.
inline ColumnMajorGemm toColumnMajor(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                                     const float *A, int64_t lda, const float *B, int64_t ldb,
                                     float *C, int64_t ldc) {
  return {transB ? kCublasOpT : kCublasOpN,
          transA ? kCublasOpT : kCublasOpN,
          N,
          M,
          K,
          B,
          ldb,
          A,
          lda,
          C,
          ldc};
}

/// The arguments of the cublasSgeam (C = 1 * op(A) + 0 * op(B), no
/// transposes) that copies `rows` row-major rows of `cols` floats from `src`
/// (row stride srcLd) to `dst` (row stride dstLd): column-major, the rows are
/// the `n` columns of `m` elements.
struct ColumnMajorCopy {
  int64_t m, n;
  const float *A;
  int64_t lda;
  float *C;
  int64_t ldc;
};
inline ColumnMajorCopy copyAsGeam(const float *src, int64_t srcLd, float *dst, int64_t dstLd,
                                  int64_t rows, int64_t cols) {
  return {cols, rows, src, srcLd, dst, dstLd};
}

//===----------------------------------------------------------------------===//
// Convolution descriptors and algorithm choice
//===----------------------------------------------------------------------===//

/// The 14 shape arguments of the conv functions (runtime/Kernels.h).
struct ConvShape {
  int64_t N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups;
  /// nnc's output size rule (PyTorch's, floor division).
  int64_t outH() const { return (H + 2 * padH - dilH * (KH - 1) - 1) / strideH + 1; }
  int64_t outW() const { return (W + 2 * padW - dilW * (KW - 1) - 1) / strideW + 1; }
};

/// The cuDNN descriptors of one convolution shape: x [N,C,H,W], w
/// [O,C/groups,KH,KW], y [N,O,OH,OW], the bias [1,O,1,1], and the
/// convolution (cross-correlation, FP32 compute, FMA math, `groups`).
struct ConvDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr, bias = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
};

/// Creates `d` for `shape` and checks that cuDNN's output size
/// (cudnnGetConvolution2dForwardOutputDim) is nnc's; needs no device. On
/// failure returns false with `error` set and `d` destroyed.
bool createConvDescriptors(const Cudnn &dnn, const ConvShape &shape, ConvDescriptors &d,
                           std::string &error);
/// Destroys what createConvDescriptors created.
void destroyConvDescriptors(const Cudnn &dnn, ConvDescriptors &d);

/// The algorithm to run among cuDNN's heuristic ranking `perf[0..count)`
/// (best first): the first that applies (status success), is deterministic,
/// uses FP32 math (CUDNN_DEFAULT_MATH or CUDNN_FMA_MATH, which FP32 data
/// with an FMA_MATH descriptor means no TF32) and needs at most
/// `workspaceBytes`; -1 if none does.
int chooseAlgorithm(const CudnnAlgoPerf *perf, int count, int64_t workspaceBytes);

//===----------------------------------------------------------------------===//
// The process's handles, and device operations for the library ops
//===----------------------------------------------------------------------===//

/// The loaded libraries and the process's handles, bound to stream().
struct LibraryHandles {
  Cudnn dnn;
  Cublas blas;
  cudnnHandle_t dnnHandle;
  cublasHandle_t blasHandle;
  /// A relu activation descriptor (NaN propagates).
  cudnnActivationDescriptor_t relu;
};

/// The handles, created at the first call (thread-safe) with cuBLAS's
/// workspace (nnc_gpu_library_workspace_bytes); the calling thread's context
/// made current. Null, with the reason reported (nnc_kernels_error), if the
/// GPU path is unavailable or a library cannot be set up.
const LibraryHandles *libraryHandles();

/// Records "<what>: <cuDNN's message>" as the kernels' error on failure.
bool checkCudnn(const LibraryHandles &h, cudnnStatus_t status, const char *what);
/// Records "<what>: <cuBLAS's message>" as the kernels' error on failure.
bool checkCublas(const LibraryHandles &h, cublasStatus_t status, const char *what);

/// Row-major C = alpha op(A) op(B) + beta C on the stream (cublasSgemm).
bool deviceGemm(const LibraryHandles &h, bool transA, bool transB, int64_t M, int64_t N, int64_t K,
                float alpha, const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                float *C, int64_t ldc);
/// Row-major C[b] = alpha op(A[b]) op(B[b]) for b < batch, contiguous
/// matrices (nnc_batch_matmul's arguments): one cublasSgemmStridedBatched.
bool deviceBatchedGemm(const LibraryHandles &h, bool transA, bool transB, int64_t batch, int64_t M,
                       int64_t N, int64_t K, float alpha, const float *A, const float *B, float *C);
/// Sets `n` floats at device address `p` to `value` on the stream.
bool deviceFill(float *p, int64_t n, float value);
/// Copies `rows` rows of `cols` floats from `src` (row stride srcLd) to
/// `dst` (row stride dstLd), device to device on the stream (cublasSgeam
/// with beta 0: a strided copy in one call).
bool deviceCopy2d(const LibraryHandles &h, const float *src, int64_t srcLd, float *dst,
                  int64_t dstLd, int64_t rows, int64_t cols);

} // namespace nnc::rt::gpu

#endif // NNC_RUNTIME_GPULIBRARIES_H
