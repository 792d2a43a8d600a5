//===- Memory.cpp - The process's resident memory -------------------------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR).
//
//===----------------------------------------------------------------------===//

#include "runtime/Memory.h"

#include <cstdio>
#include <cstring>

namespace nnc::rt {

ResidentMemory residentMemory() {
  ResidentMemory m;
  std::FILE *f = std::fopen("/proc/self/status", "r");
  if (!f)
    return m;
  char line[256];
  while (std::fgets(line, sizeof(line), f)) {
    long long kb = 0;
    // The kernel states both in kB (1024 bytes).
    if (std::sscanf(line, "VmRSS: %lld kB", &kb) == 1)
      m.current = int64_t(kb) * 1024;
    else if (std::sscanf(line, "VmHWM: %lld kB", &kb) == 1)
      m.peak = int64_t(kb) * 1024;
    else if (std::sscanf(line, "RssAnon: %lld kB", &kb) == 1)
      m.anon = int64_t(kb) * 1024;
  }
  std::fclose(f);
  return m;
}

bool resetResidentPeak() {
  std::FILE *f = std::fopen("/proc/self/clear_refs", "w");
  if (!f)
    return false;
  bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

} // namespace nnc::rt
