//===- Memory.h - The process's resident memory -----------------*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). Reads the process's
// resident set size and its peak from /proc/self/status (Linux), and resets
// the peak, so that `nnc train --memory-stats` can state what training itself
// adds to the process (docs/training.md, bench/memory_bench.py).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_MEMORY_H
#define NNC_RUNTIME_MEMORY_H

#include <cstdint>

namespace nnc::rt {

/// Resident memory in bytes; -1 where unknown (not Linux, no /proc).
struct ResidentMemory {
  /// VmRSS: resident now.
  int64_t current = -1;
  /// VmHWM: the peak since the process started or since resetResidentPeak.
  int64_t peak = -1;
  /// RssAnon: the part of `current` that is anonymous memory (heap, stacks,
  /// JIT code); the rest is file-backed (code and data of the program and
  /// its libraries) or shared.
  int64_t anon = -1;
};

/// The process's resident memory now.
ResidentMemory residentMemory();

/// Resets the peak (VmHWM) to the current resident size by writing "5" to
/// /proc/self/clear_refs (Linux 4.0 and later). Returns false where that is
/// not possible. This also lowers the maximum resident size that the
/// process's parent sees at its exit (getrusage, `time -v`).
bool resetResidentPeak();

} // namespace nnc::rt

#endif // NNC_RUNTIME_MEMORY_H
