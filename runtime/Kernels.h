//===- runtime/Kernels.h - C ABI of the training/inference kernels -*- C -*-===//
//
// Part of nnc. The functions generated code calls for library-backed layers,
// their backward passes, losses, elementwise helpers and optimizer updates.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Conventions (they hold for every function below unless it says otherwise):
///
/// - C ABI: `extern "C"`, plain pointers and `int64_t` sizes, no structs by
///   value. Tensors are f32, contiguous, row-major, in PyTorch layouts: NCHW
///   activations, OIHW conv weights, [out, in] linear weights, batch-first
///   sequences [N, T, F]. Integer ids and labels are int64; pooling argmax
///   indices are int32.
/// - Kernels never allocate from the heap. A kernel that needs scratch takes a
///   `scratch` pointer of at least `nnc_<kernel>_scratch_bytes(...)` bytes
///   (64-byte aligned is best; 16 is enough). The compiler calls the same
///   function at compile time to reserve the scratch in the arena. The one
///   exception is the convolution backend's per-shape primitive cache (see
///   nnc_conv2d_fwd): it is created at the first call with a new shape and
///   lives until nnc_kernels_release().
/// - Outputs never alias inputs unless the function says so. Optional outputs
///   (documented `|null`) may be null when not needed (e.g. dx of the first
///   layer). Gradients are OVERWRITTEN, never accumulated: the caller sums
///   fan-out gradients itself.
/// - Deterministic: the same inputs give bitwise the same outputs on the same
///   machine with the same thread count (fixed reduction orders, no atomics).
/// - User data is never trusted for memory safety: ids and labels out of
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
/// Frees the conv backend's primitive cache (optional; a later call rebuilds
/// what it needs).
void nnc_kernels_release(void);

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

/// y[M,out] = x[M,in] * w[out,in]^T + b[out]. `b` may be null.
void nnc_linear_fwd(const float *x, const float *w, const float *b, float *y,
                    int64_t M, int64_t in, int64_t out);
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

/// Scratch bytes nnc_conv2d_fwd needs for this shape.
int64_t nnc_conv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups);
/// y = conv2d(x, w) + b. `b` may be null.
void nnc_conv2d_fwd(const float *x, const float *w, const float *b, float *y,
                    void *scratch, int64_t N, int64_t C, int64_t H, int64_t W,
                    int64_t O, int64_t KH, int64_t KW, int64_t strideH,
                    int64_t strideW, int64_t padH, int64_t padW, int64_t dilH,
                    int64_t dilW, int64_t groups);
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
                    float *dw, float *db, void *scratch, int64_t N, int64_t C,
                    int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW,
                    int64_t strideH, int64_t strideW, int64_t padH, int64_t padW,
                    int64_t dilH, int64_t dilW, int64_t groups);

//===----------------------------------------------------------------------===//
// Pooling (floor mode; x [N,C,H,W] -> y [N,C,OH,OW],
// OH = (H + 2*padH - KH) / strideH + 1)
//===----------------------------------------------------------------------===//

/// Max pooling; padding acts as -inf. `indices` [N,C,OH,OW] receives the
/// argmax as h*W + w within its (n, c) plane (PyTorch's convention); the first
/// maximum in row-major window order wins; NaN propagates like PyTorch.
void nnc_maxpool2d_fwd(const float *x, float *y, int32_t *indices, int64_t N,
                       int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW,
                       int64_t strideH, int64_t strideW, int64_t padH,
                       int64_t padW);
/// dx [N,C,H,W] (overwritten) from dy and the forward's indices.
void nnc_maxpool2d_bwd(const float *dy, const int32_t *indices, float *dx,
                       int64_t N, int64_t C, int64_t H, int64_t W, int64_t KH,
                       int64_t KW, int64_t strideH, int64_t strideW,
                       int64_t padH, int64_t padW);
/// Average pooling, count_include_pad = true: every window divides by KH*KW.
void nnc_avgpool2d_fwd(const float *x, float *y, int64_t N, int64_t C,
                       int64_t H, int64_t W, int64_t KH, int64_t KW,
                       int64_t strideH, int64_t strideW, int64_t padH,
                       int64_t padW);
void nnc_avgpool2d_bwd(const float *dy, float *dx, int64_t N, int64_t C,
                       int64_t H, int64_t W, int64_t KH, int64_t KW,
                       int64_t strideH, int64_t strideW, int64_t padH,
                       int64_t padW);
/// y[N,C] = mean of x[N,C,S] over S (S = H*W).
void nnc_global_avgpool_fwd(const float *x, float *y, int64_t N, int64_t C,
                            int64_t S);
/// dx[N,C,S] = dy[N,C] / S.
void nnc_global_avgpool_bwd(const float *dy, float *dx, int64_t N, int64_t C,
                            int64_t S);

//===----------------------------------------------------------------------===//
// Batch normalization over dim 1 of a rank-2..4 tensor, viewed as [N, C, S]
// (S = product of the dims after C, 1 for rank 2).
//===----------------------------------------------------------------------===//

/// Training forward with batch statistics over (N, S):
///   mean = sum(x)/(N*S), var = sum((x-mean)^2)/(N*S) (biased),
///   y = (x - mean) * invstd * gamma + beta, invstd = 1/sqrt(var + eps);
///   runningMean = (1-momentum)*runningMean + momentum*mean,
///   runningVar  = (1-momentum)*runningVar + momentum*var*(N*S)/(N*S-1)
///   (unbiased; when N*S == 1 the unbiased variance is taken as var).
/// gamma/beta null = 1/0. runningMean/runningVar null = not tracked (updated
/// in place otherwise). savedMean/savedInvstd [C] are written for backward.
/// Statistics are accumulated in f64.
void nnc_batchnorm_train_fwd(const float *x, const float *gamma,
                             const float *beta, float *y, float *runningMean,
                             float *runningVar, float *savedMean,
                             float *savedInvstd, int64_t N, int64_t C,
                             int64_t S, float momentum, float eps);
/// Inference: y = (x - runningMean) / sqrt(runningVar + eps) * gamma + beta.
void nnc_batchnorm_infer_fwd(const float *x, const float *gamma,
                             const float *beta, const float *runningMean,
                             const float *runningVar, float *y, int64_t N,
                             int64_t C, int64_t S, float eps);
/// Backward of the training forward: dx (null: not needed), dgamma, dbeta
/// (null: not needed). gamma null = 1.
void nnc_batchnorm_bwd(const float *dy, const float *x, const float *gamma,
                       const float *savedMean, const float *savedInvstd,
                       float *dx, float *dgamma, float *dbeta, int64_t N,
                       int64_t C, int64_t S);

//===----------------------------------------------------------------------===//
// Embedding
//===----------------------------------------------------------------------===//

/// out[i, :] = table[ids[i], :] for i < numIds; table is [V, D]. An id outside
/// [0, V) is clamped into it (never read out of bounds); returns the number of
/// such ids (0 = all valid). The caller decides whether that is an error.
int64_t nnc_embedding_fwd(const int64_t *ids, const float *table, float *out,
                          int64_t numIds, int64_t V, int64_t D);
/// dtable [V, D] is overwritten: zero, then dout rows summed into the rows of
/// their (clamped) ids in index order. Returns the count of clamped ids.
int64_t nnc_embedding_bwd(const int64_t *ids, const float *dout, float *dtable,
                          int64_t numIds, int64_t V, int64_t D);

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
//   takes `bwd`. The runtime does the time loop and the GEMMs.
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
// Losses
//===----------------------------------------------------------------------===//

/// Scratch bytes for nnc_cross_entropy_fwd (per-row losses, reduced in a fixed
/// order).
int64_t nnc_cross_entropy_fwd_scratch_bytes(int64_t N, int64_t C);
/// Mean softmax cross entropy of logits [N,C] against labels [N] (class ids):
/// *loss = mean over rows of logsumexp(row) - row[label]; *correct = number of
/// rows whose argmax (first maximum) equals the label. A label outside [0, C)
/// (e.g. -100, the padding rows of a partial batch) is ignored like PyTorch's
/// ignore_index: the mean is over the valid rows only; returns the count of
/// ignored labels. `correct` may be null.
int64_t nnc_cross_entropy_fwd(const float *logits, const int64_t *labels,
                              int64_t N, int64_t C, float *loss,
                              int64_t *correct, void *scratch);
/// dlogits = (softmax(logits) - onehot(label)) / V, V = number of rows with a
/// valid label; a row with an invalid label gets zeros. Returns the
/// invalid-label count.
int64_t nnc_cross_entropy_bwd(const float *logits, const int64_t *labels,
                              float *dlogits, int64_t N, int64_t C);
/// *loss = mean((pred - target)^2) over n elements (accumulated in f64).
void nnc_mse_fwd(const float *pred, const float *target, int64_t n,
                 float *loss);
/// dpred = 2 * (pred - target) / n.
void nnc_mse_bwd(const float *pred, const float *target, float *dpred,
                 int64_t n);

//===----------------------------------------------------------------------===//
// Elementwise helpers (y may alias x; dx may alias dy)
//===----------------------------------------------------------------------===//

void nnc_relu_fwd(const float *x, float *y, int64_t n);
/// dx = x > 0 ? dy : 0.
void nnc_relu_bwd(const float *dy, const float *x, float *dx, int64_t n);
void nnc_sigmoid_fwd(const float *x, float *y, int64_t n);
/// From the forward's output: dx = dy * y * (1 - y).
void nnc_sigmoid_bwd(const float *dy, const float *y, float *dx, int64_t n);
void nnc_tanh_fwd(const float *x, float *y, int64_t n);
/// From the forward's output: dx = dy * (1 - y^2).
void nnc_tanh_bwd(const float *dy, const float *y, float *dx, int64_t n);
/// Exact GELU: y = x * 0.5 * (1 + erf(x / sqrt(2))).
void nnc_gelu_fwd(const float *x, float *y, int64_t n);
/// dx = dy * (Phi(x) + x * phi(x)).
void nnc_gelu_bwd(const float *dy, const float *x, float *dx, int64_t n);
/// y = x > 0 ? x : slope * x.
void nnc_leaky_relu_fwd(const float *x, float *y, int64_t n, float slope);
void nnc_leaky_relu_bwd(const float *dy, const float *x, float *dx, int64_t n,
                        float slope);
/// Softmax over the last dim of [rows, cols]. (Models do not call the
/// softmax kernels: codegen/LowerSoftmax.cpp generates softmax over any
/// dimension; these remain as the unit tests' reference.)
void nnc_softmax_fwd(const float *x, float *y, int64_t rows, int64_t cols);
/// From the output: dx = y * (dy - sum(dy * y)).
void nnc_softmax_bwd(const float *dy, const float *y, float *dx, int64_t rows,
                     int64_t cols);
void nnc_log_softmax_fwd(const float *x, float *y, int64_t rows, int64_t cols);
/// From the output: dx = dy - exp(y) * sum(dy).
void nnc_log_softmax_bwd(const float *dy, const float *y, float *dx,
                         int64_t rows, int64_t cols);
/// y = a + b (y may alias a or b).
void nnc_add(const float *a, const float *b, float *y, int64_t n);

/// Dropout with a counter-based RNG: element i is kept iff
/// u(seed, offset + i) >= p, where u(s, c) = (mix64(s, c) >> 40) * 2^-24 in
/// [0, 1) and mix64 is SplitMix64's finalizer applied to
/// s * 0x9E3779B97F4A7C15 ^ c (see KernelsElementwise.cpp). mask[i] = kept;
/// y = kept ? x / (1 - p) : 0. The same (seed, offset) always gives the same
/// mask, independent of thread count, so a resumed run reproduces it: the
/// caller advances offset by n per call. p >= 1 drops everything.
void nnc_dropout_fwd(const float *x, float *y, uint8_t *mask, int64_t n,
                     float p, uint64_t seed, uint64_t offset);
/// Only the mask: mask[i] as in nnc_dropout_fwd.
void nnc_dropout_mask(uint8_t *mask, int64_t n, float p, uint64_t seed,
                      uint64_t offset);
/// dx = mask ? dy / (1 - p) : 0.
void nnc_dropout_bwd(const float *dy, const uint8_t *mask, float *dx,
                     int64_t n, float p);

//===----------------------------------------------------------------------===//
// Optimizer updates (in place; formulas of torch.optim 1.13, single-tensor,
// maximize = false, amsgrad = false). `step` counts from 1.
//===----------------------------------------------------------------------===//

/// Plain SGD: g = grad + weightDecay * param; param -= lr * g.
void nnc_sgd_update(float *param, const float *grad, int64_t n, float lr,
                    float weightDecay);
/// SGD with momentum: g = grad + weightDecay * param;
/// buf = (step == 1) ? g : momentum * buf + (1 - dampening) * g;
/// g = nesterov ? g + momentum * buf : buf; param -= lr * g.
void nnc_momentum_update(float *param, const float *grad, float *buf,
                         int64_t n, float lr, float momentum, float dampening,
                         float weightDecay, int32_t nesterov, int64_t step);
/// Adam / AdamW:
///   adamw: param *= 1 - lr * weightDecay (torch.optim.AdamW);
///   else:  g = grad + weightDecay * param (torch.optim.Adam's L2 term)
///   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g
///   bc1 = 1 - beta1^step;  bc2 = 1 - beta2^step   (computed in f64)
///   param += (-(lr / bc1) * m) / (sqrt(v) / sqrt(bc2) + eps)
void nnc_adam_update(float *param, const float *grad, float *m, float *v,
                     int64_t n, float lr, float beta1, float beta2, float eps,
                     float weightDecay, int32_t adamw, int64_t step);

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
