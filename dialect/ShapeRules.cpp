//===- ShapeRules.cpp - Shape arithmetic of the nn layers -----------------===//
//
// Part of nnc. See ShapeRules.h for the conventions.
//
//===----------------------------------------------------------------------===//

#include "dialect/ShapeRules.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/raw_ostream.h"

using namespace nnc::shape;
using llvm::ArrayRef;
using llvm::failure;
using llvm::FailureOr;
using llvm::LogicalResult;
using llvm::success;

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

namespace {

/// Sets `err` to the concatenation of `parts` and returns failure.
template <typename... Ts> LogicalResult fail(std::string &err, Ts &&...parts) {
  err.clear();
  llvm::raw_string_ostream os(err);
  (os << ... << parts);
  return failure();
}

bool isDynamic(int64_t d) { return d == kDynamic; }

/// a * b, or nullopt on overflow.
std::optional<int64_t> mul(int64_t a, int64_t b) {
  int64_t r;
  if (llvm::MulOverflow(a, b, r))
    return std::nullopt;
  return r;
}

/// a + b, or nullopt on overflow.
std::optional<int64_t> add(int64_t a, int64_t b) {
  int64_t r;
  if (llvm::AddOverflow(a, b, r))
    return std::nullopt;
  return r;
}

/// Checks that `shape` has exactly rank `rank`; `layout` names the dims.
LogicalResult expectRank(ArrayRef<int64_t> shape, size_t rank,
                         llvm::StringRef layout, llvm::StringRef what,
                         std::string &err) {
  if (shape.size() == rank)
    return checkShape(shape, err);
  return fail(err, "expects a ", rank, "-d ", what, " ", layout, ", got ",
              formatShape(shape));
}

/// Checks that the two entries of `v` are positive (`allowZero`: >= 0).
LogicalResult expectPositive(std::array<int64_t, 2> v, llvm::StringRef what,
                             bool allowZero, std::string &err) {
  for (int64_t x : v)
    if (x < 0 || (!allowZero && x == 0))
      return fail(err, what, " must be ",
                  allowZero ? "non-negative" : "positive", ", got ", v[0], "x",
                  v[1]);
  return success();
}

/// in + 2 * pad, or nullopt on overflow.
std::optional<int64_t> padded(int64_t in, int64_t pad) {
  std::optional<int64_t> twoPad = mul(pad, 2);
  return twoPad ? add(in, *twoPad) : std::nullopt;
}

/// Computes the padded spatial size [H + 2ph, W + 2pw] of `input`
/// [N, C, H, W]; fails if it overflows.
FailureOr<std::array<int64_t, 2>> paddedSize(ArrayRef<int64_t> input,
                                             std::array<int64_t, 2> pad,
                                             std::string &err) {
  std::array<int64_t, 2> result;
  for (int i = 0; i < 2; ++i) {
    std::optional<int64_t> p = padded(input[2 + i], pad[i]);
    if (!p) {
      (void)fail(err, "padding ", pad[0], "x", pad[1], " is too large");
      return failure();
    }
    result[i] = *p;
  }
  return result;
}

/// Output sizes of a sliding window over the padded size `padded`:
/// (padded - eff) / s + 1, or failure if the window does not fit.
FailureOr<std::array<int64_t, 2>> windowOutput(std::array<int64_t, 2> padded,
                                               std::array<int64_t, 2> eff,
                                               std::array<int64_t, 2> stride) {
  std::array<int64_t, 2> out;
  for (int i = 0; i < 2; ++i) {
    if (padded[i] < eff[i])
      return failure();
    out[i] = (padded[i] - eff[i]) / stride[i] + 1;
  }
  return out;
}

/// Merges two dims of which either may be the dynamic batch.
std::optional<int64_t> mergeDim(int64_t a, int64_t b) {
  if (isDynamic(a))
    return b;
  if (isDynamic(b) || a == b)
    return a;
  return std::nullopt;
}

} // namespace

//===----------------------------------------------------------------------===//
// Utilities
//===----------------------------------------------------------------------===//

std::optional<int64_t> nnc::shape::checkedNumElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (isDynamic(d))
      continue;
    if (d < 0)
      return std::nullopt;
    std::optional<int64_t> r = mul(n, d);
    if (!r)
      return std::nullopt;
    n = *r;
  }
  return n;
}

std::string nnc::shape::formatShape(ArrayRef<int64_t> shape) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << '[';
  llvm::interleaveComma(shape, os, [&](int64_t d) {
    if (isDynamic(d))
      os << 'N';
    else
      os << d;
  });
  os << ']';
  return s;
}

FailureOr<int64_t> nnc::shape::normalizeDim(int64_t dim, int64_t rank,
                                            std::string &err) {
  if (dim < -rank || dim >= rank) {
    (void)fail(err, "dimension ", dim, " is out of range for a ", rank,
               "-d tensor (expected ", -rank, " to ", rank - 1, ")");
    return failure();
  }
  return dim < 0 ? dim + rank : dim;
}

LogicalResult nnc::shape::checkShape(ArrayRef<int64_t> shape,
                                     std::string &err) {
  if (shape.empty())
    return fail(err, "expects a tensor with a batch dimension, got a scalar");
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (isDynamic(d)) {
      if (i != 0)
        return fail(err, "only the batch dimension may be dynamic, got ",
                    formatShape(shape));
      continue;
    }
    if (d <= 0)
      return fail(err, "dimension ", i, " must be positive, got ",
                  formatShape(shape));
  }
  if (!checkedNumElements(shape))
    return fail(err, "tensor ", formatShape(shape),
                " has too many elements (overflows int64)");
  return success();
}

//===----------------------------------------------------------------------===//
// Convolution and pooling
//===----------------------------------------------------------------------===//

FailureOr<Shape> nnc::shape::inferConv2d(ArrayRef<int64_t> input,
                                         const Conv2dParams &p,
                                         std::string &err) {
  if (failed(expectRank(input, 4, "[N, C, H, W]", "input", err)))
    return failure();
  if (p.outChannels <= 0)
    return fail(err, "output channels must be positive, got ", p.outChannels);
  if (p.groups <= 0)
    return fail(err, "groups must be positive, got ", p.groups);
  if (failed(expectPositive(p.kernel, "kernel", false, err)) ||
      failed(expectPositive(p.stride, "stride", false, err)) ||
      failed(expectPositive(p.dilation, "dilation", false, err)) ||
      failed(expectPositive(p.padding, "padding", true, err)))
    return failure();
  int64_t c = input[1];
  if (p.inChannels && *p.inChannels != c)
    return fail(err, "expects ", *p.inChannels, " input channels, got ", c,
                " (input ", formatShape(input), ")");
  if (c % p.groups != 0)
    return fail(err, "input channels ", c, " are not divisible by groups ",
                p.groups);
  if (p.outChannels % p.groups != 0)
    return fail(err, "output channels ", p.outChannels,
                " are not divisible by groups ", p.groups);

  std::array<int64_t, 2> eff;
  for (int i = 0; i < 2; ++i) {
    std::optional<int64_t> span = mul(p.dilation[i], p.kernel[i] - 1);
    std::optional<int64_t> e = span ? add(*span, 1) : std::nullopt;
    if (!e)
      return fail(err, "dilated kernel size overflows int64");
    eff[i] = *e;
  }
  FailureOr<std::array<int64_t, 2>> pad = paddedSize(input, p.padding, err);
  if (failed(pad))
    return failure();
  FailureOr<std::array<int64_t, 2>> out = windowOutput(*pad, eff, p.stride);
  if (failed(out))
    return fail(err, "kernel ", p.kernel[0], "x", p.kernel[1], " (dilated ",
                eff[0], "x", eff[1], ") is larger than the padded input ",
                (*pad)[0], "x", (*pad)[1]);
  Shape result = {input[0], p.outChannels, (*out)[0], (*out)[1]};
  if (!checkedNumElements(result))
    return fail(err, "output ", formatShape(result),
                " has too many elements (overflows int64)");
  Shape weight = conv2dWeightShape(c, p);
  if (!checkedNumElements(weight))
    return fail(err, "weight ", formatShape(weight),
                " has too many elements (overflows int64)");
  return result;
}

Shape nnc::shape::conv2dWeightShape(int64_t inChannels, const Conv2dParams &p) {
  int64_t groups = p.groups > 0 ? p.groups : 1;
  return {p.outChannels, inChannels / groups, p.kernel[0], p.kernel[1]};
}

FailureOr<std::array<int64_t, 2>>
nnc::shape::samePadding(std::array<int64_t, 2> kernel,
                        std::array<int64_t, 2> stride,
                        std::array<int64_t, 2> dilation, std::string &err) {
  if (failed(expectPositive(kernel, "kernel", false, err)) ||
      failed(expectPositive(dilation, "dilation", false, err)))
    return failure();
  if (stride[0] != 1 || stride[1] != 1) {
    (void)fail(err, "padding \"same\" requires stride 1, got ", stride[0], "x",
               stride[1]);
    return failure();
  }
  std::array<int64_t, 2> pad;
  for (int i = 0; i < 2; ++i) {
    std::optional<int64_t> span = mul(dilation[i], kernel[i] - 1);
    if (!span || *span % 2 != 0) {
      (void)fail(err, "padding \"same\" requires an odd effective kernel, got ",
                 kernel[0], "x", kernel[1], " with dilation ", dilation[0], "x",
                 dilation[1]);
      return failure();
    }
    pad[i] = *span / 2;
  }
  return pad;
}

FailureOr<Shape> nnc::shape::inferPool2d(ArrayRef<int64_t> input,
                                         const Pool2dParams &p,
                                         std::string &err) {
  if (failed(expectRank(input, 4, "[N, C, H, W]", "input", err)) ||
      failed(expectPositive(p.kernel, "kernel", false, err)) ||
      failed(expectPositive(p.stride, "stride", false, err)) ||
      failed(expectPositive(p.padding, "padding", true, err)))
    return failure();
  for (int i = 0; i < 2; ++i)
    if (p.padding[i] > p.kernel[i] / 2)
      return fail(err, "padding ", p.padding[0], "x", p.padding[1],
                  " must be at most half the kernel ", p.kernel[0], "x",
                  p.kernel[1]);
  FailureOr<std::array<int64_t, 2>> pad = paddedSize(input, p.padding, err);
  if (failed(pad))
    return failure();
  FailureOr<std::array<int64_t, 2>> out =
      windowOutput(*pad, p.kernel, p.stride);
  if (failed(out))
    return fail(err, "kernel ", p.kernel[0], "x", p.kernel[1],
                " is larger than the padded input ", (*pad)[0], "x", (*pad)[1]);
  return Shape{input[0], input[1], (*out)[0], (*out)[1]};
}

FailureOr<Shape> nnc::shape::inferGlobalAvgPool(ArrayRef<int64_t> input,
                                                std::string &err) {
  if (failed(expectRank(input, 4, "[N, C, H, W]", "input", err)))
    return failure();
  return Shape{input[0], input[1]};
}

//===----------------------------------------------------------------------===//
// Dense layers
//===----------------------------------------------------------------------===//

FailureOr<Shape> nnc::shape::inferLinear(ArrayRef<int64_t> input,
                                         std::optional<int64_t> inFeatures,
                                         int64_t outFeatures,
                                         std::string &err) {
  if (input.size() < 2)
    return fail(err, "expects an input of rank >= 2 [N, ..., in], got ",
                formatShape(input));
  if (failed(checkShape(input, err)))
    return failure();
  if (outFeatures <= 0)
    return fail(err, "output features must be positive, got ", outFeatures);
  if (inFeatures && *inFeatures != input.back())
    return fail(err, "expects ", *inFeatures, " input features, got ",
                input.back(), " (input ", formatShape(input), ")");
  Shape result(input.begin(), input.end());
  result.back() = outFeatures;
  if (!checkedNumElements(result) || !mul(input.back(), outFeatures))
    return fail(err, "output ", formatShape(result),
                " has too many elements (overflows int64)");
  return result;
}

FailureOr<Shape> nnc::shape::inferAttention(ArrayRef<int64_t> input, int64_t heads, int64_t kvHeads,
                                            std::string &err) {
  if (input.size() != 3)
    return fail(err, "expects an input of rank 3 [N, T, d] (a sequence [T, d] per sample), got ",
                formatShape(input));
  if (failed(checkShape(input, err)))
    return failure();
  if (heads <= 0)
    return fail(err, "heads must be positive, got ", heads);
  if (kvHeads <= 0)
    return fail(err, "kv_heads must be positive, got ", kvHeads);
  if (heads % kvHeads != 0)
    return fail(err, "heads (", heads, ") must be a multiple of kv_heads (", kvHeads, ")");
  int64_t d = input[2];
  if (!isDynamic(d) && d % heads != 0)
    return fail(err, "model dimension ", d, " must be a multiple of heads (", heads, ")");
  return Shape(input.begin(), input.end());
}

int64_t nnc::shape::attentionQkvRows(int64_t dModel, int64_t heads, int64_t kvHeads) {
  return (heads + 2 * kvHeads) * (dModel / heads);
}

FailureOr<Shape> nnc::shape::inferEmbedding(ArrayRef<int64_t> ids,
                                            int64_t numEmbeddings,
                                            int64_t embeddingDim,
                                            std::string &err) {
  if (failed(checkShape(ids, err)))
    return failure();
  if (numEmbeddings <= 0 || embeddingDim <= 0)
    return fail(err,
                "table size and embedding dimension must be positive, got ",
                numEmbeddings, " and ", embeddingDim);
  if (!mul(numEmbeddings, embeddingDim))
    return fail(err, "embedding table ", numEmbeddings, "x", embeddingDim,
                " has too many elements (overflows int64)");
  Shape result(ids.begin(), ids.end());
  result.push_back(embeddingDim);
  if (!checkedNumElements(result))
    return fail(err, "output ", formatShape(result),
                " has too many elements (overflows int64)");
  return result;
}

FailureOr<Shape> nnc::shape::inferBatchNorm(ArrayRef<int64_t> input,
                                            std::string &err, int64_t minRank,
                                            int64_t maxRank) {
  int64_t rank = input.size();
  if (rank < minRank || rank > maxRank) {
    if (minRank == maxRank)
      return fail(err, "expects a ", minRank, "-d input, got ",
                  formatShape(input));
    return fail(err, "expects an input of rank ", minRank, " to ", maxRank,
                " [N, C, ...], got ", formatShape(input));
  }
  if (failed(checkShape(input, err)))
    return failure();
  return Shape(input.begin(), input.end());
}

FailureOr<Shape> nnc::shape::inferPosEmbedding(ArrayRef<int64_t> input, int64_t num, int64_t dim,
                                               std::string &err) {
  if (input.size() != 3)
    return fail(err, "expects an input [N, T, features] (rank 3), got ", formatShape(input));
  if (failed(checkShape(input, err)))
    return failure();
  if (num <= 0)
    return fail(err, "needs a positive number of positions, got ", num);
  if (!mul(num, dim))
    return fail(err, "position table ", num, "x", dim, " has too many elements (overflows int64)");
  if (!isDynamic(input[2]) && input[2] != dim)
    return fail(err, "has a table of ", dim, " features per position, but its input has ", input[2],
                " (", formatShape(input), ")");
  if (!isDynamic(input[1]) && input[1] > num)
    return fail(err, "has ", num, " positions, fewer than the input's sequence length ", input[1],
                " (", formatShape(input), ")");
  return Shape(input.begin(), input.end());
}

FailureOr<Shape> nnc::shape::inferLayerNorm(ArrayRef<int64_t> input, std::string &err) {
  if (input.size() < 2)
    return fail(err, "expects an input of rank >= 2 [N, ..., features], got ", formatShape(input));
  if (failed(checkShape(input, err)))
    return failure();
  return Shape(input.begin(), input.end());
}

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

FailureOr<Shape> nnc::shape::inferFlatten(ArrayRef<int64_t> input,
                                          std::string &err) {
  if (input.size() < 2)
    return fail(err, "expects an input of rank >= 2 [N, ...], got ",
                formatShape(input));
  if (failed(checkShape(input, err)))
    return failure();
  return Shape{input[0], *checkedNumElements(input.drop_front())};
}

FailureOr<Shape> nnc::shape::inferReshape(ArrayRef<int64_t> input,
                                          ArrayRef<int64_t> target,
                                          std::string &err) {
  if (failed(checkShape(input, err)))
    return failure();
  int64_t have = *checkedNumElements(input.drop_front());
  std::optional<size_t> inferred;
  int64_t known = 1;
  for (auto [i, d] : llvm::enumerate(target)) {
    if (d == -1) {
      if (inferred)
        return fail(err, "target shape ", formatShape(target),
                    " has more than one -1");
      inferred = i;
      continue;
    }
    if (d <= 0)
      return fail(err, "target shape ", formatShape(target),
                  " has a non-positive size");
    std::optional<int64_t> k = mul(known, d);
    if (!k)
      return fail(err, "target shape ", formatShape(target),
                  " has too many elements (overflows int64)");
    known = *k;
  }
  Shape result = {input[0]};
  result.append(target.begin(), target.end());
  if (inferred) {
    if (have % known != 0)
      return fail(err, "cannot reshape ", formatShape(input), " to ",
                  formatShape(result), ": ", have,
                  " elements per sample are not divisible by ", known);
    result[1 + *inferred] = have / known;
  } else if (known != have) {
    return fail(err, "cannot reshape ", formatShape(input), " to ",
                formatShape(result), ": ", have, " elements per sample vs ",
                known);
  }
  return result;
}

FailureOr<Shape> nnc::shape::inferConcat(ArrayRef<Shape> inputs, int64_t dim,
                                         std::string &err) {
  if (inputs.size() < 2)
    return fail(err, "expects at least 2 inputs, got ", inputs.size());
  for (const Shape &s : inputs)
    if (failed(checkShape(s, err)))
      return failure();
  int64_t rank = inputs.front().size();
  FailureOr<int64_t> d = normalizeDim(dim, rank, err);
  if (failed(d))
    return failure();
  Shape result = inputs.front();
  for (const Shape &s : inputs.drop_front()) {
    auto mismatch = [&] {
      return fail(err, "expects equal shapes except along dimension ", *d,
                  ", got ", formatShape(inputs.front()), " and ",
                  formatShape(s));
    };
    if (static_cast<int64_t>(s.size()) != rank)
      return mismatch();
    for (int64_t i = 0; i < rank; ++i) {
      if (i == *d) {
        if (isDynamic(result[i]) || isDynamic(s[i])) {
          result[i] = kDynamic;
          continue;
        }
        std::optional<int64_t> sum = add(result[i], s[i]);
        if (!sum)
          return fail(err, "concatenated size overflows int64");
        result[i] = *sum;
        continue;
      }
      std::optional<int64_t> m = mergeDim(result[i], s[i]);
      if (!m)
        return mismatch();
      result[i] = *m;
    }
  }
  if (!checkedNumElements(result))
    return fail(err, "output ", formatShape(result),
                " has too many elements (overflows int64)");
  return result;
}

FailureOr<Shape> nnc::shape::inferSameShape(ArrayRef<int64_t> lhs,
                                            ArrayRef<int64_t> rhs,
                                            std::string &err) {
  if (failed(checkShape(lhs, err)) || failed(checkShape(rhs, err)))
    return failure();
  auto mismatch = [&] {
    return fail(err, "expects equal shapes, got ", formatShape(lhs), " and ",
                formatShape(rhs));
  };
  if (lhs.size() != rhs.size())
    return mismatch();
  Shape result;
  for (auto [a, b] : llvm::zip_equal(lhs, rhs)) {
    std::optional<int64_t> m = mergeDim(a, b);
    if (!m)
      return mismatch();
    result.push_back(*m);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Recurrent layers
//===----------------------------------------------------------------------===//

int64_t nnc::shape::recurrentGateCount(RecurrentKind kind) {
  switch (kind) {
  case RecurrentKind::RNN:
    return 1;
  case RecurrentKind::LSTM:
    return 4;
  case RecurrentKind::GRU:
    return 3;
  }
  return 1;
}

FailureOr<Shape> nnc::shape::inferRecurrent(ArrayRef<int64_t> input,
                                            const RecurrentParams &p,
                                            std::string &err) {
  if (failed(expectRank(input, 3, "[N, T, F]", "input", err)))
    return failure();
  if (p.hiddenSize <= 0)
    return fail(err, "hidden size must be positive, got ", p.hiddenSize);
  if (p.numLayers <= 0 || p.numLayers > kMaxRecurrentLayers)
    return fail(err, "number of layers must be in [1, ", kMaxRecurrentLayers,
                "], got ", p.numLayers);
  int64_t dirs = p.bidirectional ? 2 : 1;
  // Every weight must be addressable: G*H*max(F, H*dirs, H) elements.
  std::optional<int64_t> out = mul(p.hiddenSize, dirs);
  std::optional<int64_t> gh = mul(recurrentGateCount(p.kind), p.hiddenSize);
  int64_t widest = std::max(input[2], out.value_or(0));
  if (!out || !gh || !mul(*gh, widest))
    return fail(err, "hidden size ", p.hiddenSize,
                " makes the weights overflow int64");
  Shape result = p.returnSequences ? Shape{input[0], input[1], *out}
                                   : Shape{input[0], *out};
  if (!checkedNumElements(result))
    return fail(err, "output ", formatShape(result),
                " has too many elements (overflows int64)");
  return result;
}

llvm::SmallVector<std::pair<std::string, Shape>>
nnc::shape::recurrentParamShapes(RecurrentKind kind, int64_t inputSize,
                                 int64_t hidden, int64_t layers,
                                 bool bidirectional, bool bias) {
  llvm::SmallVector<std::pair<std::string, Shape>> params;
  int64_t g = recurrentGateCount(kind);
  int64_t dirs = bidirectional ? 2 : 1;
  for (int64_t l = 0; l < layers; ++l) {
    int64_t in = l == 0 ? inputSize : hidden * dirs;
    for (int64_t dir = 0; dir < dirs; ++dir) {
      std::string suffix =
          "_l" + std::to_string(l) + (dir == 1 ? "_reverse" : "");
      params.push_back({"weight_ih" + suffix, Shape{g * hidden, in}});
      params.push_back({"weight_hh" + suffix, Shape{g * hidden, hidden}});
      if (bias) {
        params.push_back({"bias_ih" + suffix, Shape{g * hidden}});
        params.push_back({"bias_hh" + suffix, Shape{g * hidden}});
      }
    }
  }
  return params;
}

int64_t nnc::shape::recurrentSavedValuesPerStep(RecurrentKind kind) {
  switch (kind) {
  case RecurrentKind::RNN:
    return 1;
  case RecurrentKind::LSTM:
    return 6;
  case RecurrentKind::GRU:
    return 5;
  }
  return 1;
}

FailureOr<Shape>
nnc::shape::recurrentSavedStateShape(ArrayRef<int64_t> input,
                                     const RecurrentParams &p,
                                     std::string &err) {
  if (failed(inferRecurrent(input, p, err)))
    return failure();
  std::optional<int64_t> stacks = mul(p.numLayers, p.bidirectional ? 2 : 1);
  std::optional<int64_t> width =
      mul(recurrentSavedValuesPerStep(p.kind), p.hiddenSize);
  if (!stacks || !width)
    return fail(err, "saved state of hidden size ", p.hiddenSize,
                " overflows int64");
  Shape result{*stacks, input[1], input[0], *width};
  if (!checkedNumElements(result))
    return fail(err, "saved state ", formatShape(result),
                " has too many elements (overflows int64)");
  return result;
}

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

FailureOr<Shape> nnc::shape::inferCrossEntropy(ArrayRef<int64_t> logits, ArrayRef<int64_t> labels,
                                               std::string &err, bool allowSequence) {
  if (!allowSequence || logits.size() < 3) {
    if (failed(expectRank(logits, 2, "[N, C]", "logits tensor", err)) ||
        failed(expectRank(labels, 1, "[N]", "labels tensor", err)))
      return failure();
  } else if (failed(expectRank(logits, 3, "[N, T, C]", "logits tensor", err)) ||
             failed(expectRank(labels, 2, "[N, T]", "labels tensor", err))) {
    return failure();
  }
  for (size_t d = 0; d < labels.size(); ++d)
    if (!mergeDim(logits[d], labels[d]))
      return fail(err, "expects as many labels as logits rows, got logits ", formatShape(logits),
                  " and labels ", formatShape(labels));
  return Shape{};
}

FailureOr<Shape> nnc::shape::inferMse(ArrayRef<int64_t> pred,
                                      ArrayRef<int64_t> target,
                                      std::string &err) {
  if (failed(inferSameShape(pred, target, err)))
    return failure();
  return Shape{};
}
