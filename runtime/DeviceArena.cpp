//===- DeviceArena.cpp - A GPU model's arena and its host mirror ----------===//
//
// Part of nnc's runtime (runtime/DeviceArena.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/DeviceArena.h"

#include "runtime/Gpu.h"
#include "runtime/Kernels.h"
#include "runtime/KernelsInternal.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

using namespace nnc::rt;
using namespace nnc::rt::gpu;

/// One entry point and its graph.
struct DeviceArena::Entry {
  void *fn = nullptr;
  std::vector<ArenaSpan> inputs, outputs;
  /// The offset of each input span in a staging slot (packed one after the
  /// other), and their total.
  std::vector<int64_t> stagingOffsets;
  int64_t stagedBytes = 0;
  int64_t runs = 0;
  CUgraphExec graph = nullptr;
  /// Set when a capture failed: this entry runs without a graph.
  bool noGraph = false;
};

/// A staging slot: a pinned host buffer, a device buffer, and the events
/// that order their reuse (runtime/DeviceArena.h).
struct DeviceArena::Slot {
  char *pinned = nullptr;
  CUdeviceptr device = 0;
  /// Recorded on the copy stream after the upload from `pinned`.
  CUevent uploaded = nullptr;
  /// Recorded on the compute stream after the copy out of `device`.
  CUevent consumed = nullptr;
  /// The entry whose prefetched inputs wait here (-1: none), and the
  /// prefetch's number (the older of two waiting batches is taken first).
  int64_t waitingEntry = -1;
  int64_t order = 0;
};

namespace {

/// The MLIR C-interface descriptor of a `memref<?xi8>` (docs/abi.md).
struct MemRef1D {
  char *allocated;
  char *aligned;
  int64_t offset;
  int64_t size;
  int64_t stride;
};
using EntryFn = void (*)(MemRef1D *);

/// NNC_CUDA_GRAPHS=0 turns CUDA graphs off; anything else leaves them on.
bool graphsFromEnvironment() {
  const char *v = std::getenv("NNC_CUDA_GRAPHS");
  return !(v && std::strcmp(v, "0") == 0);
}

} // namespace

void nnc::rt::callEntryPoint(void *fn, char *base, int64_t bytes) {
  MemRef1D arena{base, base, 0, bytes, 1};
  reinterpret_cast<EntryFn>(fn)(&arena);
}

std::vector<ArenaSpan> nnc::rt::mergeSpans(std::vector<ArenaSpan> spans, int64_t gap) {
  std::sort(spans.begin(), spans.end(),
            [](const ArenaSpan &a, const ArenaSpan &b) { return a.offset < b.offset; });
  std::vector<ArenaSpan> out;
  for (const ArenaSpan &s : spans) {
    if (s.bytes <= 0)
      continue;
    if (!out.empty() && s.offset <= out.back().offset + out.back().bytes + gap) {
      int64_t end = std::max(out.back().offset + out.back().bytes, s.offset + s.bytes);
      out.back().bytes = end - out.back().offset;
      continue;
    }
    out.push_back(s);
  }
  return out;
}

int64_t nnc::rt::inputStagingSlotBytes(const std::vector<std::vector<ArenaSpan>> &entryInputs) {
  int64_t largest = 0;
  for (const std::vector<ArenaSpan> &inputs : entryInputs) {
    int64_t bytes = 0;
    for (const ArenaSpan &s : mergeSpans(inputs))
      bytes += s.bytes;
    largest = std::max(largest, bytes);
  }
  return largest;
}

Result<std::unique_ptr<DeviceArena>> DeviceArena::create(int64_t bytes) {
  if (const std::string &reason = unavailableReason(); !reason.empty())
    return Status::error("cannot use the GPU: " + reason);
  makeContextCurrent();
  const Driver &d = driver();
  std::unique_ptr<DeviceArena> a(new DeviceArena());
  a->bytes_ = bytes;
  a->graphs_ = graphsFromEnvironment();
  size_t freeBytes = 0, totalBytes = 0;
  if (d.cuMemGetInfo(&freeBytes, &totalBytes) == kSuccess) {
    a->memory_.freeBefore = int64_t(freeBytes);
    a->memory_.total = int64_t(totalBytes);
  }
  CUdeviceptr p = 0;
  if (CUresult r = d.cuMemAlloc(&p, size_t(bytes)); r != kSuccess)
    return Status::error("cannot allocate the " + std::to_string(bytes) +
                         " B arena on the GPU: " + errorText(r));
  a->device_ = p;
  if (d.cuMemGetInfo(&freeBytes, &totalBytes) == kSuccess)
    a->memory_.freeAfter = int64_t(freeBytes);
  void *h = nullptr;
  if (CUresult r = d.cuMemAllocHost(&h, size_t(bytes)); r != kSuccess)
    return Status::error("cannot allocate the " + std::to_string(bytes) +
                         " B pinned host mirror of the arena: " + errorText(r));
  a->host_ = static_cast<char *>(h);
  std::memset(a->host_, 0, size_t(bytes));
  if (CUresult r = d.cuMemsetD8Async(p, 0, size_t(bytes), stream()); r != kSuccess)
    return Status::error("cannot clear the GPU arena: " + errorText(r));
  if (CUresult r = d.cuStreamSynchronize(stream()); r != kSuccess)
    return Status::error("cannot clear the GPU arena: " + errorText(r));
  return a;
}

DeviceArena::~DeviceArena() {
  const Driver &d = driver();
  // Nothing may still copy into or out of the buffers freed below.
  if (copyStream_)
    d.cuStreamSynchronize(copyStream_);
  if (device_)
    d.cuStreamSynchronize(stream());
  for (std::unique_ptr<Entry> &e : entries_)
    if (e->graph)
      d.cuGraphExecDestroy(e->graph);
  if (slots_)
    for (int i = 0; i < 2; ++i) {
      Slot &slot = slots_[i];
      if (slot.uploaded)
        d.cuEventDestroy(slot.uploaded);
      if (slot.consumed)
        d.cuEventDestroy(slot.consumed);
      if (slot.device)
        d.cuMemFree(slot.device);
      if (slot.pinned)
        d.cuMemFreeHost(slot.pinned);
    }
  if (copyStream_)
    d.cuStreamDestroy(copyStream_);
  if (device_)
    d.cuMemFree(device_);
  if (host_)
    d.cuMemFreeHost(host_);
}

void DeviceArena::addEntry(void *fn, std::vector<ArenaSpan> inputs,
                           std::vector<ArenaSpan> outputs) {
  auto e = std::make_unique<Entry>();
  e->fn = fn;
  e->inputs = mergeSpans(std::move(inputs));
  e->outputs = mergeSpans(std::move(outputs));
  for (const ArenaSpan &s : e->inputs) {
    e->stagingOffsets.push_back(e->stagedBytes);
    e->stagedBytes += s.bytes;
  }
  entries_.push_back(std::move(e));
}

Status DeviceArena::allocateStaging() {
  const Driver &d = driver();
  std::vector<std::vector<ArenaSpan>> inputs;
  for (const std::unique_ptr<Entry> &e : entries_)
    inputs.push_back(e->inputs);
  slotBytes_ = inputStagingSlotBytes(inputs);
  if (CUresult r = d.cuStreamCreate(&copyStream_, kStreamNonBlocking); r != kSuccess)
    return Status::error("cannot create the GPU copy stream: " + errorText(r));
  slots_ = std::make_unique<Slot[]>(2);
  for (int i = 0; i < 2; ++i) {
    Slot &slot = slots_[i];
    if (CUresult r = d.cuEventCreate(&slot.uploaded, kEventDisableTiming); r != kSuccess)
      return Status::error("cannot create a GPU event: " + errorText(r));
    if (CUresult r = d.cuEventCreate(&slot.consumed, kEventDisableTiming); r != kSuccess)
      return Status::error("cannot create a GPU event: " + errorText(r));
    if (slotBytes_ == 0)
      continue;
    void *p = nullptr;
    if (CUresult r = d.cuMemAllocHost(&p, size_t(slotBytes_)); r != kSuccess)
      return Status::error("cannot allocate the " + std::to_string(slotBytes_) +
                           " B pinned staging buffer of the inputs: " + errorText(r));
    slot.pinned = static_cast<char *>(p);
    if (CUresult r = d.cuMemAlloc(&slot.device, size_t(slotBytes_)); r != kSuccess)
      return Status::error("cannot allocate the " + std::to_string(slotBytes_) +
                           " B device staging buffer of the inputs: " + errorText(r));
  }
  return Status::success();
}

bool DeviceArena::replaysGraph(size_t index) const { return entries_[index]->graph != nullptr; }

void DeviceArena::enqueue(Entry &e) {
  const Driver &d = driver();
  callEntryPoint(e.fn, reinterpret_cast<char *>(device_), bytes_);
  for (const ArenaSpan &s : e.outputs)
    if (!check(d.cuMemcpyDtoHAsync(host_ + s.offset, device_ + s.offset, size_t(s.bytes), stream()),
               "downloading an output (cuMemcpyDtoHAsync)"))
      return;
}

bool DeviceArena::capture(Entry &e) {
  const Driver &d = driver();
  // Thread-local mode: only this thread's calls are checked for what a
  // capture forbids (synchronization, allocation).
  if (d.cuStreamBeginCapture(stream(), kCaptureModeThreadLocal) != kSuccess) {
    e.noGraph = true;
    return false;
  }
  enqueue(e);
  CUgraph graph = nullptr;
  CUresult ended = d.cuStreamEndCapture(stream(), &graph);
  // Anything the entry's calls recorded was about the capture (nothing
  // ran): forget it and run the entry without a graph, which reports real
  // errors.
  bool failed = ended != kSuccess || !graph || nnc_kernels_error();
  if (!failed && d.cuGraphInstantiateWithFlags(&e.graph, graph, 0) != kSuccess) {
    e.graph = nullptr;
    failed = true;
  }
  if (graph)
    d.cuGraphDestroy(graph);
  if (failed) {
    nnc_kernels_clear_error();
    e.noGraph = true;
    return false;
  }
  return true;
}

Status DeviceArena::prefetch(size_t index) {
  if (!ready("prefetching the inputs of a GPU entry point"))
    return Status::error(nnc_kernels_error());
  const Driver &d = driver();
  Entry &e = *entries_[index];
  if (e.stagedBytes == 0)
    return Status::success();
  int which = slots_[nextSlot_].waitingEntry < 0 ? nextSlot_ : 1 - nextSlot_;
  Slot &slot = slots_[which];
  if (slot.waitingEntry >= 0)
    return Status::error("prefetching the inputs of a GPU entry point: two prefetched batches "
                         "wait already");
  auto failed = [](const char *what, CUresult r) {
    return Status::error(std::string("prefetching the inputs of a GPU entry point (") + what +
                         "): " + errorText(r));
  };
  // The pinned buffer's previous upload must have read it.
  if (CUresult r = d.cuEventSynchronize(slot.uploaded); r != kSuccess)
    return failed("cuEventSynchronize", r);
  for (size_t i = 0; i < e.inputs.size(); ++i)
    std::memcpy(slot.pinned + e.stagingOffsets[i], host_ + e.inputs[i].offset,
                size_t(e.inputs[i].bytes));
  // The device buffer's previous contents must have been copied into the
  // arena by the step that consumed them.
  if (CUresult r = d.cuStreamWaitEvent(copyStream_, slot.consumed, 0); r != kSuccess)
    return failed("cuStreamWaitEvent", r);
  if (CUresult r =
          d.cuMemcpyHtoDAsync(slot.device, slot.pinned, size_t(e.stagedBytes), copyStream_);
      r != kSuccess)
    return failed("cuMemcpyHtoDAsync", r);
  if (CUresult r = d.cuEventRecord(slot.uploaded, copyStream_); r != kSuccess)
    return failed("cuEventRecord", r);
  slot.waitingEntry = int64_t(index);
  slot.order = prefetches_++;
  nextSlot_ = 1 - which;
  return Status::success();
}

void DeviceArena::start(size_t index, bool hostChanged) {
  if (!ready("running a GPU entry point"))
    return;
  const Driver &d = driver();
  Entry &e = *entries_[index];
  if (hostChanged)
    for (const ArenaSpan &s : persistent_)
      if (!check(
              d.cuMemcpyHtoDAsync(device_ + s.offset, host_ + s.offset, size_t(s.bytes), stream()),
              "uploading the parameters (cuMemcpyHtoDAsync)"))
        return;
  if (e.stagedBytes > 0) {
    auto waiting = [&] {
      Slot *found = nullptr;
      for (int i = 0; i < 2; ++i)
        if (slots_[i].waitingEntry == int64_t(index) && (!found || slots_[i].order < found->order))
          found = &slots_[i];
      return found;
    };
    Slot *slot = waiting();
    if (!slot) {
      if (Status st = prefetch(index); st.failed()) {
        kernels::reportError(st.message());
        return;
      }
      slot = waiting();
    }
    slot->waitingEntry = -1;
    if (!check(d.cuStreamWaitEvent(stream(), slot->uploaded, 0),
               "waiting for an entry's inputs (cuStreamWaitEvent)"))
      return;
    for (size_t i = 0; i < e.inputs.size(); ++i)
      if (!check(d.cuMemcpyDtoDAsync(device_ + e.inputs[i].offset,
                                     slot->device + e.stagingOffsets[i], size_t(e.inputs[i].bytes),
                                     stream()),
                 "copying an input into the arena (cuMemcpyDtoDAsync)"))
        return;
    if (!check(d.cuEventRecord(slot->consumed, stream()),
               "releasing an input staging buffer (cuEventRecord)"))
      return;
  }
  // The first run is never captured: library calls choose their algorithms
  // and load their modules then, which a capture may not contain.
  bool replay = graphs_ && !e.noGraph && (e.graph || (e.runs > 0 && capture(e)));
  if (replay)
    check(d.cuGraphLaunch(e.graph, stream()), "cuGraphLaunch");
  else
    enqueue(e);
  ++e.runs;
}

void DeviceArena::finish() {
  if (ready("running a GPU entry point"))
    check(driver().cuStreamSynchronize(stream()),
          "running a GPU entry point (cuStreamSynchronize)");
}

void DeviceArena::syncToHost() {
  if (!ready("copying the parameters from the GPU"))
    return;
  const Driver &d = driver();
  for (const ArenaSpan &s : persistent_)
    if (!check(d.cuMemcpyDtoHAsync(host_ + s.offset, device_ + s.offset, size_t(s.bytes), stream()),
               "downloading the parameters (cuMemcpyDtoHAsync)"))
      return;
  check(d.cuStreamSynchronize(stream()), "downloading the parameters (cuStreamSynchronize)");
}
