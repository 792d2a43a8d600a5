//===- runtime/Kernels.h - C ABI of the training/inference kernels -*- C -*-===//
//
// Part of nnc. The functions generated code calls for library-backed layers,
// their backward passes (everything else is generated code).
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Conventions (they hold for every function below unless it says otherwise):
///
/// - C ABI: `extern "C"`, plain pointers and `int64_t` sizes, no structs by
///   value. Tensors are f32, contiguous, row-major, in PyTorch layouts: NCHW
///   activations, OIHW conv weights, [out, in] linear weights, batch-first
///   sequences [N, T, F]. Integer ids and labels are int64.
/// - Kernels never allocate from the heap. A kernel that needs scratch takes a
///   `scratch` pointer of at least `nnc_<kernel>_scratch_bytes(...)` bytes,
///   64-byte aligned (the arena aligns every region so): some of oneDNN's
///   kernels use aligned loads on it, and the f32 conv backward at 128 x 256
///   x 4 x 4 -> 512 crashed on a 16-byte aligned scratch. The compiler calls the same
///   function at compile time to reserve the scratch in the arena. The one
///   exception is the oneDNN backend's primitive cache (see nnc_conv2d_fwd
///   and the int8 kernels): small objects created at the first call with a
///   new shape (int8: new shape and scales), and copies of the weights
///   reordered into oneDNN's layout (kept while the weights' bytes are
///   unchanged, up to 8 per primitive of at most 1 MiB each), kept until
///   nnc_kernels_release(); their workspace is the scratch.
/// - Outputs never alias inputs unless the function says so. Optional outputs
///   (documented `|null`) may be null when not needed (e.g. dx of the first
///   layer). Gradients are OVERWRITTEN, never accumulated: the caller sums
///   fan-out gradients itself.
/// - Deterministic: the same inputs give bitwise the same outputs on the same
///   machine with the same thread count (fixed reduction orders, no atomics).
/// - User data is never trusted for memory safety: ids out of
///   range are clamped or skipped and counted in a returned error count.
///   Shapes are trusted (the compiler verified them).
///
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_KERNELS_H
#define NNC_RUNTIME_KERNELS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//===----------------------------------------------------------------------===//
// Threading and lifetime
//===----------------------------------------------------------------------===//

/// Sets the number of threads all kernels use (OpenMP, the BLAS and the conv
/// backend). `n <= 0` restores the default: the number of online cores.
void nnc_set_num_threads(int32_t n);
/// The thread count kernels use now.
int32_t nnc_get_num_threads(void);
/// Frees the conv and int8 backends' primitive caches of the calling thread
/// (optional; a later call rebuilds what it needs).
void nnc_kernels_release(void);
/// The first error a kernel reported since the last nnc_kernels_clear_error(),
/// or NULL. A kernel reports what it cannot compute on this machine (a
/// convolution whose oneDNN primitive needs more scratch than the compiler
/// planned: see nnc_conv2d_fwd) and fills its outputs with NaN instead;
/// Model::run turns the report into an error.
const char *nnc_kernels_error(void);
/// Forgets the recorded error.
void nnc_kernels_clear_error(void);

//===----------------------------------------------------------------------===//
// GEMM and linear
//===----------------------------------------------------------------------===//

/// Row-major C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, where
/// op(X) = X^T when trans* != 0. Leading dimensions are row strides of the
/// matrices as stored (A is [M,K] with lda >= K, or [K,M] with lda >= M when
/// transposed). beta == 0 ignores C's old contents (NaNs included).
void nnc_gemm(int32_t transA, int32_t transB, int64_t M, int64_t N, int64_t K,
              float alpha, const float *A, int64_t lda, const float *B,
              int64_t ldb, float beta, float *C, int64_t ldc);

/// y[M,out] = x[M,in] * w[out,in]^T + b[out], then the epilogue: 0 none,
/// 1 relu (y = max(y, 0); NaN stays NaN). `b` may be null.
void nnc_linear_fwd(const float *x, const float *w, const float *b, float *y,
                    int64_t M, int64_t in, int64_t out, int32_t epilogue);
/// Batched row-major C[b] = alpha op(A[b]) op(B[b]) for b < batch; each
/// matrix contiguous: A [M,K] ([K,M] with transA), B [K,N] ([N,K] with
/// transB), C [M,N] overwritten (nn.batch_matmul: attention's products).
void nnc_batch_matmul(int32_t transA, int32_t transB, int64_t batch, int64_t M, int64_t N,
                      int64_t K, float alpha, const float *A, const float *B, float *C);
/// dx[M,in] = dy * w; dw[out,in] = dy^T * x; db[out] = sum over rows of dy.
/// dx, dw and db may each be null; dw and db are overwritten.
void nnc_linear_bwd(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, float *db, int64_t M, int64_t in, int64_t out);

//===----------------------------------------------------------------------===//
// Conv2d (PyTorch Conv2d: groups, stride, padding, dilation)
//===----------------------------------------------------------------------===//
// Shapes: x [N,C,H,W], w [O,C/groups,KH,KW], b [O], y [N,O,OH,OW] with
// OH = (H + 2*padH - dilH*(KH-1) - 1) / strideH + 1 (floor), same for OW.
// The same 14 shape arguments follow the tensors in every conv function.
// The backend is oneDNN's convolution primitives (created at the first call
// with a shape and thread count, cached per thread; weights reordered into
// their layout are kept while unchanged). Their workspace is the
// caller's scratch of `scratchBytes` bytes, which the compiler sizes with
// nnc_conv2d_*_scratch_bytes on the building machine for the larger of the
// current thread count and the number of online cores. If the primitive
// needs more on the running machine (another CPU, more threads), the call
// computes nothing: it reports the error (nnc_kernels_error) and fills its
// outputs with NaN. It never allocates scratch itself.

/// Scratch bytes nnc_conv2d_fwd needs for this shape (any bias, epilogue).
int64_t nnc_conv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups);
/// y = conv2d(x, w) + b, then the epilogue: 0 none, 1 relu (a oneDNN
/// post-op, which maps NaN to 0 where a separate relu keeps NaN). `b` may be
/// null.
void nnc_conv2d_fwd(const float *x, const float *w, const float *b, float *y,
                    void *scratch, int64_t scratchBytes, int64_t N, int64_t C,
                    int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW,
                    int64_t strideH, int64_t strideW, int64_t padH,
                    int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                    int32_t epilogue);
/// Scratch bytes nnc_conv2d_bwd needs for this shape (enough for any choice of
/// null outputs).
int64_t nnc_conv2d_bwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups);
/// Input gradient dx [N,C,H,W] (null: not needed), weight gradient dw (null:
/// not needed) and bias gradient db [O] (null: no bias) from dy [N,O,OH,OW].
void nnc_conv2d_bwd(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, float *db, void *scratch, int64_t scratchBytes,
                    int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                    int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                    int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                    int64_t groups);

//===----------------------------------------------------------------------===//
// Int8 (post-training static quantization; docs/quantization.md)
//===----------------------------------------------------------------------===//
// Int8 tensors are bytes: x is read as u8 [0,255] if xUnsigned, else s8;
// weights are s8 (symmetric, per output channel). Real values:
//   x_real = (x - xZeroPoint) * xScale, w_real[o,...] = w[o,...] * wScale[o]
//   y_f[o] = xScale * wScale[o] * sum_int32(x - xZeroPoint) * w + b[o]
// (padding is a real 0, i.e. x = xZeroPoint), then the epilogue (1: relu),
// then by yType: 0 y is f32 y_f; 1 y is s8 sat(roundeven(y_f / yScale) +
// yZeroPoint) in [-128,127]; 2 y is u8, the same in [0,255]. `b` may be null.
// xScale, wScale[o] and (int8 y) yScale must be positive and finite.
// Layouts and shapes are those of the f32 conv2d and linear (NCHW/OIHW,
// [M,in]/[out,in]), and so are the backend's conventions (oneDNN primitives
// cached per thread, shape and output scales, i.e. per layer, weights'
// reordered copies kept while their bytes are unchanged, workspace in the caller's scratch, an
// error report and an output of NaN (f32) or 0 bytes (int8) when it cannot run). Accumulation is
// exact (int32); the f32 result differs from the exact one by a few f32 ulps, an int8 result by at
// most 1 unit (rounding of a value near a tie).

/// Scratch bytes nnc_qconv2d_fwd needs for this shape, input and output type
/// (any bias, epilogue, zero points, scales).
int64_t nnc_qconv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                      int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                      int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                      int64_t groups, int32_t xUnsigned, int32_t yType);
/// y = conv2d(x, w) as above; x [N,C,H,W], w [O,C/groups,KH,KW], wScale [O],
/// b [O] f32, y [N,O,OH,OW] of yType.
void nnc_qconv2d_fwd(const int8_t *x, const int8_t *w, const float *wScale, const float *b, void *y,
                     void *scratch, int64_t scratchBytes, int64_t N, int64_t C, int64_t H,
                     int64_t W, int64_t O, int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                     int64_t padH, int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                     float xScale, int32_t xZeroPoint, int32_t xUnsigned, int32_t epilogue,
                     int32_t yType, float yScale, int32_t yZeroPoint);
/// Scratch bytes nnc_qlinear_fwd needs for this shape, input and output type.
int64_t nnc_qlinear_fwd_scratch_bytes(int64_t M, int64_t in, int64_t out, int32_t xUnsigned,
                                      int32_t yType);
/// y[M,out] = x[M,in] * w[out,in]^T as above; wScale [out], b [out] f32.
void nnc_qlinear_fwd(const int8_t *x, const int8_t *w, const float *wScale, const float *b, void *y,
                     void *scratch, int64_t scratchBytes, int64_t M, int64_t in, int64_t out,
                     float xScale, int32_t xZeroPoint, int32_t xUnsigned, int32_t epilogue,
                     int32_t yType, float yScale, int32_t yZeroPoint);
/// The oneDNN implementations the int8 kernels have run so far, e.g.
/// "conv: brgconv:avx512_core_amx_int8; matmul: brg:avx512_core_amx_int8" (each distinct
/// one once, in order of first use; "" before any). The string stays valid
/// until the next int8 kernel call.
const char *nnc_int8_implementations(void);

//===----------------------------------------------------------------------===//
// Mixed precision (bf16/f16 models; docs/design.md "Reduced precision")
//===----------------------------------------------------------------------===//
// The conv2d and linear kernels of a model whose float type is bf16 or f16:
// the same tensors, layouts and shape arguments as the f32 ones (all tensors
// f32: master weights, activations, gradients), a caller scratch sized by the
// *_mixed_scratch_bytes function for the same precision, and the inputs (x,
// w, dy) read in `precision` with f32 accumulation and f32 outputs, as
// PyTorch's autocast computes. NNC_PRECISION_BF16: oneDNN bf16 primitives
// (the conversion is their reorder into the scratch; weights' converted copies
// are kept as the f32 conv keeps its reordered ones). NNC_PRECISION_F16:
// oneDNN 2.6 has no f16 primitives on the CPU, so the inputs are rounded to
// f16 (nearest even; beyond f16's range +-inf) into the scratch and the f32
// kernels run on them. NNC_PRECISION_F32 is the f32 kernel. The bias
// gradient is summed in f32. Another precision code is reported
// (nnc_kernels_error) and the outputs are NaN.

#define NNC_PRECISION_F32 0
#define NNC_PRECISION_BF16 1
#define NNC_PRECISION_F16 2

int64_t nnc_conv2d_fwd_mixed_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                           int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                           int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                           int64_t groups, int32_t precision);
void nnc_conv2d_fwd_mixed(const float *x, const float *w, const float *b, float *y, void *scratch,
                          int64_t scratchBytes, int64_t N, int64_t C, int64_t H, int64_t W,
                          int64_t O, int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                          int64_t padH, int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                          int32_t epilogue, int32_t precision);
int64_t nnc_conv2d_bwd_mixed_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                           int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                           int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                           int64_t groups, int32_t precision);
void nnc_conv2d_bwd_mixed(const float *dy, const float *x, const float *w, float *dx, float *dw,
                          float *db, void *scratch, int64_t scratchBytes, int64_t N, int64_t C,
                          int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW, int64_t strideH,
                          int64_t strideW, int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                          int64_t groups, int32_t precision);
int64_t nnc_linear_fwd_mixed_scratch_bytes(int64_t M, int64_t in, int64_t out, int32_t precision);
void nnc_linear_fwd_mixed(const float *x, const float *w, const float *b, float *y, void *scratch,
                          int64_t scratchBytes, int64_t M, int64_t in, int64_t out,
                          int32_t epilogue, int32_t precision);
int64_t nnc_linear_bwd_mixed_scratch_bytes(int64_t M, int64_t in, int64_t out, int32_t precision);
void nnc_linear_bwd_mixed(const float *dy, const float *x, const float *w, float *dx, float *dw,
                          float *db, void *scratch, int64_t scratchBytes, int64_t M, int64_t in,
                          int64_t out, int32_t precision);
/// Dynamic loss scaling of f16 training (docs/training.md "Loss scaling"):
/// the f16 backward kernels (conv2d, linear) round `scale` * dy to f16 and
/// divide their f32 results (dx, dw, db) by `scale`. Outside these kernels the
/// model computes in f32, so with a power-of-two scale this is exactly what
/// scaling the loss and unscaling the gradients does to the f16 operands; an
/// f16 overflow (inf) reaches the gradients, which the training loop detects.
/// A scale that is not positive and finite sets 1 (the default). Process-wide.
void nnc_set_loss_scale(float scale);
float nnc_get_loss_scale(void);
/// The oneDNN implementations the bf16 kernels created so far, e.g. "conv
/// fwd: brgconv:avx512_core_amx_bf16; matmul: brg:avx512_core_amx_bf16"
/// (each once, in order; "" before any). Valid until the next such call.
const char *nnc_mixed_implementations(void);

//===----------------------------------------------------------------------===//
// Recurrent layers: RNN (tanh|relu), LSTM (gates i,f,g,o), GRU (gates r,z,n)
//===----------------------------------------------------------------------===//
// Common arguments:
//   x [N,T,F] batch-first input; H hidden size; L layers; bidir 0|1 (D = 1+bidir);
//   hasBias 0|1; returnSequences 1: y [N,T,D*H] (both directions
//   concatenated per step), 0: y [N,D*H] = the final hidden state of the top
//   layer, forward direction (after step T-1) then reverse (after step 0).
//   weights: pointer array in PyTorch state_dict order: for l in layers, for d
//   in (forward, reverse): weight_ih [G*H, in_l], weight_hh [G*H, H], then if
//   hasBias bias_ih [G*H], bias_hh [G*H]; in_0 = F, in_l = D*H. (G = 1 RNN,
//   4 LSTM, 3 GRU.) So the array has L*D*(hasBias ? 4 : 2) entries.
//   Initial states are zero.
//   reserve: the state saved by forward for backward, laid out as the
//   training op's `saved` result (docs/dialect.md; nnc_<rnn>_reserve_bytes
//   is its size). Null in inference (the forward then saves nothing).
//   scratch: nnc_<rnn>_{fwd,bwd}_scratch_bytes (train: 1 when the forward
//   gets a reserve); need not survive between calls.
//   step: the compiler-generated function of one time step's pointwise gate
//   math (codegen/LinalgRecurrent.cpp lists the signatures): the forward takes
//   the `fwd` variant in inference, `fwd_train` with a reserve; the backward
//   takes `bwd`. The runtime does the time loop and the GEMMs. Its row count
//   is dynamic: with several threads (nnc_set_num_threads) each thread runs
//   the whole time loop on its own range of batch rows and calls `step` on
//   those rows only (the rows of a recurrent layer are independent).
// Backward: dy has y's shape; dx [N,T,F] (null: not needed); dweights is a
// pointer array like weights (overwritten; the array may be null for no
// weight gradients, and single entries may be null).
// GRU follows PyTorch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
// h' = (1 - z) * n + z * h.

/// A generated step function (its real signature takes memrefs in MLIR's
/// calling convention; the runtime casts it).
typedef void (*nnc_step_fn)(void);

int64_t nnc_rnn_reserve_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                              int64_t L, int32_t bidir);
int64_t nnc_rnn_fwd_scratch_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                                  int64_t L, int32_t bidir, int32_t train);
int64_t nnc_rnn_bwd_scratch_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                                  int64_t L, int32_t bidir);
/// relu 0: tanh nonlinearity, 1: relu (the step functions differ too).
void nnc_rnn_fwd(const float *x, const float *const *weights, float *y,
                 float *reserve, void *scratch, nnc_step_fn step, int64_t N,
                 int64_t T, int64_t F, int64_t H, int64_t L, int32_t bidir,
                 int32_t hasBias, int32_t returnSequences, int32_t relu);
void nnc_rnn_bwd(const float *dy, const float *x, const float *const *weights,
                 const float *reserve, float *dx, float *const *dweights,
                 void *scratch, nnc_step_fn step, int64_t N, int64_t T,
                 int64_t F, int64_t H, int64_t L, int32_t bidir,
                 int32_t hasBias, int32_t returnSequences, int32_t relu);

int64_t nnc_lstm_reserve_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                               int64_t L, int32_t bidir);
int64_t nnc_lstm_fwd_scratch_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                                   int64_t L, int32_t bidir, int32_t train);
int64_t nnc_lstm_bwd_scratch_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                                   int64_t L, int32_t bidir);
void nnc_lstm_fwd(const float *x, const float *const *weights, float *y,
                  float *reserve, void *scratch, nnc_step_fn step, int64_t N,
                  int64_t T, int64_t F, int64_t H, int64_t L, int32_t bidir,
                  int32_t hasBias, int32_t returnSequences);
void nnc_lstm_bwd(const float *dy, const float *x, const float *const *weights,
                  const float *reserve, float *dx, float *const *dweights,
                  void *scratch, nnc_step_fn step, int64_t N, int64_t T,
                  int64_t F, int64_t H, int64_t L, int32_t bidir,
                  int32_t hasBias, int32_t returnSequences);

int64_t nnc_gru_reserve_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                              int64_t L, int32_t bidir);
int64_t nnc_gru_fwd_scratch_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                                  int64_t L, int32_t bidir, int32_t train);
int64_t nnc_gru_bwd_scratch_bytes(int64_t N, int64_t T, int64_t F, int64_t H,
                                  int64_t L, int32_t bidir);
void nnc_gru_fwd(const float *x, const float *const *weights, float *y,
                 float *reserve, void *scratch, nnc_step_fn step, int64_t N,
                 int64_t T, int64_t F, int64_t H, int64_t L, int32_t bidir,
                 int32_t hasBias, int32_t returnSequences);
void nnc_gru_bwd(const float *dy, const float *x, const float *const *weights,
                 const float *reserve, float *dx, float *const *dweights,
                 void *scratch, nnc_step_fn step, int64_t N, int64_t T,
                 int64_t F, int64_t H, int64_t L, int32_t bidir,
                 int32_t hasBias, int32_t returnSequences);

//===----------------------------------------------------------------------===//

//===----------------------------------------------------------------------===//
// Numerics checks (nnc train --check-numerics)
//===----------------------------------------------------------------------===//

/// Records `op` as the first op of this step with a NaN or Inf among the n
/// values at p, unless an earlier op was already recorded. Code built with
/// --check-numerics calls it after every floating-point op result.
void nnc_check_finite(const float *p, int64_t n, int64_t op);
/// Forgets the recorded op (call before each step).
void nnc_numerics_reset(void);
/// The first op recorded since the last reset, or -1.
int64_t nnc_numerics_first(void);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // NNC_RUNTIME_KERNELS_H
