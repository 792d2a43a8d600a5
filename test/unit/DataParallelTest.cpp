//===- DataParallelTest.cpp - MPI communicator and data-parallel hooks ----===//
//
// Run under `mpirun -np 2` (test/runtime/dp-hooks.test) and alone (one
// rank): the MPI communicator's collectives across bucket boundaries, the
// hooks' gradient weighting against the single-process mean gradient, the
// strided data shards, and NCCL's clean failure where it is missing.
//
//===----------------------------------------------------------------------===//

#include "runtime/DataParallel.h"
#include "runtime/CommMPI.h"
#include "runtime/CommNCCL.h"
#include "runtime/Data.h"
#include "runtime/Gpu.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

using namespace nnc::rt;

/// The process's MPI communicator, created once (MPI_Init happens once).
Communicator &testCommunicator() {
  static std::unique_ptr<Communicator> c = [] {
    auto r = createMpiCommunicator();
    EXPECT_TRUE(bool(r)) << r.message();
    return r ? std::move(*r) : nullptr;
  }();
  return *c;
}

/// A directory the ranks share (the first argument after the gtest flags).
std::string &testDirectory() {
  static std::string dir = "/tmp";
  return dir;
}

namespace {

Communicator &comm() { return testCommunicator(); }

/// A buffer of more than two buckets, so a collective crosses bucket ends.
constexpr int64_t kBig = 2 * kCommBucketBytes / 4 + 12345;

float valueAt(int64_t rank, int64_t i) { return float((rank + 1) * ((i % 1000) + 1)) * 0.25f; }

TEST(DataParallel, RankAndSizeFollowTheLauncher) {
  const char *size = std::getenv("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(comm().size(), size ? std::atoll(size) : 1);
  EXPECT_GE(comm().rank(), 0);
  EXPECT_LT(comm().rank(), comm().size());
  EXPECT_EQ(comm().engine(), "mpi");
}

TEST(DataParallel, AllReduceSumsEveryElement) {
  int64_t n = comm().size();
  std::vector<float> data(kBig);
  for (int64_t i = 0; i < kBig; ++i)
    data[i] = valueAt(comm().rank(), i);
  ASSERT_FALSE(comm().allReduceSum(data.data(), kBig).failed());
  for (int64_t i = 0; i < kBig; i += 997) {
    float expected = 0;
    for (int64_t r = 0; r < n; ++r)
      expected += valueAt(r, i);
    ASSERT_EQ(data[i], expected) << i;
  }
  EXPECT_EQ(data[kBig - 1], [&] {
    float e = 0;
    for (int64_t r = 0; r < n; ++r)
      e += valueAt(r, kBig - 1);
    return e;
  }());
}

TEST(DataParallel, ReduceScatterFillsThisRanksShard) {
  int64_t n = comm().size(), rank = comm().rank();
  int64_t count = n * (kCommBucketBytes / 4 + 777); // Shards span several pieces.
  std::vector<float> data(count);
  for (int64_t i = 0; i < count; ++i)
    data[i] = valueAt(rank, i);
  ASSERT_FALSE(comm().reduceScatterSum(data.data(), count).failed());
  int64_t shard = count / n;
  for (int64_t i = rank * shard; i < (rank + 1) * shard; i += 331) {
    float expected = 0;
    for (int64_t r = 0; r < n; ++r)
      expected += valueAt(r, i);
    ASSERT_EQ(data[i], expected) << i;
  }
  EXPECT_GT(comm().bufferBytes(), 0);
  EXPECT_LE(comm().bufferBytes(), kCommBucketBytes);
  // A count the ranks do not divide is an error, not a wrong answer.
  if (n > 1)
    EXPECT_TRUE(comm().reduceScatterSum(data.data(), n * 3 + 1).failed());
}

TEST(DataParallel, AllGatherCopiesEveryShard) {
  int64_t n = comm().size(), rank = comm().rank(), shard = 1001;
  std::vector<float> data(n * shard, -1.0f);
  for (int64_t i = 0; i < shard; ++i)
    data[rank * shard + i] = valueAt(rank, i);
  ASSERT_FALSE(comm().allGather(data.data(), n * shard).failed());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < shard; ++i)
      ASSERT_EQ(data[r * shard + i], valueAt(r, i));
}

TEST(DataParallel, HostReductionAndBroadcast) {
  double sums[2] = {0.5 * double(comm().rank() + 1), 1.0};
  ASSERT_FALSE(comm().allReduceSumHost(sums, 2).failed());
  int64_t n = comm().size();
  EXPECT_EQ(sums[0], 0.25 * double(n * (n + 1)));
  EXPECT_EQ(sums[1], double(n));
  char text[8] = "rank?";
  if (comm().rank() == 0)
    std::snprintf(text, sizeof(text), "root");
  ASSERT_FALSE(comm().broadcast(text, sizeof(text), 0).failed());
  EXPECT_STREQ(text, "root");
  EXPECT_FALSE(comm().barrier().failed());
}

/// The mean gradient of 0.5 (w . x - y)^2 over rows [begin, end) of a fixed
/// data set: the gradient a compiled loss (mean over the rank's rows)
/// produces.
std::vector<float> meanGradient(int64_t begin, int64_t end, int64_t stride, int64_t width) {
  std::vector<float> g(width, 0.0f);
  int64_t rows = 0;
  for (int64_t row = begin; row < end; row += stride, ++rows) {
    float pred = 0, y = float(row % 3) - 1.0f;
    for (int64_t k = 0; k < width; ++k)
      pred += 0.01f * float(k + 1) * float((row * 7 + k) % 5);
    for (int64_t k = 0; k < width; ++k)
      g[k] += (pred - y) * float((row * 7 + k) % 5);
  }
  for (float &v : g)
    v /= float(rows);
  return g;
}

TEST(DataParallel, HooksGiveTheGlobalBatchMeanGradient) {
  int64_t n = comm().size(), rank = comm().rank();
  // A global batch of 2n + 1 rows, strided: rank 0 holds one row more.
  int64_t global = 2 * n + 1, width = 4 * n;
  int64_t mine = (global - rank + n - 1) / n;
  std::vector<float> expected = meanGradient(0, global, 1, width);
  for (int64_t sharded : {0, 1}) {
    std::vector<float> grads = meanGradient(rank, global, n, width);
    setCommunicator(&comm());
    setBatchRows(mine, global);
    nnc_dp_reduce_gradients(0, grads.data(), width, sharded);
    setCommunicator(nullptr);
    int64_t begin = sharded ? rank * width / n : 0, end = sharded ? begin + width / n : width;
    for (int64_t k = begin; k < end; ++k)
      EXPECT_NEAR(grads[k], expected[k], 1e-5 * std::abs(expected[k]) + 1e-6)
          << "element " << k << (sharded ? " (sharded)" : "");
  }
  EXPECT_EQ(nnc_dp_size(), 1); // Uninstalled: one rank of one.
}

TEST(DataParallel, HooksGatherTheParameterShards) {
  int64_t n = comm().size(), rank = comm().rank(), count = 6 * n;
  std::vector<float> params(count, 0.0f);
  for (int64_t i = rank * 6; i < rank * 6 + 6; ++i)
    params[i] = float(i) + 0.5f;
  setCommunicator(&comm());
  EXPECT_EQ(nnc_dp_rank(), rank);
  EXPECT_EQ(nnc_dp_size(), n);
  nnc_dp_gather_parameters(0, params.data(), count);
  setCommunicator(nullptr);
  for (int64_t i = 0; i < count; ++i)
    EXPECT_EQ(params[i], float(i) + 0.5f);
}

TEST(DataParallel, StridedShardsSplitEachGlobalBatch) {
  // 23 samples, global batches of 3 x ranks: every sample once per epoch,
  // rank r takes rows r, r + N, ... of each global batch.
  int64_t n = comm().size();
  SampleSpec spec;
  spec.shape = {2};
  spec.numClasses = 4;
  Result<Dataset> data = makeSynthetic(spec, 23, 7);
  ASSERT_TRUE(bool(data)) << data.message();
  std::vector<float> inputs(3 * 2);
  std::vector<int64_t> labels(3);
  BatchBuffers out;
  out.inputs = inputs.data();
  out.labels = labels.data();
  std::multiset<std::vector<float>> seen;
  for (int64_t r = 0; r < n; ++r) {
    Result<Batcher> b = Batcher::create(*data, 3, /*shuffle=*/true, 5);
    ASSERT_TRUE(bool(b));
    b->setShard(r, n);
    b->beginEpoch(1);
    EXPECT_EQ(b->numBatches(), (23 + 3 * n - 1) / (3 * n));
    for (int64_t i = 0; i < b->numBatches(); ++i) {
      int64_t rows = b->copyBatch(i, out);
      EXPECT_EQ(rows, b->batchCount(i));
      for (int64_t j = 0; j < rows; ++j) {
        size_t sample = b->order()[size_t(i * 3 * n + r + j * n)];
        std::vector<float> expected(2);
        data->sampleAsFloats(int64_t(sample), expected.data());
        EXPECT_EQ(std::vector<float>(inputs.begin() + 2 * j, inputs.begin() + 2 * j + 2), expected);
        EXPECT_EQ(labels[j], data->labels[sample]);
        seen.insert(expected);
      }
      for (int64_t j = rows; j < 3; ++j)
        EXPECT_EQ(labels[j], kIgnoreLabel);
    }
  }
  EXPECT_EQ(int64_t(seen.size()), 23);
}

TEST(DataParallel, NcclMissingIsAClearError) {
  std::string why = loadNccl("/nonexistent/libnccl.so.2");
  EXPECT_NE(why.find("NCCL missing: "), std::string::npos) << why;
  EXPECT_NE(why.find("/nonexistent/libnccl.so.2"), std::string::npos) << why;
  // A library without NCCL's functions names the first one missing.
  why = loadNccl("libz.so.1");
  EXPECT_EQ(why, "NCCL: missing symbol ncclGetVersion");
}

TEST(DataParallel, NcclNeedsItsLibraryAndAGpu) {
  // Without NCCL or without a GPU the communicator is refused on every rank
  // alike, with the reason, before any collective.
  if (!ncclUnavailableReason().empty() || !gpu::unavailableReason().empty()) {
    auto nccl = createNcclCommunicator(comm());
    ASSERT_FALSE(bool(nccl));
    EXPECT_NE(
        nccl.message().find(!ncclUnavailableReason().empty() ? "NCCL" : "cannot use the GPU: "),
        std::string::npos)
        << nccl.message();
    return;
  }
  // A GPU and NCCL (one rank per GPU): the collectives on device memory.
  auto nccl = createNcclCommunicator(comm());
  ASSERT_TRUE(bool(nccl)) << nccl.message();
  Communicator &c = **nccl;
  int64_t n = c.size(), rank = c.rank(), count = 4 * n;
  const gpu::Driver &d = gpu::driver();
  gpu::CUdeviceptr buffer = 0;
  ASSERT_EQ(d.cuMemAlloc(&buffer, size_t(count) * 4), 0);
  float *device = reinterpret_cast<float *>(buffer);
  std::vector<float> host(count);
  for (int64_t i = 0; i < count; ++i)
    host[i] = valueAt(rank, i);
  auto upload = [&] {
    ASSERT_EQ(d.cuMemcpyHtoDAsync(buffer, host.data(), size_t(count) * 4, gpu::stream()), 0);
  };
  auto download = [&] {
    ASSERT_EQ(d.cuMemcpyDtoHAsync(host.data(), buffer, size_t(count) * 4, gpu::stream()), 0);
    ASSERT_EQ(d.cuStreamSynchronize(gpu::stream()), 0);
  };
  upload();
  ASSERT_FALSE(c.scale(device, count, 0.5f).failed());
  ASSERT_FALSE(c.allReduceSum(device, count).failed());
  download();
  for (int64_t i = 0; i < count; ++i) {
    float expected = 0;
    for (int64_t r = 0; r < n; ++r)
      expected += 0.5f * valueAt(r, i);
    EXPECT_EQ(host[i], expected) << i;
  }
  for (int64_t i = 0; i < count; ++i)
    host[i] = valueAt(rank, i);
  upload();
  ASSERT_FALSE(c.reduceScatterSum(device, count).failed());
  ASSERT_FALSE(c.allGather(device, count).failed());
  download();
  for (int64_t i = 0; i < count; ++i) {
    float expected = 0;
    for (int64_t r = 0; r < n; ++r)
      expected += valueAt(r, i);
    EXPECT_EQ(host[i], expected) << i;
  }
  EXPECT_FALSE(c.barrier().failed());
  d.cuMemFree(buffer);
}

} // namespace

int main(int argc, char **argv) {
  testing::InitGoogleTest(&argc, argv);
  if (argc > 1)
    testDirectory() = argv[1];
  // MPI is initialized before the tests and finalized after them.
  testCommunicator();
  int rc = RUN_ALL_TESTS();
  return rc;
}
