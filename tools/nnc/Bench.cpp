//===- Bench.cpp - nnc bench: time the forward pass and training step -----===//
//
//   nnc bench model.nn [--threads N] [--iterations N] [--batch N]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "passes/ModelReport.h"
#include "runtime/Kernels.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand benchCmd("bench", "Time the compiled model's forward and training "
                                 "step on synthetic data");

ModelOptions model(benchCmd);
OptimizerOptions optimizer(benchCmd);
ThreadsOption threads(benchCmd);
cl::opt<int64_t> iterations("iterations", cl::desc("Timed iterations per entry point, 1 to 1000000"),
                            cl::init(50), cl::sub(benchCmd), cl::cat(category()));
} // namespace

/// Fills every input of `m` with seeded values (inputs in [0, 1), labels in
/// range, lr tiny so the weights stay sane); returns the batch size.
static int64_t fillSyntheticInputs(nnc::rt::Model &m) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return double(state >> 11) * 0x1p-53;
  };
  int64_t classes = 1;
  for (const nnc::rt::Region &r : m.regions())
    if (r.kind == "output" && r.name.rfind("forward.", 0) == 0 && r.shape.size() == 2)
      classes = r.shape[1];
  int64_t batch = 0;
  for (const nnc::rt::Region &r : m.regions()) {
    if (r.kind != "input")
      continue;
    StringRef local = StringRef(r.name).split('.').second;
    int64_t n = r.numElements();
    if (local == "lr")
      *m.dataAs<float>(r) = 1e-6f;
    else if (local == "step" || local == "seed")
      *m.dataAs<int64_t>(r) = 1;
    else if (r.dtype == "i64")
      for (int64_t i = 0; i < n; ++i)
        m.dataAs<int64_t>(r)[i] = int64_t(next() * double(classes));
    else if (r.dtype == "i32")
      for (int64_t i = 0; i < n; ++i)
        m.dataAs<int32_t>(r)[i] = int32_t(next() * double(classes));
    else if (r.dtype == "f32")
      for (int64_t i = 0; i < n; ++i)
        m.dataAs<float>(r)[i] = float(next());
    if (local != "labels" && !r.shape.empty() && batch == 0)
      batch = r.shape[0];
  }
  return batch;
}

/// `nnc bench`: milliseconds per forward and per training step, median of
/// --iterations runs after warm-up, on seeded synthetic inputs.
static int runBench() {
  if (!model.check() || !optimizer.check() || !threads.check() ||
      !checkRange(iterations, 1, 1000000))
    return 1;
  std::unique_ptr<LoadedModel> loaded = loadModel({model, &optimizer}, threads.value());
  if (!loaded)
    return 1;
  nnc::rt::Model &m = *loaded->model;
  m.initialize(1);
  int64_t batch = fillSyntheticInputs(m);
  outs() << "model " << m.name() << ", batch " << batch << ", " << nnc_get_num_threads()
         << " thread(s), arena " << nnc::formatBytes(m.arenaBytes()) << "\n";
  for (StringRef entry : {"forward", "train_step"}) {
    if (!m.hasEntry(entry))
      continue;
    std::vector<double> times;
    for (int64_t i = 0; i < iterations + 3; ++i) {
      if (interrupted())
        return interruptedExitCode;
      auto start = std::chrono::steady_clock::now();
      if (auto st = m.run(entry); st.failed())
        return fail(st.message());
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      if (i >= 3)
        times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    outs() << formatv("{0,-11} {1,9:F3} ms   {2,10:F0} samples/s\n", entry, median,
                      1000.0 * double(batch) / median);
  }
  return 0;
}

static Command registration(benchCmd, runBench);
