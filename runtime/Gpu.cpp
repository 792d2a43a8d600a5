//===- Gpu.cpp - The CUDA driver, loaded at run time ----------------------===//
//
// Part of nnc's runtime. Loads libcuda.so.1, cuBLAS and cuDNN with dlopen on
// the first request, checks the device, and keeps the process's one stream
// (runtime/Gpu.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/Gpu.h"

#include "runtime/KernelsInternal.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

using namespace nnc::rt;
using namespace nnc::rt::gpu;

namespace {

/// Everything the first unavailableReason() call sets up.
struct State {
  std::string reason;
  void *driverHandle = nullptr;
  Driver driver{};
  CUdevice device = 0;
  CUcontext context = nullptr;
  CUstream stream = nullptr;
  int arch = 0;
  void *libraries[2] = {nullptr, nullptr};
};

State &state() {
  static State s;
  return s;
}

/// Resolves every Driver member; the name of the first missing one, or "".
std::string resolveDriver(void *handle, Driver &d) {
  const char *missing = nullptr;
  auto get = [&](auto &fn, const char *name) {
    void *sym = dlsym(handle, name);
    if (!sym && !missing)
      missing = name;
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(sym);
  };
  get(d.cuInit, "cuInit");
  get(d.cuDriverGetVersion, "cuDriverGetVersion");
  get(d.cuDeviceGetCount, "cuDeviceGetCount");
  get(d.cuDeviceGet, "cuDeviceGet");
  get(d.cuDeviceGetAttribute, "cuDeviceGetAttribute");
  get(d.cuDeviceGetName, "cuDeviceGetName");
  get(d.cuDeviceTotalMem, "cuDeviceTotalMem_v2");
  get(d.cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain");
  get(d.cuCtxSetCurrent, "cuCtxSetCurrent");
  get(d.cuCtxSynchronize, "cuCtxSynchronize");
  get(d.cuModuleLoadData, "cuModuleLoadData");
  get(d.cuModuleUnload, "cuModuleUnload");
  get(d.cuModuleGetFunction, "cuModuleGetFunction");
  get(d.cuLaunchKernel, "cuLaunchKernel");
  get(d.cuStreamCreate, "cuStreamCreate");
  get(d.cuStreamSynchronize, "cuStreamSynchronize");
  get(d.cuStreamDestroy, "cuStreamDestroy_v2");
  get(d.cuStreamWaitEvent, "cuStreamWaitEvent");
  get(d.cuEventCreate, "cuEventCreate");
  get(d.cuEventRecord, "cuEventRecord");
  get(d.cuEventSynchronize, "cuEventSynchronize");
  get(d.cuEventElapsedTime, "cuEventElapsedTime");
  get(d.cuEventDestroy, "cuEventDestroy_v2");
  get(d.cuMemAlloc, "cuMemAlloc_v2");
  get(d.cuMemFree, "cuMemFree_v2");
  get(d.cuMemAllocHost, "cuMemAllocHost_v2");
  get(d.cuMemFreeHost, "cuMemFreeHost");
  get(d.cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2");
  get(d.cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2");
  get(d.cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2");
  get(d.cuMemcpyAsync, "cuMemcpyAsync");
  get(d.cuMemsetD8Async, "cuMemsetD8Async");
  get(d.cuMemsetD16Async, "cuMemsetD16Async");
  get(d.cuMemsetD32Async, "cuMemsetD32Async");
  get(d.cuMemGetInfo, "cuMemGetInfo_v2");
  get(d.cuGetErrorName, "cuGetErrorName");
  get(d.cuGetErrorString, "cuGetErrorString");
  get(d.cuStreamBeginCapture, "cuStreamBeginCapture_v2");
  get(d.cuStreamEndCapture, "cuStreamEndCapture");
  get(d.cuGraphInstantiateWithFlags, "cuGraphInstantiateWithFlags");
  get(d.cuGraphLaunch, "cuGraphLaunch");
  get(d.cuGraphExecDestroy, "cuGraphExecDestroy");
  get(d.cuGraphDestroy, "cuGraphDestroy");
  return missing ? missing : "";
}

/// Sets up State; returns the reason it cannot, or "".
std::string initialize(State &s) {
  std::string error;
  const char *driverName = std::getenv("NNC_CUDA_DRIVER");
  if (driverName && *driverName)
    s.driverHandle = openLibrary({driverName}, error);
  else
    s.driverHandle = openLibrary({"libcuda.so.1", "libcuda.so"}, error);
  if (!s.driverHandle)
    return "no CUDA driver: " + error;
  std::string missing = resolveDriver(s.driverHandle, s.driver);
  if (!missing.empty())
    return "the CUDA driver is too old: it has no " + missing;
  const Driver &d = s.driver;
  if (CUresult r = d.cuInit(0); r != kSuccess) {
    if (r == kErrorNoDevice)
      return "no GPU: the CUDA driver found no device (cuInit: " + errorText(r) + ")";
    if (r == kErrorStubLibrary)
      return "no CUDA driver: the loaded libcuda is the toolkit's stub (cuInit: " + errorText(r) +
             ")";
    return "the CUDA driver failed to initialize (cuInit: " + errorText(r) + ")";
  }
  int count = 0;
  if (CUresult r = d.cuDeviceGetCount(&count); r != kSuccess || count == 0)
    return "no GPU: the CUDA driver found no device";
  if (CUresult r = d.cuDeviceGet(&s.device, 0); r != kSuccess)
    return "no GPU: cuDeviceGet(0): " + errorText(r);
  int major = 0, minor = 0;
  d.cuDeviceGetAttribute(&major, kAttrComputeCapabilityMajor, s.device);
  d.cuDeviceGetAttribute(&minor, kAttrComputeCapabilityMinor, s.device);
  s.arch = major * 10 + minor;
  if (s.arch < kMinComputeCapability) {
    char name[256] = "?";
    d.cuDeviceGetName(name, sizeof(name), s.device);
    return "GPU 0 (" + std::string(name) + ") is sm_" + std::to_string(s.arch) +
           "; nnc needs sm_80 or newer";
  }
  if (CUresult r = d.cuDevicePrimaryCtxRetain(&s.context, s.device); r != kSuccess)
    return "cannot create a context on GPU 0: " + errorText(r);
  if (CUresult r = d.cuCtxSetCurrent(s.context); r != kSuccess)
    return "cannot use the context of GPU 0: " + errorText(r);
  if (CUresult r = d.cuStreamCreate(&s.stream, kStreamNonBlocking); r != kSuccess)
    return "cannot create a stream on GPU 0: " + errorText(r);
  s.libraries[int(Library::Cublas)] =
      openLibrary({"libcublas.so.13", "/usr/local/cuda/lib64/libcublas.so.13"}, error);
  if (!s.libraries[int(Library::Cublas)])
    return "cuBLAS missing: " + error;
  s.libraries[int(Library::Cudnn)] =
      openLibrary({"libcudnn.so.9", "/usr/local/cuda/lib64/libcudnn.so.9"}, error);
  if (!s.libraries[int(Library::Cudnn)])
    return "cuDNN missing: " + error;
  return "";
}

} // namespace

const std::string &gpu::unavailableReason() {
  static std::once_flag once;
  std::call_once(once, [] {
    State &s = state();
    s.reason = initialize(s);
  });
  return state().reason;
}

const Driver &gpu::driver() { return state().driver; }

CUstream gpu::stream() { return state().stream; }

void gpu::makeContextCurrent() { state().driver.cuCtxSetCurrent(state().context); }

std::string gpu::deviceArch() { return "sm_" + std::to_string(state().arch); }

std::string gpu::deviceDescription() {
  const State &s = state();
  char name[256] = "?";
  s.driver.cuDeviceGetName(name, sizeof(name), s.device);
  size_t bytes = 0;
  s.driver.cuDeviceTotalMem(&bytes, s.device);
  char text[320];
  std::snprintf(text, sizeof(text), "%s (%s), %.1f GiB", name, deviceArch().c_str(),
                double(bytes) / double(1ull << 30));
  return text;
}

void *gpu::library(Library which) { return state().libraries[int(which)]; }

void *gpu::openLibrary(std::initializer_list<const char *> names, std::string &error) {
  std::string tried;
  const char *why = "";
  for (const char *name : names) {
    if (void *handle = dlopen(name, RTLD_NOW | RTLD_LOCAL))
      return handle;
    const char *e = dlerror();
    why = e ? e : "";
    tried += tried.empty() ? name : std::string(", ") + name;
  }
  error = "cannot load " + tried + " (" + why + ")";
  return nullptr;
}

std::string gpu::errorText(CUresult code) {
  const Driver &d = state().driver;
  const char *name = nullptr, *text = nullptr;
  if (d.cuGetErrorName && d.cuGetErrorName(code, &name) == kSuccess && name) {
    std::string out = name;
    if (d.cuGetErrorString && d.cuGetErrorString(code, &text) == kSuccess && text)
      out += std::string(" (") + text + ")";
    return out;
  }
  // The driver could not name it (not loaded, or the toolkit's stub).
  if (code == kErrorStubLibrary)
    return "CUDA_ERROR_STUB_LIBRARY";
  if (code == kErrorNoDevice)
    return "CUDA_ERROR_NO_DEVICE";
  return "CUDA error " + std::to_string(code);
}

bool gpu::ready(const char *what) {
  const std::string &reason = unavailableReason();
  if (!reason.empty()) {
    kernels::reportError(std::string(what) + ": cannot use the GPU: " + reason);
    return false;
  }
  thread_local bool current = false;
  if (!current) {
    makeContextCurrent();
    current = true;
  }
  return true;
}

bool gpu::check(CUresult result, const char *what) {
  if (result == kSuccess)
    return true;
  kernels::reportError(std::string(what) + ": " + errorText(result));
  return false;
}
