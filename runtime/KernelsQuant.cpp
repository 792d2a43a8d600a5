//===- runtime/KernelsQuant.cpp - int8 conv2d and linear kernels ----------===//
//
// Part of nnc. The int8 library ops of post-training quantization
// (runtime/Kernels.h, section "Int8"): oneDNN int8 convolution and matmul
// primitives with s8 weights, a u8 or s8 source with a zero point, int32
// accumulation, per-output-channel scales, an f32 bias, a relu post-op and an
// f32, s8 or u8 destination. They run on the caller's plain layouts (NCHW,
// OIHW, [M,in], [out,in]) through the f32 conv's Primitive
// (runtime/KernelsPrimitive.h): oneDNN picks its layouts (format any), the
// activations are reordered inside the caller's scratch, the weights into
// copies kept while their bytes are unchanged.
//
// The output scales (xScale * wScale[o], divided by yScale for an int8
// output) are fixed when a primitive is created: oneDNN 2.6 has no int8
// convolution with runtime output scales (DNNL_RUNTIME_F32_VAL) on this CPU,
// and its matmul with them falls back from the AMX brgemm kernel to
// gemm:jit. So a primitive is cached per shape and scales, i.e. per layer,
// which is what a compiled model's calls are. The zero points are runtime
// arguments (DNNL_RUNTIME_S32_VAL); a zero point of 0 needs no attribute,
// without which oneDNN picks faster kernels (brgconv instead of jit), so the
// primitive is also keyed by whether each zero point is 0. oneDNN 2.x adds
// the bias to the int32 accumulator before the output scale (dst = scale *
// (acc + bias)); the kernel passes bias / (xScale * wScale[o]) so that the
// result is xScale * wScale[o] * acc + b[o].
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
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>
#include <vector>

using namespace nnc::kernels;

namespace {

/// What a cached int8 primitive is for: the conv shape (a linear layer is
/// the shape {M, in, out} padded with zeros and kind 1), the kind, the source
/// and destination types, relu, whether each zero point is nonzero, and the
/// thread count.
using QuantKey = std::array<int64_t, 21>;
enum KeyField { Kind_ = 14, XUnsigned_, YType_, Relu_, XZp_, YZp_, Threads_ };
enum class Kind : int64_t { Conv, Matmul };

dnnl_data_type_t sourceType(bool xUnsigned) { return xUnsigned ? dnnl_u8 : dnnl_s8; }
dnnl_data_type_t destinationType(int64_t yType) {
  return yType == 1 ? dnnl_s8 : yType == 2 ? dnnl_u8 : dnnl_f32;
}

/// The implementations used so far ("conv: ...", "matmul: ..."), each once.
ImplementationList &implementations() {
  static ImplementationList impls;
  return impls;
}

/// A primitive descriptor for `desc` with the user scratchpad, the
/// per-output-channel output `scales` (on dimension 1), runtime zero points
/// for the source and destination where asked, and a relu.
dnnl_primitive_desc_t createQuantPd(const_dnnl_op_desc_t desc, const std::vector<float> &scales,
                                    bool relu, bool xZp, bool yZp) {
  dnnl_primitive_attr_t attr = createAttr(relu);
  if (!attr)
    return nullptr;
  const int32_t runtimeZp = DNNL_RUNTIME_S32_VAL;
  bool ok = dnnl_primitive_attr_set_output_scales(attr, static_cast<int64_t>(scales.size()), 1 << 1,
                                                  scales.data()) == dnnl_success;
  if (ok && xZp)
    ok = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_SRC, 1, 0, &runtimeZp) == dnnl_success;
  if (ok && yZp)
    ok = dnnl_primitive_attr_set_zero_points(attr, DNNL_ARG_DST, 1, 0, &runtimeZp) == dnnl_success;
  dnnl_primitive_desc_t pd = nullptr;
  if (!ok || dnnl_primitive_desc_create(&pd, desc, attr, cpuEngine(), nullptr) != dnnl_success)
    pd = nullptr;
  dnnl_primitive_attr_destroy(attr);
  return pd;
}

/// One int8 primitive (for one key and output scales) and the small runtime
/// arguments it takes besides the tensors. The scratch is [the Primitive's
/// scratch | scaled bias (O f32) | source and destination zero points
/// (s32)].
struct QuantEntry {
  bool ok = false;
  Primitive prim;
  std::vector<float> scales;
  int64_t scratchBytes = 0;
  int64_t biasOffset = 0, zpOffset = 0;
  dnnl_memory_t xZp = nullptr, yZp = nullptr;
  /// "conv: <oneDNN's implementation name>" (recorded at the first run).
  std::string impl;
  bool recorded = false;

  QuantEntry(const QuantKey &k, std::vector<float> outScales) : scales(std::move(outScales)) {
    const bool relu = k[Relu_], xZpOn = k[XZp_], yZpOn = k[YZp_];
    const dnnl_data_type_t xt = sourceType(k[XUnsigned_]), yt = destinationType(k[YType_]);
    dnnl_primitive_desc_t pd = nullptr;
    using Arg = Primitive::Arg;
    std::string kind;
    if (static_cast<Kind>(k[Kind_]) == Kind::Conv) {
      ConvShape s;
      std::copy(k.begin(), k.begin() + 14, s.begin());
      ConvDescs d(s, xt, dnnl_s8, yt);
      dnnl_memory_desc_t x, w, y; // any layout
      dnnl_memory_desc_init_by_tag(&x, d.x.ndims, d.x.dims, xt, dnnl_format_tag_any);
      dnnl_memory_desc_init_by_tag(&w, d.w.ndims, d.w.dims, dnnl_s8, dnnl_format_tag_any);
      dnnl_memory_desc_init_by_tag(&y, d.y.ndims, d.y.dims, yt, dnnl_format_tag_any);
      dnnl_convolution_desc_t desc;
      if (dnnl_dilated_convolution_forward_desc_init(
              &desc, dnnl_forward_inference, dnnl_convolution_direct, &x, &w, &d.b, &y, d.strides,
              d.dilates, d.padL, d.padR) != dnnl_success)
        return;
      pd = createQuantPd(&desc, scales, relu, xZpOn, yZpOn);
      kind = "conv: ";
      if (pd)
        kind += implName(pd);
      ok = prim.init(pd, {Arg{DNNL_ARG_SRC, &d.x, false}, Arg{DNNL_ARG_WEIGHTS, &d.w, false, true},
                          Arg{DNNL_ARG_BIAS, &d.b, false}, Arg{DNNL_ARG_DST, &d.y, true}});
    } else {
      const int64_t m = k[0], in = k[1], out = k[2];
      // w [out, in] row-major is the matmul's [in, out] weights in layout ba.
      dnnl_dims_t xd = {m, in}, wd = {in, out}, bd = {1, out}, yd = {m, out};
      dnnl_memory_desc_t x, wPlain, wAny, b, y;
      dnnl_memory_desc_init_by_tag(&x, 2, xd, xt, dnnl_ab);
      dnnl_memory_desc_init_by_tag(&wPlain, 2, wd, dnnl_s8, dnnl_ba);
      dnnl_memory_desc_init_by_tag(&wAny, 2, wd, dnnl_s8, dnnl_format_tag_any);
      dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_f32, dnnl_ab);
      dnnl_memory_desc_init_by_tag(&y, 2, yd, yt, dnnl_ab);
      dnnl_matmul_desc_t desc;
      if (dnnl_matmul_desc_init(&desc, &x, &wAny, &b, &y) != dnnl_success)
        return;
      pd = createQuantPd(&desc, scales, relu, xZpOn, yZpOn);
      kind = "matmul: ";
      if (pd)
        kind += implName(pd);
      ok = prim.init(pd, {Arg{DNNL_ARG_SRC, &x, false}, Arg{DNNL_ARG_WEIGHTS, &wPlain, false, true},
                          Arg{DNNL_ARG_BIAS, &b, false}, Arg{DNNL_ARG_DST, &y, true}});
    }
    if (!ok)
      return;
    impl = kind;
    biasOffset = alignUp(prim.scratchBytes);
    zpOffset = biasOffset + alignUp(static_cast<int64_t>(scales.size()) * 4);
    scratchBytes = zpOffset + 64;
    dnnl_dims_t one = {1};
    dnnl_memory_desc_t zpMd;
    dnnl_memory_desc_init_by_tag(&zpMd, 1, one, dnnl_s32, dnnl_a);
    ok = dnnl_memory_create(&xZp, &zpMd, cpuEngine(), DNNL_MEMORY_NONE) == dnnl_success &&
         dnnl_memory_create(&yZp, &zpMd, cpuEngine(), DNNL_MEMORY_NONE) == dnnl_success;
  }
  QuantEntry(const QuantEntry &) = delete;
  QuantEntry &operator=(const QuantEntry &) = delete;
  ~QuantEntry() {
    for (dnnl_memory_t m : {xZp, yZp})
      if (m)
        dnnl_memory_destroy(m);
  }

  /// Runs the primitive: writes the bias (divided by `accScale`, the scale of
  /// the accumulator) and the zero points to the scratch first.
  bool run(dnnl_stream_t stream, const void *x, const void *w, const double *accScale,
           const float *b, void *y, void *scratch, int32_t xZeroPoint, int32_t yZeroPoint) {
    char *base = static_cast<char *>(scratch);
    float *bias = reinterpret_cast<float *>(base + biasOffset);
    int32_t *zps = reinterpret_cast<int32_t *>(base + zpOffset);
    for (size_t o = 0; o < scales.size(); ++o)
      bias[o] = b && accScale[o] != 0.0 ? static_cast<float>(b[o] / accScale[o]) : 0.0f;
    zps[0] = xZeroPoint;
    zps[1] = yZeroPoint;
    dnnl_memory_set_data_handle(xZp, zps);
    dnnl_memory_set_data_handle(yZp, zps + 1);
    if (!recorded) {
      implementations().add(impl);
      recorded = true;
    }
    // Absent zero-point attributes ignore their (zero) arguments.
    return prim.execute(stream, {x, w, bias, y}, scratch, false,
                        {{DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, xZp},
                         {DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST, yZp}});
  }

private:
  static std::string implName(const_dnnl_primitive_desc_t pd) {
    const char *name = nullptr;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success || !name)
      return "?";
    return name;
  }
};

/// A thread's stream and int8 primitives: per key, the entries of the
/// output scales seen (one per layer of that shape), up to kMaxScales.
struct QuantCache {
  dnnl_stream_t stream = nullptr;
  struct Slot {
    std::vector<std::unique_ptr<QuantEntry>> entries;
    size_t nextVictim = 0;
  };
  std::map<QuantKey, Slot> slots;
  static constexpr size_t kMaxScales = 32;

  QuantCache() {
    if (dnnl_stream_create(&stream, cpuEngine(), dnnl_stream_default_flags) != dnnl_success)
      stream = nullptr;
  }
  ~QuantCache() {
    slots.clear();
    if (stream)
      dnnl_stream_destroy(stream);
  }

  /// The entry of `k` (at the current thread count) and these output scales,
  /// created at its first use (replacing the oldest beyond kMaxScales).
  QuantEntry &get(QuantKey k, const std::vector<float> &scales) {
    k[Threads_] = omp_get_max_threads();
    Slot &slot = slots[k];
    for (std::unique_ptr<QuantEntry> &e : slot.entries)
      if (e->scales.size() == scales.size() &&
          std::memcmp(e->scales.data(), scales.data(), scales.size() * sizeof(float)) == 0)
        return *e;
    auto e = std::make_unique<QuantEntry>(k, scales);
    if (slot.entries.size() < kMaxScales)
      return *slot.entries.emplace_back(std::move(e));
    std::unique_ptr<QuantEntry> &victim = slot.entries[slot.nextVictim++ % kMaxScales];
    victim = std::move(e);
    return *victim;
  }
};

thread_local std::unique_ptr<QuantCache> quantCache;

QuantCache &cache() {
  if (!quantCache)
    quantCache = std::make_unique<QuantCache>();
  return *quantCache;
}

/// The scratch of the key with every choice of relu and zero points, for the
/// thread count of a run on this machine (scratchForPlannedThreads). Output
/// scales do not change it: it is planned with scales 1.
int64_t plannedScratch(QuantKey k, int64_t channels) {
  const std::vector<float> ones(static_cast<size_t>(channels), 1.0f);
  return scratchForPlannedThreads([&] {
    int64_t bytes = 0;
    for (int relu = 0; relu < 2; ++relu)
      for (int xZp = 0; xZp < 2; ++xZp)
        for (int yZp = 0; yZp < (k[YType_] == 0 ? 1 : 2); ++yZp) {
          k[Relu_] = relu;
          k[XZp_] = xZp;
          k[YZp_] = yZp;
          bytes = std::max(bytes, cache().get(k, ones).scratchBytes);
        }
    return bytes;
  });
}

QuantKey convKey(const ConvShape &s, int32_t xUnsigned, int32_t yType) {
  QuantKey k{};
  std::copy(s.begin(), s.end(), k.begin());
  k[Kind_] = static_cast<int64_t>(Kind::Conv);
  k[XUnsigned_] = xUnsigned != 0;
  k[YType_] = yType;
  return k;
}

QuantKey matmulKey(int64_t m, int64_t in, int64_t out, int32_t xUnsigned, int32_t yType) {
  QuantKey k{};
  k[0] = m;
  k[1] = in;
  k[2] = out;
  k[Kind_] = static_cast<int64_t>(Kind::Matmul);
  k[XUnsigned_] = xUnsigned != 0;
  k[YType_] = yType;
  return k;
}

/// "u8 -> f32" for messages.
std::string types(int32_t xUnsigned, int32_t yType) {
  return std::string(xUnsigned ? "u8" : "s8") + " -> " +
         (yType == 1   ? "s8"
          : yType == 2 ? "u8"
                       : "f32");
}

/// Runs the entry of `k` (with the call's epilogue and zero points) or
/// reports why it cannot run and fills y with NaN (f32) or zeros (int8).
void runQuant(const char *fn, QuantKey k, const std::string &what, int64_t channels, int64_t yElems,
              const int8_t *x, const int8_t *w, const float *wScale, const float *b, void *y,
              void *scratch, int64_t scratchBytes, float xScale, int32_t xZeroPoint,
              int32_t epilogue, int32_t yType, float yScale, int32_t yZeroPoint) {
  nnc::rt::LibraryTimer timer;
  const std::string desc = what + " (" + types(k[XUnsigned_], yType) + ")";
  bool ok = false;
  if (yType < 0 || yType > 2) {
    reportError(std::string(fn) + ": unknown output type " + std::to_string(yType));
    return;
  }
  k[Relu_] = epilogue == 1;
  k[XZp_] = xZeroPoint != 0;
  k[YZp_] = yType != 0 && yZeroPoint != 0;
  std::vector<double> accScale(static_cast<size_t>(channels));
  std::vector<float> outScales(accScale.size());
  for (size_t o = 0; o < accScale.size(); ++o) {
    accScale[o] = static_cast<double>(xScale) * wScale[o];
    outScales[o] = static_cast<float>(yType == 0 ? accScale[o] : accScale[o] / yScale);
  }
  QuantEntry &e = cache().get(k, outScales);
  if (!e.ok || !cache().stream) {
    reportError(std::string(fn) + ": oneDNN has no int8 implementation of " + desc);
  } else if (e.scratchBytes > scratchBytes) {
    reportError(std::string(fn) + ": " + desc + " needs " + std::to_string(e.scratchBytes) +
                " scratch bytes with " + std::to_string(omp_get_max_threads()) +
                " threads on this CPU, but the model planned " + std::to_string(scratchBytes) +
                " (it was built on another CPU or for fewer threads): rebuild it on this "
                "machine or run it with fewer threads");
  } else {
    ok = e.run(cache().stream, x, w, accScale.data(), b, y, scratch, xZeroPoint, yZeroPoint);
    if (!ok)
      reportError(std::string(fn) + ": oneDNN failed to run " + desc);
  }
  if (ok)
    return;
  if (yType == 0)
    std::fill_n(static_cast<float *>(y), yElems, std::numeric_limits<float>::quiet_NaN());
  else
    std::memset(y, 0, static_cast<size_t>(yElems));
}

} // namespace

void nnc::kernels::releaseInt8Primitives() { quantCache.reset(); }

extern "C" {

int64_t nnc_qconv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                                      int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                                      int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                                      int64_t groups, int32_t xUnsigned, int32_t yType) {
  ConvShape s = {N,       C,       H,    W,    O,    KH,   KW,
                 strideH, strideW, padH, padW, dilH, dilW, std::max<int64_t>(groups, 1)};
  return plannedScratch(convKey(s, xUnsigned, yType), O);
}

void nnc_qconv2d_fwd(const int8_t *x, const int8_t *w, const float *wScale, const float *b, void *y,
                     void *scratch, int64_t scratchBytes, int64_t N, int64_t C, int64_t H,
                     int64_t W, int64_t O, int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                     int64_t padH, int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                     float xScale, int32_t xZeroPoint, int32_t xUnsigned, int32_t epilogue,
                     int32_t yType, float yScale, int32_t yZeroPoint) {
  ConvShape s = {N,       C,       H,    W,    O,    KH,   KW,
                 strideH, strideW, padH, padW, dilH, dilW, std::max<int64_t>(groups, 1)};
  auto [oh, ow] = outputSize(s);
  runQuant("nnc_qconv2d_fwd", convKey(s, xUnsigned, yType), "int8 " + describe(s), O,
           N * O * oh * ow, x, w, wScale, b, y, scratch, scratchBytes, xScale, xZeroPoint, epilogue,
           yType, yScale, yZeroPoint);
}

int64_t nnc_qlinear_fwd_scratch_bytes(int64_t M, int64_t in, int64_t out, int32_t xUnsigned,
                                      int32_t yType) {
  return plannedScratch(matmulKey(M, in, out, xUnsigned, yType), out);
}

void nnc_qlinear_fwd(const int8_t *x, const int8_t *w, const float *wScale, const float *b, void *y,
                     void *scratch, int64_t scratchBytes, int64_t M, int64_t in, int64_t out,
                     float xScale, int32_t xZeroPoint, int32_t xUnsigned, int32_t epilogue,
                     int32_t yType, float yScale, int32_t yZeroPoint) {
  const std::string what = "int8 linear [" + std::to_string(M) + "," + std::to_string(in) +
                           "] * [" + std::to_string(out) + "," + std::to_string(in) + "]^T";
  runQuant("nnc_qlinear_fwd", matmulKey(M, in, out, xUnsigned, yType), what, out, M * out, x, w,
           wScale, b, y, scratch, scratchBytes, xScale, xZeroPoint, epilogue, yType, yScale,
           yZeroPoint);
}

const char *nnc_int8_implementations(void) { return implementations().str(); }

} // extern "C"
