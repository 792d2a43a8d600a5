//===- FakeCudaDriver.cpp - A CUDA driver stand-in for tests --------------===//
//
// Part of nnc's tests (test/unit/FakeCudaDriver.h says what it models). The
// functions keep the names and signatures of cuda.h's (the versioned `_v2`
// symbols where cuda.h maps a name to one), with the handle types spelled as
// runtime/Gpu.h spells them.
//
//===----------------------------------------------------------------------===//

#include "test/unit/FakeCudaDriver.h"

#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;

constexpr CUresult kSuccess = 0;
constexpr CUresult kInvalidValue = 1;         // CUDA_ERROR_INVALID_VALUE
constexpr CUresult kNotSupported = 801;       // CUDA_ERROR_NOT_SUPPORTED
constexpr CUresult kCaptureUnsupported = 900; // CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED
constexpr CUresult kCaptureInvalidated = 901; // CUDA_ERROR_STREAM_CAPTURE_INVALIDATED
constexpr CUresult kUnknown = 999;            // CUDA_ERROR_UNKNOWN

struct CUevent_st {
  int id = 0;
  /// Records queued so far, and the last one that ran.
  int64_t recorded = 0, done = 0;
};

namespace {

/// Queued work.
struct Op {
  FakeCudaOp info;
  int64_t logIndex = -1;
  std::function<void()> run;
  /// Runs only once `waitFor` ran its record number `waitGen`.
  CUevent_st *waitFor = nullptr;
  int64_t waitGen = 0;
  /// Records `records` (number `recordGen`) when it runs.
  CUevent_st *records = nullptr;
  int64_t recordGen = 0;
};

} // namespace

struct CUgraph_st {
  std::vector<Op> ops;
  bool invalidated = false;
};
struct CUgraphExec_st {
  std::vector<Op> ops;
};
struct CUstream_st {
  int id = 0;
  std::deque<Op> queue;
  CUgraph_st *capture = nullptr;
};
struct CUctx_st {};

namespace {

struct Allocation {
  uint64_t bytes = 0;
  bool pinned = false;
};

struct State {
  FakeCudaPolicy policy = FakeLatestStreamFirst;
  std::vector<FakeCudaOp> log;
  int64_t executedCount = 0;
  std::vector<std::unique_ptr<CUstream_st>> streams;
  std::vector<std::unique_ptr<CUevent_st>> events;
  std::map<uint64_t, Allocation> allocations;
  int64_t deviceBytes = 0, pinnedBytes = 0;
  std::string violation;
  CUctx_st context;
  State() {
    streams.push_back(std::make_unique<CUstream_st>()); // The NULL stream.
  }
};

State &state() {
  static State s;
  return s;
}

void violate(const std::string &what) {
  if (state().violation.empty())
    state().violation = what;
}

CUstream_st *resolve(CUstream_st *s) { return s ? s : state().streams[0].get(); }

int64_t logCall(FakeCudaOp op) {
  State &st = state();
  op.issued = int64_t(st.log.size());
  st.log.push_back(op);
  return op.issued;
}

bool runnable(const Op &op) { return !op.waitFor || op.waitFor->done >= op.waitGen; }

void execute(CUstream_st *s) {
  Op op = std::move(s->queue.front());
  s->queue.pop_front();
  if (op.run)
    op.run();
  if (op.records)
    op.records->done = op.recordGen;
  if (op.logIndex >= 0)
    state().log[op.logIndex].executed = ++state().executedCount;
}

/// Runs queued work in the policy's order until `done()` holds; false if it
/// cannot (a wait that nothing queued will satisfy).
bool drain(const std::function<bool()> &done) {
  State &st = state();
  while (!done()) {
    CUstream_st *pick = nullptr;
    size_t n = st.streams.size();
    for (size_t i = 0; i < n && !pick; ++i) {
      CUstream_st *s =
          st.policy == FakeEarliestStreamFirst ? st.streams[i].get() : st.streams[n - 1 - i].get();
      if (!s->queue.empty() && runnable(s->queue.front()))
        pick = s;
    }
    if (!pick)
      return false;
    execute(pick);
  }
  return true;
}

bool allIdle() {
  for (auto &s : state().streams)
    if (!s->queue.empty())
      return false;
  return true;
}

/// Queues `op` (logged as `info`) on `s`, or records it into the capture.
CUresult issue(CUstream_st *s, FakeCudaOp info, Op op) {
  s = resolve(s);
  info.stream = s->id;
  op.info = info;
  if (s->capture) {
    if (op.waitFor || op.records) {
      // Not modelled: nnc's captures contain no events.
      s->capture->invalidated = true;
      return kNotSupported;
    }
    s->capture->ops.push_back(std::move(op));
    return kSuccess;
  }
  op.logIndex = logCall(info);
  s->queue.push_back(std::move(op));
  if (state().policy == FakeEager)
    (void)drain([] { return allIdle(); });
  return kSuccess;
}

/// The allocation holding [p, p + bytes), or nullptr.
const Allocation *allocationOf(uint64_t p, uint64_t bytes) {
  auto &all = state().allocations;
  auto it = all.upper_bound(p);
  if (it == all.begin())
    return nullptr;
  --it;
  if (p + bytes > it->first + it->second.bytes)
    return nullptr;
  return &it->second;
}

/// Checks a copy's ends: device ends lie in device allocations, host ends
/// of an asynchronous upload in pinned memory.
void checkRange(const char *what, uint64_t p, uint64_t bytes, bool device, bool mustBePinned) {
  const Allocation *a = allocationOf(p, bytes);
  if (device && (!a || a->pinned))
    violate(std::string(what) + ": " + std::to_string(bytes) + " B at device address " +
            std::to_string(p) + " outside any cuMemAlloc");
  if (!device && mustBePinned && (!a || !a->pinned))
    violate(std::string(what) + ": " + std::to_string(bytes) +
            " B from pageable host memory (not overlapped by a real driver)");
}

CUresult copy(FakeCudaKind kind, uint64_t dst, uint64_t src, size_t bytes, CUstream_st *s) {
  FakeCudaOp info;
  info.kind = kind;
  info.dst = dst;
  info.src = src;
  info.bytes = bytes;
  if (kind == FakeHtoD) {
    checkRange("cuMemcpyHtoDAsync", dst, bytes, true, false);
    checkRange("cuMemcpyHtoDAsync", src, bytes, false, true);
  } else if (kind == FakeDtoH) {
    checkRange("cuMemcpyDtoHAsync", src, bytes, true, false);
  } else if (kind == FakeDtoD) {
    checkRange("cuMemcpyDtoDAsync", dst, bytes, true, false);
    checkRange("cuMemcpyDtoDAsync", src, bytes, true, false);
  }
  Op op;
  op.run = [dst, src, bytes] {
    std::memmove(reinterpret_cast<void *>(dst), reinterpret_cast<const void *>(src), bytes);
  };
  return issue(s, info, std::move(op));
}

template <typename T> CUresult memset(CUdeviceptr dst, T value, size_t count, CUstream_st *s) {
  FakeCudaOp info;
  info.kind = FakeMemset;
  info.dst = dst;
  info.bytes = count * sizeof(T);
  checkRange("cuMemset", dst, info.bytes, true, false);
  Op op;
  op.run = [dst, value, count] {
    T *p = reinterpret_cast<T *>(dst);
    for (size_t i = 0; i < count; ++i)
      p[i] = value;
  };
  return issue(s, info, std::move(op));
}

/// A new stream or event, numbered by its position in `all`.
template <typename T> T *addNumbered(std::vector<std::unique_ptr<T>> &all) {
  all.push_back(std::make_unique<T>());
  all.back()->id = int(all.size() - 1);
  return all.back().get();
}

CUresult allocate(void **p, size_t bytes, bool pinned) {
  if (!p || bytes == 0)
    return kInvalidValue;
  *p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
  if (!*p)
    return 2;                   // CUDA_ERROR_OUT_OF_MEMORY
  std::memset(*p, 0xA5, bytes); // Not zero: code must not rely on it.
  state().allocations[reinterpret_cast<uint64_t>(*p)] = {bytes, pinned};
  (pinned ? state().pinnedBytes : state().deviceBytes) += int64_t(bytes);
  return kSuccess;
}

CUresult release(void *p, bool pinned) {
  auto &all = state().allocations;
  auto it = all.find(reinterpret_cast<uint64_t>(p));
  if (it == all.end() || it->second.pinned != pinned)
    return kInvalidValue;
  // Like the real cuMemFree: what is queued finishes first.
  drain([] { return allIdle(); });
  (pinned ? state().pinnedBytes : state().deviceBytes) -= int64_t(it->second.bytes);
  all.erase(it);
  std::free(p);
  return kSuccess;
}

} // namespace

extern "C" {

//===- Control (FakeCudaDriver.h) ------------------------------------------===//

void fakeCudaSetPolicy(FakeCudaPolicy policy) { state().policy = policy; }
void fakeCudaClearLog() {
  state().log.clear();
  for (auto &s : state().streams)
    for (Op &op : s->queue)
      op.logIndex = -1;
}
int64_t fakeCudaLogSize() { return int64_t(state().log.size()); }
const FakeCudaOp *fakeCudaLog(int64_t index) { return &state().log[size_t(index)]; }
int fakeCudaStreamId(void *stream) { return resolve(static_cast<CUstream_st *>(stream))->id; }
int fakeCudaEventId(void *event) { return event ? static_cast<CUevent_st *>(event)->id : -1; }
int64_t fakeCudaDeviceBytes() { return state().deviceBytes; }
int64_t fakeCudaPinnedBytes() { return state().pinnedBytes; }
const char *fakeCudaViolation() { return state().violation.c_str(); }
void fakeCudaClearViolation() { state().violation.clear(); }

//===- Initialization and the device ---------------------------------------===//

CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuDriverGetVersion(int *version) {
  *version = 13000;
  return kSuccess;
}
CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}
CUresult cuDeviceGet(CUdevice *device, int ordinal) {
  if (ordinal != 0)
    return kInvalidValue;
  *device = 0;
  return kSuccess;
}
CUresult cuDeviceGetAttribute(int *value, int attribute, CUdevice) {
  // Compute capability 9.0, 132 multiprocessors; 0 for the rest.
  *value = attribute == 75 ? 9 : attribute == 76 ? 0 : attribute == 16 ? 132 : 0;
  return kSuccess;
}
CUresult cuDeviceGetName(char *name, int length, CUdevice) {
  std::strncpy(name, "nnc fake CUDA driver", size_t(length));
  if (length > 0)
    name[length - 1] = 0;
  return kSuccess;
}
constexpr uint64_t kFakeTotal = uint64_t(80) << 30;
CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice) {
  *bytes = kFakeTotal;
  return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(CUctx_st **context, CUdevice) {
  *context = &state().context;
  return kSuccess;
}
CUresult cuCtxSetCurrent(CUctx_st *) { return kSuccess; }
CUresult cuCtxSynchronize() {
  FakeCudaOp info;
  info.kind = FakeCtxSync;
  logCall(info);
  return drain([] { return allIdle(); }) ? kSuccess : kUnknown;
}
CUresult cuMemGetInfo_v2(size_t *freeBytes, size_t *totalBytes) {
  *totalBytes = kFakeTotal;
  *freeBytes = kFakeTotal - uint64_t(state().deviceBytes);
  return kSuccess;
}
CUresult cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case kSuccess:
    *name = "CUDA_SUCCESS";
    return kSuccess;
  case kInvalidValue:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return kSuccess;
  case kNotSupported:
    *name = "CUDA_ERROR_NOT_SUPPORTED";
    return kSuccess;
  case kCaptureUnsupported:
    *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
    return kSuccess;
  case kCaptureInvalidated:
    *name = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
    return kSuccess;
  default:
    *name = "CUDA_ERROR_UNKNOWN";
    return kSuccess;
  }
}
CUresult cuGetErrorString(CUresult, const char **text) {
  *text = "reported by nnc's fake CUDA driver";
  return kSuccess;
}

//===- Modules and kernels -------------------------------------------------===//

CUresult cuModuleLoadData(void **, const void *) { return kNotSupported; }
CUresult cuModuleUnload(void *) { return kSuccess; }
CUresult cuModuleGetFunction(void **, void *, const char *) { return kNotSupported; }
CUresult cuLaunchKernel(void *f, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                        unsigned, CUstream_st *stream, void **params, void **) {
  if (!f || !params)
    return kInvalidValue;
  auto *fn = reinterpret_cast<void (*)(void *)>(f);
  void *arg = *static_cast<void **>(params[0]); // Read at launch, as CUDA does.
  FakeCudaOp info;
  info.kind = FakeLaunch;
  info.src = reinterpret_cast<uint64_t>(arg);
  Op op;
  op.run = [fn, arg] { fn(arg); };
  return issue(stream, info, std::move(op));
}

//===- Streams and events --------------------------------------------------===//

CUresult cuStreamCreate(CUstream_st **stream, unsigned) {
  *stream = addNumbered(state().streams);
  return kSuccess;
}
CUresult cuStreamSynchronize(CUstream_st *stream) {
  CUstream_st *s = resolve(stream);
  if (s->capture) {
    s->capture->invalidated = true;
    return kCaptureUnsupported;
  }
  FakeCudaOp info;
  info.kind = FakeStreamSync;
  info.stream = s->id;
  logCall(info);
  return drain([s] { return s->queue.empty(); }) ? kSuccess : kUnknown;
}
CUresult cuStreamDestroy_v2(CUstream_st *stream) {
  // The stream object stays (ids stay valid); its queue is drained.
  drain([stream] { return stream->queue.empty(); });
  return kSuccess;
}
CUresult cuStreamWaitEvent(CUstream_st *stream, CUevent_st *event, unsigned) {
  if (!event)
    return kInvalidValue;
  FakeCudaOp info;
  info.kind = FakeStreamWaitEvent;
  info.event = event->id;
  Op op;
  op.waitFor = event;
  op.waitGen = event->recorded;
  return issue(stream, info, std::move(op));
}
CUresult cuEventCreate(CUevent_st **event, unsigned) {
  *event = addNumbered(state().events);
  return kSuccess;
}
CUresult cuEventRecord(CUevent_st *event, CUstream_st *stream) {
  if (!event)
    return kInvalidValue;
  FakeCudaOp info;
  info.kind = FakeEventRecord;
  info.event = event->id;
  Op op;
  op.records = event;
  op.recordGen = event->recorded + 1;
  CUresult r = issue(stream, info, std::move(op));
  if (r == kSuccess)
    ++event->recorded;
  return r;
}
CUresult cuEventSynchronize(CUevent_st *event) {
  if (!event)
    return kInvalidValue;
  FakeCudaOp info;
  info.kind = FakeEventSync;
  info.event = event->id;
  logCall(info);
  int64_t target = event->recorded;
  return drain([event, target] { return event->done >= target; }) ? kSuccess : kUnknown;
}
CUresult cuEventElapsedTime(float *ms, CUevent_st *, CUevent_st *) {
  *ms = 0;
  return kNotSupported;
}
CUresult cuEventDestroy_v2(CUevent_st *) { return kSuccess; }

//===- Memory --------------------------------------------------------------===//

CUresult cuMemAlloc_v2(CUdeviceptr *ptr, size_t bytes) {
  void *p = nullptr;
  CUresult r = allocate(&p, bytes, false);
  *ptr = reinterpret_cast<CUdeviceptr>(p);
  return r;
}
CUresult cuMemFree_v2(CUdeviceptr ptr) { return release(reinterpret_cast<void *>(ptr), false); }
CUresult cuMemAllocHost_v2(void **ptr, size_t bytes) { return allocate(ptr, bytes, true); }
CUresult cuMemFreeHost(void *ptr) { return release(ptr, true); }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void *src, size_t bytes, CUstream_st *s) {
  return copy(FakeHtoD, dst, reinterpret_cast<uint64_t>(src), bytes, s);
}
CUresult cuMemcpyDtoHAsync_v2(void *dst, CUdeviceptr src, size_t bytes, CUstream_st *s) {
  return copy(FakeDtoH, reinterpret_cast<uint64_t>(dst), src, bytes, s);
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream_st *s) {
  return copy(FakeDtoD, dst, src, bytes, s);
}
CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream_st *s) {
  return copy(FakeCopy, dst, src, bytes, s);
}
CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, size_t count, CUstream_st *s) {
  return memset<unsigned char>(dst, value, count, s);
}
CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t count, CUstream_st *s) {
  return memset<unsigned short>(dst, value, count, s);
}
CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t count, CUstream_st *s) {
  return memset<unsigned>(dst, value, count, s);
}

//===- Graphs --------------------------------------------------------------===//

CUresult cuStreamBeginCapture_v2(CUstream_st *stream, int) {
  CUstream_st *s = resolve(stream);
  if (s->capture)
    return kInvalidValue;
  // Work queued before stays queued; cuGraphLaunch queues the graph after
  // whatever precedes it then.
  s->capture = new CUgraph_st();
  return kSuccess;
}
CUresult cuStreamEndCapture(CUstream_st *stream, CUgraph_st **graph) {
  CUstream_st *s = resolve(stream);
  if (!s->capture)
    return kInvalidValue;
  CUgraph_st *g = s->capture;
  s->capture = nullptr;
  if (g->invalidated) {
    delete g;
    *graph = nullptr;
    return kCaptureInvalidated;
  }
  *graph = g;
  return kSuccess;
}
CUresult cuGraphInstantiateWithFlags(CUgraphExec_st **exec, CUgraph_st *graph, unsigned long long) {
  if (!graph)
    return kInvalidValue;
  *exec = new CUgraphExec_st{graph->ops};
  return kSuccess;
}
CUresult cuGraphLaunch(CUgraphExec_st *exec, CUstream_st *stream) {
  if (!exec)
    return kInvalidValue;
  FakeCudaOp launch;
  launch.kind = FakeGraphLaunch;
  launch.stream = resolve(stream)->id;
  logCall(launch);
  for (const Op &node : exec->ops) {
    FakeCudaOp info = node.info;
    info.fromGraph = true;
    Op op;
    op.run = node.run;
    if (CUresult r = issue(stream, info, std::move(op)); r != kSuccess)
      return r;
  }
  return kSuccess;
}
CUresult cuGraphExecDestroy(CUgraphExec_st *exec) {
  delete exec;
  return kSuccess;
}
CUresult cuGraphDestroy(CUgraph_st *graph) {
  delete graph;
  return kSuccess;
}

} // extern "C"
