//===- FakeCudaDriver.h - A CUDA driver stand-in for tests ------*- C++ -*-===//
//
// Part of nnc's tests (never installed). libnnc-fake-cuda.so implements the
// driver API functions runtime/Gpu.cpp resolves, with the signatures of
// cuda.h, over host memory, so the runtime's device layer (DeviceArena,
// Model, the mgpu* functions) runs without a GPU when NNC_CUDA_DRIVER names
// it. What it models:
// - device memory and pinned host memory are host allocations; cuMemAlloc and
//   cuMemAllocHost count their live bytes (fakeCudaDeviceBytes,
//   fakeCudaPinnedBytes); a copy that reads or writes outside an allocation,
//   or an asynchronous host-to-device copy from pageable memory (which a real
//   driver would run synchronously, overlapping nothing) is a violation;
// - streams are FIFO queues and events are recorded by queue entries:
//   asynchronous calls are queued, and run only when the host waits
//   (cuStreamSynchronize, cuEventSynchronize, cuCtxSynchronize, cuMemFree),
//   in an order the test chooses (fakeCudaSetPolicy): a queue's head runs
//   when the events it waits for have been recorded, and among runnable heads
//   the policy picks the stream — the latest-created first (copy streams run
//   ahead of the compute stream), the earliest first (copies lag), or
//   everything at once when issued (eager). A missing event wait or
//   synchronization then shows up as wrong data under one of the policies;
// - CUDA graphs: the calls queued on a capturing stream are recorded, not
//   run; cuGraphLaunch queues them again (they read and write the same
//   addresses). A synchronization during capture fails as CUDA's does;
// - kernels: a CUfunction is a host function `void (*)(void *arg)` taking
//   one pointer-sized kernel parameter, read at launch (cuLaunchKernel);
//   modules cannot be loaded (CUDA_ERROR_NOT_SUPPORTED).
// Every call that queues or waits is logged in issue order (fakeCudaLog), and
// queued work gets the sequence number of its execution, so a test can check
// the order of calls on each stream and the events between them.
// What it cannot show: real concurrency (one host thread runs everything),
// timing, the driver's own checks beyond the few above, PTX or library calls.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TEST_UNIT_FAKECUDADRIVER_H
#define NNC_TEST_UNIT_FAKECUDADRIVER_H

#include <cstdint>

/// What a logged call did.
enum FakeCudaKind {
  FakeHtoD,
  FakeDtoH,
  FakeDtoD,
  FakeCopy, ///< cuMemcpyAsync (either direction).
  FakeMemset,
  FakeLaunch,
  FakeEventRecord,
  FakeStreamWaitEvent,
  FakeStreamSync,
  FakeEventSync,
  FakeCtxSync,
  FakeGraphLaunch,
};

/// One logged call.
struct FakeCudaOp {
  int64_t issued = 0;   ///< Its position in the log.
  int64_t executed = 0; ///< When its queued work ran (1, 2, ...); 0: not run (yet), or a wait.
  FakeCudaKind kind = FakeHtoD;
  int stream = -1; ///< Stream id (0: the NULL stream, then in creation order); -1: none.
  int event = -1;  ///< Event id (record, wait, event sync).
  uint64_t dst = 0, src = 0, bytes = 0;
  bool fromGraph = false; ///< Queued by a cuGraphLaunch.
};

/// How queued work runs (see above).
enum FakeCudaPolicy { FakeEager, FakeLatestStreamFirst, FakeEarliestStreamFirst };

/// The policy's name in test names: Eager, CopiesAhead (the copy stream,
/// created after the compute stream, runs first), CopiesLag.
inline const char *fakeCudaPolicyName(FakeCudaPolicy policy) {
  return policy == FakeEager               ? "Eager"
         : policy == FakeLatestStreamFirst ? "CopiesAhead"
                                           : "CopiesLag";
}

extern "C" {
void fakeCudaSetPolicy(FakeCudaPolicy policy);
/// Clears the log (not the memory, streams or events).
void fakeCudaClearLog();
int64_t fakeCudaLogSize();
const FakeCudaOp *fakeCudaLog(int64_t index);
/// The id of a stream or an event handle.
int fakeCudaStreamId(void *stream);
int fakeCudaEventId(void *event);
/// Live bytes of cuMemAlloc and of cuMemAllocHost.
int64_t fakeCudaDeviceBytes();
int64_t fakeCudaPinnedBytes();
/// The first violation seen ("" if none), and forgetting it.
const char *fakeCudaViolation();
void fakeCudaClearViolation();
}

#endif // NNC_TEST_UNIT_FAKECUDADRIVER_H
