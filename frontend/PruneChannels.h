//===- PruneChannels.h - Structured (channel) pruning -----------*- C++ -*-===//
//
// `nnc prune --structured channels` (docs/pruning.md): removes the output
// channels of conv2d layers and the neurons of linear layers with the
// smallest L1 norms, and writes the smaller model as a flat model file. The
// channels that must stay consistent are pruned together: the channel spaces
// joined by `add` form one group (residual shortcuts), batchnorm follows the
// channels it normalizes, a flatten maps each channel to its block of
// features, and a space that reaches a model output, a model input, a
// reshape, a concat, a grouped conv or a softmax over the channels is never
// pruned.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_FRONTEND_PRUNECHANNELS_H
#define NNC_FRONTEND_PRUNECHANNELS_H

#include "frontend/Sema.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace nnc {

/// One parameter or buffer of the original model and what is left of it.
struct PrunedParam {
  std::string oldName, newName;
  Shape oldShape, newShape;
  /// Per dimension, whether each index is kept; an empty entry keeps the
  /// whole dimension.
  std::vector<std::vector<bool>> keep;
};

/// A set of channels pruned together.
struct ChannelGroup {
  /// The layers whose outputs are these channels (conv2d / linear).
  std::vector<std::string> layers;
  int64_t channels = 0, kept = 0;
};

struct ChannelPrunePlan {
  /// The pruned model as a flat model file (docs/pruning.md).
  std::string modelText;
  /// Every parameter and buffer, in the original model's order.
  std::vector<PrunedParam> params;
  std::vector<ChannelGroup> groups;
};

/// The f32 data of a conv2d or linear weight of the original model (the L1
/// norms rank the channels); null if it is not at hand.
using WeightLookup = llvm::function_ref<const float *(const ParamInfo &)>;

/// Plans the removal of round(sparsity * C) of the C channels of every
/// prunable group (at least one is kept), those with the smallest L1 norm
/// summed over the group's producing layers; ties go to the lower index.
/// Fails with a message on a layer it cannot prune through (embedding,
/// recurrent layers) or a layer name that clashes once made an identifier.
llvm::Expected<ChannelPrunePlan> planChannelPruning(const ModelGraph &graph, double sparsity,
                                                    WeightLookup weights);

/// The identifier a layer is named with in the pruned model file: its name
/// with every '.' replaced by '_' ("basic1.conv1" -> "basic1_conv1").
std::string prunedLayerName(llvm::StringRef layerName);

/// Copies the kept elements of `param` (elements of `elementSize` bytes,
/// row-major in `data`) to `out`, in order; with `zeroed`, also writes a
/// copy of the whole tensor whose removed elements are zero bytes.
void slicePrunedParam(const PrunedParam &param, const char *data, size_t elementSize,
                      std::vector<char> &out, std::vector<char> *zeroed = nullptr);

} // namespace nnc

#endif // NNC_FRONTEND_PRUNECHANNELS_H
