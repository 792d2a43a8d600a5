//===- FakeArtifact.cpp - A hand-written artifact for the training loop ---===//
//
// Part of nnc's tests (never installed). A model library as `nnc build
// --train` writes one (docs/abi.md: the table nnc_model_info and the entry
// points _mlir_ciface_nnc_<entry>), built twice: for the CPU
// (libnnc-fake-artifact-cpu.so, the entries compute on the arena) and for
// the GPU (libnnc-fake-artifact-gpu.so, the entries launch their "kernel" on
// the compute stream of the fake CUDA driver, test/unit/FakeCudaDriver.h).
// The model: a linear classifier of 4x4 images into 2 classes (w: [2, 16]),
// batch 4. Its train_step notes what each step read (the batch, the step
// number), in execution order, so a test can compare the two devices' runs
// of runtime/Train.cpp's loop step by step.
//
//===----------------------------------------------------------------------===//

#include "runtime/Gpu.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace {

// The arena (offsets in bytes).
constexpr int64_t kW = 0;             // param w: f32 [2, 16]
constexpr int64_t kTrainX = 128;      // train_step.x: f32 [4, 1, 4, 4]
constexpr int64_t kTrainLabels = 384; // train_step.labels: i64 [4]
constexpr int64_t kLr = 416;          // train_step.lr: f32
constexpr int64_t kStep = 424;        // train_step.step: i64
constexpr int64_t kSeed = 432;        // train_step.seed: i64
constexpr int64_t kLoss = 440;        // train_step.loss: f32
constexpr int64_t kCorrect = 448;     // train_step.correct: i64
constexpr int64_t kForwardX = 512;    // forward.x: f32 [4, 1, 4, 4]
constexpr int64_t kLogits = 768;      // forward.logits: f32 [4, 2]
constexpr int64_t kArena = 832;

/// What one executed train_step read.
struct Seen {
  float xSum;
  int64_t step;
  int64_t labels[4];
};

std::vector<Seen> &seen() {
  static std::vector<Seen> s;
  return s;
}

/// logits[b][c] = sum_i w[c][i] x[b][i].
void logitsOf(const float *w, const float *x, float logits[4][2]) {
  for (int b = 0; b < 4; ++b)
    for (int c = 0; c < 2; ++c) {
      float sum = 0;
      for (int i = 0; i < 16; ++i)
        sum += w[c * 16 + i] * x[b * 16 + i];
      logits[b][c] = sum;
    }
}

/// One SGD step of a squared-error-to-one-hot loss.
void trainStepKernel(void *arena) {
  char *base = static_cast<char *>(arena);
  auto *w = reinterpret_cast<float *>(base + kW);
  auto *x = reinterpret_cast<const float *>(base + kTrainX);
  auto *labels = reinterpret_cast<const int64_t *>(base + kTrainLabels);
  float lr;
  std::memcpy(&lr, base + kLr, 4);
  Seen s{};
  for (int i = 0; i < 64; ++i)
    s.xSum += x[i];
  std::memcpy(&s.step, base + kStep, 8);
  std::memcpy(s.labels, labels, sizeof(s.labels));
  seen().push_back(s);
  float logits[4][2];
  logitsOf(w, x, logits);
  float loss = 0;
  int64_t correct = 0;
  float grad[32] = {};
  for (int b = 0; b < 4; ++b) {
    int predicted = logits[b][1] > logits[b][0] ? 1 : 0;
    correct += predicted == labels[b];
    for (int c = 0; c < 2; ++c) {
      float err = logits[b][c] - (labels[b] == c ? 1.0f : 0.0f);
      loss += err * err / 4;
      for (int i = 0; i < 16; ++i)
        grad[c * 16 + i] += 2 * err * x[b * 16 + i] / 4;
    }
  }
  for (int i = 0; i < 32; ++i)
    w[i] -= lr * grad[i];
  std::memcpy(base + kLoss, &loss, 4);
  std::memcpy(base + kCorrect, &correct, 8);
}

void forwardKernel(void *arena) {
  char *base = static_cast<char *>(arena);
  float logits[4][2];
  logitsOf(reinterpret_cast<const float *>(base + kW),
           reinterpret_cast<const float *>(base + kForwardX), logits);
  std::memcpy(base + kLogits, logits, sizeof(logits));
}

struct MemRef {
  char *allocated, *aligned;
  int64_t offset, size, stride;
};

void run(void (*kernel)(void *), MemRef *arena) {
#ifdef NNC_FAKE_ARTIFACT_GPU
  using namespace nnc::rt;
  void *base = arena->aligned;
  void *params[] = {&base};
  gpu::check(gpu::driver().cuLaunchKernel(reinterpret_cast<gpu::CUfunction>(kernel), 1, 1, 1, 1, 1,
                                          1, 0, gpu::stream(), params, nullptr),
             "cuLaunchKernel");
#else
  kernel(arena->aligned);
#endif
}

} // namespace

#ifdef NNC_FAKE_ARTIFACT_GPU
#define DEVICE "gpu"
#else
#define DEVICE "cpu"
#endif

extern "C" {
extern const char nnc_model_info[];
const char nnc_model_info[] =
    "{\"format\": \"nnc-model\", \"version\": 1, \"model\": \"fake_linear\","
    " \"device\": \"" DEVICE "\", \"arena_bytes\": 832, \"persistent_bytes\": 128,"
    " \"entries\": [\"forward\", \"train_step\"], \"regions\": ["
    "{\"name\": \"w\", \"kind\": \"param\", \"dtype\": \"f32\", \"shape\": [2, 16],"
    " \"offset\": 0, \"bytes\": 128, \"init\": \"uniform\", \"scale\": 0.25},"
    "{\"name\": \"train_step.x\", \"kind\": \"input\", \"dtype\": \"f32\","
    " \"shape\": [4, 1, 4, 4], \"offset\": 128, \"bytes\": 256},"
    "{\"name\": \"train_step.labels\", \"kind\": \"input\", \"dtype\": \"i64\", \"shape\": [4],"
    " \"offset\": 384, \"bytes\": 32},"
    "{\"name\": \"train_step.lr\", \"kind\": \"input\", \"dtype\": \"f32\", \"shape\": [],"
    " \"offset\": 416, \"bytes\": 4},"
    "{\"name\": \"train_step.step\", \"kind\": \"input\", \"dtype\": \"i64\", \"shape\": [],"
    " \"offset\": 424, \"bytes\": 8},"
    "{\"name\": \"train_step.seed\", \"kind\": \"input\", \"dtype\": \"i64\", \"shape\": [],"
    " \"offset\": 432, \"bytes\": 8},"
    "{\"name\": \"train_step.loss\", \"kind\": \"output\", \"dtype\": \"f32\", \"shape\": [],"
    " \"offset\": 440, \"bytes\": 4},"
    "{\"name\": \"train_step.correct\", \"kind\": \"output\", \"dtype\": \"i64\","
    " \"shape\": [], \"offset\": 448, \"bytes\": 8},"
    "{\"name\": \"forward.x\", \"kind\": \"input\", \"dtype\": \"f32\","
    " \"shape\": [4, 1, 4, 4], \"offset\": 512, \"bytes\": 256},"
    "{\"name\": \"forward.logits\", \"kind\": \"output\", \"dtype\": \"f32\","
    " \"shape\": [4, 2], \"offset\": 768, \"bytes\": 32}]}";

void _mlir_ciface_nnc_train_step(MemRef *arena) { run(trainStepKernel, arena); }
void _mlir_ciface_nnc_forward(MemRef *arena) { run(forwardKernel, arena); }

/// The steps executed so far, and step `i`'s batch sum, step number and labels.
int64_t fakeArtifactSteps() { return int64_t(seen().size()); }
void fakeArtifactStep(int64_t i, float *xSum, int64_t *step, int64_t *labels) {
  *xSum = seen()[size_t(i)].xSum;
  *step = seen()[size_t(i)].step;
  std::memcpy(labels, seen()[size_t(i)].labels, sizeof(seen()[0].labels));
}
}

static_assert(kArena == 832 && kSeed + 8 == kLoss, "the table's offsets");
