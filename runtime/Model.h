//===- Model.h - Load and run a compiled nnc model --------------*- C++ -*-===//
//
// A compiled model is a shared library (`nnc build model.nn -o m.so`) that
// exports a JSON model table `nnc_model_info` and entry points
// `_mlir_ciface_nnc_<entry>(MemRef1D *arena)`. Everything the model touches
// lives in one arena of `arena_bytes`: parameters, buffers, optimizer state,
// inputs, outputs and every temporary, at the offsets the compiler planned
// (docs/abi.md). This class owns the library handle and the arena.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_MODEL_H
#define NNC_RUNTIME_MODEL_H

#include "runtime/Status.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nnc::rt {

/// One named region of the arena.
struct Region {
  std::string name;  ///< "conv1.weight", "forward.image", "loss.result0"
  std::string kind;  ///< param | buffer | state | input | output
  std::string dtype; ///< f32 | f16 | bf16 | i64 | i32 | u8
  std::vector<int64_t> shape;
  int64_t offset = 0;
  int64_t bytes = 0;
  std::string init; ///< zeros | ones | uniform | normal (params, buffers, state)
  double scale = 0; ///< uniform bound or normal std
  int64_t numElements() const;
};

class Model {
public:
  /// Loads a compiled model; the error names the file and the problem.
  static Result<std::unique_ptr<Model>> load(const std::string &path);
  ~Model();
  Model(const Model &) = delete;
  Model &operator=(const Model &) = delete;

  const std::string &name() const { return name_; }
  /// The model table's arena_bytes (docs/abi.md).
  int64_t arenaBytes() const { return arenaBytes_; }
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
  /// The region's memory in the arena.
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

  /// Runs one entry point on the arena.
  Status run(std::string_view entry);

  /// For models built with --check-numerics: the description of each
  /// checked op ("conv1 (nn.conv2d)"), indexed by nnc_numerics_first().
  const std::vector<std::string> &numericsOps() const { return numericsOps_; }

  /// The raw model table (JSON), for tools.
  const std::string &info() const { return info_; }

private:
  Model() = default;
  std::string path_, name_, info_;
  void *handle_ = nullptr;
  char *arena_ = nullptr;
  int64_t arenaBytes_ = 0;
  int64_t residentBeforeArena_ = -1;
  int64_t allocatedBytes_ = 0;
  std::vector<Region> regions_;
  std::vector<std::string> entryNames_;
  std::vector<std::string> numericsOps_;
  std::vector<void *> entryFns_;
};

} // namespace nnc::rt

#endif // NNC_RUNTIME_MODEL_H
