//===- MemoryTest.cpp - Tests of the resident-memory readings -------------===//
//
// Part of nnc. residentMemory follows memory the process touches, and
// resetResidentPeak lowers the peak to what is resident now (Linux).
//
//===----------------------------------------------------------------------===//

#include "runtime/Memory.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

using namespace nnc::rt;

namespace {

TEST(MemoryTest, FollowsTouchedMemoryAndResetsThePeak) {
  ResidentMemory before = residentMemory();
  if (before.current < 0)
    GTEST_SKIP() << "no /proc/self/status";
  EXPECT_GE(before.peak, before.current);
  EXPECT_GT(before.anon, 0);
  EXPECT_LE(before.anon, before.current);
  // 64 MiB touched: resident (anonymous) memory grows by about that much.
  const size_t bytes = size_t(64) << 20;
  char *block = static_cast<char *>(std::malloc(bytes));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, bytes);
  ResidentMemory touched = residentMemory();
  EXPECT_GE(touched.current - before.current, int64_t(60) << 20);
  EXPECT_GE(touched.anon - before.anon, int64_t(60) << 20);
  // The kernel folds RSS counters into the peak lazily: allow 1 MiB.
  const int64_t slack = int64_t(1) << 20;
  EXPECT_GE(touched.peak, touched.current - slack);
  // volatile read: the block is used, so the stores are not dropped.
  EXPECT_EQ(static_cast<volatile char *>(block)[bytes - 1], 1);
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NNC_MEMORY_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(NNC_MEMORY_TEST_ASAN)
  // ASan keeps freed memory in its quarantine, resident: what follows
  // measures glibc's return of the block to the system.
  std::free(block);
  GTEST_SKIP() << "under ASan, freed memory stays resident in its quarantine";
#endif
  std::free(block); // glibc returns a block this large to the system.
  ResidentMemory freed = residentMemory();
  EXPECT_LE(freed.current, touched.current - (int64_t(60) << 20));
  EXPECT_GE(freed.peak, touched.current - slack); // The peak stays ...
  if (!resetResidentPeak())
    GTEST_SKIP() << "/proc/self/clear_refs is not writable";
  ResidentMemory reset = residentMemory();
  // ... until reset to what is resident now.
  EXPECT_LT(reset.peak, touched.current - (int64_t(32) << 20));
  EXPECT_GE(reset.peak, reset.current - slack);
}

} // namespace
