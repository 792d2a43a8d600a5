//===- PruneChannels.cpp - Structured (channel) pruning of a model --------===//
//
// Channel spaces: every conv2d (groups = 1) and every linear on [N, F] opens
// one, the size of its output channels; layers that act per channel pass
// their input's space on, `add` joins its operands' spaces (union-find), and
// a flatten keeps the space with a block of H*W features per channel. A
// space that cannot change size is fixed. The pruned model is emitted flat,
// one statement per layer, every layer named with `as` so the weight names
// line up.
//
//===----------------------------------------------------------------------===//

#include "frontend/PruneChannels.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <numeric>

using namespace nnc;

std::string nnc::prunedLayerName(llvm::StringRef layerName) {
  std::string name = layerName.str();
  std::replace(name.begin(), name.end(), '.', '_');
  return name;
}

namespace {

/// A channel space and its union-find link.
struct Space {
  int parent = 0;
  int64_t size = 0;
  bool fixed = false;
  /// Layers whose outputs open this space.
  std::vector<unsigned> producers;
  /// After planning (roots only): which channels are kept.
  std::vector<bool> keep;
};

/// Where a value's dimension 1 lives: a space (or -1: none) and the number
/// of consecutive features each channel spans (flatten).
struct ValueSpace {
  int space = -1;
  int64_t block = 1;
};

class Planner {
public:
  Planner(const ModelGraph &graph) : graph(graph), values(graph.values.size()) {}

  llvm::Expected<ChannelPrunePlan> run(double sparsity, WeightLookup weights);

private:
  int newSpace(int64_t size, unsigned producer) {
    Space space;
    space.parent = int(spaces.size());
    space.size = size;
    space.producers.push_back(producer);
    spaces.push_back(std::move(space));
    return int(spaces.size()) - 1;
  }
  int find(int s) {
    while (spaces[s].parent != s)
      s = spaces[s].parent = spaces[spaces[s].parent].parent;
    return s;
  }
  void fix(int s) {
    if (s >= 0)
      spaces[find(s)].fixed = true;
  }
  void fixValue(unsigned v) { fix(values[v].space); }
  /// The root of `s` if its channels can be pruned, else -1.
  int prunable(int s) {
    if (s < 0)
      return -1;
    s = find(s);
    return spaces[s].fixed ? -1 : s;
  }

  llvm::Error propagate(const Layer &layer);
  void planGroups(double sparsity, WeightLookup weights);
  /// The kept-index mask of value `v`'s dimension 1 (expanded by its block),
  /// or empty if it is not pruned.
  std::vector<bool> keepOf(unsigned v);
  int64_t keptCount(int s) {
    s = prunable(s);
    return s < 0 ? -1 : std::count(spaces[s].keep.begin(), spaces[s].keep.end(), true);
  }
  void emit(llvm::raw_ostream &os);
  void emitLayer(llvm::raw_ostream &os, const Layer &layer);

  const ModelGraph &graph;
  std::vector<ValueSpace> values;
  std::vector<Space> spaces;
};

llvm::Error Planner::propagate(const Layer &layer) {
  const ValueSpace in = layer.inputs.empty() ? ValueSpace() : values[layer.inputs[0]];
  ValueSpace &out = values[layer.result];
  const Shape &inShape = layer.inputs.empty() ? Shape() : graph.values[layer.inputs[0]].shape;
  const Shape &outShape = graph.values[layer.result].shape;
  switch (layer.kind) {
  case LayerKind::Conv2d:
    if (layer.attrs.groups != 1 || in.block != 1) {
      fix(in.space);
      return llvm::Error::success();
    }
    out.space = newSpace(outShape[1], unsigned(&layer - graph.layers.data()));
    return llvm::Error::success();
  case LayerKind::Linear:
    // A tied weight is another layer's too: its rows stay.
    if (inShape.size() != 2 || !layer.attrs.tie.empty()) {
      fix(in.space);
      return llvm::Error::success();
    }
    out.space = newSpace(outShape[1], unsigned(&layer - graph.layers.data()));
    return llvm::Error::success();
  case LayerKind::BatchNorm:
    if (in.block != 1)
      fix(in.space);
    out = in;
    return llvm::Error::success();
  case LayerKind::LayerNorm:
    // Normalizes over the last dimension: its features stay as they are.
    fix(in.space);
    return llvm::Error::success();
  case LayerKind::Relu:
  case LayerKind::LeakyRelu:
  case LayerKind::Sigmoid:
  case LayerKind::Tanh:
  case LayerKind::Gelu:
  case LayerKind::Dropout:
  case LayerKind::MaxPool2d:
  case LayerKind::AvgPool2d:
  case LayerKind::GlobalAvgPool:
    out = in;
    return llvm::Error::success();
  case LayerKind::Softmax:
  case LayerKind::LogSoftmax:
    if (layer.attrs.dim == 1 || inShape.size() <= 2)
      fix(in.space);
    else
      out = in;
    return llvm::Error::success();
  case LayerKind::Flatten: {
    out = in;
    for (size_t d = 2; d < inShape.size(); ++d)
      out.block *= inShape[d];
    return llvm::Error::success();
  }
  case LayerKind::Add: {
    ValueSpace a = values[layer.inputs[0]], b = values[layer.inputs[1]];
    if (a.space >= 0 && b.space >= 0 && a.block == b.block) {
      int ra = find(a.space), rb = find(b.space);
      if (ra != rb) {
        spaces[rb].parent = ra;
        spaces[ra].fixed = spaces[ra].fixed || spaces[rb].fixed;
      }
    } else {
      fix(a.space);
      fix(b.space);
    }
    out = a.space >= 0 ? a : b;
    return llvm::Error::success();
  }
  case LayerKind::Reshape:
  case LayerKind::Concat:
    for (unsigned v : layer.inputs)
      fixValue(v);
    return llvm::Error::success();
  default:
    return llvm::createStringError(
        "structured pruning cannot prune through layer '" + layer.name + "' (" +
        layerKindName(layer.kind).str() +
        "): it supports conv2d, linear, batchnorm, pooling, activations, dropout, flatten, "
        "reshape, add and concat");
  }
}

void Planner::planGroups(double sparsity, WeightLookup weights) {
  for (size_t s = 0; s < spaces.size(); ++s) {
    if (prunable(int(s)) != int(s))
      continue;
    int64_t channels = spaces[s].size;
    std::vector<double> score(channels, 0.0);
    for (size_t m = 0; m < spaces.size(); ++m) {
      if (find(int(m)) != int(s))
        continue;
      for (unsigned producer : spaces[m].producers) {
        const ParamInfo &w = graph.params[graph.layers[producer].params[0]];
        const float *data = weights(w);
        if (!data)
          continue;
        int64_t per = 1;
        for (size_t d = 1; d < w.shape.size(); ++d)
          per *= w.shape[d];
        for (int64_t c = 0; c < channels; ++c)
          for (int64_t i = 0; i < per; ++i)
            score[c] += std::fabs(double(data[c * per + i]));
      }
    }
    std::vector<int64_t> order(channels);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return score[a] != score[b] ? score[a] < score[b] : a < b;
    });
    int64_t removed = std::min<int64_t>(
        channels - 1, std::max<int64_t>(0, int64_t(std::floor(sparsity * channels + 0.5))));
    spaces[s].keep.assign(channels, true);
    for (int64_t i = 0; i < removed; ++i)
      spaces[s].keep[order[i]] = false;
  }
}

std::vector<bool> Planner::keepOf(unsigned v) {
  int s = prunable(values[v].space);
  if (s < 0)
    return {};
  std::vector<bool> keep;
  for (bool k : spaces[s].keep)
    keep.insert(keep.end(), size_t(values[v].block), k);
  return keep;
}

/// A real number the lexer reads back as the same double.
std::string realText(double x) {
  std::string text;
  for (int digits = 1; digits <= 17; ++digits) {
    text.clear();
    llvm::raw_string_ostream(text) << llvm::format("%.*g", digits, x);
    if (std::strtod(text.c_str(), nullptr) == x)
      break;
  }
  if (text.find_first_of(".e") == std::string::npos)
    text += ".0";
  return text;
}

std::string pairText(const int64_t (&v)[2]) {
  return "[" + std::to_string(v[0]) + ", " + std::to_string(v[1]) + "]";
}

std::string valueName(const ModelGraph &graph, unsigned v) {
  for (const InputInfo &in : graph.inputs)
    if (in.value == v)
      return in.name;
  return "_" + std::to_string(v);
}

void Planner::emitLayer(llvm::raw_ostream &os, const Layer &layer) {
  const LayerAttrs &a = layer.attrs;
  os << "  " << valueName(graph, layer.result) << " = " << layerKindName(layer.kind) << "(";
  for (size_t i = 0; i < layer.inputs.size(); ++i)
    os << (i ? ", " : "") << valueName(graph, layer.inputs[i]);
  int64_t outChannels = graph.values[layer.result].shape.back();
  if (layer.kind == LayerKind::Conv2d || layer.kind == LayerKind::Linear) {
    if (layer.kind == LayerKind::Conv2d)
      outChannels = graph.values[layer.result].shape[1];
    int64_t kept = keptCount(values[layer.result].space);
    if (kept >= 0)
      outChannels = kept;
  }
  bool bias = layer.params.size() > 1;
  switch (layer.kind) {
  case LayerKind::Conv2d:
    os << ", out=" << outChannels << ", kernel=" << pairText(a.kernel)
       << ", stride=" << pairText(a.stride) << ", padding=" << pairText(a.padding)
       << ", dilation=" << pairText(a.dilation) << ", groups=" << a.groups
       << ", bias=" << (bias ? "true" : "false");
    break;
  case LayerKind::Linear:
    os << ", out=" << outChannels << ", bias=" << (bias ? "true" : "false");
    if (!a.tie.empty())
      os << ", tie=\"" << a.tie << "\"";
    break;
  case LayerKind::LeakyRelu:
    os << ", slope=" << realText(a.slope);
    break;
  case LayerKind::Softmax:
  case LayerKind::LogSoftmax:
  case LayerKind::Concat:
    os << ", dim=" << a.dim;
    break;
  case LayerKind::MaxPool2d:
  case LayerKind::AvgPool2d:
    os << ", kernel=" << pairText(a.kernel) << ", stride=" << pairText(a.stride)
       << ", padding=" << pairText(a.padding);
    break;
  case LayerKind::BatchNorm:
    os << ", eps=" << realText(a.eps) << ", momentum=" << realText(a.momentum);
    break;
  case LayerKind::LayerNorm:
    os << ", eps=" << realText(a.eps) << ", affine=" << (a.affine ? "true" : "false");
    break;
  case LayerKind::Dropout:
    os << ", p=" << realText(a.p);
    break;
  case LayerKind::Reshape: {
    os << ", shape=[";
    for (size_t i = 0; i < a.shape.size(); ++i)
      os << (i ? ", " : "") << a.shape[i];
    os << "]";
    break;
  }
  default:
    break;
  }
  os << ") as " << prunedLayerName(layer.name) << "\n";
}

void Planner::emit(llvm::raw_ostream &os) {
  os << "# " << graph.name
     << " after structured pruning (nnc prune --structured channels; docs/pruning.md).\n"
     << "# Flat: one layer per line, each named after the original layer.\n"
     << "model " << graph.name << "_pruned {\n";
  for (const InputInfo &in : graph.inputs) {
    const TensorValue &v = graph.values[in.value];
    os << "  input " << in.name << ": " << dtypeName(v.dtype) << "[N";
    for (size_t d = 1; d < v.shape.size(); ++d)
      os << ", " << v.shape[d];
    os << "]\n";
  }
  for (const Layer &layer : graph.layers)
    emitLayer(os, layer);
  for (const OutputInfo &out : graph.outputs)
    os << "  output " << out.name << " = " << valueName(graph, out.value) << "\n";
  const TrainConfig &t = graph.train;
  os << "\n  train { loss = " << t.loss << "; optimizer = " << t.optimizer
     << "; lr = " << realText(t.lr) << "; batch = " << t.batch << "; epochs = " << t.epochs
     << "\n          momentum = " << realText(t.momentum)
     << "; weight_decay = " << realText(t.weightDecay) << "; schedule = " << t.schedule;
  if (!t.normMean.empty()) {
    auto list = [&](const std::vector<double> &xs) {
      std::string s = "[";
      for (size_t i = 0; i < xs.size(); ++i)
        s += (i ? ", " : "") + realText(xs[i]);
      return s + "]";
    };
    if (t.normMean.size() == 1)
      os << "\n          normalize = [" << realText(t.normMean[0]) << ", " << realText(t.normStd[0])
         << "]";
    else
      os << "\n          normalize = [" << list(t.normMean) << ", " << list(t.normStd) << "]";
  }
  os << " }\n}\n";
}

llvm::Expected<ChannelPrunePlan> Planner::run(double sparsity, WeightLookup weights) {
  llvm::StringSet<> names;
  for (const Layer &layer : graph.layers) {
    if (!names.insert(prunedLayerName(layer.name)).second)
      return llvm::createStringError("layer '" + layer.name + "' clashes with another layer as '" +
                                     prunedLayerName(layer.name) + "' in the pruned model");
    if (llvm::Error err = propagate(layer))
      return std::move(err);
  }
  for (const OutputInfo &out : graph.outputs)
    fixValue(out.value);
  planGroups(sparsity, weights);

  ChannelPrunePlan plan;
  for (size_t s = 0; s < spaces.size(); ++s) {
    if (prunable(int(s)) != int(s))
      continue;
    ChannelGroup group;
    group.channels = spaces[s].size;
    group.kept = keptCount(int(s));
    for (size_t m = 0; m < spaces.size(); ++m)
      if (find(int(m)) == int(s))
        for (unsigned producer : spaces[m].producers)
          group.layers.push_back(graph.layers[producer].name);
    plan.groups.push_back(std::move(group));
  }

  // Each parameter's kept indices: conv/linear outputs along dimension 0,
  // their inputs along dimension 1, batchnorm's per-channel tensors along 0.
  std::vector<PrunedParam> params(graph.params.size());
  for (size_t i = 0; i < graph.params.size(); ++i) {
    params[i].oldName = graph.params[i].name;
    params[i].oldShape = graph.params[i].shape;
    params[i].keep.resize(graph.params[i].shape.size());
    // "<layer>.<suffix>": the suffix (weight, running_mean, ...) has no '.'.
    auto [layerName, suffix] = llvm::StringRef(params[i].oldName).rsplit('.');
    params[i].newName = prunedLayerName(layerName) + "." + suffix.str();
  }
  for (const Layer &layer : graph.layers) {
    switch (layer.kind) {
    case LayerKind::Conv2d:
    case LayerKind::Linear: {
      std::vector<bool> outKeep = keepOf(layer.result);
      for (unsigned p : layer.params)
        params[p].keep[0] = outKeep;
      if (layer.attrs.groups == 1)
        params[layer.params[0]].keep[1] = keepOf(layer.inputs[0]);
      break;
    }
    case LayerKind::BatchNorm: {
      std::vector<bool> keep = keepOf(layer.inputs[0]);
      for (unsigned p : layer.params)
        if (!params[p].keep.empty())
          params[p].keep[0] = keep;
      break;
    }
    default:
      break;
    }
  }
  for (PrunedParam &p : params) {
    p.newShape = p.oldShape;
    for (size_t d = 0; d < p.keep.size(); ++d)
      if (!p.keep[d].empty())
        p.newShape[d] = std::count(p.keep[d].begin(), p.keep[d].end(), true);
  }
  plan.params = std::move(params);
  llvm::raw_string_ostream os(plan.modelText);
  emit(os);
  return plan;
}

} // namespace

llvm::Expected<ChannelPrunePlan> nnc::planChannelPruning(const ModelGraph &graph, double sparsity,
                                                         WeightLookup weights) {
  return Planner(graph).run(sparsity, weights);
}

void nnc::slicePrunedParam(const PrunedParam &param, const char *data, size_t elementSize,
                           std::vector<char> &out, std::vector<char> *zeroed) {
  int64_t total = 1;
  for (int64_t d : param.oldShape)
    total *= d;
  out.clear();
  if (zeroed)
    zeroed->assign(data, data + total * elementSize);
  std::vector<int64_t> index(param.oldShape.size(), 0);
  for (int64_t e = 0; e < total; ++e) {
    bool kept = true;
    for (size_t d = 0; d < index.size() && kept; ++d)
      kept = param.keep[d].empty() || param.keep[d][index[d]];
    const char *element = data + e * elementSize;
    if (kept)
      out.insert(out.end(), element, element + elementSize);
    else if (zeroed)
      std::fill_n(zeroed->begin() + e * elementSize, elementSize, char(0));
    for (size_t d = index.size(); d-- > 0;) {
      if (++index[d] < param.oldShape[d])
        break;
      index[d] = 0;
    }
  }
}
