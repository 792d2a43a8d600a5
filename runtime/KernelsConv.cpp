//===- runtime/KernelsConv.cpp - conv2d kernels ---------------------------===//
//
// Part of nnc. Conv2d forward, backward-data and backward-weights (with the
// bias gradient) are oneDNN convolution primitives on the arena's plain
// layouts: x and y NCHW, w OIHW (read as GOIHW with groups). A primitive is
// created at the first call with a shape and thread count and cached per
// thread (nnc_kernels_release frees the calling thread's cache). Its
// scratchpad is the caller's scratch (dnnl_scratchpad_mode_user): the
// compiler sizes it with the same primitive descriptors, so a call never
// allocates workspace. Weights reordered into oneDNN's layout are kept
// across calls while their bytes are unchanged (Primitive::reorderKept). The
// forward's relu epilogue is a oneDNN eltwise post-op. For a fixed thread
// count oneDNN's reductions run in a fixed order, so results do not depend
// on scheduling.
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"
#include "runtime/KernelsPrimitive.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

using namespace nnc::kernels;

namespace {

/// A primitive descriptor with the attributes of createAttr; null if oneDNN
/// has no implementation.
dnnl_primitive_desc_t createPd(const_dnnl_op_desc_t desc, bool relu,
                               const_dnnl_primitive_desc_t hint) {
  dnnl_primitive_attr_t attr = createAttr(relu);
  dnnl_primitive_desc_t pd = nullptr;
  if (!attr || dnnl_primitive_desc_create(&pd, desc, attr, cpuEngine(), hint) !=
                   dnnl_success)
    pd = nullptr;
  if (attr)
    dnnl_primitive_attr_destroy(attr);
  return pd;
}

enum class Direction : int64_t { Forward, Backward };

/// Whether a shape runs as a Winograd F(4x4, 3x3) convolution: 3x3, stride
/// 1, no dilation or groups, at least 32 input and output channels and 2048
/// output positions per channel (N*OH*OW). There oneDNN's Winograd beat its
/// direct convolution by 1.3-2.4x in each direction at the ResNet shapes
/// (32x16x16 and 64x8x8 at batch 64 and 128); below that (batch 1, 16
/// channels) it was up to 5x slower. Its results differ from the direct
/// one's by ~1e-5 relative to the outputs' scale.
bool useWinograd(const ConvShape &s) {
  auto [oh, ow] = outputSize(s);
  return s[KH_] == 3 && s[KW_] == 3 && s[SH_] == 1 && s[SW_] == 1 &&
         s[DH_] == 1 && s[DW_] == 1 && s[G_] == 1 && s[C_] >= 32 &&
         s[O_] >= 32 && s[N_] * oh * ow >= 2048;
}

/// The primitives of one (shape, direction, bias, epilogue, thread count):
/// the forward, or backward-data and backward-weights. They may pick blocked
/// layouts (nChw16c, OIhw16i16o, ...): oneDNN's direct convolutions on them
/// were 2-5x faster than its im2col+GEMM on the plain ones at the LeNet and
/// ResNet shapes, reorders included (docs/training.md).
struct ConvEntry {
  bool ok = false;
  Primitive fwd, bwdData, bwdWeights;
  /// The scratch bytes the entry needs (its primitives run one at a time).
  int64_t scratchBytes = 0;
  /// Whether backward-data and backward-weights read dy in the same blocked
  /// layout at the same place in the scratch: the second reuses the first's
  /// reorder of it.
  bool shareDy = false;

  /// `low` is the type the primitives read their inputs in (x, w, dy): f32,
  /// or bf16/f16 for a reduced-precision model (runtime/KernelsMixed.cpp);
  /// their outputs (y, dx, dw, db) are f32 either way.
  ConvEntry(const ConvShape &s, Direction dir, bool bias, bool relu,
            dnnl_data_type_t low = dnnl_f32) {
    // Winograd where it is faster (oneDNN has it for f32 only); the direct
    // algorithm where oneDNN has no Winograd implementation (a CPU without
    // AVX-512) or none of a direction.
    if (low == dnnl_f32 && useWinograd(s))
      build(s, dir, bias, relu, dnnl_convolution_winograd, low);
    if (!ok) {
      for (Primitive *p : {&fwd, &bwdData, &bwdWeights})
        p->reset();
      build(s, dir, bias, relu, dnnl_convolution_direct, low);
    }
    if (ok && low != dnnl_f32)
      for (auto [what, p] : {std::pair{"conv fwd: ", &fwd},
                             {"conv bwd data: ", &bwdData},
                             {"conv bwd weights: ", &bwdWeights}})
        if (std::string impl = p->implementation(); !impl.empty())
          recordMixedImplementation(what + impl);
  }

private:
  void build(const ConvShape &s, Direction dir, bool bias, bool relu, dnnl_alg_kind_t alg,
             dnnl_data_type_t low) {
    ConvDescs d(s);
    // Any layout; the inputs in `low` (Primitive's reorders from the plain
    // f32 tensors convert them), the outputs in f32.
    dnnl_memory_desc_t x, w, y, yLow;
    dnnl_memory_desc_init_by_tag(&x, d.x.ndims, d.x.dims, low, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w, d.w.ndims, d.w.dims, low, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&y, d.y.ndims, d.y.dims, dnnl_f32,
                                 dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&yLow, d.y.ndims, d.y.dims, low, dnnl_format_tag_any);
    dnnl_memory_desc_t xOut = x, wOut = w; // dx and dw: f32
    xOut.data_type = dnnl_f32;
    wOut.data_type = dnnl_f32;
    dnnl_convolution_desc_t fwdDesc;
    if (dnnl_dilated_convolution_forward_desc_init(
            &fwdDesc, dnnl_forward_training, alg, &x, &w, bias ? &d.b : nullptr,
            &y, d.strides, d.dilates, d.padL, d.padR) != dnnl_success)
      return;
    using Arg = Primitive::Arg;
    if (dir == Direction::Forward) {
      dnnl_primitive_desc_t pd = createPd(&fwdDesc, relu, nullptr);
      ok = bias ? fwd.init(pd, {Arg{DNNL_ARG_SRC, &d.x, false},
                                Arg{DNNL_ARG_WEIGHTS, &d.w, false, true},
                                Arg{DNNL_ARG_BIAS, &d.b, false},
                                Arg{DNNL_ARG_DST, &d.y, true}})
                : fwd.init(pd, {Arg{DNNL_ARG_SRC, &d.x, false},
                                Arg{DNNL_ARG_WEIGHTS, &d.w, false, true},
                                Arg{DNNL_ARG_DST, &d.y, true}});
      scratchBytes = fwd.scratchBytes;
      return;
    }
    // The backward descriptors need the forward's as a hint.
    dnnl_primitive_desc_t hint = createPd(&fwdDesc, false, nullptr);
    dnnl_convolution_desc_t dataDesc, weightsDesc;
    ok = hint &&
         dnnl_dilated_convolution_backward_data_desc_init(&dataDesc, alg, &xOut, &w, &yLow,
                                                          d.strides, d.dilates, d.padL,
                                                          d.padR) == dnnl_success &&
         dnnl_dilated_convolution_backward_weights_desc_init(
             &weightsDesc, alg, &x, &wOut, bias ? &d.b : nullptr, &yLow, d.strides, d.dilates,
             d.padL, d.padR) == dnnl_success;
    // dy comes first in both, so its reorder buffer starts each one's
    // buffers.
    ok = ok && bwdData.init(createPd(&dataDesc, false, hint),
                            {Arg{DNNL_ARG_DIFF_DST, &d.y, false},
                             Arg{DNNL_ARG_WEIGHTS, &d.w, false, true},
                             Arg{DNNL_ARG_DIFF_SRC, &d.x, true}});
    dnnl_primitive_desc_t weightsPd =
        ok ? createPd(&weightsDesc, false, hint) : nullptr;
    ok = ok &&
         (bias ? bwdWeights.init(weightsPd,
                                 {Arg{DNNL_ARG_DIFF_DST, &d.y, false},
                                  Arg{DNNL_ARG_SRC, &d.x, false},
                                  Arg{DNNL_ARG_DIFF_WEIGHTS, &d.w, true},
                                  Arg{DNNL_ARG_DIFF_BIAS, &d.b, true}})
               : bwdWeights.init(weightsPd,
                                 {Arg{DNNL_ARG_DIFF_DST, &d.y, false},
                                  Arg{DNNL_ARG_SRC, &d.x, false},
                                  Arg{DNNL_ARG_DIFF_WEIGHTS, &d.w, true}}));
    if (hint)
      dnnl_primitive_desc_destroy(hint);
    if (!ok)
      return;
    const dnnl_memory_desc_t *dyData = bwdData.firstInner(),
                             *dyWeights = bwdWeights.firstInner();
    shareDy = dyData && dyWeights && dnnl_memory_desc_equal(dyData, dyWeights);
    if (shareDy) {
      // One pad region for both, so that the blocked dy sits at one place.
      const int64_t pad =
          std::max(bwdData.padRegionBytes(), bwdWeights.padRegionBytes());
      bwdData.setPadRegion(pad);
      bwdWeights.setPadRegion(pad);
    }
    scratchBytes = std::max(bwdData.scratchBytes, bwdWeights.scratchBytes);
  }
};

/// A thread's stream and primitives, keyed by shape, direction, bias,
/// epilogue and thread count.
struct ConvCache {
  dnnl_stream_t stream = nullptr;
  std::map<std::array<int64_t, 19>, std::unique_ptr<ConvEntry>> entries;

  ConvCache() {
    if (dnnl_stream_create(&stream, cpuEngine(), dnnl_stream_default_flags) !=
        dnnl_success)
      stream = nullptr;
  }
  ~ConvCache() {
    entries.clear();
    if (stream)
      dnnl_stream_destroy(stream);
  }

  /// The entry for this call, created at its first use.
  ConvEntry &get(const ConvShape &s, Direction dir, bool bias, bool relu, dnnl_data_type_t low) {
    std::array<int64_t, 19> key;
    std::copy(s.begin(), s.end(), key.begin());
    key[14] = static_cast<int64_t>(dir);
    key[15] = bias;
    key[16] = relu;
    key[17] = omp_get_max_threads();
    key[18] = low;
    std::unique_ptr<ConvEntry> &e = entries[key];
    if (!e)
      e = std::make_unique<ConvEntry>(s, dir, bias, relu, low);
    return *e;
  }
};

thread_local std::unique_ptr<ConvCache> convCache;

ConvCache &cache() {
  if (!convCache)
    convCache = std::make_unique<ConvCache>();
  return *convCache;
}

/// The scratch an entry needs for the thread count of a run on this machine
/// (scratchForPlannedThreads).
int64_t plannedScratch(const ConvShape &s, Direction dir, bool bias, bool relu,
                       dnnl_data_type_t low) {
  return scratchForPlannedThreads(
      [&] { return cache().get(s, dir, bias, relu, low).scratchBytes; });
}

/// The entry for a call, or null after reporting why it cannot run: oneDNN
/// has no implementation, or it needs more scratch than the compiler planned
/// (the artifact was built on another CPU, or the thread count is higher).
ConvEntry *entryFor(const char *fn, const ConvShape &s, Direction dir, bool bias, bool relu,
                    dnnl_data_type_t low, int64_t scratchBytes) {
  ConvEntry &e = cache().get(s, dir, bias, relu, low);
  if (!e.ok || !cache().stream) {
    reportError(std::string(fn) + ": oneDNN has no implementation of " +
                describe(s));
    return nullptr;
  }
  if (e.scratchBytes > scratchBytes) {
    reportError(scratchShortfall(fn, describe(s), e.scratchBytes, scratchBytes));
    return nullptr;
  }
  return &e;
}

/// db[o] = the sum of dy over images and positions (f64 accumulation in a
/// fixed order).
void biasGradient(const float *dy, float *db, int64_t N, int64_t O,
                  int64_t ohw) {
#pragma omp parallel for schedule(static)
  for (int64_t o = 0; o < O; ++o) {
    double acc = 0.0;
    for (int64_t n = 0; n < N; ++n) {
      const float *p = dy + (n * O + o) * ohw;
      for (int64_t i = 0; i < ohw; ++i)
        acc += p[i];
    }
    db[o] = static_cast<float>(acc);
  }
}


} // namespace

/// The conv kernels for inputs read in `low` (f32, bf16 or f16); the
/// extern "C" entry points below and runtime/KernelsMixed.cpp call them.
int64_t nnc::kernels::convFwdScratchBytes(const ConvShape &s, dnnl_data_type_t low) {
  int64_t bytes = 0;
  for (bool bias : {false, true})
    for (bool relu : {false, true})
      bytes = std::max(bytes, plannedScratch(s, Direction::Forward, bias, relu, low));
  return bytes;
}

void nnc::kernels::convFwd(const char *fn, const ConvShape &s, dnnl_data_type_t low, const float *x,
                           const float *w, const float *b, float *y, void *scratch,
                           int64_t scratchBytes, int32_t epilogue) {
  ConvEntry *e =
      entryFor(fn, s, Direction::Forward, b != nullptr, epilogue == 1, low, scratchBytes);
  if (e && e->fwd.execute(cache().stream,
                          b ? std::initializer_list<const void *>{x, w, b, y}
                            : std::initializer_list<const void *>{x, w, y},
                          scratch))
    return;
  if (e)
    reportError(std::string(fn) + ": oneDNN failed to run " + describe(s));
  auto [oh, ow] = outputSize(s);
  poison(y, s[N_] * s[O_] * oh * ow);
}

int64_t nnc::kernels::convBwdScratchBytes(const ConvShape &s, dnnl_data_type_t low) {
  return std::max(plannedScratch(s, Direction::Backward, false, false, low),
                  plannedScratch(s, Direction::Backward, true, false, low));
}

void nnc::kernels::convBwd(const char *fn, const ConvShape &s, dnnl_data_type_t low,
                           const float *dy, const float *x, const float *w, float *dx, float *dw,
                           float *db, void *scratch, int64_t scratchBytes) {
  // Without dw, oneDNN's backward-weights cannot give db alone: sum dy here.
  const bool bias = db != nullptr && dw != nullptr;
  if (db && !dw) {
    auto [oh, ow] = outputSize(s);
    biasGradient(dy, db, s[N_], s[O_], oh * ow);
  }
  if (!dx && !dw)
    return;
  ConvEntry *e = entryFor(fn, s, Direction::Backward, bias, false, low, scratchBytes);
  bool ok = e != nullptr;
  if (ok && dx)
    ok = e->bwdData.execute(cache().stream, {dy, w, dx}, scratch);
  // Backward-data left dy's reorder in the scratch where backward-weights
  // reads it.
  const bool dyReordered = dx && e && e->shareDy;
  if (ok && dw)
    ok = bias ? e->bwdWeights.execute(cache().stream, {dy, x, dw, db}, scratch, dyReordered)
              : e->bwdWeights.execute(cache().stream, {dy, x, dw}, scratch, dyReordered);
  if (ok)
    return;
  if (e)
    reportError(std::string(fn) + ": oneDNN failed to run " + describe(s));
  poison(dx, s[N_] * s[C_] * s[H_] * s[W_]);
  poison(dw, s[O_] * (s[C_] / s[G_]) * s[KH_] * s[KW_]);
  poison(db, s[O_]);
}

extern "C" {

void nnc_kernels_release(void) {
  convCache.reset();
  releaseInt8Primitives();
  releaseMixedPrimitives();
}

int64_t nnc_conv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups) {
  return convFwdScratchBytes(
      convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups), dnnl_f32);
}

void nnc_conv2d_fwd(const float *x, const float *w, const float *b, float *y,
                    void *scratch, int64_t scratchBytes, int64_t N, int64_t C,
                    int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW,
                    int64_t strideH, int64_t strideW, int64_t padH,
                    int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                    int32_t epilogue) {
  nnc::rt::LibraryTimer timer;
  convFwd("nnc_conv2d_fwd",
          convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups),
          dnnl_f32, x, w, b, y, scratch, scratchBytes, epilogue);
}

int64_t nnc_conv2d_bwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups) {
  return convBwdScratchBytes(
      convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups), dnnl_f32);
}

void nnc_conv2d_bwd(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, float *db, void *scratch, int64_t scratchBytes,
                    int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                    int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                    int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                    int64_t groups) {
  nnc::rt::LibraryTimer timer;
  convBwd("nnc_conv2d_bwd",
          convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups),
          dnnl_f32, dy, x, w, dx, dw, db, scratch, scratchBytes);
}

} // extern "C"
