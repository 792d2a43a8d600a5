//===- runtime/RecurrentLoop.h - The recurrent layers' time loop -*- C++ -*-===//
//
// Part of nnc; private to the runtime. Batch-first, multi-layer, optionally
// bidirectional recurrent layers with PyTorch's weight layouts: the runtime
// runs the time loop and the GEMMs; the pointwise gate math of each step
// (biases included) is a function the compiler generates
// (codegen/LinalgRecurrent.cpp), called through a pointer. Inside, everything
// is time-major ([T, N, ...]), so one step's rows are contiguous for its GEMM
// and its step function.
//
// Forward per layer and direction: one GEMM projects the inputs of all time
// steps, then each step does one recurrent GEMM (LSTM and RNN accumulate it
// into the step's projections) and one call of the step function. Backward
// runs the steps in reverse: the step function, then one GEMM for the
// recurrent gradient; then the weight and bias gradients and the input gradient
// with one GEMM each over all steps (fixed reduction order: deterministic).
//
// The loop is written once for both devices: `Ops` supplies the memory
// operations and GEMMs (the CPU's in KernelsRecurrent.cpp: oneDNN and
// threads over batch rows; the GPU's in GpuKernelsRecurrent.cpp: cuBLAS on
// the stream, all rows at once). It provides
//   void gemm(bool transA, bool transB, M, N, K, alpha, A, lda, B, ldb, beta,
//             C, ldc)                         row-major, like nnc_gemm;
//   void fill(float *p, int64_t n, float v);
//   void copy2d(const float *src, int64_t srcLd, float *dst, int64_t dstLd,
//               int64_t rows, int64_t cols);   rows of `cols` floats;
//   template <class Body> void forRowRanges(int64_t N, Body body)
//                                             body(r0, n) over a cover of [0,N);
//   class RecurrentGemm(Ops &, bool transB, N, K, B, ldb, lda, ldc, batch)
//     with run(M, A, beta, C): the per-step products with one B (C[M,N] =
//     A op(B) + beta C).
//
// Reserve: the training op's `saved` result, [L*D, T, N, S*H] (docs/dialect.md):
// per layer and direction, per step and row, S*H floats:
//   LSTM: i, f, g, o (after activation), c, h  -> S = 6
//   GRU:  r, z, n (after activation), W_hn h + b_hn, h -> S = 5
//   RNN:  h -> S = 1
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_RECURRENTLOOP_H
#define NNC_RUNTIME_RECURRENTLOOP_H

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

namespace nnc::kernels::recurrent {

using nnc::kernels::alignUp;
using nnc::kernels::ScratchCursor;

enum class Cell { RnnTanh, RnnRelu, Lstm, Gru };

/// A [rows, cols] view with row stride `stride` (0: every row is the same),
/// passed to a generated function as MLIR passes a rank-2 memref.
struct View {
  float *p;
  int64_t rows, cols, stride;
};
/// Rows [r0, r0 + n) of `v`.
inline View rowRange(View v, int64_t r0, int64_t n) {
  return {v.p ? v.p + r0 * v.stride : nullptr, n, v.cols, v.stride};
}
/// A rank-1 view of `n` floats.
struct Vec {
  float *p;
  int64_t n;
};

/// Sizes and layout of one recurrent call.
struct Rec {
  Cell cell;
  int64_t N, T, F, H, L, D, G, S;
  bool bias, seq;

  Rec(Cell cell, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L, int32_t bidir,
      int32_t hasBias = 1, int32_t returnSequences = 1)
      : cell(cell), N(N), T(T), F(F), H(H), L(L), D(bidir ? 2 : 1), G(cell == Cell::Lstm  ? 4
                                                                      : cell == Cell::Gru ? 3
                                                                                          : 1),
        S(cell == Cell::Lstm  ? 6
          : cell == Cell::Gru ? 5
                              : 1),
        bias(hasBias != 0), seq(returnSequences != 0) {}

  int64_t gh() const { return G * H; }
  int64_t dh() const { return D * H; }
  int64_t sh() const { return S * H; }
  int64_t inSize(int64_t l) const { return l == 0 ? F : D * H; }
  int64_t maxIn() const { return std::max(F, D * H); }
  /// Floats of one layer and direction's saved state.
  int64_t savedFloats() const { return T * N * sh(); }
  /// Index of weight_ih of (l, d) in the weights array.
  int64_t weightIndex(int64_t l, int64_t d) const { return (l * D + d) * (bias ? 4 : 2); }

  int64_t reserveBytes() const { return L * D * savedFloats() * 4; }
  float *saved(float *reserve, int64_t l, int64_t d) const {
    return reserve + (l * D + d) * savedFloats();
  }

  // Forward scratch: x time-major [T*N, F], XP [T*N, GH], HP [N, GH],
  // c [N, H], zeros [GH]; in inference also the layer outputs [T*N, D*H]
  // (two alternating ones for stacked layers).
  int64_t fwdScratchBytes(bool train) const {
    return alignUp(T * N * F * 4) + alignUp(T * N * gh() * 4) + alignUp(N * gh() * 4) +
           alignUp(N * H * 4) + alignUp(gh() * 4) +
           (train ? 0 : std::min<int64_t>(L, 2) * alignUp(T * N * dh() * 4));
  }
  // Backward scratch: x time-major [T*N, F], two alternating output/input
  // gradients [T*N, maxIn], dXP (and for GRU dHP) [T*N, GH], dhRec, dcRec
  // [N, H], zeros [GH], ones [T*N].
  int64_t bwdScratchBytes() const {
    return alignUp(T * N * F * 4) + 2 * alignUp(T * N * maxIn() * 4) +
           (cell == Cell::Gru ? 2 : 1) * alignUp(T * N * gh() * 4) + 2 * alignUp(N * H * 4) +
           alignUp(gh() * 4) + alignUp(T * N * 4);
  }
};

/// A view's arguments in MLIR's memref calling convention: allocated and
/// aligned pointers, offset, sizes, strides.
inline std::tuple<float *, float *, int64_t, int64_t, int64_t, int64_t, int64_t>
memrefArgs(View v) {
  return {v.p, v.p, 0, v.rows, v.cols, v.stride, 1};
}
inline std::tuple<float *, float *, int64_t, int64_t, int64_t> memrefArgs(Vec v) {
  return {v.p, v.p, 0, v.n, 1};
}

/// Calls the generated step function `fn` on `views`.
template <typename... Views> void callStep(nnc_step_fn fn, Views... views) {
  std::apply([fn](auto... args) { reinterpret_cast<void (*)(decltype(args)...)>(fn)(args...); },
             std::tuple_cat(memrefArgs(views)...));
}

/// The per-step products C[M, N] = A op(B) + beta C as plain `Ops::gemm`
/// calls on B (an Ops' RecurrentGemm where nothing is packed).
template <typename Ops> class UnpackedGemm {
public:
  UnpackedGemm(Ops &ops, bool transB, int64_t N, int64_t K, const float *B, int64_t ldb,
               int64_t lda, int64_t ldc, int64_t /*batch*/)
      : ops(ops), transB(transB), N(N), K(K), B(B), ldb(ldb), lda(lda), ldc(ldc) {}
  void run(int64_t M, const float *A, float beta, float *C) const {
    ops.gemm(false, transB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
  }

private:
  Ops &ops;
  bool transB;
  int64_t N, K;
  const float *B;
  int64_t ldb, lda, ldc;
};

/// dst[b, a, :] = src[a, b, :] for a [A, B, W] array: min(A, B) strided
/// copies (one call each on the device).
template <typename Ops>
void swapMajor(Ops &ops, const float *src, float *dst, int64_t A, int64_t B, int64_t W) {
  if (A <= B) {
    for (int64_t a = 0; a < A; ++a)
      ops.copy2d(src + a * B * W, W, dst + a * W, A * W, B, W);
    return;
  }
  for (int64_t b = 0; b < B; ++b)
    ops.copy2d(src + b * W, B * W, dst + b * A * W, W, A, W);
}

/// The hidden states of one layer and direction, time-major: h at step t is
/// the [N, H] block at p + t*N*ld with row stride ld.
struct HSeq {
  float *p;
  int64_t ld;
};

template <typename Ops>
void recurrentFwd(Ops &ops, const Rec &r, const float *x, const float *const *weights, float *y,
                  float *reserve, void *scratch, nnc_step_fn step) {
  const int64_t N = r.N, T = r.T, H = r.H, GH = r.gh(), DH = r.dh();
  const int64_t SH = r.sh(), NT = N * T;
  ScratchCursor cur(scratch);
  float *xT = cur.take(NT * r.F);
  float *XP = cur.take(NT * GH);
  float *HP = cur.take(N * GH);
  float *cState = cur.take(N * H);
  float *zeros = cur.take(GH);
  float *outs[2] = {nullptr, nullptr};
  if (!reserve)
    for (int64_t i = 0; i < std::min<int64_t>(r.L, 2); ++i)
      outs[i] = cur.take(NT * DH);
  ops.fill(zeros, GH, 0.0f);
  swapMajor(ops, x, xT, N, T, r.F);

  // Training: h is the last block of the saved state; inference: the layer
  // outputs [T, N, D*H].
  auto hOf = [&](int64_t l, int64_t d) {
    return reserve ? HSeq{r.saved(reserve, l, d) + (r.S - 1) * H, SH}
                   : HSeq{outs[l % 2] + d * H, DH};
  };
  View zeroState{zeros, N, H, 0};
  for (int64_t l = 0; l < r.L; ++l) {
    const int64_t inSz = r.inSize(l);
    for (int64_t d = 0; d < r.D; ++d) {
      const int64_t wi = r.weightIndex(l, d);
      const float *Wih = weights[wi], *Whh = weights[wi + 1];
      Vec bih{r.bias ? const_cast<float *>(weights[wi + 2]) : zeros, GH};
      Vec bhh{r.bias ? const_cast<float *>(weights[wi + 3]) : zeros, GH};
      float *E = reserve ? r.saved(reserve, l, d) : nullptr;

      // XP = in * Wih^T over all steps (the step function adds the biases).
      if (l == 0) {
        ops.gemm(false, true, NT, GH, r.F, 1.0f, xT, r.F, Wih, r.F, 0.0f, XP, GH);
      } else {
        for (int64_t di = 0; di < r.D; ++di) {
          HSeq in = hOf(l - 1, di);
          ops.gemm(false, true, NT, GH, H, 1.0f, in.p, in.ld, Wih + di * H, inSz,
                   di == 0 ? 0.0f : 1.0f, XP, GH);
        }
      }
      HSeq hs = hOf(l, d);
      // The recurrent GEMM of every step: [rows, H] * Whh^T.
      typename Ops::RecurrentGemm whhT(ops, true, GH, H, Whh, H, hs.ld, GH, N);
      ops.forRowRanges(N, [&](int64_t r0, int64_t n) {
        // This thread's rows of a view of all N.
        auto mine = [&](View v) { return rowRange(v, r0, n); };
        if (r.cell == Cell::Lstm && !E)
          ops.fill(cState + r0 * H, n * H, 0.0f);
        for (int64_t s = 0; s < T; ++s) {
          const int64_t t = d == 0 ? s : T - 1 - s;
          const int64_t tp = d == 0 ? t - 1 : t + 1;
          float *hPrev = s > 0 ? hs.p + (tp * N + r0) * hs.ld : nullptr;
          View xp = mine({XP + t * N * GH, N, GH, GH});
          View h = mine({hs.p + t * N * hs.ld, N, H, hs.ld});
          View savedT = mine({E ? E + t * N * SH : nullptr, N, SH, SH});
          View hPrevView = hPrev ? View{hPrev, n, H, hs.ld} : mine(zeroState);
          switch (r.cell) {
          case Cell::Lstm:
            // gates += hPrev * Whh^T, then the cell.
            if (hPrev)
              whhT.run(n, hPrev, 1.0f, xp.p);
            if (!E)
              callStep(step, xp, bih, bhh, mine({cState, N, H, H}), h);
            else
              callStep(step, xp, bih, bhh,
                       s > 0 ? mine({E + tp * N * SH + 4 * H, N, H, SH}) : mine(zeroState), savedT);
            break;
          case Cell::Gru: {
            // HP = hPrev * Whh^T.
            float *hp = HP + r0 * GH;
            if (hPrev)
              whhT.run(n, hPrev, 0.0f, hp);
            else
              ops.fill(hp, n * GH, 0.0f);
            callStep(step, xp, View{hp, n, GH, GH}, bih, bhh, hPrevView, E ? savedT : h);
            break;
          }
          case Cell::RnnTanh:
          case Cell::RnnRelu:
            if (hPrev)
              whhT.run(n, hPrev, 1.0f, xp.p);
            callStep(step, xp, bih, bhh, h);
            break;
          }
        }
      });
    }
  }

  // y from the top layer's hidden states.
  for (int64_t d = 0; d < r.D; ++d) {
    HSeq hs = hOf(r.L - 1, d);
    if (r.seq) {
      for (int64_t t = 0; t < T; ++t)
        ops.copy2d(hs.p + t * N * hs.ld, hs.ld, y + t * DH + d * H, T * DH, N, H);
      continue;
    }
    const int64_t last = d == 0 ? T - 1 : 0;
    ops.copy2d(hs.p + last * N * hs.ld, hs.ld, y + d * H, DH, N, H);
  }
}

template <typename Ops>
void recurrentBwd(Ops &ops, const Rec &r, const float *dy, const float *x,
                  const float *const *weights, const float *reserveC, float *dx,
                  float *const *dweights, void *scratch, nnc_step_fn step) {
  const int64_t N = r.N, T = r.T, H = r.H, GH = r.gh(), DH = r.dh();
  const int64_t SH = r.sh(), NT = N * T;
  // The reserve is only read; the layout helpers take a mutable pointer.
  float *reserve = const_cast<float *>(reserveC);
  ScratchCursor cur(scratch);
  float *xT = cur.take(NT * r.F);
  float *bufA = cur.take(NT * r.maxIn());
  float *bufB = cur.take(NT * r.maxIn());
  float *dXP = cur.take(NT * GH);
  float *dHP = r.cell == Cell::Gru ? cur.take(NT * GH) : dXP;
  float *dhRec = cur.take(N * H);
  float *dcRec = cur.take(N * H);
  float *zeros = cur.take(GH);
  float *ones = cur.take(NT);
  ops.fill(zeros, GH, 0.0f);
  ops.fill(ones, NT, 1.0f);
  View zeroState{zeros, N, H, 0};
  auto hOf = [&](int64_t l, int64_t d) { return HSeq{r.saved(reserve, l, d) + (r.S - 1) * H, SH}; };

  // dOut of the top layer, time-major [T, N, D*H].
  float *dOut = bufA;
  if (r.seq) {
    swapMajor(ops, dy, dOut, N, T, DH);
  } else {
    ops.fill(dOut, NT * DH, 0.0f);
    for (int64_t d = 0; d < r.D; ++d) {
      const int64_t last = d == 0 ? T - 1 : 0;
      ops.copy2d(dy + d * H, DH, dOut + last * N * DH + d * H, DH, N, H);
    }
  }

  for (int64_t l = r.L - 1; l >= 0; --l) {
    const int64_t inSz = r.inSize(l);
    if (l == 0 && dweights)
      swapMajor(ops, x, xT, N, T, r.F); // for dW_ih
    // The gradient of this layer's input, time-major [T, N, inSz].
    float *dIn = (l > 0 || dx) ? (dOut == bufA ? bufB : bufA) : nullptr;
    for (int64_t d = 0; d < r.D; ++d) {
      const int64_t wi = r.weightIndex(l, d);
      const float *Wih = weights[wi], *Whh = weights[wi + 1];
      float *E = r.saved(reserve, l, d);
      HSeq hs = hOf(l, d);
      // The recurrent gradient of every step: [rows, GH] * Whh.
      typename Ops::RecurrentGemm whh(ops, false, H, GH, Whh, H, GH, H, N);
      ops.forRowRanges(N, [&](int64_t r0, int64_t n) {
        // This thread's rows of a view of all N.
        auto mine = [&](View v) { return rowRange(v, r0, n); };
        ops.fill(dhRec + r0 * H, n * H, 0.0f);
        ops.fill(dcRec + r0 * H, n * H, 0.0f);
        for (int64_t s = T - 1; s >= 0; --s) {
          const int64_t t = d == 0 ? s : T - 1 - s;
          const int64_t tp = d == 0 ? t - 1 : t + 1;
          View go = mine({dOut + t * N * DH + d * H, N, H, DH});
          View dh = mine({dhRec, N, H, H});
          View savedT = mine({E + t * N * SH, N, SH, SH});
          View dxp = mine({dXP + t * N * GH, N, GH, GH});
          switch (r.cell) {
          case Cell::Lstm:
            callStep(step, go, dh, savedT,
                     mine(s > 0 ? View{E + tp * N * SH + 4 * H, N, H, SH} : zeroState),
                     mine({dcRec, N, H, H}), dxp);
            break;
          case Cell::Gru:
            callStep(step, go, dh, savedT,
                     mine(s > 0 ? View{hs.p + tp * N * hs.ld, N, H, hs.ld} : zeroState), dxp,
                     mine({dHP + t * N * GH, N, GH, GH}));
            break;
          case Cell::RnnTanh:
          case Cell::RnnRelu:
            callStep(step, go, dh, mine({hs.p + t * N * hs.ld, N, H, hs.ld}), dxp);
            break;
          }
          if (s == 0)
            break;
          // dhRec = dHP_t * Whh (GRU: + the direct term dh * z, which the
          // step function left in dhRec).
          whh.run(n, dHP + (t * N + r0) * GH, r.cell == Cell::Gru ? 1.0f : 0.0f, dh.p);
        }
      });

      float *const *dw = dweights ? dweights + wi : nullptr;
      if (dw && dw[1]) {
        // dWhh = sum over steps after the first of dHP_t^T h_prev: time-major,
        // those are (T-1)*N consecutive rows of both.
        const float *g = d == 0 ? dHP + N * GH : dHP;
        const float *hp = d == 0 ? hs.p : hs.p + N * hs.ld;
        ops.gemm(true, false, GH, H, (T - 1) * N, 1.0f, g, GH, hp, hs.ld, 0.0f, dw[1], H);
      }
      if (dw && dw[0]) {
        if (l == 0) {
          ops.gemm(true, false, GH, r.F, NT, 1.0f, dXP, GH, xT, r.F, 0.0f, dw[0], r.F);
        } else {
          for (int64_t di = 0; di < r.D; ++di) {
            HSeq in = hOf(l - 1, di);
            ops.gemm(true, false, GH, H, NT, 1.0f, dXP, GH, in.p, in.ld, 0.0f, dw[0] + di * H,
                     inSz);
          }
        }
      }
      // The bias gradients: column sums over all steps, as GEMMs with a row
      // of ones.
      if (dw && r.bias && dw[2])
        ops.gemm(false, false, 1, GH, NT, 1.0f, ones, NT, dXP, GH, 0.0f, dw[2], GH);
      if (dw && r.bias && dw[3]) {
        // LSTM and RNN: dHP is dXP, so the sums are the same.
        if (dHP == dXP && dw[2])
          ops.copy2d(dw[2], GH, dw[3], GH, 1, GH);
        else
          ops.gemm(false, false, 1, GH, NT, 1.0f, ones, NT, dHP, GH, 0.0f, dw[3], GH);
      }
      if (dIn)
        ops.gemm(false, false, NT, inSz, GH, 1.0f, dXP, GH, Wih, inSz, d == 0 ? 0.0f : 1.0f, dIn,
                 inSz);
    }
    if (l > 0)
      dOut = dIn;
    else if (dx)
      swapMajor(ops, dIn, dx, T, N, r.F);
  }
}

} // namespace nnc::kernels::recurrent

#endif // NNC_RUNTIME_RECURRENTLOOP_H
