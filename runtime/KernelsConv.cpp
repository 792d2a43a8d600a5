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

/// The 14 shape arguments every conv function takes, in ABI order.
using ConvShape = std::array<int64_t, 14>;
enum Dim { N_, C_, H_, W_, O_, KH_, KW_, SH_, SW_, PH_, PW_, DH_, DW_, G_ };

/// Output height and width of a conv shape (PyTorch's floor formula).
std::pair<int64_t, int64_t> outputSize(const ConvShape &s) {
  int64_t oh = (s[H_] + 2 * s[PH_] - s[DH_] * (s[KH_] - 1) - 1) / s[SH_] + 1;
  int64_t ow = (s[W_] + 2 * s[PW_] - s[DW_] * (s[KW_] - 1) - 1) / s[SW_] + 1;
  return {oh, ow};
}

/// "conv2d [64,6,14,14] * [16,6,5,5] (stride 1x1, ...)" for error messages.
std::string describe(const ConvShape &s) {
  auto ll = [](int64_t v) { return static_cast<long long>(v); };
  char buf[256];
  std::snprintf(
      buf, sizeof(buf),
      "conv2d [%lld,%lld,%lld,%lld] * [%lld,%lld,%lld,%lld] (stride "
      "%lldx%lld, padding %lldx%lld, dilation %lldx%lld, groups %lld)",
      ll(s[N_]), ll(s[C_]), ll(s[H_]), ll(s[W_]), ll(s[O_]), ll(s[C_] / s[G_]),
      ll(s[KH_]), ll(s[KW_]), ll(s[SH_]), ll(s[SW_]), ll(s[PH_]), ll(s[PW_]),
      ll(s[DH_]), ll(s[DW_]), ll(s[G_]));
  return buf;
}

/// A primitive descriptor attribute: user scratchpad and, if `relu`, a relu
/// post-op.
dnnl_primitive_attr_t createAttr(bool relu) {
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
int64_t scratchpadBytes(const_dnnl_primitive_desc_t pd) {
  const dnnl_memory_desc_t *md =
      dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
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
      const dnnl_memory_desc_t *md =
          dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, a.id);
      ok = ok && md && createMemory(&o.user, a.plain);
      if (ok && !dnnl_memory_desc_equal(md, a.plain)) {
        ok = createMemory(&o.inner, md);
        dnnl_primitive_desc_t rpd = nullptr;
        dnnl_primitive_attr_t attr = createAttr(false);
        ok = ok && attr &&
             dnnl_reorder_primitive_desc_create(
                 &rpd, a.output ? md : a.plain, cpuEngine(),
                 a.output ? a.plain : md, cpuEngine(), attr) == dnnl_success;
        if (attr)
          dnnl_primitive_attr_destroy(attr);
        if (ok) {
          padBytes = std::max(padBytes, scratchpadBytes(rpd));
          ok = dnnl_primitive_create(&o.reorder, rpd) == dnnl_success;
          dnnl_primitive_desc_destroy(rpd);
        }
        o.innerDesc = *md;
        const int64_t innerBytes =
            alignUp(static_cast<int64_t>(dnnl_memory_desc_get_size(md)));
        if (a.keep && !a.output &&
            dnnl_memory_desc_get_size(a.plain) <= kMaxKeptBytes) {
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
      ok = dnnl_memory_desc_init_by_tag(&bytes, 1, dims, dnnl_u8, dnnl_a) ==
               dnnl_success &&
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
    return operands.empty() || !operands[0].inner ? nullptr
                                                  : &operands[0].innerDesc;
  }

  /// Runs the primitive on `ptrs` (the caller's tensors, in init's order)
  /// with `scratch` (at least scratchBytes), and waits for it. With
  /// `firstReordered`, the first input's reorder buffer already holds it
  /// (a primitive with the same firstInner and pad region ran before on it).
  bool execute(dnnl_stream_t stream, std::initializer_list<const void *> ptrs,
               void *scratch, bool firstReordered = false) {
    char *base = static_cast<char *>(scratch);
    std::array<dnnl_exec_arg_t, 8> exec;
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
    ok = ok &&
         dnnl_primitive_execute(prim, stream, n, exec.data()) == dnnl_success;
    for (Operand &o : operands)
      if (o.inner && o.output)
        ok = ok && reorder(stream, o.reorder, o.inner, o.user);
    return ok && dnnl_stream_wait(stream) == dnnl_success;
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
    dnnl_memory_t user = nullptr;  ///< the caller's tensor, plain layout
    dnnl_memory_t inner = nullptr; ///< the primitive's layout (null: plain)
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
    return dnnl_memory_create(mem, md, cpuEngine(), DNNL_MEMORY_NONE) ==
           dnnl_success;
  }

  bool reorder(dnnl_stream_t stream, dnnl_primitive_t r, dnnl_memory_t from,
               dnnl_memory_t to) {
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

/// The oneDNN description of a conv shape on the plain layouts.
struct ConvDescs {
  dnnl_memory_desc_t x, w, b, y;
  dnnl_dims_t strides, dilates, padL, padR;

  explicit ConvDescs(const ConvShape &s) {
    auto [oh, ow] = outputSize(s);
    const int64_t g = s[G_];
    dnnl_dims_t xd = {s[N_], s[C_], s[H_], s[W_]};
    dnnl_dims_t yd = {s[N_], s[O_], oh, ow};
    dnnl_dims_t bd = {s[O_]};
    dnnl_memory_desc_init_by_tag(&x, 4, xd, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&y, 4, yd, dnnl_f32, dnnl_nchw);
    dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_a);
    if (g > 1) {
      dnnl_dims_t wd = {g, s[O_] / g, s[C_] / g, s[KH_], s[KW_]};
      dnnl_memory_desc_init_by_tag(&w, 5, wd, dnnl_f32, dnnl_goihw);
    } else {
      dnnl_dims_t wd = {s[O_], s[C_], s[KH_], s[KW_]};
      dnnl_memory_desc_init_by_tag(&w, 4, wd, dnnl_f32, dnnl_oihw);
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

  ConvEntry(const ConvShape &s, Direction dir, bool bias, bool relu) {
    // Winograd where it is faster; the direct algorithm where oneDNN has no
    // Winograd implementation (a CPU without AVX-512) or none of a direction.
    if (useWinograd(s))
      build(s, dir, bias, relu, dnnl_convolution_winograd);
    if (!ok) {
      for (Primitive *p : {&fwd, &bwdData, &bwdWeights})
        p->reset();
      build(s, dir, bias, relu, dnnl_convolution_direct);
    }
  }

private:
  void build(const ConvShape &s, Direction dir, bool bias, bool relu,
             dnnl_alg_kind_t alg) {
    ConvDescs d(s);
    dnnl_memory_desc_t x, w, y; // any layout
    dnnl_memory_desc_init_by_tag(&x, d.x.ndims, d.x.dims, dnnl_f32,
                                 dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w, d.w.ndims, d.w.dims, dnnl_f32,
                                 dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&y, d.y.ndims, d.y.dims, dnnl_f32,
                                 dnnl_format_tag_any);
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
         dnnl_dilated_convolution_backward_data_desc_init(
             &dataDesc, alg, &x, &w, &y, d.strides, d.dilates, d.padL,
             d.padR) == dnnl_success &&
         dnnl_dilated_convolution_backward_weights_desc_init(
             &weightsDesc, alg, &x, &w, bias ? &d.b : nullptr, &y, d.strides,
             d.dilates, d.padL, d.padR) == dnnl_success;
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
  std::map<std::array<int64_t, 18>, std::unique_ptr<ConvEntry>> entries;

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
  ConvEntry &get(const ConvShape &s, Direction dir, bool bias, bool relu) {
    std::array<int64_t, 18> key;
    std::copy(s.begin(), s.end(), key.begin());
    key[14] = static_cast<int64_t>(dir);
    key[15] = bias;
    key[16] = relu;
    key[17] = omp_get_max_threads();
    std::unique_ptr<ConvEntry> &e = entries[key];
    if (!e)
      e = std::make_unique<ConvEntry>(s, dir, bias, relu);
    return *e;
  }
};

thread_local std::unique_ptr<ConvCache> convCache;

ConvCache &cache() {
  if (!convCache)
    convCache = std::make_unique<ConvCache>();
  return *convCache;
}

/// The scratch an entry needs for the thread count of a run on this machine:
/// the larger of the current thread count's and the online core count's (a
/// compiled model is usually run with at most one thread per core).
int64_t plannedScratch(const ConvShape &s, Direction dir, bool bias,
                       bool relu) {
  int64_t bytes = cache().get(s, dir, bias, relu).scratchBytes;
  const int current = omp_get_max_threads();
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > current) {
    omp_set_num_threads(static_cast<int>(cores));
    bytes = std::max(bytes, cache().get(s, dir, bias, relu).scratchBytes);
    omp_set_num_threads(current);
  }
  return alignUp(bytes);
}

/// The entry for a call, or null after reporting why it cannot run: oneDNN
/// has no implementation, or it needs more scratch than the compiler planned
/// (the artifact was built on another CPU, or the thread count is higher).
ConvEntry *entryFor(const char *fn, const ConvShape &s, Direction dir,
                    bool bias, bool relu, int64_t scratchBytes) {
  ConvEntry &e = cache().get(s, dir, bias, relu);
  if (!e.ok || !cache().stream) {
    reportError(std::string(fn) + ": oneDNN has no implementation of " +
                describe(s));
    return nullptr;
  }
  if (e.scratchBytes > scratchBytes) {
    reportError(std::string(fn) + ": " + describe(s) + " needs " +
                std::to_string(e.scratchBytes) + " scratch bytes with " +
                std::to_string(omp_get_max_threads()) +
                " threads on this CPU, but the model planned " +
                std::to_string(scratchBytes) +
                " (it was built on another CPU or for fewer threads): rebuild "
                "it on this machine or run it with fewer threads");
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

/// Fills a tensor the kernel could not compute with NaN (never stale data).
void poison(float *p, int64_t n) {
  if (p)
    std::fill(p, p + n, std::numeric_limits<float>::quiet_NaN());
}

} // namespace

extern "C" {

void nnc_kernels_release(void) { convCache.reset(); }

int64_t nnc_conv2d_fwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups) {
  ConvShape s = {
      N,       C,       H,    W,    O,    KH,   KW,
      strideH, strideW, padH, padW, dilH, dilW, std::max<int64_t>(groups, 1)};
  int64_t bytes = 0;
  for (bool bias : {false, true})
    for (bool relu : {false, true})
      bytes =
          std::max(bytes, plannedScratch(s, Direction::Forward, bias, relu));
  return bytes;
}

void nnc_conv2d_fwd(const float *x, const float *w, const float *b, float *y,
                    void *scratch, int64_t scratchBytes, int64_t N, int64_t C,
                    int64_t H, int64_t W, int64_t O, int64_t KH, int64_t KW,
                    int64_t strideH, int64_t strideW, int64_t padH,
                    int64_t padW, int64_t dilH, int64_t dilW, int64_t groups,
                    int32_t epilogue) {
  nnc::rt::LibraryTimer timer;
  ConvShape s = {
      N,       C,       H,    W,    O,    KH,   KW,
      strideH, strideW, padH, padW, dilH, dilW, std::max<int64_t>(groups, 1)};
  ConvEntry *e = entryFor("nnc_conv2d_fwd", s, Direction::Forward, b != nullptr,
                          epilogue == 1, scratchBytes);
  if (e && e->fwd.execute(cache().stream,
                          b ? std::initializer_list<const void *>{x, w, b, y}
                            : std::initializer_list<const void *>{x, w, y},
                          scratch))
    return;
  if (e)
    reportError("nnc_conv2d_fwd: oneDNN failed to run " + describe(s));
  auto [oh, ow] = outputSize(s);
  poison(y, N * O * oh * ow);
}

int64_t nnc_conv2d_bwd_scratch_bytes(int64_t N, int64_t C, int64_t H, int64_t W,
                                     int64_t O, int64_t KH, int64_t KW,
                                     int64_t strideH, int64_t strideW,
                                     int64_t padH, int64_t padW, int64_t dilH,
                                     int64_t dilW, int64_t groups) {
  ConvShape s = {
      N,       C,       H,    W,    O,    KH,   KW,
      strideH, strideW, padH, padW, dilH, dilW, std::max<int64_t>(groups, 1)};
  return std::max(plannedScratch(s, Direction::Backward, false, false),
                  plannedScratch(s, Direction::Backward, true, false));
}

void nnc_conv2d_bwd(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, float *db, void *scratch, int64_t scratchBytes,
                    int64_t N, int64_t C, int64_t H, int64_t W, int64_t O,
                    int64_t KH, int64_t KW, int64_t strideH, int64_t strideW,
                    int64_t padH, int64_t padW, int64_t dilH, int64_t dilW,
                    int64_t groups) {
  nnc::rt::LibraryTimer timer;
  ConvShape s = {
      N,       C,       H,    W,    O,    KH,   KW,
      strideH, strideW, padH, padW, dilH, dilW, std::max<int64_t>(groups, 1)};
  // Without dw, oneDNN's backward-weights cannot give db alone: sum dy here.
  const bool bias = db != nullptr && dw != nullptr;
  if (db && !dw) {
    auto [oh, ow] = outputSize(s);
    biasGradient(dy, db, N, O, oh * ow);
  }
  if (!dx && !dw)
    return;
  ConvEntry *e = entryFor("nnc_conv2d_bwd", s, Direction::Backward, bias, false,
                          scratchBytes);
  bool ok = e != nullptr;
  if (ok && dx)
    ok = e->bwdData.execute(cache().stream, {dy, w, dx}, scratch);
  // Backward-data left dy's reorder in the scratch where backward-weights
  // reads it.
  const bool dyReordered = dx && e && e->shareDy;
  if (ok && dw)
    ok = bias ? e->bwdWeights.execute(cache().stream, {dy, x, dw, db}, scratch,
                                      dyReordered)
              : e->bwdWeights.execute(cache().stream, {dy, x, dw}, scratch,
                                      dyReordered);
  if (ok)
    return;
  if (e)
    reportError("nnc_conv2d_bwd: oneDNN failed to run " + describe(s));
  poison(dx, N * C * H * W);
  poison(dw, O * (C / s[G_]) * KH * KW);
  poison(db, O);
}

} // extern "C"
