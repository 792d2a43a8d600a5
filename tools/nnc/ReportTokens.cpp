//===- ReportTokens.cpp - nnc report: per-token costs of a language model -===//
//
// Everything here is arithmetic on what the report and the memory plan
// already hold: no weights, nothing proportional to the parameter count.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/ReportTokens.h"

#include "tools/nnc/Costs.h"

#include "dialect/NNOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>

using namespace llvm;
using namespace nnc::driver;

namespace {

/// The elements of the rank-2 parameters `op` reads: the weight matrices it
/// multiplies its input with.
int64_t matrixWeightsOf(mlir::Operation *op) {
  int64_t elements = 0;
  for (mlir::Value operand : op->getOperands()) {
    auto ref = operand.getDefiningOp<mlir::nn::ParamRefOp>();
    auto type = dyn_cast<mlir::RankedTensorType>(operand.getType());
    if (ref && type && type.getRank() == 2)
      elements += type.getNumElements();
  }
  return elements;
}

int64_t integerAttr(mlir::Operation *op, StringRef name, int64_t otherwise) {
  if (auto attr = op->getAttrOfType<mlir::IntegerAttr>(name))
    return attr.getInt();
  return otherwise;
}

/// The fewest devices (1 to 2^20) at which `bytesAt` is at most `limit`;
/// 0 if none. `bytesAt` does not grow with the device count.
std::pair<int64_t, int64_t> fewestDevices(function_ref<int64_t(int64_t)> bytesAt, int64_t limit) {
  int64_t hi = int64_t(1) << 20;
  if (bytesAt(hi) > limit)
    return {0, 0};
  int64_t lo = 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (bytesAt(mid) <= limit)
      hi = mid;
    else
      lo = mid + 1;
  }
  return {lo, bytesAt(lo)};
}

std::string perToken(int64_t total, int64_t tokens) {
  if (total % tokens == 0)
    return nnc::formatFlops(total / tokens);
  return formatv("{0:f1}", double(total) / double(tokens)).str();
}

/// The per-token share of `flops` with its sign, e.g. "+1,234" or "-98".
std::string signedPerToken(int64_t flops, int64_t tokens) {
  std::string text = flops % tokens == 0
                         ? nnc::formatCount(std::abs(flops / tokens))
                         : formatv("{0:f1}", std::fabs(double(flops) / double(tokens))).str();
  return (flops < 0 ? "-" : "+") + text;
}

/// A block name without its counter: `h` for `h12`.
StringRef stem(StringRef name) { return name.rtrim("0123456789"); }

} // namespace

std::optional<TokenReport> nnc::driver::tokenReportOf(mlir::ModuleOp model,
                                                      const nnc::ModelReport &report,
                                                      const nnc::MemorySection &training) {
  auto forward = model.lookupSymbol<mlir::func::FuncOp>("forward");
  if (!forward || forward.getNumArguments() == 0)
    return std::nullopt;
  auto input = dyn_cast<mlir::RankedTensorType>(forward.getArgument(0).getType());
  if (!input || input.getRank() != 2 || !input.getElementType().isInteger() ||
      !input.hasStaticShape())
    return std::nullopt;
  TokenReport r;
  r.batch = input.getDimSize(0);
  r.sequence = input.getDimSize(1);
  r.tokens = r.batch * r.sequence;
  if (r.tokens <= 0)
    return std::nullopt;
  r.forwardFlops = report.forwardFlops;
  r.trainingFlops = report.trainingStepFlops;
  r.parameters = report.parameters;
  r.optimizer = report.options.optimizer;
  r.stateColumns = stateColumnsOf(r.optimizer);
  // Products below are of counts a model that passed the report's overflow
  // checks already multiplied: weights x tokens x 6 is at most the FLOPs.
  int64_t attentionTotal = 0, attentionMatrix = 0;
  forward.walk([&](mlir::Operation *op) {
    StringRef name = op->getName().getStringRef();
    if (name != "nn.linear" && name != "nn.attention")
      return;
    int64_t weights = matrixWeightsOf(op);
    r.matrixWeights += weights;
    if (name != "nn.attention")
      return;
    ++r.attentionLayers;
    if (auto cost = dyn_cast<mlir::nn::CostOpInterface>(op)) {
      attentionTotal += cost.getForwardFlops().value_or(0) + cost.getBackwardFlops().value_or(0);
      attentionMatrix += 6 * weights * r.tokens;
    }
    // Keys and values: kv_heads x head size per token, each.
    auto x = dyn_cast<mlir::RankedTensorType>(op->getOperand(0).getType());
    int64_t heads = integerAttr(op, "heads", 1);
    int64_t kvHeads = integerAttr(op, "kv_heads", heads);
    if (x && x.getRank() == 3 && heads > 0)
      r.kvCacheElements +=
          2 * x.getDimSize(0) * x.getDimSize(1) * kvHeads * (x.getDimSize(2) / heads);
  });
  r.matrixFlops = 6 * r.matrixWeights * r.tokens;
  r.attentionFlops = attentionTotal - attentionMatrix;
  r.otherFlops = r.trainingFlops - r.matrixFlops - r.attentionFlops;

  r.planUnavailable = training.unavailable;
  if (!training.unavailable.empty())
    return r;
  const nnc::ArenaBreakdown &plan = training.breakdown;
  r.activationsByBlock = plan.activationsByBlock;
  r.arena = plan.arena;
  r.unshardedPeak = plan.nonGradientPeak;
  r.stateBytes = plan.parameters + plan.optimizerState + 4 * report.trainableParameters;
  int64_t largestLayer = 0;
  for (const nnc::LayerReport &layer : report.layers)
    largestLayer = std::max(largestLayer, 4 * layer.params);
  for (Shard shard : {Shard::None, Shard::Opt, Shard::Grad, Shard::Param}) {
    auto bytesAt = [&](int64_t devices) {
      DataParallelMemory dp =
          dataParallelMemoryOf(plan, devices, shard, devices * r.batch,
                               4 * report.trainableParameters, r.stateColumns, largestLayer);
      if (shard != Shard::Grad && shard != Shard::Param)
        return dp.total;
      // The plan's peak was where the gradients were; with them sharded,
      // the activations' peak may be higher.
      return std::max(dp.total, dp.parameters + dp.optimizerState + plan.io + dp.gradients +
                                    plan.nonGradientPeak + dp.commBuffer);
    };
    TokenReport::Fit fit{shardName(shard).str(), 0, 0};
    if (shard == Shard::None) {
      if (bytesAt(1) <= kFitDeviceBytes)
        fit = {fit.shard, 1, bytesAt(1)};
    } else {
      auto [devices, bytes] = fewestDevices(bytesAt, kFitDeviceBytes);
      fit.devices = devices;
      fit.bytes = bytes;
    }
    r.fits.push_back(fit);
  }
  return r;
}

void nnc::driver::printTokenReport(const TokenReport &r, raw_ostream &os) {
  int64_t sixN = 6 * r.parameters;
  os << formatv("language model: {0} x {1} tokens a step (token ids [N, {1}] at batch {0})\n",
                r.batch, r.sequence);
  os << "FLOPs per token: forward " << perToken(r.forwardFlops, r.tokens) << "; training step "
     << perToken(r.trainingFlops, r.tokens)
     << formatv(" = {0:f3} x 6N (6 x {1} parameters = {2})\n",
                double(r.trainingFlops) / double(r.tokens) / double(sixN),
                nnc::formatCount(r.parameters), nnc::formatFlops(sixN));
  os << "  6N: 2 FLOPs forward and 4 backward per parameter per token. The training step "
        "differs by:\n";
  os << "    " << signedPerToken(6 * (r.matrixWeights - r.parameters) * r.tokens, r.tokens)
     << formatv(": {0} weights multiply matrices, counted per use (a tied embedding once, as the "
                "output layer's weight); the other {1} parameters (lookups, positions, norms, "
                "biases) do no matrix product\n",
                nnc::formatCount(r.matrixWeights),
                nnc::formatCount(std::max<int64_t>(0, r.parameters - r.matrixWeights)));
  if (r.attentionLayers > 0)
    os << "    " << signedPerToken(r.attentionFlops, r.tokens)
       << formatv(": attention scores, softmax and weighted values ({0} layers, at {1} "
                  "tokens: grows with the sequence)\n",
                  r.attentionLayers, r.sequence);
  os << "    " << signedPerToken(r.otherFlops, r.tokens)
     << ": everything else (norms, activations, residual adds, biases, the loss)\n";
  int64_t state = 4 * r.stateColumns;
  os << formatv("training state per parameter ({0}): f32 {1} B (weights 4 + gradients 4 + "
                "optimizer state {2}) = {3}; bf16 mixed precision {1} B (bf16 weights 2 + bf16 "
                "gradients 2 + f32 master weights 4 + f32 optimizer state {2}) = {3}\n",
                r.optimizer, 8 + state, state, nnc::formatBytes((8 + state) * r.parameters));
  if (r.kvCacheElements > 0)
    os << formatv("KV cache for generation @ batch {0}, {1} tokens: {2} elements = {3} f32 / {4} "
                  "bf16 ({5} B per token in bf16)\n",
                  r.batch, r.sequence, nnc::formatCount(r.kvCacheElements),
                  nnc::formatBytes(4 * r.kvCacheElements), nnc::formatBytes(2 * r.kvCacheElements),
                  nnc::formatCount(2 * r.kvCacheElements / r.tokens));
  if (!r.planUnavailable.empty()) {
    os << "saved activations and device fit: no training plan (" << r.planUnavailable << ")\n";
    return;
  }
  // Saved activations by block: runs of equal sizes are folded.
  os << formatv("saved activations @ batch {0}, {1} tokens (f32, the training plan's):",
                r.batch, r.sequence);
  for (size_t i = 0; i < r.activationsByBlock.size();) {
    size_t j = i;
    while (j + 1 < r.activationsByBlock.size() &&
           r.activationsByBlock[j + 1].second == r.activationsByBlock[i].second &&
           stem(r.activationsByBlock[j + 1].first) == stem(r.activationsByBlock[i].first))
      ++j;
    os << (i ? ", " : " ");
    if (j == i)
      os << r.activationsByBlock[i].first << " " << nnc::formatBytes(r.activationsByBlock[i].second);
    else
      os << r.activationsByBlock[i].first << ".." << r.activationsByBlock[j].first << " "
         << (j - i + 1) << " x " << nnc::formatBytes(r.activationsByBlock[i].second);
    i = j + 1;
  }
  if (r.activationsByBlock.empty())
    os << " none";
  os << "\n";
  const TokenReport::Fit &alone = r.fits.front();
  os << "80 GiB devices: " << (alone.devices ? "fits one" : "does not fit one") << " (training arena "
     << nnc::formatBytes(r.arena) << " @ batch " << r.batch << ")";
  if (!alone.devices) {
    os << "; data parallel, batch " << r.batch << " per device:";
    for (size_t i = 1; i < r.fits.size(); ++i) {
      const TokenReport::Fit &fit = r.fits[i];
      os << (i > 1 ? ";" : "") << " --shard " << fit.shard << " ";
      if (fit.devices)
        os << formatv("{0} devices ({1} each)", fit.devices, nnc::formatBytes(fit.bytes));
      else
        os << "never";
    }
    if (llvm::none_of(r.fits, [](const TokenReport::Fit &f) { return f.devices > 0; }))
      os << formatv(". The activations and temporaries the step keeps at once (up to {0}) are not "
                    "divided by data parallelism and exceed a device: recompute them "
                    "(--memory-budget) or use a shorter sequence; the parameters, gradients and "
                    "optimizer state ({1}) alone need at least {2} devices (--shard param)",
                    nnc::formatBytes(r.unshardedPeak), nnc::formatBytes(r.stateBytes),
                    (r.stateBytes + kFitDeviceBytes - 1) / kFitDeviceBytes);
  }
  os << "\n";
}

json::Value nnc::driver::tokenReportToJSON(const TokenReport &r) {
  json::Array blocks, fits;
  for (const auto &[name, bytes] : r.activationsByBlock)
    blocks.push_back(json::Object{{"block", name}, {"bytes", bytes}});
  for (const TokenReport::Fit &fit : r.fits)
    fits.push_back(
        json::Object{{"shard", fit.shard}, {"devices", fit.devices}, {"bytes", fit.bytes}});
  return json::Object{{"batch", r.batch},
                      {"sequence", r.sequence},
                      {"tokens", r.tokens},
                      {"forward_flops", r.forwardFlops},
                      {"training_flops", r.trainingFlops},
                      {"six_n_flops_per_token", 6 * r.parameters},
                      {"matrix_weights", r.matrixWeights},
                      {"matrix_flops", r.matrixFlops},
                      {"attention_flops", r.attentionFlops},
                      {"other_flops", r.otherFlops},
                      {"attention_layers", r.attentionLayers},
                      {"kv_cache_elements", r.kvCacheElements},
                      {"training_state_bytes_per_parameter", 8 + 4 * r.stateColumns},
                      {"plan_unavailable", r.planUnavailable},
                      {"activations_by_block", std::move(blocks)},
                      {"fit_device_bytes", kFitDeviceBytes},
                      {"unsharded_peak_bytes", r.unshardedPeak},
                      {"state_bytes", r.stateBytes},
                      {"fits", std::move(fits)}};
}
