//===- runtime/Profile.cpp - Opt-in timing of library calls ---------------===//
//
// Part of nnc. The counters behind runtime/Profile.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/Profile.h"

#include <chrono>
#include <cstdlib>
#include <cstring>

namespace {
/// NNC_PROFILE=1 in the environment turns profiling on from the start.
int32_t enabledFromEnvironment() {
  const char *value = std::getenv("NNC_PROFILE");
  return value && std::strcmp(value, "1") == 0 ? 1 : 0;
}

std::atomic<int64_t> libraryCalls{0};
std::atomic<int64_t> libraryNanos{0};
/// True while this thread is inside a timed library call.
thread_local bool inLibraryCall = false;

int64_t nowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
} // namespace

std::atomic<int32_t> nnc::rt::profile::enabled{enabledFromEnvironment()};

int64_t nnc::rt::profile::begin() {
  if (inLibraryCall)
    return -1;
  inLibraryCall = true;
  return nowNanos();
}

void nnc::rt::profile::end(int64_t start) {
  libraryNanos.fetch_add(nowNanos() - start, std::memory_order_relaxed);
  libraryCalls.fetch_add(1, std::memory_order_relaxed);
  inLibraryCall = false;
}

extern "C" {

void nnc_profile_enable(int32_t on) {
  nnc::rt::profile::enabled.store(on != 0 ? 1 : 0, std::memory_order_relaxed);
}

int32_t nnc_profile_enabled(void) {
  return nnc::rt::profile::enabled.load(std::memory_order_relaxed);
}

void nnc_profile_reset(void) {
  libraryCalls.store(0, std::memory_order_relaxed);
  libraryNanos.store(0, std::memory_order_relaxed);
}

void nnc_profile_read(int64_t *calls, int64_t *nanos) {
  if (calls)
    *calls = libraryCalls.load(std::memory_order_relaxed);
  if (nanos)
    *nanos = libraryNanos.load(std::memory_order_relaxed);
}

} // extern "C"
