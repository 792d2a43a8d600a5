//===- runtime/KernelsGemm.cpp - threads, GEMM and linear kernels ---------===//
//
// Part of nnc. GEMM goes to oneDNN's dnnl_sgemm (row-major, OpenMP-threaded,
// deterministic for a fixed thread count): at the sizes of LeNet-5 and
// LSTM(28->128) at batch 64 it beat OpenBLAS 0.3.21 by 1.0-6x on one thread
// and 1.2-8x on two (see the kernels report in docs/training.md).
//
//===----------------------------------------------------------------------===//

#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unistd.h>

namespace {
/// Threads kernels use; 0 until first asked (then the online core count).
std::atomic<int32_t> numThreads{0};

int32_t defaultThreads() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int32_t>(n) : 1;
}

/// The first error a kernel reported since the last clear.
std::mutex errorMutex;
bool hasError = false;
std::string errorMessage;
} // namespace

void nnc::kernels::reportError(const std::string &message) {
  std::lock_guard<std::mutex> lock(errorMutex);
  if (hasError)
    return;
  hasError = true;
  errorMessage = message;
}

void nnc::kernels::gemm(bool transA, bool transB, int64_t M, int64_t N,
                        int64_t K, float alpha, const float *A, int64_t lda,
                        const float *B, int64_t ldb, float beta, float *C,
                        int64_t ldc) {
  if (M <= 0 || N <= 0)
    return;
  if (K <= 0 || alpha == 0.0f) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    return;
  }
  // oneDNN rejects an unused leading dimension of 0; any value >= 1 is fine.
  dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A,
             lda > 0 ? lda : 1, B, ldb > 0 ? ldb : 1, beta, C,
             ldc > 0 ? ldc : 1);
}

dnnl_engine_t nnc::kernels::cpuEngine() {
  static dnnl_engine_t e = [] {
    dnnl_engine_t created = nullptr;
    if (dnnl_engine_create(&created, dnnl_cpu, 0) != dnnl_success)
      created = nullptr;
    return created;
  }();
  return e;
}

using nnc::kernels::cpuEngine;
using nnc::kernels::gemm;

namespace {

/// A primitive with the memory objects of its arguments (their data handles
/// are set per call).
struct Bound {
  dnnl_primitive_t prim = nullptr;
  std::vector<std::pair<int, dnnl_memory_t>> args;
  /// The packed layout of B (for a matmul: the one it was created for).
  dnnl_memory_desc_t packedMd{};

  ~Bound() {
    for (auto &a : args)
      dnnl_memory_destroy(a.second);
    if (prim)
      dnnl_primitive_destroy(prim);
  }
  /// Creates the primitive of `pd` (which it then destroys) and a memory
  /// object for each (argument, descriptor) of `mds`.
  bool create(dnnl_primitive_desc_t pd,
              std::initializer_list<std::pair<int, const dnnl_memory_desc_t *>>
                  mds) {
    bool ok = dnnl_primitive_create(&prim, pd) == dnnl_success;
    dnnl_primitive_desc_destroy(pd);
    for (auto [arg, md] : mds) {
      dnnl_memory_t mem = nullptr;
      ok = ok && dnnl_memory_create(&mem, md, cpuEngine(), DNNL_MEMORY_NONE) ==
                     dnnl_success;
      if (mem)
        args.push_back({arg, mem});
    }
    return ok;
  }
  /// Runs it on `ptrs` (in the order of the arguments) on `stream`.
  bool execute(dnnl_stream_t stream, std::initializer_list<const void *> ptrs) {
    std::vector<dnnl_exec_arg_t> exec;
    auto p = ptrs.begin();
    for (auto &a : args) {
      if (dnnl_memory_set_data_handle(a.second, const_cast<void *>(*p++)) !=
          dnnl_success)
        return false;
      exec.push_back({a.first, a.second});
    }
    return dnnl_primitive_execute(prim, stream, static_cast<int>(exec.size()),
                                  exec.data()) == dnnl_success &&
           dnnl_stream_wait(stream) == dnnl_success;
  }
};

/// A thread's stream, packing reorders and matmul primitives, created at
/// first use (null entries: oneDNN could not create them; gemm instead).
struct PackedGemmCache {
  dnnl_stream_t stream = nullptr;
  std::map<std::array<int64_t, 6>, std::unique_ptr<Bound>> reorders;
  std::map<std::array<int64_t, 9>, std::unique_ptr<Bound>> matmuls;

  PackedGemmCache() {
    if (dnnl_stream_create(&stream, nnc::kernels::cpuEngine(),
                           dnnl_stream_default_flags) != dnnl_success)
      stream = nullptr;
  }
  ~PackedGemmCache() {
    reorders.clear();
    matmuls.clear();
    if (stream)
      dnnl_stream_destroy(stream);
  }
};
thread_local std::unique_ptr<PackedGemmCache> packedGemmCache;

PackedGemmCache &packedCache() {
  if (!packedGemmCache)
    packedGemmCache = std::make_unique<PackedGemmCache>();
  return *packedGemmCache;
}

/// A row-major [rows, cols] matrix descriptor with strides (rs, cs).
dnnl_memory_desc_t matrixMd(int64_t rows, int64_t cols, int64_t rs,
                            int64_t cs) {
  dnnl_memory_desc_t md;
  const dnnl_dims_t dims = {rows, cols}, strides = {rs, cs};
  if (dnnl_memory_desc_init_by_strides(&md, 2, dims, dnnl_f32, strides) !=
      dnnl_success)
    md.ndims = 0;
  return md;
}

/// The primitive descriptor of C[M, N] = A[M, K] * W[K, N] (+ C if
/// `accumulate`) with W of layout `weights`, or null.
dnnl_primitive_desc_t matmulPd(int64_t M, int64_t N, int64_t K, int64_t lda,
                               int64_t ldc, const dnnl_memory_desc_t &weights,
                               bool accumulate) {
  dnnl_memory_desc_t a = matrixMd(M, K, lda, 1), c = matrixMd(M, N, ldc, 1);
  dnnl_matmul_desc_t desc;
  if (!cpuEngine() || a.ndims == 0 || c.ndims == 0 ||
      dnnl_matmul_desc_init(&desc, &a, &weights, nullptr, &c) != dnnl_success)
    return nullptr;
  dnnl_primitive_attr_t attr = nullptr;
  dnnl_post_ops_t ops = nullptr;
  bool ok = dnnl_primitive_attr_create(&attr) == dnnl_success;
  if (ok && accumulate)
    ok = dnnl_post_ops_create(&ops) == dnnl_success &&
         dnnl_post_ops_append_sum(ops, 1.0f) == dnnl_success &&
         dnnl_primitive_attr_set_post_ops(attr, ops) == dnnl_success;
  dnnl_primitive_desc_t pd = nullptr;
  if (ok && dnnl_primitive_desc_create(&pd, &desc, attr, cpuEngine(),
                                       nullptr) != dnnl_success)
    pd = nullptr;
  if (ops)
    dnnl_post_ops_destroy(ops);
  if (attr)
    dnnl_primitive_attr_destroy(attr);
  return pd;
}

} // namespace

using nnc::kernels::PackedGemm;

PackedGemm::PackedGemm(bool transB, int64_t N, int64_t K, const float *B,
                       int64_t ldb, int64_t lda, int64_t ldc, int64_t batch,
                       std::vector<float> &storage)
    : transB(transB), N(N), K(K), ldb(ldb), lda(lda), ldc(ldc), B(B) {
  // Packing costs about one product; below this many rows a step's products
  // are too cheap for the saving to repay it over a few dozen steps.
  constexpr int64_t kMinPackedRows = 16;
  if (N <= 0 || K <= 0 || batch < kMinPackedRows)
    return;
  PackedGemmCache &cache = packedCache();
  if (!cache.stream)
    return;
  std::unique_ptr<Bound> &r = cache.reorders[{transB, N, K, ldb, lda, batch}];
  if (!r) {
    // The layout the matmul chooses for `batch` rows, and a reorder into it.
    dnnl_memory_desc_t any;
    const dnnl_dims_t dims = {K, N};
    auto made = std::make_unique<Bound>();
    dnnl_primitive_desc_t pd = nullptr, rpd = nullptr;
    if (dnnl_memory_desc_init_by_tag(&any, 2, dims, dnnl_f32,
                                     dnnl_format_tag_any) == dnnl_success)
      pd = matmulPd(batch, N, K, lda, N, any, true);
    dnnl_memory_desc_t plain =
        transB ? matrixMd(K, N, 1, ldb) : matrixMd(K, N, ldb, 1);
    bool ok = pd && plain.ndims != 0;
    if (ok) {
      made->packedMd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
      ok = dnnl_reorder_primitive_desc_create(&rpd, &plain, cpuEngine(),
                                              &made->packedMd, cpuEngine(),
                                              nullptr) == dnnl_success &&
           made->create(rpd, {{DNNL_ARG_FROM, &plain},
                              {DNNL_ARG_TO, &made->packedMd}});
    }
    if (pd)
      dnnl_primitive_desc_destroy(pd);
    r = ok ? std::move(made) : std::make_unique<Bound>();
  }
  if (!r->prim)
    return;
  size_t bytes = dnnl_memory_desc_get_size(&r->packedMd);
  storage.resize(std::max(storage.size(), bytes / sizeof(float) + 16));
  // 64-byte aligned inside the storage.
  auto p = reinterpret_cast<uintptr_t>(storage.data());
  float *aligned = reinterpret_cast<float *>((p + 63) / 64 * 64);
  if (!r->execute(cache.stream, {B, aligned}))
    return;
  packed = aligned;
  packedMd = r->packedMd;
}

void PackedGemm::run(int64_t M, const float *A, float beta, float *C) const {
  if (M <= 0)
    return;
  if (packed) {
    PackedGemmCache &cache = packedCache();
    // The thread count shapes how a primitive splits its work; inside a
    // parallel region it runs on the calling thread alone.
    std::unique_ptr<Bound> &m = cache.matmuls[{
        M, N, K, lda, ldc, beta != 0.0f, omp_get_max_threads(),
        omp_in_parallel(), static_cast<int64_t>(dnnl_memory_desc_get_size(&packedMd))}];
    if (m && !dnnl_memory_desc_equal(&m->packedMd, &packedMd))
      m.reset();
    if (!m) {
      m = std::make_unique<Bound>();
      m->packedMd = packedMd;
      dnnl_memory_desc_t a = matrixMd(M, K, lda, 1), c = matrixMd(M, N, ldc, 1);
      if (dnnl_primitive_desc_t pd =
              matmulPd(M, N, K, lda, ldc, packedMd, beta != 0.0f))
        if (!m->create(pd, {{DNNL_ARG_SRC, &a},
                            {DNNL_ARG_WEIGHTS, &m->packedMd},
                            {DNNL_ARG_DST, &c}})) {
          m = std::make_unique<Bound>();
          m->packedMd = packedMd;
        }
    }
    if (m->prim && m->execute(cache.stream, {A, packed, C}))
      return;
  }
  gemm(false, transB, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

extern "C" {

void nnc_set_num_threads(int32_t n) {
  if (n <= 0)
    n = defaultThreads();
  numThreads.store(n);
  omp_set_num_threads(n);
}

int32_t nnc_get_num_threads(void) {
  int32_t n = numThreads.load();
  if (n == 0) {
    nnc_set_num_threads(0);
    n = numThreads.load();
  }
  return n;
}

const char *nnc_kernels_error(void) {
  std::lock_guard<std::mutex> lock(errorMutex);
  return hasError ? errorMessage.c_str() : nullptr;
}

void nnc_kernels_clear_error(void) {
  std::lock_guard<std::mutex> lock(errorMutex);
  hasError = false;
  errorMessage.clear();
}

void nnc_gemm(int32_t transA, int32_t transB, int64_t M, int64_t N, int64_t K,
              float alpha, const float *A, int64_t lda, const float *B,
              int64_t ldb, float beta, float *C, int64_t ldc) {
  nnc::rt::LibraryTimer timer;
  nnc::kernels::gemm(transA != 0, transB != 0, M, N, K, alpha, A, lda, B, ldb,
                     beta, C, ldc);
}

void nnc_linear_fwd(const float *x, const float *w, const float *b, float *y,
                    int64_t M, int64_t in, int64_t out, int32_t epilogue) {
  nnc::rt::LibraryTimer timer;
  nnc::kernels::gemm(false, true, M, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
  if (!b && epilogue != 1)
    return;
  // Bias and relu in one pass over y while it is still in cache.
  const bool relu = epilogue == 1;
#pragma omp parallel for schedule(static) if (M * out >=                       \
                                              nnc::kernels::kParallelGrain)
  for (int64_t i = 0; i < M; ++i) {
    float *row = y + i * out;
    if (b)
      for (int64_t j = 0; j < out; ++j)
        row[j] += b[j];
    if (relu)
      for (int64_t j = 0; j < out; ++j)
        row[j] = row[j] < 0.0f ? 0.0f : row[j]; // NaN stays NaN
  }
}

void nnc_batch_matmul(int32_t transA, int32_t transB, int64_t batch, int64_t M, int64_t N,
                      int64_t K, float alpha, const float *A, const float *B, float *C) {
  nnc::rt::LibraryTimer timer;
  const int64_t lda = transA ? M : K, ldb = transB ? K : N;
  auto one = [&](int64_t i) {
    nnc::kernels::gemm(transA != 0, transB != 0, M, N, K, alpha, A + i * M * K, lda, B + i * K * N,
                       ldb, 0.0f, C + i * M * N, N);
  };
  // Small products (attention's heads): one single-threaded GEMM per batch
  // entry on each thread; large ones: the GEMM's own threads.
  if (batch >= nnc_get_num_threads() && M * N * K < (int64_t(1) << 22)) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < batch; ++i)
      one(i);
    return;
  }
  for (int64_t i = 0; i < batch; ++i)
    one(i);
}

void nnc_linear_bwd(const float *dy, const float *x, const float *w, float *dx,
                    float *dw, float *db, int64_t M, int64_t in, int64_t out) {
  nnc::rt::LibraryTimer timer;
  if (dx)
    nnc::kernels::gemm(false, false, M, in, out, 1.0f, dy, out, w, in, 0.0f, dx,
                       in);
  if (dw)
    nnc::kernels::gemm(true, false, out, in, M, 1.0f, dy, out, x, in, 0.0f, dw,
                       in);
  if (db) {
    // Row order fixed: deterministic for any thread count.
    for (int64_t j = 0; j < out; ++j)
      db[j] = 0.0f;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < out; ++j)
        db[j] += dy[i * out + j];
  }
}

} // extern "C"
