//===- DeviceArena.cpp - A GPU model's arena and its host mirror ----------===//
//
// Part of nnc's runtime (runtime/DeviceArena.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/DeviceArena.h"

#include "runtime/Gpu.h"
#include "runtime/Kernels.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

using namespace nnc::rt;
using namespace nnc::rt::gpu;

/// One entry point and its graph.
struct DeviceArena::Entry {
  void *fn = nullptr;
  std::vector<ArenaSpan> inputs, outputs;
  /// The inputs packed one after the other (pinned; null if none), and the
  /// offset of each input span in it.
  char *staging = nullptr;
  std::vector<int64_t> stagingOffsets;
  int64_t runs = 0;
  CUgraphExec graph = nullptr;
  /// Set when a capture failed: this entry runs without a graph.
  bool noGraph = false;
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
  for (std::unique_ptr<Entry> &e : entries_) {
    if (e->graph)
      d.cuGraphExecDestroy(e->graph);
    if (e->staging)
      d.cuMemFreeHost(e->staging);
  }
  if (device_)
    d.cuMemFree(device_);
  if (host_)
    d.cuMemFreeHost(host_);
}

Status DeviceArena::addEntry(void *fn, std::vector<ArenaSpan> inputs,
                             std::vector<ArenaSpan> outputs) {
  auto e = std::make_unique<Entry>();
  e->fn = fn;
  e->inputs = mergeSpans(std::move(inputs));
  e->outputs = mergeSpans(std::move(outputs));
  int64_t staged = 0;
  for (const ArenaSpan &s : e->inputs) {
    e->stagingOffsets.push_back(staged);
    staged += s.bytes;
  }
  if (staged > 0) {
    void *p = nullptr;
    if (CUresult r = driver().cuMemAllocHost(&p, size_t(staged)); r != kSuccess)
      return Status::error("cannot allocate the " + std::to_string(staged) +
                           " B pinned staging buffer of an entry's inputs: " + errorText(r));
    e->staging = static_cast<char *>(p);
  }
  entries_.push_back(std::move(e));
  return Status::success();
}

bool DeviceArena::replaysGraph(size_t index) const { return entries_[index]->graph != nullptr; }

void DeviceArena::enqueue(Entry &e) {
  const Driver &d = driver();
  for (size_t i = 0; i < e.inputs.size(); ++i) {
    const ArenaSpan &s = e.inputs[i];
    const char *from = e.staging ? e.staging + e.stagingOffsets[i] : host_ + s.offset;
    if (!check(d.cuMemcpyHtoDAsync(device_ + s.offset, from, size_t(s.bytes), stream()),
               "uploading an input (cuMemcpyHtoDAsync)"))
      return;
  }
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

void DeviceArena::start(size_t index, bool hostChanged) {
  if (!ready("running a GPU entry point"))
    return;
  const Driver &d = driver();
  Entry &e = *entries_[index];
  // The previous start() was finished, so its upload from the staging
  // buffer is done.
  if (e.staging)
    for (size_t i = 0; i < e.inputs.size(); ++i)
      std::memcpy(e.staging + e.stagingOffsets[i], host_ + e.inputs[i].offset,
                  size_t(e.inputs[i].bytes));
  if (hostChanged)
    for (const ArenaSpan &s : persistent_)
      if (!check(
              d.cuMemcpyHtoDAsync(device_ + s.offset, host_ + s.offset, size_t(s.bytes), stream()),
              "uploading the parameters (cuMemcpyHtoDAsync)"))
        return;
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
