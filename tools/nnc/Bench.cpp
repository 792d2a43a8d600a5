//===- Bench.cpp - nnc bench: time the forward pass and training step -----===//
//
//   nnc bench model.nn [--threads N] [--iterations N] [--warmup N]
//                      [--batch N] [--entry forward|train_step] [--profile]
//                      [--memory-budget BYTES]
//   nnc bench --artifact model.so [...]
//   nnc bench model.nn --quantized Q.safetensors [...]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "passes/ModelReport.h"
#include "runtime/Kernels.h"
#include "runtime/Profile.h"
#include "runtime/Train.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>
#include <chrono>
#include <numeric>

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand benchCmd("bench", "Time the compiled model's forward and training "
                                 "step on synthetic data");

ModelOptions model(benchCmd);
OptimizerOptions optimizer(benchCmd);
MemoryBudgetOption memoryBudget(benchCmd);
ThreadsOption threads(benchCmd);
DeviceOptions device(benchCmd, /*withArch=*/false);
cl::opt<int64_t> iterations("iterations", cl::desc("Timed iterations per entry point, 1 to 1000000"),
                            cl::init(50), cl::sub(benchCmd), cl::cat(category()));
cl::opt<int64_t> warmup("warmup", cl::desc("Untimed runs before the timed ones, 0 to 1000 (default 3)"),
                        cl::init(3), cl::sub(benchCmd), cl::cat(category()));
cl::list<std::string> entries("entry",
                              cl::desc("Entry point to time: forward | train_step "
                                       "(repeatable or comma-separated; default: both)"),
                              cl::CommaSeparated, cl::sub(benchCmd), cl::cat(category()));
cl::opt<std::string> artifact("artifact",
                              cl::desc("Time this library (made by nnc build) instead of "
                                       "compiling the model file"),
                              cl::value_desc("model.so"), cl::sub(benchCmd), cl::cat(category()));
cl::opt<std::string> quantized("quantized",
                               cl::desc("Time the int8 model of these quantized weights (nnc "
                                        "quantize), with them loaded; forward only"),
                               cl::value_desc("Q.safetensors"), cl::sub(benchCmd),
                               cl::cat(category()));
cl::opt<bool> profile("profile",
                      cl::desc("Split each step into library calls and generated code "
                               "(also on with NNC_PROFILE=1)"),
                      cl::sub(benchCmd), cl::cat(category()));
} // namespace

/// The entry points to time, in the order they run: --entry, else both.
static SmallVector<StringRef, 2> selectedEntries() {
  SmallVector<StringRef, 2> selected;
  for (StringRef entry : {"forward", "train_step"})
    if (entries.empty() || llvm::is_contained(entries, entry))
      selected.push_back(entry);
  return selected;
}

/// Prints what the profiler counted over `steps` runs that took `totalMs`
/// together: the mean step, its library and generated-code parts, and the
/// library calls. Library time is wall time spent inside the library entry
/// points of runtime/Profile.h; the rest of the step is generated code.
static void printProfile(double totalMs, int64_t steps) {
  int64_t calls = 0, nanos = 0;
  nnc_profile_read(&calls, &nanos);
  double stepMs = totalMs / double(steps);
  double libraryMs = double(nanos) * 1e-6 / double(steps);
  double share = stepMs > 0 ? 100.0 * libraryMs / stepMs : 0.0;
  std::string perStep = calls % steps == 0 ? std::to_string(calls / steps)
                                            : formatv("{0:F2}", double(calls) / double(steps)).str();
  outs() << formatv("  mean step {0:F3} ms = library {1:F3} ms ({2:F1}%) + generated "
                    "{3:F3} ms; {4} library calls per step ({5} in {6} steps)\n",
                    stepMs, libraryMs, share, stepMs - libraryMs, perStep, calls, steps);
}

/// `nnc bench`: milliseconds per forward and per training step, median of
/// --iterations runs after --warmup runs, on seeded synthetic inputs; with
/// profiling on, also the mean step split into library calls and generated
/// code.
static int runBench() {
  if (!model.check() || !optimizer.check() || !memoryBudget.check() || !threads.check() ||
      !checkRange(iterations, 1, 1000000) || !checkRange(warmup, 0, 1000) ||
      !(artifact.empty() ? device.checkRunnable() : device.check()))
    return 1;
  for (const std::string &entry : entries)
    if (entry != "forward" && entry != "train_step")
      return fail("--entry must be forward or train_step (got '" + entry + "')");
  if (!quantized.empty() && !artifact.empty())
    return fail("--quantized and --artifact exclude each other (build the int8 artifact with "
                "nnc build --quantized)");
  if (!quantized.empty() && llvm::is_contained(entries, "train_step"))
    return fail("an int8 model has no train_step (quantized models run inference only)");
  SmallVector<StringRef, 2> timed = selectedEntries();
  if (!quantized.empty())
    timed = {"forward"};
  std::unique_ptr<LoadedModel> loaded;
  std::unique_ptr<nnc::rt::Model> built;
  if (!artifact.empty()) {
    // The artifact's table says its device; --device, if given, must agree.
    // Model::load refuses a GPU artifact without a usable GPU in one line.
    auto library = nnc::rt::Model::load(artifact, device.given() ? std::optional(device.value())
                                                                 : std::nullopt);
    if (!library)
      return fail(library.message());
    built = std::move(*library);
    nnc_set_num_threads(threads.value());
  } else {
    // Without train_step to time, only the forward pass is compiled.
    bool train = llvm::is_contained(timed, "train_step");
    BuildRequest request{model, train ? &optimizer : nullptr, false, memoryBudget.value(),
                         device.value()};
    request.quantizedWeights = quantized;
    loaded = loadModel(request, threads.value());
    if (!loaded)
      return 1;
  }
  nnc::rt::Model &m = built ? *built : *loaded->model;
  m.initialize(1);
  if (!quantized.empty())
    if (auto st = nnc::rt::loadWeights(m, quantized); st.failed())
      return fail(st.message());
  int64_t batch = nnc::rt::fillSyntheticInputs(m);
  outs() << "model " << m.name() << ", batch " << batch << ", " << nnc_get_num_threads()
         << " thread(s)\n";
  // What the runtime allocated for the arena (test/report/arena-exact.test
  // compares it with nnc report's).
  outs() << "arena: " << m.allocatedBytes() << " B allocated\n";
  // On the GPU: what the device says the arena took (compare with the plan).
  if (m.device() == nnc::rt::Device::Gpu) {
    nnc::rt::DeviceMemoryInfo mem = m.deviceMemory();
    outs() << formatv("device memory: {0} B free before the arena, {1} B after, {2} B total\n",
                      mem.freeBefore, mem.freeAfter, mem.total);
  }
  if (profile)
    nnc_profile_enable(1);
  bool profiling = nnc_profile_enabled();
  for (StringRef entry : timed) {
    if (!m.hasEntry(entry))
      continue;
    std::vector<double> times;
    for (int64_t i = 0; i < iterations + warmup; ++i) {
      if (interrupted())
        return interruptedExitCode;
      if (i == warmup)
        nnc_profile_reset();
      auto start = std::chrono::steady_clock::now();
      if (auto st = m.run(entry); st.failed())
        return fail(st.message());
      double ms = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                      .count();
      if (i >= warmup)
        times.push_back(ms);
    }
    double totalMs = std::accumulate(times.begin(), times.end(), 0.0);
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    outs() << formatv("{0,-11} {1,9:F3} ms   {2,10:F0} samples/s\n", entry, median,
                      1000.0 * double(batch) / median);
    if (profiling)
      printProfile(totalMs, int64_t(times.size()));
  }
  return 0;
}

static Command registration(benchCmd, runBench);
