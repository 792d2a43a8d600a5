//===- runtime/KernelsRecurrent.cpp - RNN, LSTM and GRU kernels -----------===//
//
// Part of nnc. Batch-first, multi-layer, optionally bidirectional recurrent
// layers with PyTorch's weight layouts. Forward per layer and direction: one
// GEMM projects the inputs of all time steps (biases folded in), then each
// step does one recurrent GEMM and a fused pointwise cell update. Backward
// runs the steps in reverse with one GEMM per step for the recurrent
// gradient, then computes the weight gradients and the input gradient with
// one GEMM each over all steps (fixed reduction order: deterministic).
//
// Reserve layout (private; the size is nnc_<rnn>_reserve_bytes):
//   for each layer l: the layer's output [N, T, D*H] (the next layer's input
//   and every step's h);
//   for each layer l and direction d: per step t and row n, `extra` floats:
//   LSTM: i, f, g, o (after activation), c  -> 5H
//   GRU:  r, z, n (after activation), W_hn h + b_hn -> 4H
//   RNN:  nothing (h is in the layer output).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <algorithm>
#include <cstring>

using namespace nnc::kernels;

namespace {

enum class Cell { RnnTanh, RnnRelu, Lstm, Gru };

/// Sizes and layout of one recurrent call.
struct Rec {
  Cell cell;
  int64_t N, T, F, H, L, D, G;
  bool bias, seq;

  Rec(Cell cell, int64_t N, int64_t T, int64_t F, int64_t H, int64_t L,
      int32_t bidir, int32_t hasBias = 1, int32_t returnSequences = 1)
      : cell(cell), N(N), T(T), F(F), H(H), L(L), D(bidir ? 2 : 1),
        G(cell == Cell::Lstm  ? 4
          : cell == Cell::Gru ? 3
                              : 1),
        bias(hasBias != 0), seq(returnSequences != 0) {}

  int64_t gh() const { return G * H; }
  int64_t dh() const { return D * H; }
  int64_t inSize(int64_t l) const { return l == 0 ? F : D * H; }
  int64_t maxIn() const { return std::max(F, D * H); }
  int64_t extraCols() const {
    return cell == Cell::Lstm ? 5 * H : cell == Cell::Gru ? 4 * H : 0;
  }
  int64_t layerOutFloats() const { return N * T * D * H; }
  int64_t extraFloats() const { return T * N * extraCols(); }
  /// Index of weight_ih of (l, d) in the weights array.
  int64_t weightIndex(int64_t l, int64_t d) const {
    return (l * D + d) * (bias ? 4 : 2);
  }

  int64_t reserveBytes() const {
    return L * alignUp(layerOutFloats() * 4) +
           L * D * alignUp(extraFloats() * 4);
  }
  float *layerOut(float *reserve, int64_t l) const {
    return reinterpret_cast<float *>(reinterpret_cast<char *>(reserve) +
                                     l * alignUp(layerOutFloats() * 4));
  }
  float *extra(float *reserve, int64_t l, int64_t d) const {
    return reinterpret_cast<float *>(reinterpret_cast<char *>(reserve) +
                                     L * alignUp(layerOutFloats() * 4) +
                                     (l * D + d) * alignUp(extraFloats() * 4));
  }

  // Forward scratch: XP [N*T, GH], HP [N, GH], c [N, H], gates [N, extra],
  // two ping-pong layer outputs (used when there is no reserve).
  int64_t fwdScratchBytes() const {
    return alignUp(N * T * gh() * 4) + alignUp(N * gh() * 4) +
           alignUp(N * H * 4) + alignUp(N * extraCols() * 4) +
           2 * alignUp(layerOutFloats() * 4);
  }
  // Backward scratch: dOut and dIn ping-pong [N*T, maxIn], dXP and dHP
  // [N*T, GH], Hprev [N*T, H], dhRec, dcRec, dhDirect [N, H].
  int64_t bwdScratchBytes() const {
    return 2 * alignUp(N * T * maxIn() * 4) + 2 * alignUp(N * T * gh() * 4) +
           alignUp(N * T * H * 4) + 3 * alignUp(N * H * 4);
  }
};

constexpr int64_t kPointwiseGrain = 4096;

/// Column sums of a [rows, cols] matrix into out, rows added in order
/// (deterministic, vectorized over columns).
void colSums(const float *a, int64_t rows, int64_t cols, float *out) {
  std::memset(out, 0, sizeof(float) * cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      out[j] += a[i * cols + j];
}

void recurrentFwd(const Rec &r, const float *x, const float *const *weights,
                  float *y, float *reserve, void *scratch) {
  const int64_t N = r.N, T = r.T, H = r.H, GH = r.gh(), DH = r.dh();
  const int64_t EC = r.extraCols();
  ScratchCursor cur(scratch);
  float *XP = cur.take(N * T * GH);
  float *HP = cur.take(N * GH);
  float *cState = cur.take(N * H);
  float *gatesTmp = cur.take(N * EC);
  float *ping[2] = {cur.take(r.layerOutFloats()), cur.take(r.layerOutFloats())};

  const float *in = x;
  float *out = nullptr;
  for (int64_t l = 0; l < r.L; ++l) {
    const int64_t inSz = r.inSize(l);
    out = reserve ? r.layerOut(reserve, l) : ping[l % 2];
    for (int64_t d = 0; d < r.D; ++d) {
      const int64_t wi = r.weightIndex(l, d);
      const float *Wih = weights[wi], *Whh = weights[wi + 1];
      const float *bih = r.bias ? weights[wi + 2] : nullptr;
      const float *bhh = r.bias ? weights[wi + 3] : nullptr;
      float *E = reserve ? r.extra(reserve, l, d) : nullptr;

      // XP = in * Wih^T + b_ih (+ b_hh where it is purely additive).
      if (r.bias) {
        float *brow = HP; // temporary: the folded bias row
        for (int64_t j = 0; j < GH; ++j) {
          bool foldHh = r.cell != Cell::Gru || j < 2 * H;
          brow[j] = bih[j] + (foldHh ? bhh[j] : 0.0f);
        }
#pragma omp parallel for schedule(static) if (N * T * GH > kParallelGrain)
        for (int64_t i = 0; i < N * T; ++i)
          std::memcpy(XP + i * GH, brow, sizeof(float) * GH);
      }
      gemm(false, true, N * T, GH, inSz, 1.0f, in, inSz, Wih, inSz,
           r.bias ? 1.0f : 0.0f, XP, GH);

      for (int64_t s = 0; s < T; ++s) {
        const int64_t t = d == 0 ? s : T - 1 - s;
        const int64_t tp = d == 0 ? t - 1 : t + 1;
        const float *hPrev = s > 0 ? out + tp * DH + d * H : nullptr;
        const int64_t hLd = T * DH;
        // HP = hPrev * Whh^T (+ b_hn for GRU).
        if (r.cell == Cell::Gru && r.bias) {
          for (int64_t n = 0; n < N; ++n) {
            std::memset(HP + n * GH, 0, sizeof(float) * 2 * H);
            std::memcpy(HP + n * GH + 2 * H, bhh + 2 * H, sizeof(float) * H);
          }
          if (hPrev)
            gemm(false, true, N, GH, H, 1.0f, hPrev, hLd, Whh, H, 1.0f, HP, GH);
        } else if (hPrev) {
          gemm(false, true, N, GH, H, 1.0f, hPrev, hLd, Whh, H, 0.0f, HP, GH);
        } else {
          std::memset(HP, 0, sizeof(float) * N * GH);
        }
        if (s == 0)
          std::memset(cState, 0, sizeof(float) * N * H);

#pragma omp parallel for schedule(static) if (N * GH > kPointwiseGrain)
        for (int64_t n = 0; n < N; ++n) {
          const float *xp = XP + (n * T + t) * GH;
          const float *hp = HP + n * GH;
          float *h = out + (n * T + t) * DH + d * H;
          float *e = E ? E + (t * N + n) * EC : gatesTmp + n * EC;
          switch (r.cell) {
          case Cell::Lstm: {
            float *c = cState + n * H;
            for (int64_t j = 0; j < H; ++j) {
              float ig = fastSigmoid(xp[j] + hp[j]);
              float fg = fastSigmoid(xp[H + j] + hp[H + j]);
              float gg = fastTanh(xp[2 * H + j] + hp[2 * H + j]);
              float og = fastSigmoid(xp[3 * H + j] + hp[3 * H + j]);
              float cn = fg * c[j] + ig * gg;
              c[j] = cn;
              h[j] = og * fastTanh(cn);
              e[j] = ig;
              e[H + j] = fg;
              e[2 * H + j] = gg;
              e[3 * H + j] = og;
              e[4 * H + j] = cn;
            }
            break;
          }
          case Cell::Gru: {
            const float *hpv = hPrev ? hPrev + n * hLd : nullptr;
            for (int64_t j = 0; j < H; ++j) {
              float rg = fastSigmoid(xp[j] + hp[j]);
              float zg = fastSigmoid(xp[H + j] + hp[H + j]);
              float hn = hp[2 * H + j];
              float ng = fastTanh(xp[2 * H + j] + rg * hn);
              float hv = hpv ? hpv[j] : 0.0f;
              h[j] = (1.0f - zg) * ng + zg * hv;
              e[j] = rg;
              e[H + j] = zg;
              e[2 * H + j] = ng;
              e[3 * H + j] = hn;
            }
            break;
          }
          case Cell::RnnTanh:
            for (int64_t j = 0; j < H; ++j)
              h[j] = fastTanh(xp[j] + hp[j]);
            break;
          case Cell::RnnRelu:
            for (int64_t j = 0; j < H; ++j) {
              float a = xp[j] + hp[j];
              h[j] = a > 0.0f ? a : 0.0f;
            }
            break;
          }
        }
      }
    }
    in = out;
  }

  if (r.seq) {
    std::memcpy(y, out, sizeof(float) * r.layerOutFloats());
    return;
  }
  for (int64_t n = 0; n < N; ++n) {
    std::memcpy(y + n * DH, out + (n * T + T - 1) * DH, sizeof(float) * H);
    if (r.D == 2)
      std::memcpy(y + n * DH + H, out + (n * T) * DH + H, sizeof(float) * H);
  }
}

void recurrentBwd(const Rec &r, const float *dy, const float *x,
                  const float *const *weights, const float *reserveC, float *dx,
                  float *const *dweights, void *scratch) {
  const int64_t N = r.N, T = r.T, H = r.H, GH = r.gh(), DH = r.dh();
  const int64_t EC = r.extraCols(), NT = N * T;
  // The reserve is only read; the layout helpers take a mutable pointer.
  float *reserve = const_cast<float *>(reserveC);
  ScratchCursor cur(scratch);
  float *bufA = cur.take(NT * r.maxIn());
  float *bufB = cur.take(NT * r.maxIn());
  float *dXP = cur.take(NT * GH);
  float *dHP = r.cell == Cell::Gru ? cur.take(NT * GH) : dXP;
  if (r.cell != Cell::Gru)
    cur.take(NT * GH);
  float *Hprev = cur.take(NT * H);
  float *dhRec = cur.take(N * H);
  float *dcRec = cur.take(N * H);
  float *dhDirect = cur.take(N * H);

  // dOut of the top layer.
  float *dOut = bufA;
  if (r.seq) {
    std::memcpy(dOut, dy, sizeof(float) * NT * DH);
  } else {
    std::memset(dOut, 0, sizeof(float) * NT * DH);
    for (int64_t n = 0; n < N; ++n) {
      std::memcpy(dOut + (n * T + T - 1) * DH, dy + n * DH, sizeof(float) * H);
      if (r.D == 2)
        std::memcpy(dOut + (n * T) * DH + H, dy + n * DH + H,
                    sizeof(float) * H);
    }
  }

  for (int64_t l = r.L - 1; l >= 0; --l) {
    const int64_t inSz = r.inSize(l);
    const float *in = l == 0 ? x : r.layerOut(reserve, l - 1);
    const float *out = r.layerOut(reserve, l);
    float *dIn = l == 0 ? dx : (dOut == bufA ? bufB : bufA);
    for (int64_t d = 0; d < r.D; ++d) {
      const int64_t wi = r.weightIndex(l, d);
      const float *Wih = weights[wi], *Whh = weights[wi + 1];
      const float *E = r.extra(reserve, l, d);
      std::memset(dhRec, 0, sizeof(float) * N * H);
      std::memset(dcRec, 0, sizeof(float) * N * H);
      for (int64_t s = T - 1; s >= 0; --s) {
        const int64_t t = d == 0 ? s : T - 1 - s;
        const int64_t tp = d == 0 ? t - 1 : t + 1;
#pragma omp parallel for schedule(static) if (N * GH > kPointwiseGrain)
        for (int64_t n = 0; n < N; ++n) {
          const float *go = dOut + (n * T + t) * DH + d * H;
          const float *rh = dhRec + n * H;
          float *dxp = dXP + (n * T + t) * GH;
          float *dhp = dHP + (n * T + t) * GH;
          float *direct = dhDirect + n * H;
          switch (r.cell) {
          case Cell::Lstm: {
            const float *e = E + (t * N + n) * EC;
            const float *ePrev = s > 0 ? E + (tp * N + n) * EC : nullptr;
            float *dc = dcRec + n * H;
            for (int64_t j = 0; j < H; ++j) {
              float ig = e[j], fg = e[H + j], gg = e[2 * H + j],
                    og = e[3 * H + j], c = e[4 * H + j];
              float cp = ePrev ? ePrev[4 * H + j] : 0.0f;
              float tc = fastTanh(c);
              float dh = go[j] + rh[j];
              float dcv = dc[j] + dh * og * (1.0f - tc * tc);
              dxp[j] = dcv * gg * ig * (1.0f - ig);
              dxp[H + j] = dcv * cp * fg * (1.0f - fg);
              dxp[2 * H + j] = dcv * ig * (1.0f - gg * gg);
              dxp[3 * H + j] = dh * tc * og * (1.0f - og);
              dc[j] = dcv * fg;
            }
            break;
          }
          case Cell::Gru: {
            const float *e = E + (t * N + n) * EC;
            const float *hpv =
                s > 0 ? out + (n * T + tp) * DH + d * H : nullptr;
            for (int64_t j = 0; j < H; ++j) {
              float rg = e[j], zg = e[H + j], ng = e[2 * H + j],
                    hn = e[3 * H + j];
              float hv = hpv ? hpv[j] : 0.0f;
              float dh = go[j] + rh[j];
              float dan = dh * (1.0f - zg) * (1.0f - ng * ng);
              float daz = dh * (hv - ng) * zg * (1.0f - zg);
              float dar = dan * hn * rg * (1.0f - rg);
              dxp[j] = dar;
              dxp[H + j] = daz;
              dxp[2 * H + j] = dan;
              dhp[j] = dar;
              dhp[H + j] = daz;
              dhp[2 * H + j] = dan * rg;
              direct[j] = dh * zg;
            }
            break;
          }
          case Cell::RnnTanh: {
            const float *h = out + (n * T + t) * DH + d * H;
            for (int64_t j = 0; j < H; ++j)
              dxp[j] = (go[j] + rh[j]) * (1.0f - h[j] * h[j]);
            break;
          }
          case Cell::RnnRelu: {
            const float *h = out + (n * T + t) * DH + d * H;
            for (int64_t j = 0; j < H; ++j)
              dxp[j] = h[j] > 0.0f ? go[j] + rh[j] : 0.0f;
            break;
          }
          }
        }
        if (s == 0)
          break;
        // dhRec = dHP_t * Whh (+ the direct GRU term).
        if (r.cell == Cell::Gru) {
          std::memcpy(dhRec, dhDirect, sizeof(float) * N * H);
          gemm(false, false, N, H, GH, 1.0f, dHP + t * GH, T * GH, Whh, H, 1.0f,
               dhRec, H);
        } else {
          gemm(false, false, N, H, GH, 1.0f, dHP + t * GH, T * GH, Whh, H, 0.0f,
               dhRec, H);
        }
      }

      float *const *dw = dweights ? dweights + wi : nullptr;
      if (dw && dw[1]) {
        // Hprev[n*T + t] = h at the previous processed step (0 at the first).
#pragma omp parallel for schedule(static) if (NT * H > kParallelGrain)
        for (int64_t i = 0; i < NT; ++i) {
          int64_t n = i / T, t = i % T, tp = d == 0 ? t - 1 : t + 1;
          float *dst = Hprev + i * H;
          if (tp < 0 || tp >= T)
            std::memset(dst, 0, sizeof(float) * H);
          else
            std::memcpy(dst, out + (n * T + tp) * DH + d * H,
                        sizeof(float) * H);
        }
        gemm(true, false, GH, H, NT, 1.0f, dHP, GH, Hprev, H, 0.0f, dw[1], H);
      }
      if (dw && dw[0])
        gemm(true, false, GH, inSz, NT, 1.0f, dXP, GH, in, inSz, 0.0f, dw[0],
             inSz);
      if (dw && r.bias && dw[2])
        colSums(dXP, NT, GH, dw[2]);
      if (dw && r.bias && dw[3])
        colSums(dHP, NT, GH, dw[3]);
      if (dIn)
        gemm(false, false, NT, inSz, GH, 1.0f, dXP, GH, Wih, inSz,
             d == 0 ? 0.0f : 1.0f, dIn, inSz);
    }
    if (l > 0)
      dOut = dIn;
  }
}

} // namespace

extern "C" {

#define NNC_REC_SIZES(name, cellKind)                                          \
  int64_t nnc_##name##_reserve_bytes(int64_t N, int64_t T, int64_t F,          \
                                     int64_t H, int64_t L, int32_t bidir) {    \
    return Rec(cellKind, N, T, F, H, L, bidir).reserveBytes();                 \
  }                                                                            \
  int64_t nnc_##name##_fwd_scratch_bytes(                                      \
      int64_t N, int64_t T, int64_t F, int64_t H, int64_t L, int32_t bidir) {  \
    return Rec(cellKind, N, T, F, H, L, bidir).fwdScratchBytes();              \
  }                                                                            \
  int64_t nnc_##name##_bwd_scratch_bytes(                                      \
      int64_t N, int64_t T, int64_t F, int64_t H, int64_t L, int32_t bidir) {  \
    return Rec(cellKind, N, T, F, H, L, bidir).bwdScratchBytes();              \
  }

NNC_REC_SIZES(rnn, Cell::RnnTanh)
NNC_REC_SIZES(lstm, Cell::Lstm)
NNC_REC_SIZES(gru, Cell::Gru)
#undef NNC_REC_SIZES

void nnc_rnn_fwd(const float *x, const float *const *weights, float *y,
                 float *reserve, void *scratch, int64_t N, int64_t T, int64_t F,
                 int64_t H, int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences, int32_t relu) {
  nnc::rt::LibraryTimer timer;
  recurrentFwd(Rec(relu ? Cell::RnnRelu : Cell::RnnTanh, N, T, F, H, L, bidir,
                   hasBias, returnSequences),
               x, weights, y, reserve, scratch);
}

void nnc_rnn_bwd(const float *dy, const float *x, const float *const *weights,
                 const float *reserve, float *dx, float *const *dweights,
                 void *scratch, int64_t N, int64_t T, int64_t F, int64_t H,
                 int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences, int32_t relu) {
  nnc::rt::LibraryTimer timer;
  recurrentBwd(Rec(relu ? Cell::RnnRelu : Cell::RnnTanh, N, T, F, H, L, bidir,
                   hasBias, returnSequences),
               dy, x, weights, reserve, dx, dweights, scratch);
}

void nnc_lstm_fwd(const float *x, const float *const *weights, float *y,
                  float *reserve, void *scratch, int64_t N, int64_t T,
                  int64_t F, int64_t H, int64_t L, int32_t bidir,
                  int32_t hasBias, int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  recurrentFwd(Rec(Cell::Lstm, N, T, F, H, L, bidir, hasBias, returnSequences),
               x, weights, y, reserve, scratch);
}

void nnc_lstm_bwd(const float *dy, const float *x, const float *const *weights,
                  const float *reserve, float *dx, float *const *dweights,
                  void *scratch, int64_t N, int64_t T, int64_t F, int64_t H,
                  int64_t L, int32_t bidir, int32_t hasBias,
                  int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  recurrentBwd(Rec(Cell::Lstm, N, T, F, H, L, bidir, hasBias, returnSequences),
               dy, x, weights, reserve, dx, dweights, scratch);
}

void nnc_gru_fwd(const float *x, const float *const *weights, float *y,
                 float *reserve, void *scratch, int64_t N, int64_t T, int64_t F,
                 int64_t H, int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  recurrentFwd(Rec(Cell::Gru, N, T, F, H, L, bidir, hasBias, returnSequences),
               x, weights, y, reserve, scratch);
}

void nnc_gru_bwd(const float *dy, const float *x, const float *const *weights,
                 const float *reserve, float *dx, float *const *dweights,
                 void *scratch, int64_t N, int64_t T, int64_t F, int64_t H,
                 int64_t L, int32_t bidir, int32_t hasBias,
                 int32_t returnSequences) {
  nnc::rt::LibraryTimer timer;
  recurrentBwd(Rec(Cell::Gru, N, T, F, H, L, bidir, hasBias, returnSequences),
               dy, x, weights, reserve, dx, dweights, scratch);
}

} // extern "C"
