//===- nnc-rt.cpp - Run built artifacts without the compiler --------------===//
//
//   nnc-rt info
//   nnc-rt bench ARTIFACT [--entry forward|train_step] [--iterations N]
//                         [--warmup N] [--threads N]
//   nnc-rt train ARTIFACT [--data D] [--epochs N] [--lr X] [--seed N]
//                         [--limit N] [--test-limit N] [--metrics FILE]
//                         [--checkpoint FILE] [--threads N]
//
// The runtime's own command line: it links only libnnc_runtime.so, so a
// machine that gets the artifacts (nnc build, CPU or GPU) and the runtime,
// but no LLVM/MLIR, can still time and train them (docs/gpu.md). Output is
// the same figures nnc bench and nnc train print.
//
//===----------------------------------------------------------------------===//

#include "runtime/Gpu.h"
#include "runtime/Kernels.h"
#include "runtime/Model.h"
#include "runtime/Train.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

using namespace nnc::rt;

namespace {

int fail(const std::string &message) {
  std::fprintf(stderr, "nnc-rt: error: %s\n", message.c_str());
  return 1;
}

/// `--key value` pairs after the artifact; false (with a message) on a
/// malformed or unknown flag.
bool parseFlags(int argc, char **argv, int first, const std::vector<std::string> &known,
                std::map<std::string, std::string> &flags) {
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 ||
        std::find(known.begin(), known.end(), key.substr(2)) == known.end()) {
      fail("unknown argument '" + key + "'");
      return false;
    }
    if (i + 1 >= argc) {
      fail(key + " needs a value");
      return false;
    }
    flags[key.substr(2)] = argv[++i];
  }
  return true;
}

/// The integer value of flag `key` (or `dflt`); false on a malformed one.
bool intFlag(const std::map<std::string, std::string> &flags, const char *key, int64_t dflt,
             int64_t min, int64_t &out) {
  auto it = flags.find(key);
  if (it == flags.end()) {
    out = dflt;
    return true;
  }
  char *end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (it->second.empty() || *end || v < min) {
    fail(std::string("--") + key + " must be an integer >= " + std::to_string(min) + " (got '" +
         it->second + "')");
    return false;
  }
  out = v;
  return true;
}

int info() {
  const std::string &reason = gpu::unavailableReason();
  if (!reason.empty()) {
    std::printf("gpu: unavailable: %s\n", reason.c_str());
    return 1;
  }
  std::printf("gpu: %s\n", gpu::deviceDescription().c_str());
  return 0;
}

int bench(int argc, char **argv) {
  std::map<std::string, std::string> flags;
  if (!parseFlags(argc, argv, 3, {"entry", "iterations", "warmup", "threads"}, flags))
    return 1;
  int64_t iterations, warmup, threads;
  if (!intFlag(flags, "iterations", 50, 1, iterations) || !intFlag(flags, "warmup", 3, 0, warmup) ||
      !intFlag(flags, "threads", 0, 0, threads))
    return 1;
  auto loaded = Model::load(argv[2]);
  if (!loaded)
    return fail(loaded.message());
  Model &m = **loaded;
  nnc_set_num_threads(int32_t(threads));
  m.initialize(1);
  int64_t batch = fillSyntheticInputs(m);
  std::printf("model %s, batch %lld, arena %lld B\n", m.name().c_str(), (long long)batch,
              (long long)m.allocatedBytes());
  // A GPU artifact: what the device says the arena took (compare with the plan).
  if (m.device() == Device::Gpu) {
    DeviceMemoryInfo mem = m.deviceMemory();
    std::printf("device memory: %lld B free before the arena, %lld B after, %lld B total\n",
                (long long)mem.freeBefore, (long long)mem.freeAfter, (long long)mem.total);
    // Outside the arena (nnc report --device gpu states it).
    std::printf("input staging: %lld B on the device, %lld B pinned\n",
                (long long)m.inputStagingBytes(), (long long)m.inputStagingBytes());
  }
  std::vector<std::string> entries = {"forward", "train_step"};
  if (flags.count("entry"))
    entries = {flags["entry"]};
  for (const std::string &entry : entries) {
    if (!m.hasEntry(entry)) {
      if (flags.count("entry"))
        return fail(std::string(argv[2]) + " has no entry '" + entry + "'");
      continue;
    }
    std::vector<double> times;
    for (int64_t i = 0; i < iterations + warmup; ++i) {
      auto start = std::chrono::steady_clock::now();
      if (Status st = m.run(entry); st.failed())
        return fail(st.message());
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      if (i >= warmup)
        times.push_back(ms);
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    std::printf("%-11s %9.3f ms   %10.0f samples/s\n", entry.c_str(), median,
                1000.0 * double(batch) / median);
  }
  return 0;
}

int trainCommand(int argc, char **argv) {
  std::map<std::string, std::string> flags;
  if (!parseFlags(argc, argv, 3,
                  {"data", "epochs", "lr", "seed", "limit", "test-limit", "metrics", "checkpoint",
                   "threads"},
                  flags))
    return 1;
  TrainOptions options;
  int64_t epochs, seed, limit, testLimit, threads;
  if (!intFlag(flags, "epochs", 1, 1, epochs) || !intFlag(flags, "seed", 1, 0, seed) ||
      !intFlag(flags, "limit", 0, 0, limit) || !intFlag(flags, "test-limit", 0, 0, testLimit) ||
      !intFlag(flags, "threads", 0, 0, threads))
    return 1;
  auto loaded = Model::load(argv[2]);
  if (!loaded)
    return fail(loaded.message());
  Model &m = **loaded;
  if (!m.hasEntry("train_step"))
    return fail(std::string(argv[2]) + " has no train_step: build it with nnc build --train");
  options.epochs = epochs;
  options.seed = uint64_t(seed);
  options.dataset.seed = uint64_t(seed);
  options.trainLimit = options.dataset.trainLimit = limit;
  options.testLimit = options.dataset.testLimit = testLimit;
  options.threads = int(threads);
  if (flags.count("data"))
    options.dataset.data = flags["data"];
  if (flags.count("lr")) {
    char *end = nullptr;
    options.lr = std::strtod(flags["lr"].c_str(), &end);
    if (*end || !(options.lr > 0))
      return fail("--lr must be a positive number (got '" + flags["lr"] + "')");
  }
  options.metrics = flags.count("metrics") ? flags["metrics"] : "";
  options.checkpoint = flags.count("checkpoint") ? flags["checkpoint"] : "";
  nnc_set_num_threads(int32_t(threads));
  m.initialize(options.seed);
  auto result = train(m, options);
  if (!result)
    return fail(result.message());
  std::printf("steps %lld, last epoch loss %.6f, train accuracy %.4f, test accuracy %.4f, "
              "step %.3f ms\n",
              (long long)result->steps, result->lastEpochLoss, result->trainAccuracy,
              result->testAccuracy, result->stepMs);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  const char *usage = "usage: nnc-rt info | bench ARTIFACT [flags] | train ARTIFACT [flags]\n";
  if (argc >= 2 && !std::strcmp(argv[1], "info"))
    return info();
  if (argc >= 3 && !std::strcmp(argv[1], "bench"))
    return bench(argc, argv);
  if (argc >= 3 && !std::strcmp(argv[1], "train"))
    return trainCommand(argc, argv);
  std::fputs(usage, stderr);
  return 1;
}
