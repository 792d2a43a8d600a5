//===- DeviceArena.h - A GPU model's arena and its host mirror ---*- C++ -*-===//
//
// Part of nnc's runtime: the device layer of runtime/Model.h for artifacts
// built with `--device gpu` (docs/abi.md "GPU artifacts"). The arena is ONE
// cuMemAlloc of the planned arena_bytes; a pinned host mirror of the same
// size is what Model::data() returns, so the tools and the training loop
// read and write regions as on the CPU. Copies between the two are explicit
// and few: an entry's input regions before it runs, its output regions
// after, and the persistent regions (params, buffers, state) only when the
// host changed them (Model::hostChanged) or wants to read them
// (Model::syncToHost). Errors are recorded as the kernels' error
// (nnc_kernels_error) for Model::run to report.
//
// Streams: the entries' work, their output downloads and the persistent
// copies run on the process's one stream (runtime/Gpu.h stream(), the
// "compute stream"); input uploads run on the arena's own copy stream, so
// the upload of batch i+1 overlaps step i. Two staging slots, each a pinned
// host buffer and a device buffer of the largest entry's packed inputs
// (inputStagingBytes), alternate:
//   prefetch(entry)  host: wait for the slot's previous upload (event
//                    `uploaded`), copy the inputs from the mirror into the
//                    slot's pinned buffer; copy stream: wait for the last
//                    step that read the slot's device buffer (event
//                    `consumed`), upload pinned -> device, record `uploaded`.
//   start(entry)     compute stream: wait for `uploaded` of the entry's
//                    prefetched slot (prefetching it now if none is), copy
//                    the slot's device buffer into the arena's input regions
//                    (device to device), record `consumed`; then the entry's
//                    work and output downloads.
//   finish()         waits for the compute stream.
// The slot's device buffer is free again as soon as its copy into the arena
// ran, so the next upload into it never waits for a whole step.
//
// CUDA graphs: the second run of an entry is captured (its launches, library
// calls and output downloads) and every later run replays the graph with one
// cuGraphLaunch. The slot-dependent part (the event wait, the copies out of
// the slot, the event record) is NOT in the graph: it is issued on the
// compute stream just before cuGraphLaunch, so one graph serves both slots
// and always reads its inputs from the arena's fixed input regions. This
// relies on what nnc's host code is: for a given artifact an entry issues
// the same work with the same arguments every time (static shapes, all data
// in the arena, the mirror's pinned addresses fixed). An entry whose capture
// fails (e.g. it allocates, or a library call synchronizes) runs without a
// graph from then on.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_DEVICEARENA_H
#define NNC_RUNTIME_DEVICEARENA_H

#include "runtime/Gpu.h"
#include "runtime/Status.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace nnc::rt {

/// A byte range of the arena.
struct ArenaSpan {
  int64_t offset = 0;
  int64_t bytes = 0;
};

/// Calls the entry point `fn` (an artifact's `_mlir_ciface_nnc_<entry>`,
/// docs/abi.md) on the arena of `bytes` at `base`: a host address on the
/// CPU, a device address on the GPU.
void callEntryPoint(void *fn, char *base, int64_t bytes);

/// Merges overlapping or adjacent spans (sorted by offset); spans with at
/// most `gap` bytes between them become one copy.
std::vector<ArenaSpan> mergeSpans(std::vector<ArenaSpan> spans, int64_t gap = 0);

/// The bytes of each of the two staging buffers (device and pinned host)
/// DeviceArena allocates for entries with these input spans (one vector per
/// entry): the largest entry's inputs, merged (mergeSpans) and packed. The
/// device holds twice this outside the arena, the host twice this pinned
/// besides the mirror (`nnc report --device gpu` states both).
int64_t inputStagingSlotBytes(const std::vector<std::vector<ArenaSpan>> &entryInputs);

/// Device memory around the arena's allocation (cuMemGetInfo), to compare
/// what the device reports with the plan. -1 where not measured.
struct DeviceMemoryInfo {
  int64_t freeBefore = -1; ///< Free device memory before the arena.
  int64_t freeAfter = -1;  ///< ... and after it.
  int64_t total = -1;      ///< The device's memory.
};

class DeviceArena {
public:
  /// Allocates the arena (`bytes`, one cuMemAlloc) and its pinned mirror,
  /// both zeroed. The error is one line: "cannot use the GPU: <reason>"
  /// without a usable GPU, else what failed.
  static Result<std::unique_ptr<DeviceArena>> create(int64_t bytes);
  ~DeviceArena();
  DeviceArena(const DeviceArena &) = delete;
  DeviceArena &operator=(const DeviceArena &) = delete;

  /// The pinned host mirror (arena bytes).
  char *host() const { return host_; }
  /// The device arena's address.
  uint64_t device() const { return device_; }
  const DeviceMemoryInfo &memory() const { return memory_; }

  /// The persistent regions' spans (uploaded by run() when `hostChanged`,
  /// downloaded by syncToHost()).
  void setPersistent(std::vector<ArenaSpan> spans) { persistent_ = std::move(spans); }
  /// Adds an entry point: `fn` is its `_mlir_ciface_` function, `inputs` and
  /// `outputs` its regions' spans. Entries are numbered for prefetch(),
  /// start() and run() in the order they were added. Add every entry before
  /// allocateStaging().
  void addEntry(void *fn, std::vector<ArenaSpan> inputs, std::vector<ArenaSpan> outputs);
  /// Creates the copy stream and the events, and allocates the two staging
  /// slots (inputStagingSlotBytes of the entries' inputs, device and pinned).
  Status allocateStaging();
  /// The bytes of one staging slot (device and pinned host alike).
  int64_t stagingSlotBytes() const { return slotBytes_; }
  /// Turns CUDA graphs on or off (default: on unless NNC_CUDA_GRAPHS=0).
  void setGraphs(bool on) { graphs_ = on; }
  bool graphs() const { return graphs_; }
  /// Whether entry `index` now replays a captured graph.
  bool replaysGraph(size_t index) const;

  /// Copies entry `index`'s input regions from the mirror into a free
  /// staging slot and queues their upload on the copy stream, without
  /// waiting for the compute stream: the host may then write the next
  /// inputs into the mirror. The next start(index) consumes it. At most two
  /// prefetched batches wait at a time; a third is an error.
  Status prefetch(size_t index);
  /// Starts entry `index` without waiting: queues the upload of the
  /// persistent regions if `hostChanged`; then, on the compute stream, the
  /// wait for its oldest prefetched inputs (prefetching them now if none
  /// wait), their copy into the arena, its work and the download of its
  /// output regions. Errors are recorded (nnc_kernels_error).
  void start(size_t index, bool hostChanged);
  /// Waits for what start() queued (the outputs are then in the mirror).
  void finish();
  /// start() then finish().
  void run(size_t index, bool hostChanged) {
    start(index, hostChanged);
    finish();
  }
  /// Downloads the persistent regions into the mirror and waits.
  void syncToHost();

private:
  DeviceArena() = default;
  struct Entry;
  struct Slot;
  /// Queues the entry's work and downloads on the compute stream.
  void enqueue(Entry &e);
  /// Captures enqueue(e) into e's graph; false (nothing recorded, nothing
  /// run) if the capture fails.
  bool capture(Entry &e);

  char *host_ = nullptr;
  uint64_t device_ = 0;
  int64_t bytes_ = 0;
  DeviceMemoryInfo memory_;
  bool graphs_ = true;
  std::vector<ArenaSpan> persistent_;
  std::vector<std::unique_ptr<Entry>> entries_;
  /// The copy stream, the two staging slots and the slot the next
  /// prefetch() prefers; a counter that orders prefetched batches.
  gpu::CUstream copyStream_ = nullptr;
  std::unique_ptr<Slot[]> slots_;
  int64_t slotBytes_ = 0;
  int nextSlot_ = 0;
  int64_t prefetches_ = 0;
};

} // namespace nnc::rt

#endif // NNC_RUNTIME_DEVICEARENA_H
