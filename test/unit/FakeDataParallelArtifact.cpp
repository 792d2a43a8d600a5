//===- FakeDataParallelArtifact.cpp - A hand-written data-parallel artifact ===//
//
// Part of nnc's tests (never installed). A model library as `nnc build
// --train --ranks N [--shard opt]` is specified to write one
// (docs/distributed.md, docs/abi.md `data_parallel`), so that the training
// loop's data parallelism (runtime/Train.cpp) is tested with real gradient
// reduction before the compiler emits the hook calls: a softmax classifier
// of 4x4 images into 3 classes (w: [3, 16], b: [3]: one flat update group of
// 51 elements, padded to 52 for ZeRO-1) trained with Adam, and a `buffer`
// (the running mean of the inputs, updated from each rank's own rows as a
// BatchNorm's is). Built three times (test/unit/CMakeLists.txt):
//
//   FAKE_DP_RANKS=1                 plain, batch 8 (no data_parallel)
//   FAKE_DP_RANKS=2                 batch 4 per rank, gradients all-reduced
//   FAKE_DP_RANKS=2 FAKE_DP_SHARD   batch 4, ZeRO-1: Adam's state sharded
//
//===----------------------------------------------------------------------===//

#include "runtime/DataParallel.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

constexpr int64_t kRanks = FAKE_DP_RANKS;
#ifdef FAKE_DP_SHARD
constexpr bool kSharded = true;
#else
constexpr bool kSharded = false;
#endif
constexpr int64_t kBatch = 8 / kRanks, kFeatures = 16, kClasses = 3;
constexpr int64_t kParams = kClasses * kFeatures + kClasses; // 51
constexpr int64_t kCount = kSharded ? (kParams + kRanks - 1) / kRanks * kRanks : kParams;

/// Arena offsets in bytes: the flat parameters (w then b, then padding),
/// the running mean, Adam's state, the flat gradient, the entries' regions.
struct Layout {
  int64_t params = 0, running = 0, expAvg = 0, expAvgSq = 0, grads = 0, trainX = 0, labels = 0,
          lr = 0, step = 0, seed = 0, loss = 0, correct = 0, forwardX = 0, logits = 0, arena = 0;
  int64_t stateElements = kSharded ? kCount / kRanks : kParams;
  Layout() {
    int64_t at = 0;
    auto take = [&](int64_t &field, int64_t bytes) {
      field = at;
      at += (bytes + 7) / 8 * 8;
    };
    take(params, kCount * 4);
    take(running, kFeatures * 4);
    take(expAvg, stateElements * 4);
    take(expAvgSq, stateElements * 4);
    take(grads, kCount * 4);
    take(trainX, kBatch * kFeatures * 4);
    take(labels, kBatch * 8);
    take(lr, 4);
    take(step, 8);
    take(seed, 8);
    take(loss, 4);
    take(correct, 8);
    take(forwardX, kBatch * kFeatures * 4);
    take(logits, kBatch * kClasses * 4);
    arena = at;
  }
};
/// Built on first use (the table is written by a load-time constructor).
const Layout &theLayout() {
  static const Layout layout;
  return layout;
}

template <typename T> T *at(void *arena, int64_t offset) {
  return reinterpret_cast<T *>(static_cast<char *>(arena) + offset);
}

void logitsOf(const float *params, const float *x, int64_t row, float *out) {
  for (int64_t c = 0; c < kClasses; ++c) {
    float sum = params[kClasses * kFeatures + c];
    for (int64_t i = 0; i < kFeatures; ++i)
      sum += params[c * kFeatures + i] * x[row * kFeatures + i];
    out[c] = sum;
  }
}

void trainStep(void *arena) {
  const Layout &layout = theLayout();
  float *params = at<float>(arena, layout.params), *grads = at<float>(arena, layout.grads);
  const float *x = at<float>(arena, layout.trainX);
  const int64_t *labels = at<int64_t>(arena, layout.labels);
  int64_t rows = 0, correct = 0;
  float loss = 0;
  std::memset(grads, 0, kCount * 4);
  float *running = at<float>(arena, layout.running);
  float mean[kFeatures] = {};
  for (int64_t r = 0; r < kBatch; ++r) {
    if (labels[r] < 0)
      continue; // Padding.
    ++rows;
    for (int64_t i = 0; i < kFeatures; ++i)
      mean[i] += x[r * kFeatures + i];
  }
  for (int64_t i = 0; i < kFeatures; ++i)
    running[i] = 0.9f * running[i] + 0.1f * mean[i] / float(rows);
  // The loss is the mean over this rank's real rows, as compiled losses are.
  for (int64_t r = 0; r < kBatch; ++r) {
    if (labels[r] < 0)
      continue;
    float z[kClasses], maxz = -1e30f, sum = 0;
    logitsOf(params, x, r, z);
    int64_t best = 0;
    for (int64_t c = 0; c < kClasses; ++c) {
      maxz = std::fmax(maxz, z[c]);
      if (z[c] > z[best])
        best = c;
    }
    correct += best == labels[r];
    for (int64_t c = 0; c < kClasses; ++c)
      sum += std::exp(z[c] - maxz);
    loss += std::log(sum) + maxz - z[labels[r]];
    for (int64_t c = 0; c < kClasses; ++c) {
      float d = (std::exp(z[c] - maxz) / sum - (c == labels[r] ? 1.0f : 0.0f)) / float(rows);
      for (int64_t i = 0; i < kFeatures; ++i)
        grads[c * kFeatures + i] += d * x[r * kFeatures + i];
      grads[kClasses * kFeatures + c] += d;
    }
  }
  *at<float>(arena, layout.loss) = loss / float(rows);
  *at<int64_t>(arena, layout.correct) = correct;
  if (kRanks > 1)
    nnc_dp_reduce_gradients(0, grads, kCount, kSharded);
  // Adam over this rank's shard (all of it without sharding).
  float lr = *at<float>(arena, layout.lr);
  double t = double(*at<int64_t>(arena, layout.step));
  float c1 = float(1 - std::pow(0.9, t)), c2 = float(1 - std::pow(0.999, t));
  int64_t begin = kSharded ? nnc_dp_rank() * (kCount / kRanks) : 0;
  float *m = at<float>(arena, layout.expAvg), *v = at<float>(arena, layout.expAvgSq);
  for (int64_t i = 0; i < layout.stateElements; ++i) {
    float g = grads[begin + i];
    m[i] = 0.9f * m[i] + 0.1f * g;
    v[i] = 0.999f * v[i] + 0.001f * g * g;
    params[begin + i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8f);
  }
  if (kSharded)
    nnc_dp_gather_parameters(0, params, kCount);
}

void forward(void *arena) {
  const Layout &layout = theLayout();
  const float *params = at<float>(arena, layout.params), *x = at<float>(arena, layout.forwardX);
  float *logits = at<float>(arena, layout.logits);
  for (int64_t r = 0; r < kBatch; ++r)
    logitsOf(params, x, r, logits + r * kClasses);
}

struct MemRef {
  char *allocated, *aligned;
  int64_t offset, size, stride;
};

std::string region(const char *name, const char *kind, const char *dtype, const std::string &shape,
                   int64_t offset, int64_t bytes, const char *init = nullptr) {
  return std::string("{\"name\": \"") + name + "\", \"kind\": \"" + kind + "\", \"dtype\": \"" +
         dtype + "\", \"shape\": [" + shape + "], \"offset\": " + std::to_string(offset) +
         ", \"bytes\": " + std::to_string(bytes) +
         (init ? std::string(", \"init\": \"") + init + "\", \"scale\": 0.25" : "") + "}";
}

std::string table() {
  const Layout &layout = theLayout();
  std::string b = std::to_string(kBatch), s = std::to_string(layout.stateElements);
  std::string regions = region("w", "param", "f32", "3, 16", layout.params, 192, "uniform") + ", " +
                        region("b", "param", "f32", "3", layout.params + 192, 12, "uniform") +
                        ", " + region("running_mean", "buffer", "f32", "16", layout.running, 64) +
                        ", ";
  if (kSharded)
    regions +=
        region("dp0.exp_avg", "state", "f32", s, layout.expAvg, layout.stateElements * 4) + ", " +
        region("dp0.exp_avg_sq", "state", "f32", s, layout.expAvgSq, layout.stateElements * 4) +
        ", ";
  else
    regions += region("w.exp_avg", "state", "f32", "3, 16", layout.expAvg, 192) + ", " +
               region("b.exp_avg", "state", "f32", "3", layout.expAvg + 192, 12) + ", " +
               region("w.exp_avg_sq", "state", "f32", "3, 16", layout.expAvgSq, 192) + ", " +
               region("b.exp_avg_sq", "state", "f32", "3", layout.expAvgSq + 192, 12) + ", ";
  regions += region("train_step.x", "input", "f32", b + ", 1, 4, 4", layout.trainX, kBatch * 64) +
             ", " + region("train_step.labels", "input", "i64", b, layout.labels, kBatch * 8) +
             ", " + region("train_step.lr", "input", "f32", "", layout.lr, 4) + ", " +
             region("train_step.step", "input", "i64", "", layout.step, 8) + ", " +
             region("train_step.seed", "input", "i64", "", layout.seed, 8) + ", " +
             region("train_step.loss", "output", "f32", "", layout.loss, 4) + ", " +
             region("train_step.correct", "output", "i64", "", layout.correct, 8) + ", " +
             region("forward.x", "input", "f32", b + ", 1, 4, 4", layout.forwardX, kBatch * 64) +
             ", " +
             region("forward.logits", "output", "f32", b + ", 3", layout.logits, kBatch * 12);
  std::string dp;
  if (kRanks > 1) {
    dp = ", \"data_parallel\": {\"ranks\": " + std::to_string(kRanks) + ", \"shard\": \"" +
         (kSharded ? "opt" : "none") + "\", \"groups\": [{\"count\": " + std::to_string(kCount) +
         ", \"params\": [\"w\", \"b\"], \"param_offset\": " + std::to_string(layout.params) +
         ", \"grad_offset\": " + std::to_string(layout.grads) + ", \"state\": [" +
         (kSharded ? "{\"suffix\": \"exp_avg\", \"region\": \"dp0.exp_avg\"}, "
                     "{\"suffix\": \"exp_avg_sq\", \"region\": \"dp0.exp_avg_sq\"}"
                   : "") +
         "]}]}";
  }
  return "{\"format\": \"nnc-model\", \"version\": 1, \"model\": \"fake_dp\", \"device\": "
         "\"cpu\", \"arena_bytes\": " +
         std::to_string(layout.arena) + ", \"persistent_bytes\": " + std::to_string(layout.trainX) +
         ", \"train\": {\"loss\": \"cross_entropy\"}, \"entries\": [\"forward\", "
         "\"train_step\"], \"regions\": [" +
         regions + "]" + dp + "}";
}

} // namespace

extern "C" {
char nnc_model_info[8192];
void _mlir_ciface_nnc_train_step(MemRef *arena) { trainStep(arena->aligned); }
void _mlir_ciface_nnc_forward(MemRef *arena) { forward(arena->aligned); }
}

/// The table is written when the library is loaded, before Model::load reads
/// it.
__attribute__((constructor)) static void writeTable() {
  std::string text = table();
  std::snprintf(nnc_model_info, sizeof(nnc_model_info), "%s", text.c_str());
}
