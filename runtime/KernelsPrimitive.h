//===- runtime/KernelsPrimitive.h - oneDNN primitives on plain tensors -*- C++ -*-===//
//
// Part of nnc. Private to the kernel sources (the f32 conv of KernelsConv.cpp
// and the int8 conv/matmul of KernelsQuant.cpp); not installed, not part of
// the ABI.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_KERNELSPRIMITIVE_H
#define NNC_RUNTIME_KERNELSPRIMITIVE_H

#include "runtime/KernelsInternal.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace nnc::kernels {

/// The 14 shape arguments every conv function takes, in ABI order.
using ConvShape = std::array<int64_t, 14>;
enum Dim { N_, C_, H_, W_, O_, KH_, KW_, SH_, SW_, PH_, PW_, DH_, DW_, G_ };

/// A ConvShape from the ABI's 14 arguments (groups < 1 read as 1).
inline ConvShape convShape(int64_t N, int64_t C, int64_t H, int64_t W, int64_t O, int64_t KH,
                           int64_t KW, int64_t strideH, int64_t strideW, int64_t padH, int64_t padW,
                           int64_t dilH, int64_t dilW, int64_t groups) {
  return {N,       C,       H,    W,    O,    KH,   KW,
          strideH, strideW, padH, padW, dilH, dilW, std::max<int64_t>(groups, 1)};
}

/// Output height and width of a conv shape (PyTorch's floor formula).
inline std::pair<int64_t, int64_t> outputSize(const ConvShape &s) {
  int64_t oh = (s[H_] + 2 * s[PH_] - s[DH_] * (s[KH_] - 1) - 1) / s[SH_] + 1;
  int64_t ow = (s[W_] + 2 * s[PW_] - s[DW_] * (s[KW_] - 1) - 1) / s[SW_] + 1;
  return {oh, ow};
}

/// "conv2d [64,6,14,14] * [16,6,5,5] (stride 1x1, ...)" for error messages.
inline std::string describe(const ConvShape &s) {
  auto ll = [](int64_t v) { return static_cast<long long>(v); };
  char buf[256];
  std::snprintf(buf, sizeof(buf),
                "conv2d [%lld,%lld,%lld,%lld] * [%lld,%lld,%lld,%lld] (stride "
                "%lldx%lld, padding %lldx%lld, dilation %lldx%lld, groups %lld)",
                ll(s[N_]), ll(s[C_]), ll(s[H_]), ll(s[W_]), ll(s[O_]), ll(s[C_] / s[G_]),
                ll(s[KH_]), ll(s[KW_]), ll(s[SH_]), ll(s[SW_]), ll(s[PH_]), ll(s[PW_]), ll(s[DH_]),
                ll(s[DW_]), ll(s[G_]));
  return buf;
}

/// A primitive descriptor attribute: user scratchpad and, if `relu`, a relu
/// post-op.
inline dnnl_primitive_attr_t createAttr(bool relu) {
  dnnl_primitive_attr_t attr = nullptr;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success)
    return nullptr;
  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (relu) {
    dnnl_post_ops_t ops = nullptr;
    dnnl_post_ops_create(&ops);
    dnnl_post_ops_append_eltwise(ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
    dnnl_primitive_attr_set_post_ops(attr, ops);
    dnnl_post_ops_destroy(ops);
  }
  return attr;
}

/// The scratchpad bytes a primitive descriptor asks for.
inline int64_t scratchpadBytes(const_dnnl_primitive_desc_t pd) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  return md ? static_cast<int64_t>(dnnl_memory_desc_get_size(md)) : 0;
}

/// A oneDNN primitive on the caller's plain tensors. Where the primitive
/// works on another (blocked) layout, the tensor is reordered into a buffer
/// in the scratch before (inputs) or out of it after (outputs). The scratch
/// is [scratchpad | one buffer per reordered tensor], every part 64-byte
/// aligned; the scratchpad is shared by the primitive and its reorders,
/// which run one after another. A kept input (weights) is reordered into
/// buffers of its own instead, reused while its bytes are unchanged.
class Primitive {
public:
  Primitive() = default;
  Primitive(const Primitive &) = delete;
  Primitive &operator=(const Primitive &) = delete;
  ~Primitive() { reset(); }

  /// Frees everything init created: back to a default-constructed state.
  void reset() {
    for (Operand &o : operands) {
      dnnl_memory_destroy(o.user);
      if (o.inner)
        dnnl_memory_destroy(o.inner);
      if (o.reorder)
        dnnl_primitive_destroy(o.reorder);
    }
    if (pad)
      dnnl_memory_destroy(pad);
    if (prim)
      dnnl_primitive_destroy(prim);
    operands.clear();
    pad = nullptr;
    prim = nullptr;
    padRegion = bufferBytes = scratchBytes = 0;
  }

  /// One tensor argument: its DNNL_ARG_* id, its plain layout, whether the
  /// primitive writes it.
  struct Arg {
    int id;
    const dnnl_memory_desc_t *plain;
    bool output;
    /// An input whose reordered copy is kept across calls (outside the
    /// scratch) and reused while the tensor's bytes are unchanged: weights,
    /// which inference passes unchanged call after call (up to
    /// kMaxKeptBytes; larger ones are reordered into the scratch each call).
    bool keep = false;
  };

  /// Creates the primitive of `pd` (destroying pd) and the reorders its
  /// layouts need. False if oneDNN refused.
  bool init(dnnl_primitive_desc_t pd, std::initializer_list<Arg> args) {
    if (!pd)
      return false;
    int64_t padBytes = scratchpadBytes(pd), offset = 0;
    bool ok = true;
    for (const Arg &a : args) {
      Operand o;
      o.id = a.id;
      o.output = a.output;
      const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a.id);
      ok = ok && md && createMemory(&o.user, a.plain);
      if (ok && !dnnl_memory_desc_equal(md, a.plain)) {
        ok = createMemory(&o.inner, md);
        dnnl_primitive_desc_t rpd = nullptr;
        dnnl_primitive_attr_t attr = createAttr(false);
        ok = ok && attr &&
             dnnl_reorder_primitive_desc_create(&rpd, a.output ? md : a.plain, cpuEngine(),
                                                a.output ? a.plain : md, cpuEngine(),
                                                attr) == dnnl_success;
        if (attr)
          dnnl_primitive_attr_destroy(attr);
        if (ok) {
          padBytes = std::max(padBytes, scratchpadBytes(rpd));
          ok = dnnl_primitive_create(&o.reorder, rpd) == dnnl_success;
          dnnl_primitive_desc_destroy(rpd);
        }
        o.innerDesc = *md;
        const int64_t innerBytes = alignUp(static_cast<int64_t>(dnnl_memory_desc_get_size(md)));
        if (a.keep && !a.output && dnnl_memory_desc_get_size(a.plain) <= kMaxKeptBytes) {
          o.keep = true;
          o.plainBytes = dnnl_memory_desc_get_size(a.plain);
          o.innerBytes = innerBytes;
        } else {
          o.offset = offset;
          offset += innerBytes;
        }
      }
      operands.push_back(std::move(o));
    }
    if (ok && padBytes > 0) {
      // One byte buffer large enough for every user of the scratchpad.
      dnnl_dims_t dims = {padBytes};
      dnnl_memory_desc_t bytes;
      ok = dnnl_memory_desc_init_by_tag(&bytes, 1, dims, dnnl_u8, dnnl_a) == dnnl_success &&
           createMemory(&pad, &bytes);
    }
    bufferBytes = offset;
    setPadRegion(alignUp(padBytes));
    ok = ok && dnnl_primitive_create(&prim, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    return ok;
  }

  /// Moves the reorder buffers behind a scratchpad region of `bytes` (at
  /// least the primitive's own), so that two primitives run one after the
  /// other can find a shared first input at the same place.
  void setPadRegion(int64_t bytes) {
    for (Operand &o : operands)
      o.offset += bytes - padRegion;
    padRegion = bytes;
    scratchBytes = padRegion + bufferBytes;
  }
  int64_t padRegionBytes() const { return padRegion; }

  /// The layout the primitive reads its first tensor in, if it is not the
  /// plain one (null: no reorder).
  const dnnl_memory_desc_t *firstInner() const {
    return operands.empty() || !operands[0].inner ? nullptr : &operands[0].innerDesc;
  }

  /// Runs the primitive on `ptrs` (the caller's tensors, in init's order)
  /// with `scratch` (at least scratchBytes), and waits for it. With
  /// `firstReordered`, the first input's reorder buffer already holds it
  /// (a primitive with the same firstInner and pad region ran before on it).
  /// `extra` are further arguments passed as they are (no reorder): the
  /// runtime scales and zero points of the int8 kernels (at most 4).
  bool execute(dnnl_stream_t stream, std::initializer_list<const void *> ptrs, void *scratch,
               bool firstReordered = false, std::initializer_list<dnnl_exec_arg_t> extra = {}) {
    char *base = static_cast<char *>(scratch);
    std::array<dnnl_exec_arg_t, 12> exec;
    int n = 0;
    size_t i = 0;
    for (const void *p : ptrs) {
      Operand &o = operands[i++];
      dnnl_memory_set_data_handle(o.user, const_cast<void *>(p));
      if (o.inner && !o.keep)
        dnnl_memory_set_data_handle(o.inner, base + o.offset);
      exec[n++] = {o.id, o.inner ? o.inner : o.user};
    }
    if (pad) {
      dnnl_memory_set_data_handle(pad, base);
      exec[n++] = {DNNL_ARG_SCRATCHPAD, pad};
    }
    for (const dnnl_exec_arg_t &a : extra)
      exec[n++] = a;
    bool ok = true;
    i = 0;
    for (const void *p : ptrs) {
      Operand &o = operands[i++];
      if (!o.inner || o.output || (i == 1 && firstReordered))
        continue;
      if (o.keep)
        ok = ok && reorderKept(stream, o, p);
      else
        ok = ok && reorder(stream, o.reorder, o.user, o.inner);
    }
    ok = ok && dnnl_primitive_execute(prim, stream, n, exec.data()) == dnnl_success;
    for (Operand &o : operands)
      if (o.inner && o.output)
        ok = ok && reorder(stream, o.reorder, o.inner, o.user);
    return ok && dnnl_stream_wait(stream) == dnnl_success;
  }

  /// oneDNN's name of the primitive's implementation ("" before init).
  std::string implementation() const {
    const_dnnl_primitive_desc_t pd = nullptr;
    const char *impl = nullptr;
    if (!prim || dnnl_primitive_get_primitive_desc(prim, &pd) != dnnl_success ||
        dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success)
      return "";
    return impl ? impl : "";
  }

  /// Bytes of scratch execute needs: the scratchpad and the reorder buffers.
  int64_t scratchBytes = 0;

private:
  /// One reordered copy of a kept input and the plain bytes it was made
  /// from: [inner | plain] in one 64-byte-aligned buffer.
  struct KeptCopy {
    std::vector<char> store;
    char *inner = nullptr, *plain = nullptr;
  };

  struct Operand {
    int id;
    bool output;
    dnnl_memory_t user = nullptr;       ///< the caller's tensor, plain layout
    dnnl_memory_t inner = nullptr;      ///< the primitive's layout (null: plain)
    dnnl_primitive_t reorder = nullptr; ///< user -> inner, or inner -> user
    int64_t offset = 0;                 ///< inner's place in the scratch
    dnnl_memory_desc_t innerDesc{};     ///< inner's layout
    /// A kept input (Arg::keep) has reordered copies outside the scratch.
    bool keep = false;
    size_t plainBytes = 0;
    int64_t innerBytes = 0;
    std::vector<KeptCopy> copies;
    size_t nextVictim = 0;
  };

  /// Copies of a kept input: one per set of weights (a shape's call sites
  /// share the primitive), up to this many.
  static constexpr size_t kMaxKeptCopies = 8;
  /// Larger weights are not kept (at most 8 x 2 x 1 MiB per primitive): their
  /// reorder is small next to the convolution, their copies would not be.
  static constexpr size_t kMaxKeptBytes = size_t(1) << 20;

  /// Points `o.inner` at a reordered copy of `p`'s bytes: a kept copy made
  /// from the same bytes (compared in full, so a weight update or newly
  /// loaded weights never reuse a stale copy), else a new or the oldest
  /// copy, reordered now.
  bool reorderKept(dnnl_stream_t stream, Operand &o, const void *p) {
    for (KeptCopy &c : o.copies)
      if (std::memcmp(c.plain, p, o.plainBytes) == 0) {
        dnnl_memory_set_data_handle(o.inner, c.inner);
        return true;
      }
    KeptCopy *c;
    if (o.copies.size() < kMaxKeptCopies) {
      c = &o.copies.emplace_back();
      c->store.resize(o.innerBytes + o.plainBytes + 64);
      char *base = c->store.data();
      c->inner = base + (64 - reinterpret_cast<uintptr_t>(base) % 64);
      c->plain = c->inner + o.innerBytes;
    } else {
      c = &o.copies[o.nextVictim++ % kMaxKeptCopies];
    }
    dnnl_memory_set_data_handle(o.inner, c->inner);
    if (!reorder(stream, o.reorder, o.user, o.inner)) {
      // Never match these bytes again: the copy may be partly written.
      std::memset(c->plain, 0, o.plainBytes);
      c->plain[0] = static_cast<char>(~static_cast<const char *>(p)[0]);
      return false;
    }
    std::memcpy(c->plain, p, o.plainBytes);
    return true;
  }

  static bool createMemory(dnnl_memory_t *mem, const dnnl_memory_desc_t *md) {
    return dnnl_memory_create(mem, md, cpuEngine(), DNNL_MEMORY_NONE) == dnnl_success;
  }

  bool reorder(dnnl_stream_t stream, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    int n = 2;
    if (pad)
      args[n++] = {DNNL_ARG_SCRATCHPAD, pad};
    return dnnl_primitive_execute(r, stream, n, args) == dnnl_success;
  }

  dnnl_primitive_t prim = nullptr;
  dnnl_memory_t pad = nullptr;
  int64_t padRegion = 0, bufferBytes = 0;
  std::vector<Operand> operands;
};

/// The scratch a primitive needs for the thread count of a run on this
/// machine: the larger of `bytes()` at the current thread count and at the
/// online core count (a compiled model is usually run with at most one thread
/// per core; primitives are cached per thread count), rounded up to 64.
template <typename BytesFn> int64_t scratchForPlannedThreads(BytesFn bytes) {
  int64_t most = bytes();
  const int current = omp_get_max_threads();
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > current) {
    omp_set_num_threads(static_cast<int>(cores));
    most = std::max(most, bytes());
    omp_set_num_threads(current);
  }
  return alignUp(most);
}

/// The oneDNN implementations a family of kernels has used so far, each
/// once, "; "-joined (nnc_int8_implementations, nnc_mixed_implementations).
class ImplementationList {
public:
  void add(const std::string &impl) {
    std::lock_guard<std::mutex> lock(mutex);
    if (std::find(seen.begin(), seen.end(), impl) != seen.end())
      return;
    seen.push_back(impl);
    joined.clear();
    for (const std::string &s : seen)
      joined += (joined.empty() ? "" : "; ") + s;
  }
  /// The list; valid until the next add.
  const char *str() {
    std::lock_guard<std::mutex> lock(mutex);
    return joined.c_str();
  }

private:
  std::mutex mutex;
  std::vector<std::string> seen;
  std::string joined;
};

/// Fills a tensor a kernel could not compute with NaN (never stale data);
/// null: nothing.
inline void poison(float *p, int64_t n) {
  if (p)
    std::fill(p, p + n, std::numeric_limits<float>::quiet_NaN());
}

/// The error of a primitive (`what`, e.g. describe(shape)) that needs more
/// scratch than the model planned.
inline std::string scratchShortfall(const char *fn, const std::string &what, int64_t needed,
                                    int64_t planned) {
  return std::string(fn) + ": " + what + " needs " + std::to_string(needed) +
         " scratch bytes with " + std::to_string(omp_get_max_threads()) +
         " threads on this CPU, but the model planned " + std::to_string(planned) +
         " (it was built on another CPU or for fewer threads): rebuild it on this machine or "
         "run it with fewer threads";
}

/// The oneDNN description of a conv shape on the plain layouts.
struct ConvDescs {
  dnnl_memory_desc_t x, w, b, y;
  dnnl_dims_t strides, dilates, padL, padR;

  /// x, w and y of the given types (the int8 kernels: u8/s8, s8, f32/s8/u8);
  /// b is always f32.
  explicit ConvDescs(const ConvShape &s, dnnl_data_type_t xType = dnnl_f32,
                     dnnl_data_type_t wType = dnnl_f32, dnnl_data_type_t yType = dnnl_f32) {
    auto [oh, ow] = outputSize(s);
    const int64_t g = s[G_];
    dnnl_dims_t xd = {s[N_], s[C_], s[H_], s[W_]};
    dnnl_dims_t yd = {s[N_], s[O_], oh, ow};
    dnnl_dims_t bd = {s[O_]};
    dnnl_memory_desc_init_by_tag(&x, 4, xd, xType, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&y, 4, yd, yType, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_a);
    if (g > 1) {
      dnnl_dims_t wd = {g, s[O_] / g, s[C_] / g, s[KH_], s[KW_]};
      dnnl_memory_desc_init_by_tag(&w, 5, wd, wType, dnnl_goihw);
    } else {
      dnnl_dims_t wd = {s[O_], s[C_], s[KH_], s[KW_]};
      dnnl_memory_desc_init_by_tag(&w, 4, wd, wType, dnnl_oihw);
    }
    // oneDNN counts dilation from 0; the right padding is how far the last
    // output row/column reaches past the input (negative if it stops short).
    const int64_t out[2] = {oh, ow}, in[2] = {s[H_], s[W_]};
    for (int d = 0; d < 2; ++d) {
      int64_t k = s[KH_ + d], st = s[SH_ + d], p = s[PH_ + d], dil = s[DH_ + d];
      strides[d] = st;
      dilates[d] = dil - 1;
      padL[d] = p;
      padR[d] = (out[d] - 1) * st + (k - 1) * dil + 1 - in[d] - p;
    }
  }
};

/// The f32 conv kernels of KernelsConv.cpp with their inputs (x, w, dy) read
/// in `low` (f32, or bf16/f16 converted by the reorders into the scratch) and
/// f32 outputs; `fn` names the entry point in error reports. Same scratch
/// rules as nnc_conv2d_fwd/bwd.
int64_t convFwdScratchBytes(const ConvShape &s, dnnl_data_type_t low);
void convFwd(const char *fn, const ConvShape &s, dnnl_data_type_t low, const float *x,
             const float *w, const float *b, float *y, void *scratch, int64_t scratchBytes,
             int32_t epilogue);
int64_t convBwdScratchBytes(const ConvShape &s, dnnl_data_type_t low);
void convBwd(const char *fn, const ConvShape &s, dnnl_data_type_t low, const float *dy,
             const float *x, const float *w, float *dx, float *dw, float *db, void *scratch,
             int64_t scratchBytes);
/// Frees the calling thread's reduced-precision linear primitives
/// (KernelsMixed.cpp; nnc_kernels_release).
void releaseMixedPrimitives();
/// Adds `impl` ("conv fwd: brgconv:avx512_core_amx_bf16") to what
/// nnc_mixed_implementations lists.
void recordMixedImplementation(const std::string &impl);

} // namespace nnc::kernels

#endif // NNC_RUNTIME_KERNELSPRIMITIVE_H
