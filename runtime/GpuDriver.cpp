//===- GpuDriver.cpp - What MLIR's lowered GPU host code calls ------------===//
//
// Part of nnc's runtime: the mgpu* functions over the CUDA driver
// (runtime/GpuDriver.h says why modules load lazily and why one stream
// makes synchronization a no-op), and --check-numerics on the GPU.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuDriver.h"

#include "runtime/Gpu.h"
#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <climits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

using namespace nnc::rt;
using namespace nnc::rt::gpu;

namespace {

/// A module image as the artifact's constructor handed it over; loaded into
/// the driver at its first use.
struct LazyModule {
  const void *image = nullptr;
  std::mutex mutex;
  CUmodule module = nullptr;
  /// Whether loading was tried and failed (not retried: one error a run).
  bool failed = false;
  /// Keyed by the name's address: the names are constants of the artifact
  /// that holds this module, so an address stands for one name.
  std::unordered_map<const char *, CUfunction> functions;
};

/// What mgpuEventCreate returns: events are tokens only (one stream).
char eventToken;

/// Records `what` as the kernels' error if `value` does not fit `unsigned`.
bool fitsUnsigned(int64_t value, const char *what) {
  if (value >= 0 && value <= int64_t(UINT_MAX))
    return true;
  nnc::kernels::reportError(std::string("mgpuLaunchKernel: ") + what + " " + std::to_string(value) +
                            " is out of range");
  return false;
}

} // namespace

void *mgpuModuleLoad(void *data, uint64_t /*size*/) {
  auto *m = new LazyModule();
  m->image = data;
  return m;
}

void *mgpuModuleLoadJIT(void *data, int32_t /*optLevel*/) {
  // cuModuleLoadData takes a NUL-terminated PTX image too (the driver
  // compiles it with its default options).
  return mgpuModuleLoad(data, 0);
}

void mgpuModuleUnload(void *module) {
  auto *m = static_cast<LazyModule *>(module);
  if (!m)
    return;
  // Only a module that was loaded has a driver to give it back to; errors
  // at unload (e.g. the driver shutting down at exit) change nothing.
  if (m->module)
    driver().cuModuleUnload(m->module);
  delete m;
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  auto *m = static_cast<LazyModule *>(module);
  if (!m || !ready("loading a GPU kernel"))
    return nullptr;
  std::lock_guard<std::mutex> lock(m->mutex);
  if (auto it = m->functions.find(name); it != m->functions.end())
    return it->second;
  if (m->failed)
    return nullptr;
  if (!m->module && !check(driver().cuModuleLoadData(&m->module, m->image),
                           "loading the artifact's GPU code (cuModuleLoadData)")) {
    m->module = nullptr;
    m->failed = true;
    return nullptr;
  }
  CUfunction f = nullptr;
  std::string what = std::string("cuModuleGetFunction(") + name + ")";
  if (!check(driver().cuModuleGetFunction(&f, m->module, name), what.c_str()))
    return nullptr;
  m->functions.emplace(name, f);
  return f;
}

void mgpuLaunchKernel(void *function, int64_t gridX, int64_t gridY, int64_t gridZ, int64_t blockX,
                      int64_t blockY, int64_t blockZ, int32_t sharedBytes, void * /*stream*/,
                      void **params, void **extra, int64_t /*paramsCount*/) {
  // A null function: mgpuModuleGetFunction recorded why.
  if (!function || !ready("launching a GPU kernel"))
    return;
  if (!fitsUnsigned(gridX, "gridX") || !fitsUnsigned(gridY, "gridY") ||
      !fitsUnsigned(gridZ, "gridZ") || !fitsUnsigned(blockX, "blockX") ||
      !fitsUnsigned(blockY, "blockY") || !fitsUnsigned(blockZ, "blockZ") ||
      !fitsUnsigned(sharedBytes, "sharedBytes"))
    return;
  check(driver().cuLaunchKernel(static_cast<CUfunction>(function), unsigned(gridX), unsigned(gridY),
                                unsigned(gridZ), unsigned(blockX), unsigned(blockY),
                                unsigned(blockZ), unsigned(sharedBytes), stream(), params, extra),
        "cuLaunchKernel");
}

void *mgpuStreamCreate(void) { return ready("mgpuStreamCreate") ? stream() : nullptr; }

void mgpuStreamDestroy(void * /*stream*/) {}

void mgpuStreamSynchronize(void * /*stream*/) {}

void mgpuStreamWaitEvent(void * /*stream*/, void * /*event*/) {}

void *mgpuEventCreate(void) { return &eventToken; }

void mgpuEventDestroy(void * /*event*/) {}

void mgpuEventSynchronize(void * /*event*/) {}

void mgpuEventRecord(void * /*event*/, void * /*stream*/) {}

void *mgpuMemAlloc(uint64_t bytes, void * /*stream*/, bool hostShared) {
  if (!ready("mgpuMemAlloc"))
    return nullptr;
  if (hostShared) {
    nnc::kernels::reportError("mgpuMemAlloc: host-shared (managed) memory is not supported");
    return nullptr;
  }
  CUdeviceptr p = 0;
  if (!check(driver().cuMemAlloc(&p, bytes), "cuMemAlloc"))
    return nullptr;
  return reinterpret_cast<void *>(p);
}

void mgpuMemFree(void *ptr, void * /*stream*/) {
  if (ptr && ready("mgpuMemFree"))
    check(driver().cuMemFree(reinterpret_cast<CUdeviceptr>(ptr)), "cuMemFree");
}

void mgpuMemcpy(void *dst, void *src, size_t bytes, void * /*stream*/) {
  if (ready("mgpuMemcpy"))
    check(driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                                 reinterpret_cast<CUdeviceptr>(src), bytes, stream()),
          "cuMemcpyAsync");
}

void mgpuMemset32(void *dst, uint32_t value, size_t count, void * /*stream*/) {
  if (ready("mgpuMemset32"))
    check(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count, stream()),
          "cuMemsetD32Async");
}

void mgpuMemset16(void *dst, uint16_t value, size_t count, void * /*stream*/) {
  if (ready("mgpuMemset16"))
    check(driver().cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value, count, stream()),
          "cuMemsetD16Async");
}

void mgpuSetDefaultDevice(int32_t device) {
  if (device != 0)
    nnc::kernels::reportError("mgpuSetDefaultDevice(" + std::to_string(device) +
                              "): nnc runs on GPU 0 only");
}

void nnc_gpu_check_finite(const float *p, int64_t n, int64_t op) {
  if (nnc_numerics_first() >= 0 || n <= 0 || !ready("nnc_gpu_check_finite"))
    return;
  // The values are written by work queued on the one stream: wait for it.
  thread_local std::vector<float> host;
  host.resize(size_t(n));
  if (!check(driver().cuMemcpyDtoHAsync(host.data(), reinterpret_cast<CUdeviceptr>(p),
                                        size_t(n) * sizeof(float), stream()),
             "nnc_gpu_check_finite: cuMemcpyDtoHAsync") ||
      !check(driver().cuStreamSynchronize(stream()), "nnc_gpu_check_finite: cuStreamSynchronize"))
    return;
  nnc_check_finite(host.data(), n, op);
}
