//===- ReportTokens.h - nnc report: per-token costs of a language model ---===//
//
// The section of `nnc report` for a model whose first input is token ids
// [N, T]: FLOPs per token against the 6·N rule of thumb, training state per
// parameter by precision, saved activations per block, the KV cache, and
// how many devices of 80 GiB a training step needs (docs/report.md,
// "Language models").
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_NNC_REPORTTOKENS_H
#define NNC_TOOLS_NNC_REPORTTOKENS_H

#include "codegen/MemoryReport.h"
#include "passes/ModelReport.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace nnc::driver {

/// The memory of a device that the fit answers for: 80 GiB (an H100 or
/// A100 80 GB: 80 x 2^30 bytes of HBM).
constexpr int64_t kFitDeviceBytes = int64_t(80) << 30;

struct TokenReport {
  /// Batch and sequence length of the first input (token ids [N, T]).
  int64_t batch = 0, sequence = 0, tokens = 0;
  /// FLOPs of the whole step (the ModelReport's), for `tokens` tokens.
  int64_t forwardFlops = 0, trainingFlops = 0;
  /// Parameters (each counted once) and, of them, the elements that
  /// multiply activations as a matrix (the weights of linear and attention
  /// layers), counted once per use: a tied embedding used by the output
  /// layer counts here once, as the output layer's weight.
  int64_t parameters = 0, matrixWeights = 0;
  /// Training FLOPs of the step by what does them: the matrix products with
  /// the weights (6 x matrixWeights x tokens), the rest of the attention
  /// layers (scores, softmax, weighted values, biases), everything else
  /// (norms, elementwise ops, biases, embeddings, the loss). They add up to
  /// trainingFlops.
  int64_t matrixFlops = 0, attentionFlops = 0, otherFlops = 0;
  int64_t attentionLayers = 0;
  /// Elements of the keys and values the attention layers keep for
  /// generation, for `batch` sequences of `sequence` tokens.
  int64_t kvCacheElements = 0;
  /// Optimizer state tensors per parameter (adam 2, momentum 1, sgd 0).
  int64_t stateColumns = 0;
  std::string optimizer;
  /// The training plan (empty `unavailable`) and its saved activations by
  /// block.
  std::string planUnavailable;
  std::vector<std::pair<std::string, int64_t>> activationsByBlock;
  int64_t arena = 0;
  /// The fewest 80 GiB devices each way of sharding needs (batch per device
  /// = the report's batch), or 0 when none is enough; and the bytes per
  /// device at that count.
  struct Fit {
    std::string shard;
    int64_t devices = 0, bytes = 0;
  };
  std::vector<Fit> fits;
  /// The transient bytes other than gradients the step keeps at once (an
  /// upper bound: ArenaBreakdown::nonGradientPeak), which no sharding of
  /// data parallelism divides; and the bytes of the parameters, gradients
  /// and optimizer state, which ZeRO-3 divides.
  int64_t unshardedPeak = 0, stateBytes = 0;
};

/// The token section of `report` (of `model`, specialized to the report's
/// batch), or nothing when the model's first input is not token ids [N, T].
std::optional<TokenReport> tokenReportOf(mlir::ModuleOp model, const nnc::ModelReport &report,
                                         const nnc::MemorySection &training);

void printTokenReport(const TokenReport &r, llvm::raw_ostream &os);

llvm::json::Value tokenReportToJSON(const TokenReport &r);

} // namespace nnc::driver

#endif // NNC_TOOLS_NNC_REPORTTOKENS_H
