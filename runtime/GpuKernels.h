//===- runtime/GpuKernels.h - C ABI of the GPU library ops -------*- C -*-===//
//
// Part of nnc. The functions that code generated for the GPU
// (-nn-lower-to-buffers{target=gpu}) calls for the library ops: convolution
// with cuDNN, GEMMs with cuBLAS, the recurrent layers' time loop. Each takes
// exactly the arguments of its CPU counterpart in runtime/Kernels.h
// (nnc_gpu_conv2d_fwd <-> nnc_conv2d_fwd, ...), whose conventions hold here
// too, with these differences:
//
//===----------------------------------------------------------------------===//
///
/// \file
/// - Every tensor pointer (and `scratch`, `reserve`) is a DEVICE address (in
///   the model's device arena); the pointer tables of the recurrent layers
///   (`weights`, `dweights`) are host arrays of device addresses.
/// - Every call only enqueues work on the process's one stream
///   (nnc::rt::gpu::stream(), runtime/Gpu.h) and returns; nothing
///   synchronizes, allocates device memory (beyond the one-time library
///   workspace below) or copies to the host, so a whole entry point can be
///   captured into a CUDA graph.
/// - cuDNN and cuBLAS are loaded with dlopen at the first call (through
///   runtime/Gpu.h); one handle of each per process, created then, bound to
///   the stream. If the GPU path is unavailable (gpu::unavailableReason()) or
///   a library call fails, the call reports the error (nnc_kernels_error) and
///   returns; Model::run turns it into an error after the entry.
/// - FP32 math throughout, no TF32: cuDNN's convolutions use
///   CUDNN_FMA_MATH, cuBLAS its default math (FP32 cublasSgemm does not use
///   tensor cores unless asked).
/// - Deterministic: only algorithms cuDNN reports as CUDNN_DETERMINISTIC are
///   chosen; cuBLAS GEMMs on one stream are deterministic for a given
///   workspace (cuBLAS documentation, "Results reproducibility").
///
/// NVIDIA references: cuDNN 9 API (docs.nvidia.com/deeplearning/cudnn/api/):
/// cudnnConvolutionForward, cudnnConvolutionBackwardData,
/// cudnnConvolutionBackwardFilter, cudnnConvolutionBackwardBias,
/// cudnnGetConvolution{Forward,BackwardData,BackwardFilter}Algorithm_v7,
/// cudnnAddTensor, cudnnActivationForward; cuBLAS
/// (docs.nvidia.com/cuda/cublas/): cublasSgemm, cublasSgeam,
/// cublasSetWorkspace, cublasSetStream.

#ifndef NNC_RUNTIME_GPUKERNELS_H
#define NNC_RUNTIME_GPUKERNELS_H

#include "runtime/Kernels.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//===----------------------------------------------------------------------===//
// Library workspaces
//===----------------------------------------------------------------------===//

/// Bytes of cuBLAS's workspace: one device allocation of this size, made
/// when the cuBLAS handle is created and set with cublasSetWorkspace (32 MiB,
/// NVIDIA's recommendation for Hopper; Ampere needs 4 MiB). It is the only
/// device memory the library ops use outside the arena.
int64_t nnc_gpu_library_workspace_bytes(void);

/// The convolution scratch rule, shared by the compiler (which plans the
/// scratch in the arena, with no GPU at hand) and the runtime (which keeps
/// cuDNN inside it). cuDNN tells an algorithm's workspace only on a device,
/// so the scratch is a cap instead: the bytes of the largest of the
/// convolution's tensors (x, w, y; their gradients have the same sizes),
/// at least 4 MiB and at most 256 MiB, rounded up to 64 bytes. That covers
/// the implicit precomputed GEMM and Winograd algorithms cuDNN usually
/// ranks first (their workspace is of the order of one tensor); FFT
/// algorithms that need more are passed over. At the first call of a shape
/// the runtime takes the first algorithm of cuDNN's heuristic ranking
/// (cudnnGetConvolution*Algorithm_v7: no trial runs, no allocation) that is
/// deterministic, uses FP32 math and whose workspace fits; the implicit-GEMM
/// algorithms (forward IMPLICIT_GEMM, backward data ALGO_1, backward filter
/// ALGO_1; workspace 0 or a few KiB) are the fallback. If even that does not
/// fit, the call reports the error and fills its outputs with NaN, as the
/// CPU's does.
int64_t nnc_gpu_conv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                         int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                         int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                         int64_t groups);
/// The same rule for nnc_gpu_conv2d_bwd (its backward data and backward
/// filter calls use the scratch one after the other).
int64_t nnc_gpu_conv2d_bwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                         int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                         int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                         int64_t groups);

//===----------------------------------------------------------------------===//
// GEMM and linear (cuBLAS; bias and relu with cuDNN)
//===----------------------------------------------------------------------===//

/// nnc_gemm on the device: one cublasSgemm, the row-major product computed as
/// the column-major one with the operands swapped (C^T = op(B)^T op(A)^T).
void nnc_gpu_gemm(int32_t transA, int32_t transB, int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                  int64_t ldc);
/// nnc_batch_matmul on the device: one cublasSgemmStridedBatched.
void nnc_gpu_batch_matmul(int32_t transA, int32_t transB, int64_t batch, int64_t M, int64_t N,
                          int64_t K, float alpha, const float *A, const float *B, float *C);
/// nnc_linear_fwd: cublasSgemm, then the bias broadcast over the rows with
/// cudnnAddTensor ([1,out,1,1] into [M,out,1,1]) and the relu epilogue with
/// cudnnActivationForward in place (NaN propagates).
void nnc_gpu_linear_fwd(const float *x, const float *w, const float *b, float *y, int64_t M,
                        int64_t in, int64_t out, int32_t epilogue);
/// nnc_linear_bwd: dx and dw with one cublasSgemm each, db with
/// cudnnConvolutionBackwardBias (the column sums of dy as [M,out,1,1]).
void nnc_gpu_linear_bwd(const float *dy, const float *x, const float *w, float *dx, float *dw,
                        float *db, int64_t M, int64_t in, int64_t out);

//===----------------------------------------------------------------------===//
// Conv2d (cuDNN; NCHW float; groups, stride, padding, dilation)
//===----------------------------------------------------------------------===//

/// nnc_conv2d_fwd: cudnnConvolutionForward into y, then cudnnAddTensor for the
/// bias and cudnnActivationForward for the relu epilogue (NaN propagates,
/// where the CPU's oneDNN post-op maps NaN to 0). `scratch` is cuDNN's
/// workspace (see nnc_gpu_conv2d_fwd_scratch_bytes). Descriptors and the
/// chosen algorithm are cached per shape for the life of the process.
void nnc_gpu_conv2d_fwd(const float *x, const float *w, const float *b, float *y, void *scratch,
                        int64_t scratchBytes, int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                        int64_t KH, int64_t KW, int64_t strideH, int64_t strideW, int64_t padH,
                        int64_t padW, int64_t dilH, int64_t dilW, int64_t groups, int32_t epilogue);
/// nnc_conv2d_bwd: cudnnConvolutionBackwardData (dx), BackwardFilter (dw),
/// BackwardBias (db), each only for a non-null output.
void nnc_gpu_conv2d_bwd(const float *dy, const float *x, const float *w, float *dx, float *dw,
                        float *db, void *scratch, int64_t scratchBytes, int64_t N, int64_t C,
                        int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW, int64_t strideH,
                        int64_t strideW, int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                        int64_t groups);

//===----------------------------------------------------------------------===//
// Recurrent layers
//===----------------------------------------------------------------------===//
// The time loop of runtime/KernelsRecurrent.cpp (runtime/RecurrentLoop.h),
// run on the host with device buffers: the input projection of all steps is
// one cublasSgemm, each step one recurrent cublasSgemm and one call of the
// generated step function with all N rows (on the GPU that function is a host
// function that launches its kernel on the stream); layout changes are
// cublasSgeam copies. Reserve and scratch are the CPU's
// (nnc_<rnn>_reserve_bytes, nnc_<rnn>_{fwd,bwd}_scratch_bytes), in device
// memory.

void nnc_gpu_rnn_fwd(const float *x, const float *const *weights, float *y, float *reserve,
                     void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                     int64_t L, int32_t bidir, int32_t hasBias, int32_t returnSequences,
                     int32_t relu);
void nnc_gpu_rnn_bwd(const float *dy, const float *x, const float *const *weights,
                     const float *reserve, float *dx, float *const *dweights, void *scratch,
                     nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L,
                     int32_t bidir, int32_t hasBias, int32_t returnSequences, int32_t relu);
void nnc_gpu_lstm_fwd(const float *x, const float *const *weights, float *y, float *reserve,
                      void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                      int64_t L, int32_t bidir, int32_t hasBias, int32_t returnSequences);
void nnc_gpu_lstm_bwd(const float *dy, const float *x, const float *const *weights,
                      const float *reserve, float *dx, float *const *dweights, void *scratch,
                      nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L,
                      int32_t bidir, int32_t hasBias, int32_t returnSequences);
void nnc_gpu_gru_fwd(const float *x, const float *const *weights, float *y, float *reserve,
                     void *scratch, nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H,
                     int64_t L, int32_t bidir, int32_t hasBias, int32_t returnSequences);
void nnc_gpu_gru_bwd(const float *dy, const float *x, const float *const *weights,
                     const float *reserve, float *dx, float *const *dweights, void *scratch,
                     nnc_step_fn step, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L,
                     int32_t bidir, int32_t hasBias, int32_t returnSequences);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // NNC_RUNTIME_GPUKERNELS_H
