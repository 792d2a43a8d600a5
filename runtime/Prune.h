//===- Prune.h - Magnitude-pruning masks over weight tensors ----*- C++ -*-===//
//
// The numerics of `nnc prune` (docs/pruning.md): which weights unstructured
// magnitude pruning removes, and the masks that keep them at zero through
// fine-tuning. Plain arrays in, plain masks out; the caller picks the
// tensors (the weights of conv2d and linear layers).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_PRUNE_H
#define NNC_RUNTIME_PRUNE_H

#include <cstdint>
#include <string>
#include <vector>

namespace nnc::rt {

/// Where the magnitude threshold is taken.
enum class PruneScope {
  /// One threshold over all the tensors together: the smallest |w| of the
  /// model go, whichever layer holds them.
  Global,
  /// Each tensor loses the same fraction of its own weights.
  Layer
};

/// One tensor to prune, in place.
struct PruneTensor {
  std::string name;
  float *data = nullptr;
  int64_t size = 0;
};

/// Per tensor, 1 where the weight is kept and 0 where it was pruned.
using PruneMasks = std::vector<std::vector<uint8_t>>;

/// The number of weights pruned out of `size` at `sparsity`: round(sparsity *
/// size), halves rounded up.
int64_t prunedCount(int64_t size, double sparsity);

/// Magnitude masks at `sparsity` (in [0, 1]): exactly prunedCount(n, s)
/// weights are pruned, n the size of each tensor (Layer) or of all of them
/// together (Global). The pruned ones are those of smallest |w|; among equal
/// magnitudes the earlier one (tensor order, then element order) goes first,
/// so ties at the threshold never prune more or fewer than asked. A NaN
/// counts as the largest magnitude.
PruneMasks magnitudeMasks(const std::vector<PruneTensor> &tensors, double sparsity,
                          PruneScope scope);

/// The masks that keep exactly the non-zero weights: how a resumed
/// fine-tuning run recovers its masks from the checkpoint, whose pruned
/// weights are exactly 0.
PruneMasks nonZeroMasks(const std::vector<PruneTensor> &tensors);

/// Sets every masked-out weight to +0.
void applyMasks(const std::vector<PruneTensor> &tensors, const PruneMasks &masks);

/// The number of weights of `tensor` that are exactly zero.
int64_t countZeros(const PruneTensor &tensor);

} // namespace nnc::rt

#endif // NNC_RUNTIME_PRUNE_H
