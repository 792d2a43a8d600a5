//===- Gpu.h - The CUDA driver, loaded at run time ---------------*- C++ -*-===//
//
// Part of nnc's runtime. The GPU path needs NVIDIA's driver (libcuda.so.1),
// cuBLAS and cuDNN, none of which nnc links: they are loaded with dlopen the
// first time something asks for the GPU, so nnc and every artifact still run
// on machines without a GPU, and a GPU artifact says in one line why it cannot
// run (unavailableReason()).
//
// The declarations below are the few driver API types and functions the
// runtime uses, written from NVIDIA's CUDA Driver API reference (CUDA 13):
// handles are opaque pointers, CUdeviceptr is a 64-bit integer, every call
// returns a CUresult (0 = CUDA_SUCCESS). The versioned symbol names (`_v2`)
// are the ones cuda.h maps the plain names to. test/unit/GpuTest.cpp checks
// the constants against cuda.h where the toolkit is installed.
//
// Every launch, library call and arena copy of the process goes to one
// stream (stream()): work is ordered by the stream alone, no call
// synchronizes except where the host reads device memory, and a whole entry
// point can be captured into one CUDA graph. The one exception is the upload
// of an entry's next inputs, which runs on DeviceArena's copy stream,
// ordered against stream() by events (runtime/DeviceArena.h).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_GPU_H
#define NNC_RUNTIME_GPU_H

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace nnc::rt::gpu {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

constexpr CUresult kSuccess = 0;                // CUDA_SUCCESS
constexpr CUresult kErrorStubLibrary = 34;      // CUDA_ERROR_STUB_LIBRARY
constexpr CUresult kErrorNoDevice = 100;        // CUDA_ERROR_NO_DEVICE
constexpr int kAttrComputeCapabilityMajor = 75; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttrComputeCapabilityMinor = 76; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
constexpr int kAttrMultiprocessorCount = 16;    // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
constexpr unsigned kStreamNonBlocking = 1;      // CU_STREAM_NON_BLOCKING
constexpr int kCaptureModeThreadLocal = 1;      // CU_STREAM_CAPTURE_MODE_THREAD_LOCAL
constexpr unsigned kEventDisableTiming = 2;     // CU_EVENT_DISABLE_TIMING
/// The oldest compute capability nnc generates code for (sm_80, Ampere).
constexpr int kMinComputeCapability = 80;

/// The driver API functions the runtime calls, resolved by dlsym.
struct Driver {
  CUresult (*cuInit)(unsigned flags);
  CUresult (*cuDriverGetVersion)(int *version);
  CUresult (*cuDeviceGetCount)(int *count);
  CUresult (*cuDeviceGet)(CUdevice *device, int ordinal);
  CUresult (*cuDeviceGetAttribute)(int *value, int attribute, CUdevice device);
  CUresult (*cuDeviceGetName)(char *name, int length, CUdevice device);
  CUresult (*cuDeviceTotalMem)(size_t *bytes, CUdevice device);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *context, CUdevice device);
  CUresult (*cuCtxSetCurrent)(CUcontext context);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule *module, const void *image);
  CUresult (*cuModuleUnload)(CUmodule module);
  CUresult (*cuModuleGetFunction)(CUfunction *function, CUmodule module, const char *name);
  CUresult (*cuLaunchKernel)(CUfunction f, unsigned gridX, unsigned gridY, unsigned gridZ,
                             unsigned blockX, unsigned blockY, unsigned blockZ,
                             unsigned sharedBytes, CUstream stream, void **params, void **extra);
  CUresult (*cuStreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*cuStreamSynchronize)(CUstream stream);
  CUresult (*cuStreamDestroy)(CUstream stream);
  CUresult (*cuStreamWaitEvent)(CUstream stream, CUevent event, unsigned flags);
  CUresult (*cuEventCreate)(CUevent *event, unsigned flags);
  CUresult (*cuEventRecord)(CUevent event, CUstream stream);
  CUresult (*cuEventSynchronize)(CUevent event);
  CUresult (*cuEventElapsedTime)(float *ms, CUevent start, CUevent end);
  CUresult (*cuEventDestroy)(CUevent event);
  CUresult (*cuMemAlloc)(CUdeviceptr *ptr, size_t bytes);
  CUresult (*cuMemFree)(CUdeviceptr ptr);
  CUresult (*cuMemAllocHost)(void **ptr, size_t bytes);
  CUresult (*cuMemFreeHost)(void *ptr);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream);
  CUresult (*cuMemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream stream);
  CUresult (*cuMemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);
  /// Either direction (unified addressing tells host from device pointers).
  CUresult (*cuMemcpyAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr dst, unsigned char value, size_t count, CUstream stream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr dst, unsigned short value, size_t count,
                               CUstream stream);
  CUresult (*cuMemsetD32Async)(CUdeviceptr dst, unsigned value, size_t count, CUstream stream);
  CUresult (*cuMemGetInfo)(size_t *freeBytes, size_t *totalBytes);
  CUresult (*cuGetErrorName)(CUresult error, const char **name);
  CUresult (*cuGetErrorString)(CUresult error, const char **text);
  CUresult (*cuStreamBeginCapture)(CUstream stream, int mode);
  CUresult (*cuStreamEndCapture)(CUstream stream, CUgraph *graph);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec *exec, CUgraph graph,
                                          unsigned long long flags);
  CUresult (*cuGraphLaunch)(CUgraphExec exec, CUstream stream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec exec);
  CUresult (*cuGraphDestroy)(CUgraph graph);
};

/// Why the GPU path cannot run in this process, in one line ("no CUDA
/// driver: libcuda.so.1 not found", "no GPU: cuInit failed:
/// CUDA_ERROR_NO_DEVICE", "GPU 0 (NAME) is sm_75; nnc needs sm_80 or newer",
/// "cuDNN missing: libcudnn.so.9 not found", ...), or "" when it can: the
/// driver loads and initializes, device 0 exists with compute capability >=
/// 8.0, its primary context is current on the calling thread, the stream
/// exists, and cuBLAS and cuDNN load. Computed once (thread-safe); nothing
/// is loaded before the first call. Setting NNC_CUDA_DRIVER names the driver
/// library to load instead of libcuda.so.1 (tests point it at the toolkit's
/// stub).
const std::string &unavailableReason();

/// The driver's functions; only after unavailableReason() returned "".
const Driver &driver();

/// The process's one stream (non-blocking); only after unavailableReason()
/// returned "".
CUstream stream();

/// Makes device 0's primary context current on the calling thread (each
/// thread that calls the driver must); only after unavailableReason()
/// returned "".
void makeContextCurrent();

/// "sm_90" for device 0 (after unavailableReason() returned "").
std::string deviceArch();
/// Device 0's name and memory, for messages ("NVIDIA H200, 139.8 GiB").
std::string deviceDescription();

/// The vendor libraries the GPU path needs besides the driver.
enum class Library { Cublas, Cudnn };
/// The dlopen handle of `which` (loaded by unavailableReason()); only after
/// unavailableReason() returned "".
void *library(Library which);

/// dlopens the first of `names` that loads (RTLD_NOW | RTLD_LOCAL) and
/// returns its handle; nullptr if none does, with `error` saying which
/// names were tried and dlerror()'s reason for the last.
void *openLibrary(std::initializer_list<const char *> names, std::string &error);

/// "CUDA_ERROR_NO_DEVICE (no CUDA-capable device is detected)" for `code`
/// (the code as a number if the driver is not loaded).
std::string errorText(CUresult code);

/// For the runtime functions generated code calls: whether the GPU path is
/// usable, with device 0's context made current on the calling thread (once
/// per thread). If not, records "<what>: cannot use the GPU: <reason>" as the
/// kernels' error (nnc_kernels_error) and returns false: the caller then
/// does nothing.
bool ready(const char *what);

/// Checks a driver call's result: on failure records "<what>: <errorText>"
/// as the kernels' error (nnc_kernels_error, runtime/Kernels.h: Model::run
/// turns it into an error after the entry) and returns false.
bool check(CUresult result, const char *what);

} // namespace nnc::rt::gpu

#endif // NNC_RUNTIME_GPU_H
