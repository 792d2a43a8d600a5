//===- runtime/KernelsConv.cpp - conv2d kernels ---------------------------===//
//
// Part of nnc. Conv2d is im2col + GEMM over a chunk of images at a time:
//   forward:  per image and group, y = W_g * col_n          (images in
//   parallel) backward: dyT = dy regrouped as [O, nb*OH*OW]; dW_g += dyT_g *
//   col^T (one
//             GEMM per chunk, chunks in order); dcol_n = W_g^T * dy_n (images
//             in parallel), then col2im per (n, c) plane.
// Every reduction has a fixed order, so results do not depend on scheduling.
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

using namespace nnc::kernels;

namespace {

/// The shape arguments of every conv function, with derived sizes.
struct ConvShape {
  int64_t N, C, H, W, O, KH, KW, sh, sw, ph, pw, dh, dw, groups;
  int64_t OH, OW, Cg, Og, Kg; // Kg = Cg*KH*KW (rows of one group's col)
  int64_t nb;                 // images per chunk

  ConvShape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH,
            int64_t KW, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
            int64_t dh, int64_t dw, int64_t groups)
      : N(N), C(C), H(H), W(W), O(O), KH(KH), KW(KW), sh(sh), sw(sw), ph(ph),
        pw(pw), dh(dh), dw(dw), groups(groups > 0 ? groups : 1) {
    OH = (H + 2 * ph - dh * (KH - 1) - 1) / sh + 1;
    OW = (W + 2 * pw - dw * (KW - 1) - 1) / sw + 1;
    Cg = C / this->groups;
    Og = O / this->groups;
    Kg = Cg * KH * KW;
    // Keep the col buffer near 16 MiB: large enough for one GEMM per chunk
    // at small shapes, bounded at large ones.
    int64_t perImage = std::max<int64_t>(1, C * KH * KW * OH * OW * 4);
    nb = std::clamp<int64_t>((int64_t{16} << 20) / perImage, 1,
                             std::max<int64_t>(N, 1));
  }
  int64_t ohw() const { return OH * OW; }
  int64_t colFloats() const { return C * KH * KW * nb * ohw(); }
  int64_t dyTFloats() const { return O * nb * ohw(); }
};

/// The output columns [lo, hi) whose input column ow*stride + off is inside
/// [0, W).
inline void validRange(int64_t off, int64_t stride, int64_t W, int64_t OW,
                       int64_t &lo, int64_t &hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / stride + 1;
  lo = std::min(lo, OW);
  hi = std::clamp(hi, lo, OW);
}

/// col[(c*KH+kh)*KW+kw, (n-n0)*OHW + oh*OW + ow] for images [n0, n0+nb).
void im2col(const ConvShape &s, const float *x, float *col, int64_t n0,
            int64_t nb) {
  const int64_t ohw = s.ohw(), ld = nb * ohw;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t c = 0; c < s.C; ++c) {
      const float *xp = x + ((n0 + n) * s.C + c) * s.H * s.W;
      for (int64_t kh = 0; kh < s.KH; ++kh)
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          float *row = col + ((c * s.KH + kh) * s.KW + kw) * ld + n * ohw;
          const int64_t off = kw * s.dw - s.pw;
          int64_t lo, hi;
          validRange(off, s.sw, s.W, s.OW, lo, hi);
          for (int64_t oh = 0; oh < s.OH; ++oh) {
            int64_t ih = oh * s.sh - s.ph + kh * s.dh;
            float *out = row + oh * s.OW;
            if (ih < 0 || ih >= s.H) {
              std::memset(out, 0, sizeof(float) * s.OW);
              continue;
            }
            const float *xr = xp + ih * s.W + off;
            for (int64_t ow = 0; ow < lo; ++ow)
              out[ow] = 0.0f;
            if (s.sw == 1)
              std::memcpy(out + lo, xr + lo, sizeof(float) * (hi - lo));
            else
              for (int64_t ow = lo; ow < hi; ++ow)
                out[ow] = xr[ow * s.sw];
            for (int64_t ow = hi; ow < s.OW; ++ow)
              out[ow] = 0.0f;
          }
        }
    }
}

/// dx planes of images [n0, n0+nb) from dcol (layout as im2col's).
void col2im(const ConvShape &s, const float *col, float *dx, int64_t n0,
            int64_t nb) {
  const int64_t ohw = s.ohw(), ld = nb * ohw;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < nb; ++n)
    for (int64_t c = 0; c < s.C; ++c) {
      float *xp = dx + ((n0 + n) * s.C + c) * s.H * s.W;
      std::memset(xp, 0, sizeof(float) * s.H * s.W);
      for (int64_t kh = 0; kh < s.KH; ++kh)
        for (int64_t kw = 0; kw < s.KW; ++kw) {
          const float *row = col + ((c * s.KH + kh) * s.KW + kw) * ld + n * ohw;
          const int64_t off = kw * s.dw - s.pw;
          int64_t lo, hi;
          validRange(off, s.sw, s.W, s.OW, lo, hi);
          for (int64_t oh = 0; oh < s.OH; ++oh) {
            int64_t ih = oh * s.sh - s.ph + kh * s.dh;
            if (ih < 0 || ih >= s.H)
              continue;
            float *xr = xp + ih * s.W + off;
            const float *in = row + oh * s.OW;
            for (int64_t ow = lo; ow < hi; ++ow)
              xr[ow * s.sw] += in[ow];
          }
        }
    }
}

} // namespace

extern "C" {

int64_t nnc_conv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups) {
  ConvShape s(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW,
              groups);
  return alignUp(s.colFloats() * 4);
}

void nnc_conv2d_fwd(const float *x, const float *w, const float *b, float *y,
                    void *scratch, int64_t N, int64_t C, int64_t H, int64_t W,
                    int64_t O, int64_t KH, int64_t KW, int64_t strideH,
                    int64_t strideW, int64_t padH, int64_t padW, int64_t dilH,
                    int64_t dilW, int64_t groups) {
  ConvShape s(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW,
              groups);
  float *col = ScratchCursor(scratch).take(s.colFloats());
  const int64_t ohw = s.ohw();
  for (int64_t n0 = 0; n0 < N; n0 += s.nb) {
    int64_t nb = std::min(s.nb, N - n0);
    im2col(s, x, col, n0, nb);
    const int64_t ld = nb * ohw;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < nb; ++n)
      for (int64_t g = 0; g < s.groups; ++g) {
        float *yp = y + ((n0 + n) * O + g * s.Og) * ohw;
        gemm(false, false, s.Og, ohw, s.Kg, 1.0f, w + g * s.Og * s.Kg, s.Kg,
             col + g * s.Kg * ld + n * ohw, ld, 0.0f, yp, ohw);
        if (b)
          for (int64_t o = 0; o < s.Og; ++o) {
            float bv = b[g * s.Og + o];
            float *row = yp + o * ohw;
            for (int64_t i = 0; i < ohw; ++i)
              row[i] += bv;
          }
      }
  }
}

int64_t nnc_conv2d_bwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups) {
  ConvShape s(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW,
              groups);
  return alignUp(s.colFloats() * 4) + alignUp(s.dyTFloats() * 4);
}

void nnc_conv2d_bwd(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, float *db, void *scratch, int64_t N, int64_t C,
                    int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW,
                    int64_t strideH, int64_t strideW, int64_t padH,
                    int64_t padW, int64_t dilH, int64_t dilW, int64_t groups) {
  ConvShape s(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW,
              groups);
  ScratchCursor cursor(scratch);
  float *col = cursor.take(s.colFloats());
  float *dyT = cursor.take(s.dyTFloats());
  const int64_t ohw = s.ohw();

  if (db) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; ++o) {
      double acc = 0.0;
      for (int64_t n = 0; n < N; ++n) {
        const float *p = dy + (n * O + o) * ohw;
        float part = 0.0f;
        for (int64_t i = 0; i < ohw; ++i)
          part += p[i];
        acc += part;
      }
      db[o] = static_cast<float>(acc);
    }
  }
  if (!dw && !dx)
    return;

  for (int64_t n0 = 0; n0 < N; n0 += s.nb) {
    int64_t nb = std::min(s.nb, N - n0);
    const int64_t ld = nb * ohw;
    if (dw) {
      im2col(s, x, col, n0, nb);
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t o = 0; o < O; ++o)
        for (int64_t n = 0; n < nb; ++n)
          std::memcpy(dyT + o * ld + n * ohw, dy + ((n0 + n) * O + o) * ohw,
                      sizeof(float) * ohw);
      for (int64_t g = 0; g < s.groups; ++g)
        gemm(false, true, s.Og, s.Kg, ld, 1.0f, dyT + g * s.Og * ld, ld,
             col + g * s.Kg * ld, ld, n0 == 0 ? 0.0f : 1.0f,
             dw + g * s.Og * s.Kg, s.Kg);
    }
    if (dx) {
#pragma omp parallel for collapse(2) schedule(static)
      for (int64_t n = 0; n < nb; ++n)
        for (int64_t g = 0; g < s.groups; ++g)
          gemm(true, false, s.Kg, ohw, s.Og, 1.0f, w + g * s.Og * s.Kg, s.Kg,
               dy + ((n0 + n) * O + g * s.Og) * ohw, ohw, 0.0f,
               col + g * s.Kg * ld + n * ohw, ld);
      col2im(s, col, dx, n0, nb);
    }
  }
}

} // extern "C"
