//===- Prune.cpp - Magnitude-pruning masks over weight tensors ------------===//
//
// Selection by a total order on (|w|, position) with std::nth_element: the k
// smallest go, whatever ties the magnitudes have.
//
//===----------------------------------------------------------------------===//

#include "runtime/Prune.h"

#include <algorithm>
#include <cmath>
#include <limits>

using namespace nnc::rt;

int64_t nnc::rt::prunedCount(int64_t size, double sparsity) {
  double k = std::floor(sparsity * double(size) + 0.5);
  return std::clamp<int64_t>(int64_t(k), 0, size);
}

namespace {
/// |w|, with NaN ordered after every number.
float magnitude(float w) {
  return std::isnan(w) ? std::numeric_limits<float>::infinity() : std::fabs(w);
}

/// A weight's place: tensor index and element index.
struct Place {
  uint32_t tensor;
  int64_t element;
};

/// Marks the `k` smallest of `places` (by magnitude, then place) as pruned.
void pruneSmallest(const std::vector<PruneTensor> &tensors, std::vector<Place> &places, int64_t k,
                   PruneMasks &masks) {
  if (k <= 0)
    return;
  auto less = [&](const Place &a, const Place &b) {
    float ma = magnitude(tensors[a.tensor].data[a.element]);
    float mb = magnitude(tensors[b.tensor].data[b.element]);
    if (ma != mb)
      return ma < mb;
    if (a.tensor != b.tensor)
      return a.tensor < b.tensor;
    return a.element < b.element;
  };
  if (k < int64_t(places.size()))
    std::nth_element(places.begin(), places.begin() + k, places.end(), less);
  for (int64_t i = 0; i < k && i < int64_t(places.size()); ++i)
    masks[places[i].tensor][places[i].element] = 0;
}

std::vector<Place> placesOf(const std::vector<PruneTensor> &tensors, size_t first, size_t last) {
  std::vector<Place> places;
  for (size_t t = first; t < last; ++t)
    for (int64_t e = 0; e < tensors[t].size; ++e)
      places.push_back({uint32_t(t), e});
  return places;
}
} // namespace

PruneMasks nnc::rt::magnitudeMasks(const std::vector<PruneTensor> &tensors, double sparsity,
                                   PruneScope scope) {
  PruneMasks masks;
  for (const PruneTensor &t : tensors)
    masks.emplace_back(size_t(t.size), uint8_t(1));
  if (scope == PruneScope::Global) {
    std::vector<Place> places = placesOf(tensors, 0, tensors.size());
    pruneSmallest(tensors, places, prunedCount(int64_t(places.size()), sparsity), masks);
    return masks;
  }
  for (size_t t = 0; t < tensors.size(); ++t) {
    std::vector<Place> places = placesOf(tensors, t, t + 1);
    pruneSmallest(tensors, places, prunedCount(tensors[t].size, sparsity), masks);
  }
  return masks;
}

PruneMasks nnc::rt::nonZeroMasks(const std::vector<PruneTensor> &tensors) {
  PruneMasks masks;
  for (const PruneTensor &t : tensors) {
    std::vector<uint8_t> &mask = masks.emplace_back(size_t(t.size));
    for (int64_t e = 0; e < t.size; ++e)
      mask[e] = t.data[e] != 0.0f;
  }
  return masks;
}

void nnc::rt::applyMasks(const std::vector<PruneTensor> &tensors, const PruneMasks &masks) {
  for (size_t t = 0; t < tensors.size() && t < masks.size(); ++t)
    for (int64_t e = 0; e < tensors[t].size; ++e)
      if (!masks[t][e])
        tensors[t].data[e] = 0.0f;
}

int64_t nnc::rt::countZeros(const PruneTensor &tensor) {
  return std::count(tensor.data, tensor.data + tensor.size, 0.0f);
}
