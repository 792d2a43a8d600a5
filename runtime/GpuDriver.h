//===- GpuDriver.h - What MLIR's lowered GPU host code calls -----*- C++ -*-===//
//
// Part of nnc's runtime. A GPU artifact's host code is MLIR's `gpu-to-llvm`
// lowering of gpu.launch_func and the gpu memory ops: it calls the functions
// below, which MLIR's own CUDA runtime (libmlir_cuda_runtime, not shipped by
// Debian) would provide. nnc implements them over the CUDA driver loaded by
// runtime/Gpu.h. The signatures are the ones MLIR 22's LLVM translation
// emits (checked on the LLVM IR of a gpu.launch_func module, see
// docs/abi.md "GPU artifacts"); MLIR's `index` is int64_t, its tokens and
// handles are pointers.
//
// What the translation emits, and how nnc answers it:
// - Each gpu.binary becomes a global constructor that calls mgpuModuleLoad
//   (cubin or fatbinary: data, size) or mgpuModuleLoadJIT (PTX: data,
//   optimization level) when the artifact is dlopened, and a global
//   destructor that calls mgpuModuleUnload. The artifact may be dlopened on
//   a machine without a GPU (to read its model table, to say why it cannot
//   run), so loading is LAZY: mgpuModuleLoad only records the image; the
//   driver first sees it at the first launch of one of its kernels.
// - Every gpu.launch_func calls mgpuModuleGetFunction (every launch, not
//   once): the function is looked up once per module and name and cached.
// - A launch without async tokens creates a stream, launches, synchronizes
//   and destroys the stream. nnc has one stream (gpu::stream()): every
//   launch and copy goes to it, so work is ordered without events, and
//   mgpuStreamCreate returns it while Destroy, Synchronize and the event
//   functions do nothing. This is safe because the host code never reads
//   device memory (the arena is a device pointer it only offsets): only the
//   runtime reads results, and Model::run synchronizes the stream at the end
//   of every entry before it copies outputs to the host. It is also what
//   lets a whole entry be captured into one CUDA graph (a synchronize during
//   capture is an error).
// - Errors (including "no GPU") are recorded as the kernels' error
//   (nnc_kernels_error), never printed or fatal: Model::run reports them
//   after the entry. A failed call does nothing and returns null.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_GPUDRIVER_H
#define NNC_RUNTIME_GPUDRIVER_H

#include <stddef.h>
#include <stdint.h>
#ifndef __cplusplus
#include <stdbool.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/// A cubin or fatbinary image of `size` bytes (kept by reference: it is the
/// artifact's constant). Returns a handle for the others; touches no driver.
void *mgpuModuleLoad(void *data, uint64_t size);
/// A NUL-terminated PTX image, compiled by the driver at the first launch
/// (its default JIT options; `optLevel` is not passed on).
void *mgpuModuleLoadJIT(void *data, int32_t optLevel);
/// Unloads the module if it was loaded, and frees the handle.
void mgpuModuleUnload(void *module);
/// The kernel `name` of `module` (loading the module at its first use), or
/// null after recording the error.
void *mgpuModuleGetFunction(void *module, const char *name);
/// Launches `function` on the one stream (`stream` is ignored: it is that
/// stream). `params` points at `paramsCount` argument pointers.
void mgpuLaunchKernel(void *function, int64_t gridX, int64_t gridY, int64_t gridZ, int64_t blockX,
                      int64_t blockY, int64_t blockZ, int32_t sharedBytes, void *stream,
                      void **params, void **extra, int64_t paramsCount);

/// The one stream (null without a GPU, after recording the error).
void *mgpuStreamCreate(void);
/// No-ops: see above.
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void mgpuStreamWaitEvent(void *stream, void *event);
/// A token (no driver event: one stream orders everything).
void *mgpuEventCreate(void);
void mgpuEventDestroy(void *event);
void mgpuEventSynchronize(void *event);
void mgpuEventRecord(void *event, void *stream);

/// cuMemAlloc (nnc's plan puts everything in the arena, so generated code
/// does not allocate; an allocation inside a captured entry makes Model::run
/// fall back to running it without a graph). `hostShared` (managed memory)
/// is not supported: recorded as an error.
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool hostShared);
void mgpuMemFree(void *ptr, void *stream);
/// Copies `bytes` in either direction on the one stream.
void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream);
/// Fills `count` 32-bit (16-bit) words on the one stream.
void mgpuMemset32(void *dst, uint32_t value, size_t count, void *stream);
void mgpuMemset16(void *dst, uint16_t value, size_t count, void *stream);
/// nnc uses device 0 only: any other device is recorded as an error.
void mgpuSetDefaultDevice(int32_t device);

/// --check-numerics on the GPU: the CPU's nnc_check_finite (runtime/
/// Kernels.h) for `n` floats at the DEVICE address `p`: waits for the
/// stream, copies them to the host and checks them there. Does nothing once
/// an op is recorded for this step.
void nnc_gpu_check_finite(const float *p, int64_t n, int64_t op);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // NNC_RUNTIME_GPUDRIVER_H
