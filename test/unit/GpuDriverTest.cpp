//===- GpuDriverTest.cpp - The mgpu* functions and the device arena -------===//
//
// Without a usable GPU (every machine nnc is developed on), the functions
// MLIR's GPU host code calls must record the reason as the kernels' error
// and do nothing, never crash; the device arena refuses with the one-line
// reason. The cases that need a GPU skip with the reason (counted as
// skipped); they were written for a GPU machine and have not run on one.
//
//===----------------------------------------------------------------------===//

#include "runtime/GpuDriver.h"
#include "runtime/DeviceArena.h"
#include "runtime/Gpu.h"
#include "runtime/Kernels.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <string>

using namespace nnc::rt;

namespace {

/// Skips a test that needs the GPU path to be unavailable.
#define SKIP_IF_GPU()                                                                              \
  if (gpu::unavailableReason().empty())                                                            \
  GTEST_SKIP() << "a GPU is usable here (" << gpu::deviceDescription()                             \
               << "): the no-GPU behaviour cannot be observed"

/// Skips a test that needs a usable GPU, with the reason.
#define SKIP_UNLESS_GPU()                                                                          \
  if (!gpu::unavailableReason().empty())                                                           \
  GTEST_SKIP() << "needs a GPU: " << gpu::unavailableReason()

std::string recordedError() {
  const char *e = nnc_kernels_error();
  return e ? e : "";
}

TEST(GpuDriverTest, ModuleLoadRecordsOnlyTheImage) {
  // What an artifact's global constructor does at dlopen: no driver call,
  // so no error even without a GPU.
  static const char image[] = "not a cubin";
  nnc_kernels_clear_error();
  void *module = mgpuModuleLoad(const_cast<char *>(image), sizeof(image));
  void *jit = mgpuModuleLoadJIT(const_cast<char *>(image), 2);
  EXPECT_NE(module, nullptr);
  EXPECT_NE(jit, nullptr);
  EXPECT_EQ(nnc_kernels_error(), nullptr) << recordedError();
  // Unloading a module that never loaded calls no driver either.
  mgpuModuleUnload(module);
  mgpuModuleUnload(jit);
  EXPECT_EQ(nnc_kernels_error(), nullptr) << recordedError();
}

TEST(GpuDriverTest, LaunchWithoutGpuRecordsTheReason) {
  SKIP_IF_GPU();
  static const char image[] = "not a cubin";
  nnc_kernels_clear_error();
  void *module = mgpuModuleLoad(const_cast<char *>(image), sizeof(image));
  void *function = mgpuModuleGetFunction(module, "nnc_forward_kernel");
  EXPECT_EQ(function, nullptr);
  std::string expected = "loading a GPU kernel: cannot use the GPU: " + gpu::unavailableReason();
  EXPECT_EQ(recordedError(), expected);
  // The launch that follows in the generated code does nothing.
  void *stream = mgpuStreamCreate();
  EXPECT_EQ(stream, nullptr);
  mgpuLaunchKernel(function, 1, 1, 1, 32, 1, 1, 0, stream, nullptr, nullptr, 0);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  EXPECT_EQ(recordedError(), expected) << "the first error is kept";
  mgpuModuleUnload(module);

  // A launch of any function, a copy, a fill, an allocation: each records
  // the reason instead of calling a driver that is not there.
  int fake = 0;
  for (int which = 0; which < 5; ++which) {
    nnc_kernels_clear_error();
    float host[4] = {1, 2, 3, 4};
    switch (which) {
    case 0:
      mgpuLaunchKernel(&fake, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
      break;
    case 1:
      mgpuMemcpy(host, host + 2, 2 * sizeof(float), nullptr);
      break;
    case 2:
      mgpuMemset32(host, 0, 4, nullptr);
      break;
    case 3:
      EXPECT_EQ(mgpuMemAlloc(64, nullptr, false), nullptr);
      break;
    case 4:
      mgpuMemset16(host, 0, 4, nullptr);
      break;
    }
    EXPECT_NE(recordedError().find("cannot use the GPU: " + gpu::unavailableReason()),
              std::string::npos)
        << which << ": " << recordedError();
    EXPECT_EQ(host[0], 1.0f) << "host memory was not touched";
  }
  nnc_kernels_clear_error();
}

TEST(GpuDriverTest, EventsAndDefaultDevice) {
  // One stream orders everything: events are tokens, waits do nothing.
  nnc_kernels_clear_error();
  void *event = mgpuEventCreate();
  EXPECT_NE(event, nullptr);
  mgpuEventRecord(event, nullptr);
  mgpuStreamWaitEvent(nullptr, event);
  mgpuEventSynchronize(event);
  mgpuEventDestroy(event);
  mgpuSetDefaultDevice(0);
  EXPECT_EQ(nnc_kernels_error(), nullptr) << recordedError();
  mgpuSetDefaultDevice(1);
  EXPECT_EQ(recordedError(), "mgpuSetDefaultDevice(1): nnc runs on GPU 0 only");
  nnc_kernels_clear_error();
}

TEST(GpuDriverTest, CheckFiniteWithoutGpuRecordsTheReason) {
  SKIP_IF_GPU();
  float host[2] = {0.0f, std::numeric_limits<float>::infinity()};
  nnc_kernels_clear_error();
  nnc_numerics_reset();
  nnc_gpu_check_finite(host, 2, 7);
  EXPECT_EQ(nnc_numerics_first(), -1) << "nothing was read";
  EXPECT_EQ(recordedError(),
            "nnc_gpu_check_finite: cannot use the GPU: " + gpu::unavailableReason());
  nnc_kernels_clear_error();
}

TEST(DeviceArenaTest, MergeSpans) {
  std::vector<ArenaSpan> merged = mergeSpans({{100, 20}, {0, 40}, {40, 10}, {60, 4}, {70, 0}});
  ASSERT_EQ(merged.size(), 3u);
  EXPECT_EQ(merged[0].offset, 0);
  EXPECT_EQ(merged[0].bytes, 50);
  EXPECT_EQ(merged[1].offset, 60);
  EXPECT_EQ(merged[1].bytes, 4);
  EXPECT_EQ(merged[2].offset, 100);
  // A gap of up to 64 bytes is copied along.
  merged = mergeSpans({{0, 40}, {100, 20}, {60, 4}}, 64);
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].bytes, 120);
  // Overlapping spans keep the furthest end.
  merged = mergeSpans({{0, 100}, {10, 20}});
  ASSERT_EQ(merged.size(), 1u);
  EXPECT_EQ(merged[0].bytes, 100);
}

TEST(DeviceArenaTest, CreateWithoutGpuSaysWhyInOneLine) {
  SKIP_IF_GPU();
  Result<std::unique_ptr<DeviceArena>> arena = DeviceArena::create(4096);
  ASSERT_FALSE(arena);
  EXPECT_EQ(arena.message(), "cannot use the GPU: " + gpu::unavailableReason());
  EXPECT_EQ(arena.message().find('\n'), std::string::npos);
}

//===----------------------------------------------------------------------===//
// GPU only
//===----------------------------------------------------------------------===//

/// A stand-in for an entry point: copies the 16 floats at byte 0 of the
/// (device) arena to byte 64, through the mgpu* functions generated code
/// calls, and fills bytes 128..191 with 2.0f. Like generated code it is not
/// instrumented for UBSan's function-type check: the runtime calls it through
/// its own declaration of the memref descriptor.
struct FakeMemRef {
  char *allocated, *aligned;
  int64_t offset, size, stride;
};
extern "C" __attribute__((no_sanitize("function"))) void fakeEntry(FakeMemRef *arena) {
  char *base = arena->aligned;
  void *stream = mgpuStreamCreate();
  mgpuMemcpy(base + 64, base, 64, stream);
  float two = 2.0f;
  uint32_t bits;
  std::memcpy(&bits, &two, 4);
  mgpuMemset32(base + 128, bits, 16, stream);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}

/// out[threadIdx.x] = threadIdx.x, as PTX (ptxas assembles it for sm_80
/// and sm_90; the driver compiles it for the device at load).
const char kIotaPtx[] = R"(.version 8.0
.target sm_80
.address_size 64

.visible .entry nnc_test_iota(.param .u64 nnc_test_iota_param_0)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<5>;
  .reg .f32 %f<2>;
  ld.param.u64 %rd1, [nnc_test_iota_param_0];
  cvta.to.global.u64 %rd2, %rd1;
  mov.u32 %r1, %tid.x;
  cvt.rn.f32.u32 %f1, %r1;
  mul.wide.u32 %rd3, %r1, 4;
  add.s64 %rd4, %rd2, %rd3;
  st.global.f32 [%rd4], %f1;
  ret;
}
)";

TEST(GpuDriverTest, LoadLaunchCopyOnGpu) {
  SKIP_UNLESS_GPU();
  nnc_kernels_clear_error();
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kIotaPtx), 2);
  void *function = mgpuModuleGetFunction(module, "nnc_test_iota");
  ASSERT_NE(function, nullptr) << recordedError();
  EXPECT_EQ(mgpuModuleGetFunction(module, "nnc_test_iota"), function) << "cached";
  void *stream = mgpuStreamCreate();
  EXPECT_EQ(stream, static_cast<void *>(gpu::stream())) << "the one stream";
  auto *device = static_cast<float *>(mgpuMemAlloc(64 * sizeof(float), stream, false));
  ASSERT_NE(device, nullptr) << recordedError();
  mgpuMemset32(device, 0, 64, stream);
  void *params[] = {&device};
  mgpuLaunchKernel(function, 1, 1, 1, 64, 1, 1, 0, stream, params, nullptr, 1);
  float host[64] = {};
  mgpuMemcpy(host, device, sizeof(host), stream);
  ASSERT_TRUE(gpu::check(gpu::driver().cuStreamSynchronize(gpu::stream()), "sync"));
  EXPECT_EQ(nnc_kernels_error(), nullptr) << recordedError();
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(host[i], float(i)) << i;
  mgpuMemFree(device, stream);
  // Not a kernel of the module: recorded, not fatal.
  EXPECT_EQ(mgpuModuleGetFunction(module, "nnc_no_such_kernel"), nullptr);
  EXPECT_NE(recordedError().find("cuModuleGetFunction(nnc_no_such_kernel)"), std::string::npos)
      << recordedError();
  nnc_kernels_clear_error();
  mgpuModuleUnload(module);
}

TEST(GpuDriverTest, CheckFiniteOnGpu) {
  SKIP_UNLESS_GPU();
  float values[4] = {1, 2, std::numeric_limits<float>::quiet_NaN(), 4};
  auto *device = static_cast<float *>(mgpuMemAlloc(sizeof(values), nullptr, false));
  ASSERT_NE(device, nullptr) << recordedError();
  mgpuMemcpy(device, values, sizeof(values), nullptr);
  nnc_numerics_reset();
  nnc_gpu_check_finite(device, 2, 3);
  EXPECT_EQ(nnc_numerics_first(), -1) << "the first two values are finite";
  nnc_gpu_check_finite(device, 4, 5);
  EXPECT_EQ(nnc_numerics_first(), 5);
  mgpuMemFree(device, nullptr);
  EXPECT_EQ(nnc_kernels_error(), nullptr) << recordedError();
  nnc_numerics_reset();
}

/// A 256-byte device arena whose entry 0 is fakeEntry with these input and
/// output spans; null after reporting a failure.
std::unique_ptr<DeviceArena> fakeArena(std::vector<ArenaSpan> inputs,
                                       std::vector<ArenaSpan> outputs) {
  Result<std::unique_ptr<DeviceArena>> created = DeviceArena::create(256);
  if (!created) {
    ADD_FAILURE() << created.message();
    return nullptr;
  }
  (*created)->addEntry(reinterpret_cast<void *>(&fakeEntry), std::move(inputs), std::move(outputs));
  if (Status st = (*created)->allocateStaging(); st.failed()) {
    ADD_FAILURE() << st.message();
    return nullptr;
  }
  return std::move(*created);
}

TEST(DeviceArenaTest, EntryRunsEagerThenCapturedThenReplayedWithPrefetchedInputs) {
  SKIP_UNLESS_GPU();
  std::unique_ptr<DeviceArena> created = fakeArena({{0, 64}}, {{64, 128}});
  ASSERT_TRUE(created);
  DeviceArena &arena = *created;
  EXPECT_GE(arena.memory().freeBefore - arena.memory().freeAfter, 256);
  arena.setGraphs(true);
  size_t entry = 0;
  auto *in = reinterpret_cast<float *>(arena.host());
  auto *out = reinterpret_cast<float *>(arena.host() + 64);
  auto write = [&](int run) {
    for (int i = 0; i < 16; ++i)
      in[i] = float(run * 100 + i);
  };
  // The training loop's order: run 0 uploads its inputs in start(); each
  // later run's inputs are prefetched (uploaded on the copy stream) while
  // the previous run is on the GPU.
  write(0);
  nnc_kernels_clear_error();
  arena.start(entry, /*hostChanged=*/false);
  for (int run = 0; run < 4; ++run) {
    if (run + 1 < 4) {
      write(run + 1);
      Status st = arena.prefetch(entry);
      ASSERT_FALSE(st.failed()) << st.message();
      // The mirror may change at once: the prefetch took its own copy.
      for (int i = 0; i < 16; ++i)
        in[i] = -1.0f;
    }
    arena.finish();
    ASSERT_EQ(nnc_kernels_error(), nullptr) << recordedError();
    // Run 0 is eager, run 1 captured, 2 and 3 replay the graph: the graph
    // reads the arena's input regions (filled from the staging slot before
    // it) and writes the mirror as they are at replay.
    EXPECT_EQ(arena.replaysGraph(entry), run >= 1) << "run " << run;
    for (int i = 0; i < 16; ++i) {
      EXPECT_EQ(out[i], float(run * 100 + i)) << "run " << run << ", element " << i;
      EXPECT_EQ(out[16 + i], 2.0f) << "run " << run << ", element " << i;
    }
    if (run + 1 < 4)
      arena.start(entry, /*hostChanged=*/false);
  }
}

TEST(DeviceArenaTest, PersistentRegionsMoveOnRequest) {
  SKIP_UNLESS_GPU();
  // The "parameters" are bytes 0..63; the entry copies them to 64..127.
  std::unique_ptr<DeviceArena> created = fakeArena({}, {{64, 64}});
  ASSERT_TRUE(created);
  DeviceArena &arena = *created;
  arena.setPersistent({{0, 64}});
  size_t entry = 0;
  auto *params = reinterpret_cast<float *>(arena.host());
  auto *out = reinterpret_cast<float *>(arena.host() + 64);
  params[3] = 5.0f;
  nnc_kernels_clear_error();
  arena.run(entry, /*hostChanged=*/false);
  EXPECT_EQ(out[3], 0.0f) << "not uploaded without hostChanged";
  arena.run(entry, /*hostChanged=*/true);
  EXPECT_EQ(out[3], 5.0f);
  params[3] = 0.0f;
  arena.syncToHost();
  EXPECT_EQ(params[3], 5.0f) << "syncToHost brings back the device's values";
  EXPECT_EQ(nnc_kernels_error(), nullptr) << recordedError();
}

} // namespace
