//===- CommMPI.cpp - The MPI communicator of data-parallel training -------===//
//
// Part of nnc's runtime (runtime/CommMPI.h).
//
//===----------------------------------------------------------------------===//

#include "runtime/CommMPI.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace nnc::rt;

bool nnc::rt::launchedByMpi() {
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (std::getenv(name))
      return true;
  return false;
}

namespace {

/// The elements of one bucket.
constexpr int64_t kBucketElements = kCommBucketBytes / int64_t(sizeof(float));

/// The elements of each rank's shard a reduce-scatter stages per bucket.
int64_t stagingPiece(int64_t ranks) { return std::max<int64_t>(1, kBucketElements / ranks); }

class MpiCommunicator final : public Communicator {
public:
  MpiCommunicator(MPI_Comm comm, int rank, int size, bool finalize)
      : comm(comm), rank_(rank), size_(size), finalize(finalize) {}
  ~MpiCommunicator() override {
    // After a failed collective a peer may be gone: MPI_Finalize could wait
    // for it. The process exits instead (mpirun then ends the job).
    if (failed)
      return;
    MPI_Comm_free(&comm);
    if (finalize)
      MPI_Finalize();
  }

  int64_t rank() const override { return rank_; }
  int64_t size() const override { return size_; }
  std::string engine() const override { return "mpi"; }
  int64_t bufferBytes() const override { return int64_t(staging.capacity() * sizeof(float)); }

  Status allReduceSum(float *data, int64_t count) override {
    for (int64_t begin = 0; begin < count; begin += kBucketElements) {
      int n = int(std::min(kBucketElements, count - begin));
      if (Status st = check(MPI_Allreduce(MPI_IN_PLACE, data + begin, n, MPI_FLOAT, MPI_SUM, comm),
                            "MPI_Allreduce");
          st.failed())
        return st;
    }
    return Status::success();
  }

  Status reduceScatterSum(float *data, int64_t count) override {
    if (Status st = checkDivisible(count, "reduce-scatter"); st.failed())
      return st;
    // Bucket k of every rank's shard is staged side by side (rank order), so
    // that one MPI_Reduce_scatter_block hands each rank the sum of its
    // piece, written straight into its shard.
    int64_t shard = count / size_;
    int64_t piece = stagingPiece(size_);
    staging.resize(size_t(mpiStagingBytes(count, size_, true)) / sizeof(float));
    for (int64_t begin = 0; begin < shard; begin += piece) {
      int64_t n = std::min(piece, shard - begin);
      for (int64_t r = 0; r < size_; ++r)
        std::memcpy(staging.data() + r * n, data + r * shard + begin, size_t(n) * sizeof(float));
      if (Status st = check(MPI_Reduce_scatter_block(staging.data(), data + rank_ * shard + begin,
                                                     int(n), MPI_FLOAT, MPI_SUM, comm),
                            "MPI_Reduce_scatter_block");
          st.failed())
        return st;
    }
    return Status::success();
  }

  Status allGather(float *data, int64_t count) override {
    if (Status st = checkDivisible(count, "all-gather"); st.failed())
      return st;
    int64_t shard = count / size_;
    if (shard > INT_MAX)
      return Status::error("rank " + std::to_string(rank_) + ": all-gather of " +
                           std::to_string(shard) + " elements per rank: more than MPI's int " +
                           "count allows");
    return check(
        MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, int(shard), MPI_FLOAT, comm),
        "MPI_Allgather");
  }

  Status broadcast(void *data, int64_t bytes, int64_t root) override {
    char *p = static_cast<char *>(data);
    for (int64_t begin = 0; begin < bytes; begin += kCommBucketBytes) {
      int n = int(std::min(kCommBucketBytes, bytes - begin));
      if (Status st = check(MPI_Bcast(p + begin, n, MPI_BYTE, int(root), comm), "MPI_Bcast");
          st.failed())
        return st;
    }
    return Status::success();
  }

  Status barrier() override { return check(MPI_Barrier(comm), "MPI_Barrier"); }

  Status allReduceSumHost(double *data, int64_t count) override {
    for (int64_t begin = 0; begin < count; begin += kBucketElements) {
      int n = int(std::min(kBucketElements, count - begin));
      if (Status st = check(MPI_Allreduce(MPI_IN_PLACE, data + begin, n, MPI_DOUBLE, MPI_SUM, comm),
                            "MPI_Allreduce");
          st.failed())
        return st;
    }
    return Status::success();
  }

private:
  /// One line for a failed MPI call; remembers the failure.
  Status check(int code, const char *what) {
    if (code == MPI_SUCCESS)
      return Status::success();
    failed = true;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
      length = std::snprintf(text, sizeof(text), "MPI error %d", code);
    return Status::error("rank " + std::to_string(rank_) + ": " + what +
                         " failed: an MPI peer process failed or exited (" +
                         std::string(text, size_t(length)) + ")");
  }

  Status checkDivisible(int64_t count, const char *what) const {
    if (count % size_ == 0)
      return Status::success();
    return Status::error("rank " + std::to_string(rank_) + ": " + what + " of " +
                         std::to_string(count) + " elements over " + std::to_string(size_) +
                         " ranks: the count must be a multiple of the ranks");
  }

  MPI_Comm comm;
  int rank_, size_;
  bool finalize;
  std::vector<float> staging;

public:
  bool failed = false;
};

} // namespace

void nnc::rt::abandonMpi(Communicator &comm) {
  if (auto *mpi = dynamic_cast<MpiCommunicator *>(&comm))
    mpi->failed = true;
}

Result<std::unique_ptr<Communicator>> nnc::rt::createMpiCommunicator() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  bool ownsInit = !initialized;
  if (ownsInit) {
    int provided = 0;
    // The hooks run on the thread that runs train_step, the training loop's
    // collectives on the main thread: never at the same time.
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
      return Status::error("cannot initialize MPI (MPI_Init_thread failed)");
    if (provided < MPI_THREAD_SERIALIZED)
      return Status::error("MPI provides thread level " + std::to_string(provided) +
                           "; nnc needs MPI_THREAD_SERIALIZED");
  }
  MPI_Comm comm;
  if (MPI_Comm_dup(MPI_COMM_WORLD, &comm) != MPI_SUCCESS)
    return Status::error("cannot duplicate MPI_COMM_WORLD");
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  return std::unique_ptr<Communicator>(
      std::make_unique<MpiCommunicator>(comm, rank, size, ownsInit));
}

int64_t nnc::rt::mpiStagingBytes(int64_t count, int64_t ranks, bool sharded) {
  if (!sharded || ranks < 1 || count < 1)
    return 0;
  return std::min(stagingPiece(ranks), count / ranks) * ranks * int64_t(sizeof(float));
}
