//===- test/unit/ProfileTest.cpp - the library-call profiler --------------===//
//
// Part of nnc. runtime/Profile.h: nothing is counted while profiling is off;
// while it is on every outermost library call counts once with its wall time,
// nested calls are not counted again, and calls on several threads all count.
//
//===----------------------------------------------------------------------===//

#include "runtime/Profile.h"
#include "runtime/Kernels.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

struct Counts {
  int64_t calls = 0, nanos = 0;
};

Counts readCounts() {
  Counts c;
  nnc_profile_read(&c.calls, &c.nanos);
  return c;
}

/// One 2x2 GEMM through the C ABI.
void tinyGemm() {
  float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, c[4];
  nnc_gemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
}

/// A library entry point that sleeps and then calls another one.
void outerCall(std::chrono::milliseconds sleep) {
  nnc::rt::LibraryTimer timer;
  std::this_thread::sleep_for(sleep);
  tinyGemm();
}

/// Leaves profiling as it found it.
class Profile : public ::testing::Test {
protected:
  void SetUp() override {
    wasOn = nnc_profile_enabled();
    nnc_profile_reset();
  }
  void TearDown() override {
    nnc_profile_enable(wasOn);
    nnc_profile_reset();
  }
  int32_t wasOn = 0;
};

TEST_F(Profile, OffCountsNothing) {
  nnc_profile_enable(0);
  EXPECT_EQ(nnc_profile_enabled(), 0);
  tinyGemm();
  outerCall(std::chrono::milliseconds(1));
  Counts c = readCounts();
  EXPECT_EQ(c.calls, 0);
  EXPECT_EQ(c.nanos, 0);
}

TEST_F(Profile, OnCountsEachCallAndReset) {
  nnc_profile_enable(1);
  EXPECT_EQ(nnc_profile_enabled(), 1);
  for (int i = 0; i < 3; ++i)
    tinyGemm();
  Counts c = readCounts();
  EXPECT_EQ(c.calls, 3);
  EXPECT_GT(c.nanos, 0);
  nnc_profile_reset();
  c = readCounts();
  EXPECT_EQ(c.calls, 0);
  EXPECT_EQ(c.nanos, 0);
  // Turning it off keeps what was counted.
  tinyGemm();
  nnc_profile_enable(0);
  tinyGemm();
  EXPECT_EQ(readCounts().calls, 1);
}

TEST_F(Profile, NestedCallCountsOnceWithItsWholeTime) {
  nnc_profile_enable(1);
  outerCall(std::chrono::milliseconds(5));
  Counts c = readCounts();
  EXPECT_EQ(c.calls, 1);
  EXPECT_GE(c.nanos, 5'000'000);
  // The thread is outside a library call again: the next call counts.
  tinyGemm();
  EXPECT_EQ(readCounts().calls, 2);
}

TEST_F(Profile, CallsOnSeveralThreadsAllCount) {
  nnc_profile_enable(1);
  std::thread a([] { outerCall(std::chrono::milliseconds(2)); });
  std::thread b([] { outerCall(std::chrono::milliseconds(2)); });
  a.join();
  b.join();
  Counts c = readCounts();
  EXPECT_EQ(c.calls, 2);
  EXPECT_GE(c.nanos, 4'000'000);
}

} // namespace
