//===- ShapeRules.h - Shape arithmetic of the nn layers ---------*- C++ -*-===//
//
// Part of nnc. The shape rules of every nn layer as plain functions over
// dimension lists, shared by the nn ops' type inference / verifiers and by the
// frontend's Sema, so that a shape is computed by exactly one piece of code.
//
// Conventions:
//  - A shape is a list of int64_t dimensions; `kDynamic` (== ShapedType::
//    kDynamic) marks an unknown size and is accepted only in dimension 0 (the
//    batch). Every other dimension must be a positive static size.
//  - Every `inferX` returns the result shape, or failure with `err` set to a
//    user-facing message WITHOUT an op/layer prefix, e.g.
//    "expects a 4-d input [N, C, H, W], got [N, 784]".
//  - All arithmetic is overflow-checked: huge or non-positive sizes yield an
//    error, never undefined behaviour or an assertion.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_DIALECT_SHAPERULES_H
#define NNC_DIALECT_SHAPERULES_H

#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/LogicalResult.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace nnc::shape {

/// A tensor shape; dimension 0 may be `kDynamic` (the batch).
using Shape = llvm::SmallVector<int64_t, 4>;

/// The marker of the dynamic (batch) dimension.
inline constexpr int64_t kDynamic = mlir::ShapedType::kDynamic;

//===----------------------------------------------------------------------===//
// Utilities
//===----------------------------------------------------------------------===//

/// Returns the product of the dimensions (dynamic dimensions count as 1), or
/// std::nullopt if it overflows int64_t or a dimension is negative.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape);

/// Prints a shape as `[N, 6, 28, 28]` (dynamic dimensions print as `N`).
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// Normalizes a possibly negative dimension index (`-1` = last) for a tensor
/// of rank `rank`; fails if it is out of range.
llvm::FailureOr<int64_t> normalizeDim(int64_t dim, int64_t rank,
                                      std::string &err);

/// Checks that `shape` is a well-formed activation shape: rank >= 1, only
/// dimension 0 may be dynamic, all static dimensions positive, and the element
/// count fits in int64_t.
llvm::LogicalResult checkShape(llvm::ArrayRef<int64_t> shape, std::string &err);

//===----------------------------------------------------------------------===//
// Convolution and pooling
//===----------------------------------------------------------------------===//

/// Hyperparameters of a 2-d convolution; arrays are [h, w].
struct Conv2dParams {
  int64_t outChannels = 0;
  std::array<int64_t, 2> kernel = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> padding = {0, 0};
  std::array<int64_t, 2> dilation = {1, 1};
  int64_t groups = 1;
  /// The expected number of input channels (the language's `in=`), checked
  /// against dimension 1 of the input if set.
  std::optional<int64_t> inChannels;
};

/// conv2d: input [N, C, H, W] -> [N, O, H', W'] with
/// H' = (H + 2p - d(KH-1) - 1) / s + 1. Checks positivity, C % groups,
/// O % groups and that the dilated kernel fits in the padded input.
llvm::FailureOr<Shape> inferConv2d(llvm::ArrayRef<int64_t> input,
                                   const Conv2dParams &params,
                                   std::string &err);

/// The PyTorch weight shape of a conv2d: [O, C/groups, KH, KW]. Call only
/// after inferConv2d succeeded for the same parameters.
Shape conv2dWeightShape(int64_t inChannels, const Conv2dParams &params);

/// Resolves `padding="same"`: requires stride 1 and an odd effective
/// (dilated) kernel in each dimension and returns the padding [ph, pw].
llvm::FailureOr<std::array<int64_t, 2>>
samePadding(std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
            std::array<int64_t, 2> dilation, std::string &err);

/// Hyperparameters of max/avg pooling; arrays are [h, w].
struct Pool2dParams {
  std::array<int64_t, 2> kernel = {1, 1};
  std::array<int64_t, 2> stride = {1, 1};
  std::array<int64_t, 2> padding = {0, 0};
};

/// maxpool2d/avgpool2d: input [N, C, H, W] -> [N, C, H', W'] (floor mode),
/// H' = (H + 2p - K) / s + 1; padding must be at most half the kernel.
llvm::FailureOr<Shape> inferPool2d(llvm::ArrayRef<int64_t> input,
                                   const Pool2dParams &params,
                                   std::string &err);

/// global_avgpool: input [N, C, H, W] -> [N, C].
llvm::FailureOr<Shape> inferGlobalAvgPool(llvm::ArrayRef<int64_t> input,
                                          std::string &err);

//===----------------------------------------------------------------------===//
// Dense layers
//===----------------------------------------------------------------------===//

/// linear: input [..., I] (rank >= 2) -> [..., O]. If `inFeatures` is set,
/// the last input dimension must equal it.
llvm::FailureOr<Shape> inferLinear(llvm::ArrayRef<int64_t> input,
                                   std::optional<int64_t> inFeatures,
                                   int64_t outFeatures, std::string &err);

/// attention: input [N, T, d] -> [N, T, d]; `heads` > 0 divides d and
/// `kvHeads` > 0 divides `heads` (grouped-query attention when smaller).
llvm::FailureOr<Shape> inferAttention(llvm::ArrayRef<int64_t> input, int64_t heads, int64_t kvHeads,
                                      std::string &err);

/// The rows of attention's qkv projection: (heads + 2 kvHeads) * d / heads.
int64_t attentionQkvRows(int64_t dModel, int64_t heads, int64_t kvHeads);

/// embedding: ids [N, ...] -> [N, ..., D]; `numEmbeddings` and
/// `embeddingDim` must be positive.
llvm::FailureOr<Shape> inferEmbedding(llvm::ArrayRef<int64_t> ids,
                                      int64_t numEmbeddings,
                                      int64_t embeddingDim, std::string &err);

/// pos_embedding: input [N, T, D] plus rows 0..T-1 of a learned table
/// [num, D] -> the input's shape; T <= num.
llvm::FailureOr<Shape> inferPosEmbedding(llvm::ArrayRef<int64_t> input, int64_t num, int64_t dim,
                                         std::string &err);

/// layernorm: input [N, ..., D] (rank >= 2), normalized over D -> the same
/// shape.
llvm::FailureOr<Shape> inferLayerNorm(llvm::ArrayRef<int64_t> input, std::string &err);

/// batchnorm: input of rank in [minRank, maxRank] (channels = dim 1) -> the
/// same shape. batchnorm1d uses [2, 3], batchnorm2d [4, 4], batchnorm [2, 4].
llvm::FailureOr<Shape> inferBatchNorm(llvm::ArrayRef<int64_t> input,
                                      std::string &err, int64_t minRank = 2,
                                      int64_t maxRank = 4);

//===----------------------------------------------------------------------===//
// Shape manipulation
//===----------------------------------------------------------------------===//

/// flatten: [N, d1, d2, ...] (rank >= 2) -> [N, d1*d2*...].
llvm::FailureOr<Shape> inferFlatten(llvm::ArrayRef<int64_t> input,
                                    std::string &err);

/// reshape: `target` is the shape without the batch dimension; at most one
/// entry may be -1 and is resolved. Returns [N] + resolved target. The
/// element counts (without the batch) must match.
llvm::FailureOr<Shape> inferReshape(llvm::ArrayRef<int64_t> input,
                                    llvm::ArrayRef<int64_t> target,
                                    std::string &err);

/// concat: >= 2 inputs of equal rank and equal shapes except along `dim`
/// (may be negative); returns the shape with the sizes along `dim` summed.
llvm::FailureOr<Shape> inferConcat(llvm::ArrayRef<Shape> inputs, int64_t dim,
                                   std::string &err);

/// add (and any elementwise binary op): the shapes must be equal (a dynamic
/// batch matches any batch); returns the merged shape.
llvm::FailureOr<Shape> inferSameShape(llvm::ArrayRef<int64_t> lhs,
                                      llvm::ArrayRef<int64_t> rhs,
                                      std::string &err);

//===----------------------------------------------------------------------===//
// Recurrent layers
//===----------------------------------------------------------------------===//

/// The kind of a recurrent layer.
enum class RecurrentKind { RNN, LSTM, GRU };

/// Number of gates G: 1 (rnn), 4 (lstm), 3 (gru).
int64_t recurrentGateCount(RecurrentKind kind);

/// Hyperparameters of rnn/lstm/gru.
struct RecurrentParams {
  RecurrentKind kind = RecurrentKind::LSTM;
  int64_t hiddenSize = 0;
  int64_t numLayers = 1;
  bool bidirectional = false;
  bool returnSequences = false;
  bool hasBias = true;
};

/// The largest accepted number of stacked recurrent layers (the language's
/// `repeat` limit), which keeps the weight list small.
inline constexpr int64_t kMaxRecurrentLayers = 10000;

/// rnn/lstm/gru: input [N, T, F] -> [N, T, H*dirs] (returnSequences) or
/// [N, H*dirs]. Checks hidden size > 0 and 1 <= layers <= kMaxRecurrentLayers.
llvm::FailureOr<Shape> inferRecurrent(llvm::ArrayRef<int64_t> input,
                                      const RecurrentParams &params,
                                      std::string &err);

/// The weights of a recurrent layer in PyTorch's state_dict order, with
/// PyTorch's names ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
/// "bias_hh_l0", then "..._reverse" for the reverse direction, then layer 1):
/// weight_ih [G*H, in_l], weight_hh [G*H, H], bias_ih/bias_hh [G*H], with
/// in_0 = inputSize and in_l = H*dirs. Call only with sizes accepted by
/// inferRecurrent (which checks them for overflow).
llvm::SmallVector<std::pair<std::string, Shape>>
recurrentParamShapes(RecurrentKind kind, int64_t inputSize, int64_t hidden,
                     int64_t layers, bool bidirectional, bool bias);

/// Values per hidden unit, time step, layer and direction that a recurrent
/// layer keeps for its backward in training (nn.rnn_train, lstm_train,
/// gru_train): rnn 1 (h_t); lstm 6 (gates i, f, g, o after their
/// activations, c_t, h_t); gru 5 (gates r, z, n after their activations,
/// W_hn h_{t-1} + b_hn, h_t).
int64_t recurrentSavedValuesPerStep(RecurrentKind kind);

/// The shape of the saved state of a recurrent layer in training, on input
/// [N, T, F]: [layers*dirs, T, N, S*H] with S = recurrentSavedValuesPerStep.
/// Entry [l*dirs + d, t, n, s*H + j] is value s of hidden unit j at the
/// input's time index t (the reverse direction fills t = T-1 down to 0); the
/// final states are at t = T-1 (forward) and t = 0 (reverse). Fails as
/// inferRecurrent does, or if the state overflows int64.
llvm::FailureOr<Shape> recurrentSavedStateShape(llvm::ArrayRef<int64_t> input,
                                                const RecurrentParams &params,
                                                std::string &err);

//===----------------------------------------------------------------------===//
// Losses
//===----------------------------------------------------------------------===//

/// cross_entropy: logits [N, C], labels [N] -> [] (scalar mean); with
/// `allowSequence` also logits [N, T, C], labels [N, T] (the mean over all
/// N * T positions).
llvm::FailureOr<Shape> inferCrossEntropy(llvm::ArrayRef<int64_t> logits,
                                         llvm::ArrayRef<int64_t> labels, std::string &err,
                                         bool allowSequence = true);

/// mse: prediction and target of equal shape -> [] (scalar mean).
llvm::FailureOr<Shape> inferMse(llvm::ArrayRef<int64_t> pred,
                                llvm::ArrayRef<int64_t> target,
                                std::string &err);

} // namespace nnc::shape

#endif // NNC_DIALECT_SHAPERULES_H
