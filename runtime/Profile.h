//===- runtime/Profile.h - Opt-in timing of library calls -------*- C++ -*-===//
//
// Part of nnc. Counts the wall time and the number of calls of the runtime's
// library entry points (GEMM, linear, convolution, recurrent layers), so that
// `nnc bench` can split a step into library time and generated-code time.
//
//===----------------------------------------------------------------------===//
///
/// \file
/// Profiling is off unless the environment variable NNC_PROFILE is `1` when
/// the runtime is loaded (read once) or a caller turns it on with
/// nnc_profile_enable(1). While it is off, a library entry point pays one
/// load of a global and one not-taken branch: its first line is
///
///   nnc::rt::LibraryTimer timer;
///
/// While it is on, the outermost library call on each thread adds its wall
/// time (steady clock) and 1 to two per-process counters; a library entry
/// point that calls another one counts once. Calls made concurrently by
/// several threads each add their own time, so the sum can exceed the wall
/// time that elapsed.
///
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_PROFILE_H
#define NNC_RUNTIME_PROFILE_H

#include <stdint.h>

#ifdef __cplusplus
#include <atomic>

extern "C" {
#endif

/// Turns the library-call counters on (`on != 0`) or off. Turning them on
/// does not reset them.
void nnc_profile_enable(int32_t on);
/// 1 while profiling is on, else 0.
int32_t nnc_profile_enabled(void);
/// Sets both counters to zero.
void nnc_profile_reset(void);
/// The library calls and their summed wall time in nanoseconds since the last
/// reset (either pointer may be null).
void nnc_profile_read(int64_t *calls, int64_t *nanos);

#ifdef __cplusplus
} // extern "C"

namespace nnc::rt {

namespace profile {
/// Nonzero while profiling is on; the one global a LibraryTimer tests.
extern std::atomic<int32_t> enabled;
/// Starts the outermost library call of this thread: its start time in
/// nanoseconds, or -1 when a library call is already running on this thread.
int64_t begin();
/// Ends the call that begin() returned `start` for: adds its time and 1.
void end(int64_t start);
} // namespace profile

/// Times the library entry point it is declared in (the entry point's first
/// statement) when profiling is on; does nothing else.
class LibraryTimer {
public:
  LibraryTimer() {
    if (__builtin_expect(profile::enabled.load(std::memory_order_relaxed) != 0,
                         0))
      start = profile::begin();
  }
  ~LibraryTimer() {
    if (__builtin_expect(start >= 0, 0))
      profile::end(start);
  }
  LibraryTimer(const LibraryTimer &) = delete;
  LibraryTimer &operator=(const LibraryTimer &) = delete;

private:
  int64_t start = -1;
};

} // namespace nnc::rt

#endif // __cplusplus

#endif // NNC_RUNTIME_PROFILE_H
