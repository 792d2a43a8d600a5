//===- runtime/KernelsMixed.cpp - bf16/f16 conv2d and linear kernels ------===//
//
// Part of nnc. The library ops of a reduced-precision model (runtime/Kernels.h,
// section "Mixed precision"; docs/design.md "Reduced precision"): the tensors
// the compiled model passes are f32 (master weights, gradients, activations),
// and these kernels compute with their inputs in a lower precision and f32
// accumulation, as PyTorch's autocast does.
//
// bf16: oneDNN primitives with bf16 inputs and f32 outputs (AMX or
// AVX512-bf16 where the CPU has them). The conversion is the reorder from the
// plain f32 tensor into the primitive's layout that Primitive
// (KernelsPrimitive.h) does anyway, into the caller's scratch; the weights'
// converted copies are kept while their bytes are unchanged, as the f32
// conv's are. Conv2d is the f32 conv of KernelsConv.cpp with bf16 inputs;
// linear is a oneDNN matmul (forward: y = x w^T + b with a relu post-op;
// backward: dx = dy w and dw = dy^T x; db is summed in f32 as the f32
// kernel does).
//
// f16: oneDNN 2.6 has no f16 convolution or matmul on the CPU (it refuses
// the primitive descriptors even on a CPU with AVX512-FP16), so f16 is
// emulated: the inputs are rounded to f16 (round to nearest even, values
// beyond f16's range become +-inf) into the scratch and the f32 kernels
// compute on them with f32 accumulation. The results are those of f16
// operands with f32 accumulation, f16's overflow included (what dynamic loss
// scaling detects), at f32 speed.
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"
#include "runtime/KernelsPrimitive.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

using namespace nnc::kernels;

namespace {

/// The implementations the bf16 kernels used so far.
ImplementationList &implementations() {
  static ImplementationList impls;
  return impls;
}

/// The loss scale of the f16 backward kernels (nnc_set_loss_scale).
std::atomic<float> lossScale{1.0f};

/// n floats of `src` rounded to f16 and back into `dst`.
void roundToHalf(const float *src, float *dst, int64_t n, float scale = 1.0f) {
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    dst[i] = static_cast<float>(static_cast<_Float16>(src[i] * scale));
}

/// Multiplies n floats of `p` (null: none) by `factor`.
void scaleBy(float *p, int64_t n, float factor) {
  if (!p || factor == 1.0f)
    return;
#pragma omp parallel for schedule(static) if (n >= kParallelGrain)
  for (int64_t i = 0; i < n; ++i)
    p[i] *= factor;
}

/// Divides the f16 backward's results by the loss scale it multiplied dy by
/// (exact for a power of two, barring f32 overflow).
void unscale(float *dx, int64_t xn, float *dw, int64_t wn, float *db, int64_t bn, float scale) {
  scaleBy(dx, xn, 1.0f / scale);
  scaleBy(dw, wn, 1.0f / scale);
  scaleBy(db, bn, 1.0f / scale);
}

/// Bytes of n floats, 64-byte aligned (ScratchCursor's unit).
int64_t floatBytes(int64_t n) { return alignUp(n * static_cast<int64_t>(sizeof(float))); }

/// A plain f32 matrix [rows, cols] with strides (rs, cs), or in `type` row-major.
dnnl_memory_desc_t matrix(int64_t rows, int64_t cols, int64_t rs, int64_t cs) {
  dnnl_memory_desc_t md;
  const dnnl_dims_t dims = {rows, cols}, strides = {rs, cs};
  dnnl_memory_desc_init_by_strides(&md, 2, dims, dnnl_f32, strides);
  return md;
}
dnnl_memory_desc_t matrixOf(int64_t rows, int64_t cols, dnnl_data_type_t type,
                            dnnl_format_tag_t tag) {
  dnnl_memory_desc_t md;
  const dnnl_dims_t dims = {rows, cols};
  dnnl_memory_desc_init_by_tag(&md, 2, dims, type, tag);
  return md;
}

/// The primitive descriptor of dst[M,N] = src[M,K] wei[K,N] (+ bias [1,N])
/// with bf16 src and weights (any layout) and an f32 dst, or null.
dnnl_primitive_desc_t bf16MatmulPd(int64_t M, int64_t N, int64_t K, bool bias, bool relu) {
  dnnl_memory_desc_t src = matrixOf(M, K, dnnl_bf16, dnnl_ab),
                     wei = matrixOf(K, N, dnnl_bf16, dnnl_format_tag_any),
                     b = matrixOf(1, N, dnnl_f32, dnnl_ab), dst = matrixOf(M, N, dnnl_f32, dnnl_ab);
  dnnl_matmul_desc_t desc;
  if (!cpuEngine() ||
      dnnl_matmul_desc_init(&desc, &src, &wei, bias ? &b : nullptr, &dst) != dnnl_success)
    return nullptr;
  dnnl_primitive_attr_t attr = createAttr(relu);
  dnnl_primitive_desc_t pd = nullptr;
  if (!attr || dnnl_primitive_desc_create(&pd, &desc, attr, cpuEngine(), nullptr) != dnnl_success)
    pd = nullptr;
  if (attr)
    dnnl_primitive_attr_destroy(attr);
  if (pd) {
    const char *impl = nullptr;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
      implementations().add(std::string("matmul: ") + impl);
  }
  return pd;
}

enum class LinearKind : int64_t { Forward, Backward };

/// The bf16 matmuls of one linear layer (shape, direction, bias, relu,
/// thread count) on the caller's plain f32 tensors.
struct LinearEntry {
  bool ok = false;
  Primitive fwd, bwdData, bwdWeights;
  int64_t scratchBytes = 0;

  LinearEntry(int64_t M, int64_t in, int64_t out, LinearKind kind, bool bias, bool relu) {
    using Arg = Primitive::Arg;
    if (kind == LinearKind::Forward) {
      // y[M,out] = x[M,in] w^T[in,out] + b: w^T is w [out,in] read
      // column-major.
      dnnl_memory_desc_t x = matrix(M, in, in, 1), wT = matrix(in, out, 1, in),
                         b = matrixOf(1, out, dnnl_f32, dnnl_ab), y = matrix(M, out, out, 1);
      dnnl_primitive_desc_t pd = bf16MatmulPd(M, out, in, bias, relu);
      ok =
          bias
              ? fwd.init(pd, {Arg{DNNL_ARG_SRC, &x, false}, Arg{DNNL_ARG_WEIGHTS, &wT, false, true},
                              Arg{DNNL_ARG_BIAS, &b, false}, Arg{DNNL_ARG_DST, &y, true}})
              : fwd.init(pd, {Arg{DNNL_ARG_SRC, &x, false}, Arg{DNNL_ARG_WEIGHTS, &wT, false, true},
                              Arg{DNNL_ARG_DST, &y, true}});
      scratchBytes = fwd.scratchBytes;
      return;
    }
    // dx[M,in] = dy[M,out] w[out,in]; dw[out,in] = dy^T[out,M] x[M,in].
    dnnl_memory_desc_t dy = matrix(M, out, out, 1), w = matrix(out, in, in, 1),
                       dx = matrix(M, in, in, 1), dyT = matrix(out, M, 1, out),
                       x = matrix(M, in, in, 1), dw = matrix(out, in, in, 1);
    ok = bwdData.init(bf16MatmulPd(M, in, out, false, false),
                      {Arg{DNNL_ARG_SRC, &dy, false}, Arg{DNNL_ARG_WEIGHTS, &w, false},
                       Arg{DNNL_ARG_DST, &dx, true}}) &&
         bwdWeights.init(bf16MatmulPd(out, in, M, false, false),
                         {Arg{DNNL_ARG_SRC, &dyT, false}, Arg{DNNL_ARG_WEIGHTS, &x, false},
                          Arg{DNNL_ARG_DST, &dw, true}});
    scratchBytes = std::max(bwdData.scratchBytes, bwdWeights.scratchBytes);
  }
};

/// A thread's stream and bf16 linear entries.
struct MixedCache {
  dnnl_stream_t stream = nullptr;
  std::map<std::array<int64_t, 7>, std::unique_ptr<LinearEntry>> entries;

  MixedCache() {
    if (dnnl_stream_create(&stream, cpuEngine(), dnnl_stream_default_flags) != dnnl_success)
      stream = nullptr;
  }
  ~MixedCache() {
    entries.clear();
    if (stream)
      dnnl_stream_destroy(stream);
  }

  LinearEntry &get(int64_t M, int64_t in, int64_t out, LinearKind kind, bool bias, bool relu) {
    std::unique_ptr<LinearEntry> &e =
        entries[{M, in, out, static_cast<int64_t>(kind), bias, relu, omp_get_max_threads()}];
    if (!e)
      e = std::make_unique<LinearEntry>(M, in, out, kind, bias, relu);
    return *e;
  }
};

thread_local std::unique_ptr<MixedCache> mixedCache;

MixedCache &cache() {
  if (!mixedCache)
    mixedCache = std::make_unique<MixedCache>();
  return *mixedCache;
}

/// The bf16 linear entry for a call, or null after reporting why it cannot
/// run (no implementation, or more scratch than planned).
LinearEntry *linearEntry(const char *fn, int64_t M, int64_t in, int64_t out, LinearKind kind,
                         bool bias, bool relu, int64_t scratchBytes) {
  LinearEntry &e = cache().get(M, in, out, kind, bias, relu);
  const std::string shape =
      "linear [" + std::to_string(M) + "," + std::to_string(in) + "] -> " + std::to_string(out);
  if (!e.ok || !cache().stream) {
    reportError(std::string(fn) + ": oneDNN has no bf16 implementation of " + shape);
    return nullptr;
  }
  if (e.scratchBytes > scratchBytes) {
    reportError(scratchShortfall(fn, shape, e.scratchBytes, scratchBytes));
    return nullptr;
  }
  return &e;
}

/// Whether `precision` is one of the NNC_PRECISION_* codes; reports it if not.
bool validPrecision(const char *fn, int32_t precision) {
  if (precision == NNC_PRECISION_F32 || precision == NNC_PRECISION_BF16 ||
      precision == NNC_PRECISION_F16)
    return true;
  reportError(std::string(fn) + ": unknown precision " + std::to_string(precision));
  return false;
}

/// The element type the conv primitives read their inputs in.
dnnl_data_type_t convInputType(int32_t precision) {
  return precision == NNC_PRECISION_BF16 ? dnnl_bf16 : dnnl_f32;
}

} // namespace

void nnc::kernels::releaseMixedPrimitives() { mixedCache.reset(); }

void nnc::kernels::recordMixedImplementation(const std::string &impl) {
  implementations().add(impl);
}

extern "C" {

int64_t nnc_conv2d_fwd_mixed_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                           int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                           int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                           int64_t groups, int32_t precision) {
  ConvShape s = convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups);
  int64_t bytes = convFwdScratchBytes(s, convInputType(precision));
  if (precision == NNC_PRECISION_F16) // [conv scratch | x | w] rounded to f16
    bytes += floatBytes(N * C * H * W) + floatBytes(O * (C / s[G_]) * KH * KW);
  return bytes;
}

void nnc_conv2d_fwd_mixed(const float *x, const float *w, const float *b, float *y, void *scratch,
                          int64_t scratchBytes, int64_t N, int64_t C, int64_t H, int64_t W,
                          int64_t O, int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                          int64_t padH, int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                          int32_t epilogue, int32_t precision) {
  nnc::rt::LibraryTimer timer;
  const char *fn = "nnc_conv2d_fwd_mixed";
  ConvShape s = convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups);
  if (!validPrecision(fn, precision)) {
    auto [oh, ow] = outputSize(s);
    return poison(y, N * O * oh * ow);
  }
  if (precision != NNC_PRECISION_F16)
    return convFwd(fn, s, convInputType(precision), x, w, b, y, scratch, scratchBytes, epilogue);
  const int64_t xn = N * C * H * W, wn = O * (C / s[G_]) * KH * KW;
  const int64_t convBytes = scratchBytes - floatBytes(xn) - floatBytes(wn);
  ScratchCursor cur(static_cast<char *>(scratch) + convBytes);
  float *x16 = cur.take(xn), *w16 = cur.take(wn);
  roundToHalf(x, x16, xn);
  roundToHalf(w, w16, wn);
  convFwd(fn, s, dnnl_f32, x16, w16, b, y, scratch, convBytes, epilogue);
}

int64_t nnc_conv2d_bwd_mixed_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                           int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                           int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                           int64_t groups, int32_t precision) {
  ConvShape s = convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups);
  int64_t bytes = convBwdScratchBytes(s, convInputType(precision));
  if (precision == NNC_PRECISION_F16) { // [conv scratch | dy | x | w] rounded
    auto [oh, ow] = outputSize(s);
    bytes += floatBytes(N * O * oh * ow) + floatBytes(N * C * H * W) +
             floatBytes(O * (C / s[G_]) * KH * KW);
  }
  return bytes;
}

void nnc_conv2d_bwd_mixed(const float *dy, const float *x, const float *w, float *dx, float *dw,
                          float *db, void *scratch, int64_t scratchBytes, int64_t N, int64_t C,
                          int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW, int64_t strideH,
                          int64_t strideW, int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                          int64_t groups, int32_t precision) {
  nnc::rt::LibraryTimer timer;
  const char *fn = "nnc_conv2d_bwd_mixed";
  ConvShape s = convShape(N, C, H, W, O, KH, KW, strideH, strideW, padH, padW, dilH, dilW, groups);
  const int64_t xn = N * C * H * W, wn = O * (C / s[G_]) * KH * KW;
  auto [oh, ow] = outputSize(s);
  const int64_t yn = N * O * oh * ow;
  if (!validPrecision(fn, precision)) {
    poison(dx, xn);
    poison(dw, wn);
    return poison(db, O);
  }
  if (precision != NNC_PRECISION_F16)
    return convBwd(fn, s, convInputType(precision), dy, x, w, dx, dw, db, scratch, scratchBytes);
  const int64_t convBytes = scratchBytes - floatBytes(yn) - floatBytes(xn) - floatBytes(wn);
  ScratchCursor cur(static_cast<char *>(scratch) + convBytes);
  float *dy16 = cur.take(yn), *x16 = cur.take(xn), *w16 = cur.take(wn);
  const float scale = lossScale.load();
  roundToHalf(dy, dy16, yn, scale);
  if (dw)
    roundToHalf(x, x16, xn);
  if (dx)
    roundToHalf(w, w16, wn);
  convBwd(fn, s, dnnl_f32, dy16, x16, w16, dx, dw, db, scratch, convBytes);
  unscale(dx, xn, dw, wn, db, O, scale);
}

int64_t nnc_linear_fwd_mixed_scratch_bytes(int64_t M, int64_t in, int64_t out, int32_t precision) {
  if (precision == NNC_PRECISION_F16)
    return floatBytes(M * in) + floatBytes(out * in);
  if (precision != NNC_PRECISION_BF16)
    return 0;
  return scratchForPlannedThreads([&] {
    int64_t bytes = 0;
    for (bool bias : {false, true})
      for (bool relu : {false, true})
        bytes =
            std::max(bytes, cache().get(M, in, out, LinearKind::Forward, bias, relu).scratchBytes);
    return bytes;
  });
}

void nnc_linear_fwd_mixed(const float *x, const float *w, const float *b, float *y, void *scratch,
                          int64_t scratchBytes, int64_t M, int64_t in, int64_t out,
                          int32_t epilogue, int32_t precision) {
  nnc::rt::LibraryTimer timer;
  const char *fn = "nnc_linear_fwd_mixed";
  if (!validPrecision(fn, precision))
    return poison(y, M * out);
  if (precision == NNC_PRECISION_F32)
    return nnc_linear_fwd(x, w, b, y, M, in, out, epilogue);
  if (precision == NNC_PRECISION_F16) {
    ScratchCursor cur(scratch);
    float *x16 = cur.take(M * in), *w16 = cur.take(out * in);
    roundToHalf(x, x16, M * in);
    roundToHalf(w, w16, out * in);
    return nnc_linear_fwd(x16, w16, b, y, M, in, out, epilogue);
  }
  LinearEntry *e =
      linearEntry(fn, M, in, out, LinearKind::Forward, b != nullptr, epilogue == 1, scratchBytes);
  if (e && e->fwd.execute(cache().stream,
                          b ? std::initializer_list<const void *>{x, w, b, y}
                            : std::initializer_list<const void *>{x, w, y},
                          scratch))
    return;
  if (e)
    reportError(std::string(fn) + ": oneDNN failed to run a bf16 matmul");
  poison(y, M * out);
}

int64_t nnc_linear_bwd_mixed_scratch_bytes(int64_t M, int64_t in, int64_t out, int32_t precision) {
  if (precision == NNC_PRECISION_F16)
    return floatBytes(M * out) + floatBytes(M * in) + floatBytes(out * in);
  if (precision != NNC_PRECISION_BF16)
    return 0;
  return scratchForPlannedThreads(
      [&] { return cache().get(M, in, out, LinearKind::Backward, false, false).scratchBytes; });
}

void nnc_linear_bwd_mixed(const float *dy, const float *x, const float *w, float *dx, float *dw,
                          float *db, void *scratch, int64_t scratchBytes, int64_t M, int64_t in,
                          int64_t out, int32_t precision) {
  nnc::rt::LibraryTimer timer;
  const char *fn = "nnc_linear_bwd_mixed";
  if (!validPrecision(fn, precision)) {
    poison(dx, M * in);
    poison(dw, out * in);
    return poison(db, out);
  }
  if (precision == NNC_PRECISION_F32)
    return nnc_linear_bwd(dy, x, w, dx, dw, db, M, in, out);
  if (precision == NNC_PRECISION_F16) {
    ScratchCursor cur(scratch);
    float *dy16 = cur.take(M * out), *x16 = cur.take(M * in), *w16 = cur.take(out * in);
    const float scale = lossScale.load();
    roundToHalf(dy, dy16, M * out, scale);
    if (dw)
      roundToHalf(x, x16, M * in);
    if (dx)
      roundToHalf(w, w16, out * in);
    nnc_linear_bwd(dy16, x16, w16, dx, dw, db, M, in, out);
    return unscale(dx, M * in, dw, out * in, db, out, scale);
  }
  // The bias gradient in f32, as the f32 kernel sums it.
  if (db)
    nnc_linear_bwd(dy, nullptr, nullptr, nullptr, nullptr, db, M, in, out);
  if (!dx && !dw)
    return;
  LinearEntry *e = linearEntry(fn, M, in, out, LinearKind::Backward, false, false, scratchBytes);
  bool ok = e != nullptr;
  if (ok && dx)
    ok = e->bwdData.execute(cache().stream, {dy, w, dx}, scratch);
  if (ok && dw)
    ok = e->bwdWeights.execute(cache().stream, {dy, x, dw}, scratch);
  if (ok)
    return;
  if (e)
    reportError(std::string(fn) + ": oneDNN failed to run a bf16 matmul");
  poison(dx, M * in);
  poison(dw, out * in);
  poison(db, out);
}

void nnc_set_loss_scale(float scale) {
  lossScale.store(scale > 0.0f && std::isfinite(scale) ? scale : 1.0f);
}

float nnc_get_loss_scale(void) { return lossScale.load(); }

const char *nnc_mixed_implementations(void) { return implementations().str(); }

} // extern "C"
