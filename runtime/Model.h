//===- Model.h - Load and run a compiled nnc model --------------*- C++ -*-===//
//
// A compiled model is a shared library (`nnc build model.nn -o m.so`) that
// exports a JSON model table `nnc_model_info` and entry points
// `_mlir_ciface_nnc_<entry>(MemRef1D *arena)`. Everything the model touches
// lives in one arena of `arena_bytes`: parameters, buffers, optimizer state,
// inputs, outputs and every temporary, at the offsets the compiler planned
// (docs/abi.md). This class owns the library handle and the arena.
//
// A GPU artifact (`nnc build --device gpu`, `"device": "gpu"` in its table)
// has its arena on the GPU (runtime/DeviceArena.h): data() then returns a
// pinned host mirror, run() copies the entry's inputs up and its outputs
// down, and the persistent regions (params, buffers, state) move only on
// request: call syncToHost() before the host reads them and hostChanged()
// after it wrote them. On the CPU both do nothing, so code that calls them
// runs on either device.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_MODEL_H
#define NNC_RUNTIME_MODEL_H

#include "runtime/DeviceArena.h"
#include "runtime/Status.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nnc::rt {

/// One named region of the arena.
struct Region {
  std::string name;  ///< "conv1.weight", "forward.image", "loss.result0"
  std::string kind;  ///< param | buffer | state | input | output
  std::string dtype; ///< f32 | f16 | bf16 | i64 | i32 | u8 | i8
  std::vector<int64_t> shape;
  int64_t offset = 0;
  int64_t bytes = 0;
  std::string init; ///< zeros | ones | uniform | normal (params, buffers, state)
  double scale = 0; ///< uniform bound or normal std
  int64_t numElements() const;
};

/// Where a model runs.
enum class Device { Cpu, Gpu };

/// "cpu" or "gpu".
const char *deviceName(Device device);

class Model {
public:
  /// Loads a compiled model; the error names the file and the problem. With
  /// `expected`, an artifact built for the other device is refused. A GPU
  /// artifact without a usable GPU fails with the one line "cannot use the
  /// GPU: <reason>" (runtime/Gpu.h unavailableReason()).
  static Result<std::unique_ptr<Model>> load(const std::string &path,
                                             std::optional<Device> expected = std::nullopt);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const std::string &name() const { return name_; }
  /// The device the artifact was built for (its table's "device").
  Device device() const { return device_; }
  /// The model table's arena_bytes (docs/abi.md).
  int64_t arenaBytes() const { return arenaBytes_; }
  /// The table's "precision": "bf16" or "f16" for a reduced-precision model
  /// (its f32 arena regions are stored in that type in its weights file;
  /// docs/abi.md), "" for an f32 model.
  const std::string &precision() const { return precision_; }
  /// The process's resident bytes just before load allocated the arena (-1
  /// where unknown): the baseline of nnc train's memory figures, which the
  /// compiler, the model library and the runtime's libraries are part of.
  int64_t residentBeforeArena() const { return residentBeforeArena_; }
  /// The bytes load() allocated for the arena: arenaBytes() rounded up to
  /// the arena's 64-byte alignment (the planner's arenas are multiples of 64,
  /// so the two agree for nnc's artifacts).
  int64_t allocatedBytes() const { return allocatedBytes_; }
  const std::vector<Region> &regions() const { return regions_; }
  /// The region named `name`, or nullptr.
  const Region *region(std::string_view name) const;
  /// The region's memory in the arena (on the GPU: in its host mirror).
  void *data(const Region &r) { return arena_ + r.offset; }
  template <typename T> T *dataAs(const Region &r) {
    return reinterpret_cast<T *>(arena_ + r.offset);
  }
  /// The model's entry points ("forward", "loss", "train_step").
  const std::vector<std::string> &entries() const { return entryNames_; }
  bool hasEntry(std::string_view entry) const;

  /// Fills parameters, buffers and state with their initializers (PyTorch's
  /// default distributions), deterministically from `seed`, in layout order.
  void initialize(uint64_t seed);

  /// Runs one entry point on the arena. On the GPU: uploads the persistent
  /// regions if hostChanged() was called since, and the entry's input
  /// regions; runs it; downloads its output regions; waits for the GPU.
  /// The same as start(entry) then finish().
  Status run(std::string_view entry);
  /// Starts one entry point. From its return the host may write the next
  /// inputs into the input regions (on the GPU they were staged for the
  /// upload), while the entry runs; it reads outputs (or anything else of
  /// the arena) only after finish(). On the CPU the entry runs here.
  Status start(std::string_view entry);
  /// GPU: takes the entry's input regions as they are now in the mirror and
  /// queues their upload on the copy stream, which overlaps the entry that
  /// is running; the next start(entry) runs on them (without a prefetch,
  /// start uploads the inputs itself). The host may write the input regions
  /// again from its return. Nothing on the CPU (start reads the arena).
  /// Training calls start(i), writes batch i+1, prefetch, finish(i),
  /// start(i+1), ...
  Status prefetch(std::string_view entry);
  /// Waits for the entry start() began (nothing if none) and reports its
  /// error.
  Status finish();

  /// Before the host reads params, buffers or state (checkpoints, checks):
  /// on the GPU, copies them from the device into the mirror if an entry
  /// that updates them (any but forward and loss) ran since the last copy.
  /// Nothing on the CPU.
  Status syncToHost();
  /// After the host wrote params, buffers or state (initialize, checkpoint
  /// load): on the GPU, the next run() uploads them first. Nothing on the
  /// CPU. A caller that writes only some of them after entries ran calls
  /// syncToHost() before writing (the upload copies all of them).
  void hostChanged() { hostChanged_ = true; }

  /// GPU only: CUDA graphs (each entry captured at its second run, then
  /// replayed); on by default unless NNC_CUDA_GRAPHS=0, always off for
  /// models built with --check-numerics (its checks wait for the GPU).
  void setCudaGraphs(bool on);
  /// GPU only: the bytes of the input staging buffers the runtime allocated
  /// outside the arena, on the device and (as much again) pinned on the
  /// host: 2 x inputStagingSlotBytes (runtime/DeviceArena.h); 0 on the CPU.
  int64_t inputStagingBytes() const;
  /// GPU only: device memory before and after the arena's allocation.
  DeviceMemoryInfo deviceMemory() const;

  /// For models built with --check-numerics: the description of each
  /// checked op ("conv1 (nn.conv2d)"), indexed by nnc_numerics_first().
  const std::vector<std::string> &numericsOps() const { return numericsOps_; }

  /// The raw model table (JSON), for tools.
  const std::string &info() const { return info_; }

private:
  Model() = default;
  std::string path_, name_, info_;
  void *handle_ = nullptr;
  Device device_ = Device::Cpu;
  /// The arena: allocated here on the CPU; the GPU mirror of deviceArena_.
  char *arena_ = nullptr;
  std::unique_ptr<DeviceArena> deviceArena_;
  /// GPU: the host wrote persistent regions since the last upload / an
  /// entry ran since the last download.
  bool hostChanged_ = false, deviceChanged_ = false;
  /// The entry start() began and finish() has not waited for ("" if none).
  std::string running_;
  int64_t arenaBytes_ = 0;
  std::string precision_;
  int64_t residentBeforeArena_ = -1;
  int64_t allocatedBytes_ = 0;
  std::vector<Region> regions_;
  std::vector<std::string> entryNames_;
  std::vector<std::string> numericsOps_;
  std::vector<void *> entryFns_;
};

} // namespace nnc::rt

#endif // NNC_RUNTIME_MODEL_H
