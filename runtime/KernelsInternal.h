//===- runtime/KernelsInternal.h - helpers shared by Kernels*.cpp -*- C++
//-*-===//
//
// Part of nnc. Private to the kernel sources; not installed, not part of the
// ABI.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_KERNELSINTERNAL_H
#define NNC_RUNTIME_KERNELSINTERNAL_H

#include "runtime/Profile.h"

#include <oneapi/dnnl/dnnl.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace nnc::kernels {

/// Rounds a byte count up to a multiple of 64 (keeps scratch sub-buffers
/// cache-line aligned).
constexpr int64_t alignUp(int64_t bytes) { return (bytes + 63) / 64 * 64; }

/// Carves consecutive 64-byte-aligned float buffers out of a scratch block.
class ScratchCursor {
public:
  explicit ScratchCursor(void *base) : cur(static_cast<char *>(base)) {}
  float *take(int64_t floats) {
    float *p = reinterpret_cast<float *>(cur);
    cur += alignUp(floats * static_cast<int64_t>(sizeof(float)));
    return p;
  }

private:
  char *cur;
};

/// Records `message` as the kernels' error unless one is already recorded
/// (nnc_kernels_error returns it).
void reportError(const std::string &message);

/// Frees the calling thread's int8 primitives (KernelsQuant.cpp); part of
/// nnc_kernels_release.
void releaseInt8Primitives();

/// Row-major single-precision GEMM (the backend behind nnc_gemm), usable from
/// inside or outside parallel regions.
void gemm(bool transA, bool transB, int64_t M, int64_t N, int64_t K,
          float alpha, const float *A, int64_t lda, const float *B, int64_t ldb,
          float beta, float *C, int64_t ldc);

/// oneDNN's CPU engine, created once (engines are thread-safe); null if
/// oneDNN cannot create one.
dnnl_engine_t cpuEngine();

/// Many products C = A op(B) + beta C with the same B (a recurrent layer's
/// weights, once per time step and thread): B is reordered once into the
/// layout oneDNN's matmul prefers, and each product runs a matmul primitive
/// on it (cached per thread and shape), which saves the packing of B that
/// every plain gemm call repeats. Where oneDNN has no such primitive, the
/// products are plain gemm calls on B.
class PackedGemm {
public:
  /// op(B) is [K, N]: B is [N, K] with row stride ldb if `transB`, else
  /// [K, N]; A has row stride lda and C ldc. `batch` is the rows of all
  /// products of one round together (one time step): B is packed if it is
  /// large enough, whatever rows each product then has, so how the rows are
  /// split does not change the results. The packed copy goes to `storage`,
  /// which must outlive the products and is not changed by them.
  PackedGemm(bool transB, int64_t N, int64_t K, const float *B, int64_t ldb,
             int64_t lda, int64_t ldc, int64_t batch,
             std::vector<float> &storage);

  /// C[M, N] = A[M, K] op(B) + beta C for beta 0 or 1. Callable from several
  /// threads at once.
  void run(int64_t M, const float *A, float beta, float *C) const;

  /// Whether B was packed (else run calls gemm).
  bool isPacked() const { return packed != nullptr; }

private:
  bool transB;
  int64_t N, K, ldb, lda, ldc;
  const float *B;
  /// The packed copy and its layout (null: not packed, run calls gemm).
  float *packed = nullptr;
  dnnl_memory_desc_t packedMd;
};

/// exp(x) for f32 written so loops over it auto-vectorize (Cephes' expf:
/// range reduction by ln 2, degree-6 polynomial; relative error < 2e-7).
/// Inputs are clamped to [-87.3, 88.3], so the result is finite and normal.
inline float fastExp(float x) {
  x = x < -87.3f ? -87.3f : (x > 88.3f ? 88.3f : x);
  float t = x * 1.44269504088896341f + 0.5f;
  int32_t k = static_cast<int32_t>(t);
  k -= static_cast<float>(k) > t ? 1 : 0; // floor
  float n = static_cast<float>(k);
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (k + 127) << 23;
  float scale;
  __builtin_memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}
/// 1 / (1 + exp(-x)), vectorizable.
inline float fastSigmoid(float x) { return 1.0f / (1.0f + fastExp(-x)); }
/// tanh(x) = 1 - 2 / (exp(2x) + 1), vectorizable; absolute error < 3e-7.
inline float fastTanh(float x) {
  return 1.0f - 2.0f / (fastExp(2.0f * x) + 1.0f);
}

/// Elementwise loops below this many elements run on one thread.
constexpr int64_t kParallelGrain = 1 << 15;

} // namespace nnc::kernels

#endif // NNC_RUNTIME_KERNELSINTERNAL_H
