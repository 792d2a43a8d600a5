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
// (Model::syncToHost). Everything goes to the process's one stream
// (runtime/Gpu.h); errors are recorded as the kernels' error
// (nnc_kernels_error) for Model::run to report.
//
// CUDA graphs: the second run of an entry is captured (input uploads, the
// entry's launches and library calls, output downloads) and every later run
// replays the graph with one cuGraphLaunch. This relies on what nnc's host
// code is: for a given artifact an entry issues the same work with the same
// arguments every time (static shapes, all data in the arena, the mirror's
// pinned addresses fixed), so the graph's copies read and write the mirror
// at replay time. An entry whose capture fails (e.g. it allocates, or a
// library call synchronizes) runs without a graph from then on.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_DEVICEARENA_H
#define NNC_RUNTIME_DEVICEARENA_H

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
  /// `outputs` its regions' spans, and allocates its inputs' staging buffer.
  /// Entries are numbered for start() and run() in the order they were added.
  Status addEntry(void *fn, std::vector<ArenaSpan> inputs, std::vector<ArenaSpan> outputs);
  /// Turns CUDA graphs on or off (default: on unless NNC_CUDA_GRAPHS=0).
  void setGraphs(bool on) { graphs_ = on; }
  bool graphs() const { return graphs_; }
  /// Whether entry `index` now replays a captured graph.
  bool replaysGraph(size_t index) const;

  /// Starts entry `index` without waiting: stages its input regions,
  /// queues the upload of the persistent regions if `hostChanged`, then of
  /// its inputs, its work and the download of its output regions. Errors
  /// are recorded (nnc_kernels_error).
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
  /// Queues the entry's uploads, work and downloads on the stream.
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
};

} // namespace nnc::rt

#endif // NNC_RUNTIME_DEVICEARENA_H
