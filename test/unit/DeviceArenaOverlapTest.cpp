//===- DeviceArenaOverlapTest.cpp - Double-buffered uploads, faked --------===//
//
// Runs runtime/DeviceArena.h on the fake CUDA driver (FakeCudaDriver.h): the
// train loop's call sequence (start step i, write batch i+1, prefetch,
// finish step i, start step i+1, ...) with an entry whose "kernel" is a host
// function queued on the compute stream. Checks, under each of the fake's
// execution orders, with and without CUDA graphs: every step computes on its
// own batch (so no staging buffer was overwritten while in use and every
// wait is in place), the upload of batch i+1 is issued on the copy stream
// before the host waits for step i, step i+1 waits for the event recorded
// after that upload, the next upload into a slot waits for the event
// recorded after the slot was copied into the arena, and the staging bytes
// the runtime allocates are inputStagingSlotBytes' (what nnc report states).
// Not checked (needs a GPU): that the copy engine really runs the upload
// while the step's kernels run, and how long anything takes.
//
//===----------------------------------------------------------------------===//

#include "test/unit/FakeCudaDriver.h"

#include "runtime/DeviceArena.h"
#include "runtime/Gpu.h"
#include "runtime/Kernels.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <tuple>

using namespace nnc::rt;

namespace {

/// Loads the fake driver as the runtime's (once per process, before
/// anything asks for the GPU); false with the reason if the GPU path still
/// cannot run (cuBLAS or cuDNN missing).
bool useFakeDriver(std::string &why) {
  static bool set = (setenv("NNC_CUDA_DRIVER", NNC_FAKE_CUDA_DRIVER, 1), true);
  (void)set;
  why = gpu::unavailableReason();
  return why.empty();
}

#define USE_FAKE_DRIVER()                                                                          \
  do {                                                                                             \
    std::string why;                                                                               \
    if (!useFakeDriver(why))                                                                       \
      GTEST_SKIP() << "the GPU path cannot run on the fake driver: " << why;                       \
  } while (0)

std::string recordedError() {
  const char *e = nnc_kernels_error();
  return e ? e : "";
}

// The arena of the tests: inputs at [0, 64) (the batch: 8 int64) and
// [128, 136) (a step counter), outputs at [256, 320) and [320, 328).
constexpr int64_t kArenaBytes = 512;
constexpr int64_t kBatch = 0, kBatchBytes = 64, kStep = 128, kOut = 256, kOutStep = 320;

/// What each executed step saw: the batch's first value and the step input.
std::vector<std::pair<int64_t, int64_t>> &seen() {
  static std::vector<std::pair<int64_t, int64_t>> s;
  return s;
}

/// The step's "kernel" (runs when the fake driver executes the launch):
/// out = batch, outStep = step, and notes what it read.
void stepKernel(void *arena) {
  char *base = static_cast<char *>(arena);
  int64_t first, step;
  std::memcpy(&first, base + kBatch, 8);
  std::memcpy(&step, base + kStep, 8);
  seen().push_back({first, step});
  std::memmove(base + kOut, base + kBatch, kBatchBytes);
  std::memcpy(base + kOutStep, &step, 8);
}

struct MemRef {
  char *allocated, *aligned;
  int64_t offset, size, stride;
};

/// The entry point: one launch of stepKernel on the compute stream, as
/// generated host code launches its kernels.
extern "C" void stepEntry(MemRef *arena) {
  void *base = arena->aligned;
  void *params[] = {&base};
  gpu::check(gpu::driver().cuLaunchKernel(reinterpret_cast<gpu::CUfunction>(&stepKernel), 1, 1, 1,
                                          1, 1, 1, 0, gpu::stream(), params, nullptr),
             "cuLaunchKernel");
}

/// Writes batch `b` (values 1000 b + i) and step b + 1 into the mirror.
void writeBatch(DeviceArena &arena, int64_t b) {
  for (int64_t i = 0; i < kBatchBytes / 8; ++i) {
    int64_t v = 1000 * b + i;
    std::memcpy(arena.host() + kBatch + 8 * i, &v, 8);
  }
  int64_t step = b + 1;
  std::memcpy(arena.host() + kStep, &step, 8);
}

/// The arena with stepEntry as entry 0 and its staging allocated.
std::unique_ptr<DeviceArena> makeArena() {
  Result<std::unique_ptr<DeviceArena>> created = DeviceArena::create(kArenaBytes);
  if (!created) {
    ADD_FAILURE() << created.message();
    return nullptr;
  }
  (*created)->addEntry(reinterpret_cast<void *>(&stepEntry), {{kBatch, kBatchBytes}, {kStep, 8}},
                       {{kOut, 64}, {kOutStep, 8}});
  if (Status st = (*created)->allocateStaging(); st.failed()) {
    ADD_FAILURE() << st.message();
    return nullptr;
  }
  return std::move(*created);
}

/// The logged calls of `kind` on `stream` (-1: any), in issue order.
std::vector<FakeCudaOp> calls(FakeCudaKind kind, int stream = -1) {
  std::vector<FakeCudaOp> out;
  for (int64_t i = 0; i < fakeCudaLogSize(); ++i) {
    const FakeCudaOp &op = *fakeCudaLog(i);
    if (op.kind == kind && (stream < 0 || op.stream == stream) && !op.fromGraph)
      out.push_back(op);
  }
  return out;
}

/// The last call of `kind` on `stream` issued before log index `before`.
const FakeCudaOp *lastBefore(FakeCudaKind kind, int stream, int64_t before) {
  const FakeCudaOp *found = nullptr;
  for (int64_t i = 0; i < before; ++i)
    if (fakeCudaLog(i)->kind == kind && fakeCudaLog(i)->stream == stream)
      found = fakeCudaLog(i);
  return found;
}

TEST(DeviceArenaOverlapTest, StagingBytesAreWhatIsStated) {
  USE_FAKE_DRIVER();
  int64_t device0 = fakeCudaDeviceBytes(), pinned0 = fakeCudaPinnedBytes();
  Result<std::unique_ptr<DeviceArena>> created = DeviceArena::create(kArenaBytes);
  ASSERT_TRUE(created) << created.message();
  DeviceArena &arena = **created;
  EXPECT_EQ(fakeCudaDeviceBytes() - device0, kArenaBytes);
  EXPECT_EQ(fakeCudaPinnedBytes() - pinned0, kArenaBytes) << "the mirror";
  // Two entries: the larger one's inputs (merged, packed) size each slot.
  std::vector<std::vector<ArenaSpan>> inputs = {{{0, 64}, {128, 8}, {136, 8}}, {{0, 100}}};
  arena.addEntry(reinterpret_cast<void *>(&stepEntry), inputs[0], {});
  arena.addEntry(reinterpret_cast<void *>(&stepEntry), inputs[1], {});
  ASSERT_FALSE(arena.allocateStaging().failed());
  EXPECT_EQ(inputStagingSlotBytes(inputs), 100);
  EXPECT_EQ(inputStagingSlotBytes({{{0, 64}, {128, 8}, {136, 8}, {10, 20}}}), 80)
      << "overlapping spans count once";
  EXPECT_EQ(arena.stagingSlotBytes(), 100);
  EXPECT_EQ(fakeCudaDeviceBytes() - device0, kArenaBytes + 2 * 100);
  EXPECT_EQ(fakeCudaPinnedBytes() - pinned0, kArenaBytes + 2 * 100);
  created->reset();
  EXPECT_EQ(fakeCudaDeviceBytes(), device0) << "all freed";
  EXPECT_EQ(fakeCudaPinnedBytes(), pinned0);
}

class TrainLoopTest : public ::testing::TestWithParam<std::tuple<FakeCudaPolicy, bool>> {};

TEST_P(TrainLoopTest, UploadOfTheNextBatchOverlapsTheStep) {
  USE_FAKE_DRIVER();
  auto [policy, graphs] = GetParam();
  fakeCudaSetPolicy(policy);
  fakeCudaClearViolation();
  std::unique_ptr<DeviceArena> created = makeArena();
  ASSERT_TRUE(created);
  DeviceArena &arena = *created;
  arena.setGraphs(graphs);
  const int compute = fakeCudaStreamId(gpu::stream());
  fakeCudaClearLog();
  seen().clear();
  nnc_kernels_clear_error();

  // runtime/Train.cpp's order of calls.
  constexpr int64_t kSteps = 6;
  writeBatch(arena, 0);
  arena.start(0, /*hostChanged=*/false);
  std::vector<int64_t> syncOfStep;
  for (int64_t i = 0; i < kSteps; ++i) {
    if (i + 1 < kSteps) {
      writeBatch(arena, i + 1);
      Status st = arena.prefetch(0);
      ASSERT_FALSE(st.failed()) << st.message();
    }
    syncOfStep.push_back(fakeCudaLogSize());
    arena.finish();
    ASSERT_EQ(recordedError(), "") << "step " << i;
    int64_t out, outStep;
    std::memcpy(&out, arena.host() + kOut, 8);
    std::memcpy(&outStep, arena.host() + kOutStep, 8);
    EXPECT_EQ(out, 1000 * i) << "step " << i << " computed on another batch";
    EXPECT_EQ(outStep, i + 1) << "step " << i;
    if (i + 1 < kSteps)
      arena.start(0, /*hostChanged=*/false);
  }
  ASSERT_EQ(seen().size(), size_t(kSteps));
  for (int64_t i = 0; i < kSteps; ++i) {
    EXPECT_EQ(seen()[i].first, 1000 * i) << "step " << i;
    EXPECT_EQ(seen()[i].second, i + 1) << "step " << i;
  }
  EXPECT_STREQ(fakeCudaViolation(), "");
  EXPECT_EQ(arena.replaysGraph(0), graphs);
  EXPECT_EQ(calls(FakeGraphLaunch).size(), graphs ? size_t(kSteps - 1) : 0u);

  // The uploads: one per batch, all on one other stream (the copy stream).
  std::vector<FakeCudaOp> uploads = calls(FakeHtoD);
  ASSERT_EQ(uploads.size(), size_t(kSteps));
  const int copy = uploads[0].stream;
  EXPECT_NE(copy, compute);
  for (const FakeCudaOp &u : uploads) {
    EXPECT_EQ(u.stream, copy);
    EXPECT_EQ(u.bytes, uint64_t(kBatchBytes + 8)) << "the inputs packed, one copy";
  }
  // Two slots alternate.
  EXPECT_NE(uploads[0].dst, uploads[1].dst);
  EXPECT_EQ(uploads[0].dst, uploads[2].dst);
  for (int64_t i = 0; i + 1 < kSteps; ++i) {
    const FakeCudaOp &next = uploads[i + 1];
    // Issued before the host waits for step i.
    EXPECT_LT(next.issued, syncOfStep[i]) << "upload of batch " << i + 1;
    const FakeCudaOp *sync = fakeCudaLog(syncOfStep[i]);
    EXPECT_EQ(sync->kind, FakeStreamSync);
    EXPECT_EQ(sync->stream, compute);
    // The event recorded right after it on the copy stream ...
    const FakeCudaOp *recorded = fakeCudaLog(next.issued + 1);
    ASSERT_EQ(recorded->kind, FakeEventRecord);
    ASSERT_EQ(recorded->stream, copy);
    // ... is what step i + 1 waits for on the compute stream before its
    // inputs are copied from the slot into the arena.
    std::vector<FakeCudaOp> waits = calls(FakeStreamWaitEvent, compute);
    ASSERT_EQ(waits.size(), size_t(kSteps));
    EXPECT_EQ(waits[i + 1].event, recorded->event) << "step " << i + 1;
    const FakeCudaOp *slotCopy = fakeCudaLog(waits[i + 1].issued + 1);
    EXPECT_EQ(slotCopy->kind, FakeDtoD);
    EXPECT_EQ(slotCopy->src, next.dst)
        << "step " << i + 1 << " reads the slot batch " << i + 1 << " went to";
    // The upload waited for the slot's last reader: the event recorded on
    // the compute stream after the previous copy out of the slot.
    const FakeCudaOp *slotWait = lastBefore(FakeStreamWaitEvent, copy, next.issued);
    ASSERT_NE(slotWait, nullptr);
    if (i >= 1) {
      std::vector<FakeCudaOp> copies = calls(FakeDtoD, compute);
      const FakeCudaOp &previousReader = copies[size_t(2 * (i - 1))]; // 2 copies a step
      EXPECT_EQ(previousReader.src, next.dst);
      const FakeCudaOp *released = fakeCudaLog(previousReader.issued + 2);
      ASSERT_EQ(released->kind, FakeEventRecord);
      EXPECT_EQ(slotWait->event, released->event) << "upload of batch " << i + 1;
    }
  }
}

std::string policyName(const ::testing::TestParamInfo<TrainLoopTest::ParamType> &info) {
  return std::string(fakeCudaPolicyName(std::get<0>(info.param))) +
         (std::get<1>(info.param) ? "Graphs" : "NoGraphs");
}

INSTANTIATE_TEST_SUITE_P(Policies, TrainLoopTest,
                         ::testing::Combine(::testing::Values(FakeEager, FakeLatestStreamFirst,
                                                              FakeEarliestStreamFirst),
                                            ::testing::Bool()),
                         policyName);

class ReuseTest : public ::testing::TestWithParam<FakeCudaPolicy> {};

TEST_P(ReuseTest, NoSlotIsOverwrittenWhileInUse) {
  USE_FAKE_DRIVER();
  fakeCudaSetPolicy(GetParam());
  fakeCudaClearViolation();
  std::unique_ptr<DeviceArena> created = makeArena();
  ASSERT_TRUE(created);
  DeviceArena &arena = *created;
  arena.setGraphs(true);
  seen().clear();
  nnc_kernels_clear_error();
  // Four steps queued without waiting for any: each slot is written again
  // while the step that reads it may not have run (the fake runs nothing
  // before a wait under the lazy orders).
  for (int64_t b = 0; b < 4; ++b) {
    writeBatch(arena, b);
    ASSERT_FALSE(arena.prefetch(0).failed());
    // The mirror may change at once: the prefetch took its own copy.
    writeBatch(arena, 99);
    arena.start(0, /*hostChanged=*/false);
  }
  arena.finish();
  ASSERT_EQ(recordedError(), "");
  ASSERT_EQ(seen().size(), 4u);
  for (int64_t b = 0; b < 4; ++b)
    EXPECT_EQ(seen()[b], std::make_pair(1000 * b, b + 1)) << "step " << b;
  EXPECT_STREQ(fakeCudaViolation(), "");

  // A third waiting batch has no slot.
  ASSERT_FALSE(arena.prefetch(0).failed());
  ASSERT_FALSE(arena.prefetch(0).failed());
  Status third = arena.prefetch(0);
  ASSERT_TRUE(third.failed());
  EXPECT_NE(third.message().find("two prefetched batches wait already"), std::string::npos);
  // start() takes the older one.
  arena.run(0, false);
  arena.run(0, false);
  EXPECT_EQ(recordedError(), "");
}

INSTANTIATE_TEST_SUITE_P(Policies, ReuseTest,
                         ::testing::Values(FakeEager, FakeLatestStreamFirst,
                                           FakeEarliestStreamFirst),
                         [](const ::testing::TestParamInfo<FakeCudaPolicy> &info) {
                           return fakeCudaPolicyName(info.param);
                         });

TEST(DeviceArenaOverlapTest, StartWithoutPrefetchUploadsItself) {
  USE_FAKE_DRIVER();
  fakeCudaSetPolicy(FakeEarliestStreamFirst);
  std::unique_ptr<DeviceArena> created = makeArena();
  ASSERT_TRUE(created);
  seen().clear();
  nnc_kernels_clear_error();
  for (int64_t b = 0; b < 3; ++b) {
    writeBatch(*created, b);
    created->run(0, false);
    int64_t out;
    std::memcpy(&out, created->host() + kOut, 8);
    EXPECT_EQ(out, 1000 * b);
  }
  EXPECT_EQ(recordedError(), "");
}

} // namespace
