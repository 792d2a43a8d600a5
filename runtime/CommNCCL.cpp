//===- CommNCCL.cpp - The NCCL communicator of data-parallel training -----===//
//
// Part of nnc's runtime (runtime/CommNCCL.h). NCCL's C API is declared here
// (nccl.h 2.x: the types are ints, an opaque pointer and a 128-byte id), so
// that nnc builds without NCCL's headers.
//
//===----------------------------------------------------------------------===//

#include "runtime/CommNCCL.h"
#include "runtime/Gpu.h"
#include "runtime/GpuLibraries.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

using namespace nnc::rt;

namespace {

using ncclResult_t = int;
using ncclComm_t = struct ncclComm *;
struct ncclUniqueId {
  char internal[128];
};
constexpr ncclResult_t kNcclSuccess = 0;
constexpr ncclResult_t kNcclInProgress = 7;
constexpr int kNcclFloat32 = 7; // ncclFloat32
constexpr int kNcclUint8 = 0;   // ncclUint8
constexpr int kNcclSum = 0;     // ncclSum

/// The NCCL functions nnc calls.
struct Nccl {
  ncclResult_t (*ncclGetVersion)(int *version);
  const char *(*ncclGetErrorString)(ncclResult_t result);
  ncclResult_t (*ncclGetUniqueId)(ncclUniqueId *id);
  ncclResult_t (*ncclCommInitRank)(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank);
  ncclResult_t (*ncclCommDestroy)(ncclComm_t comm);
  ncclResult_t (*ncclCommAbort)(ncclComm_t comm);
  ncclResult_t (*ncclCommGetAsyncError)(ncclComm_t comm, ncclResult_t *error);
  ncclResult_t (*ncclAllReduce)(const void *send, void *recv, size_t count, int dtype, int op,
                                ncclComm_t comm, gpu::CUstream stream);
  ncclResult_t (*ncclReduceScatter)(const void *send, void *recv, size_t recvCount, int dtype,
                                    int op, ncclComm_t comm, gpu::CUstream stream);
  ncclResult_t (*ncclAllGather)(const void *send, void *recv, size_t sendCount, int dtype,
                                ncclComm_t comm, gpu::CUstream stream);
  ncclResult_t (*ncclBroadcast)(const void *send, void *recv, size_t count, int dtype, int root,
                                ncclComm_t comm, gpu::CUstream stream);
};

Nccl nccl;

template <typename Fn> bool resolve(void *library, const char *name, Fn &fn, std::string &error) {
  fn = reinterpret_cast<Fn>(dlsym(library, name));
  if (!fn && error.empty())
    error = std::string("NCCL: missing symbol ") + name;
  return fn != nullptr;
}

} // namespace

std::string nnc::rt::loadNccl(const std::string &name) {
  std::string error;
  void *library = !name.empty() ? gpu::openLibrary({name.c_str()}, error)
                                : gpu::openLibrary({"libnccl.so.2", "libnccl.so"}, error);
  if (!library)
    return "NCCL missing: " + error;
  error.clear();
  bool ok = true;
  Nccl table{};
#define NNC_RESOLVE(name) ok &= resolve(library, #name, table.name, error)
  NNC_RESOLVE(ncclGetVersion);
  NNC_RESOLVE(ncclGetErrorString);
  NNC_RESOLVE(ncclGetUniqueId);
  NNC_RESOLVE(ncclCommInitRank);
  NNC_RESOLVE(ncclCommDestroy);
  NNC_RESOLVE(ncclCommAbort);
  NNC_RESOLVE(ncclCommGetAsyncError);
  NNC_RESOLVE(ncclAllReduce);
  NNC_RESOLVE(ncclReduceScatter);
  NNC_RESOLVE(ncclAllGather);
  NNC_RESOLVE(ncclBroadcast);
#undef NNC_RESOLVE
  if (!ok)
    return error;
  nccl = table;
  return "";
}

namespace {

class NcclCommunicator final : public Communicator {
public:
  NcclCommunicator(ncclComm_t comm, int64_t rank, int64_t size)
      : comm(comm), rank_(rank), size_(size) {}
  ~NcclCommunicator() override {
    // A communicator whose peer failed cannot be destroyed collectively.
    if (failed)
      nccl.ncclCommAbort(comm);
    else
      nccl.ncclCommDestroy(comm);
  }
  int64_t rank() const override { return rank_; }
  int64_t size() const override { return size_; }
  std::string engine() const override { return "nccl"; }

  Status allReduceSum(float *data, int64_t count) override {
    if (Status st = ready(); st.failed())
      return st;
    return check(
        nccl.ncclAllReduce(data, data, size_t(count), kNcclFloat32, kNcclSum, comm, gpu::stream()),
        "ncclAllReduce");
  }
  Status reduceScatterSum(float *data, int64_t count) override {
    if (Status st = ready(); st.failed())
      return st;
    int64_t shard = count / size_;
    if (shard * size_ != count)
      return Status::error("ncclReduceScatter: count not a multiple of the ranks");
    // In place: the result lands in this rank's shard of the same buffer.
    return check(nccl.ncclReduceScatter(data, data + rank_ * shard, size_t(shard), kNcclFloat32,
                                        kNcclSum, comm, gpu::stream()),
                 "ncclReduceScatter");
  }
  Status allGather(float *data, int64_t count) override {
    if (Status st = ready(); st.failed())
      return st;
    int64_t shard = count / size_;
    if (shard * size_ != count)
      return Status::error("ncclAllGather: count not a multiple of the ranks");
    return check(nccl.ncclAllGather(data + rank_ * shard, data, size_t(shard), kNcclFloat32, comm,
                                    gpu::stream()),
                 "ncclAllGather");
  }
  Status broadcast(void *data, int64_t bytes, int64_t root) override {
    if (Status st = ready(); st.failed())
      return st;
    return check(
        nccl.ncclBroadcast(data, data, size_t(bytes), kNcclUint8, int(root), comm, gpu::stream()),
        "ncclBroadcast");
  }
  Status barrier() override {
    // An all-reduce of nothing orders the ranks on the stream; wait for it.
    if (Status st = check(
            nccl.ncclAllReduce(nullptr, nullptr, 0, kNcclFloat32, kNcclSum, comm, gpu::stream()),
            "ncclAllReduce");
        st.failed())
      return st;
    if (!gpu::check(gpu::driver().cuStreamSynchronize(gpu::stream()), "cuStreamSynchronize"))
      return Status::error("rank " + std::to_string(rank_) + ": NCCL barrier failed");
    return Status::success();
  }
  Status scale(float *data, int64_t count, float factor) override {
    const gpu::LibraryHandles *h = gpu::libraryHandles();
    if (!h)
      return Status::error("cannot scale the gradients: cuBLAS is unavailable");
    float zero = 0;
    // C = factor * A + 0 * B in place, as a column of at most 2^31-1 rows.
    for (int64_t begin = 0; begin < count; begin += INT32_MAX) {
      int n = int(std::min<int64_t>(INT32_MAX, count - begin));
      if (!gpu::checkCublas(*h,
                            h->blas.cublasSgeam(h->blasHandle, gpu::kCublasOpN, gpu::kCublasOpN, n,
                                                1, &factor, data + begin, n, &zero, data + begin, n,
                                                data + begin, n),
                            "cublasSgeam (gradient scaling)"))
        return Status::error("cublasSgeam (gradient scaling) failed");
    }
    return Status::success();
  }

private:
  /// The GPU context current on the calling thread (the train step may run
  /// the hooks on another thread than the one that created the
  /// communicator).
  Status ready() {
    if (gpu::ready("NCCL"))
      return Status::success();
    failed = true;
    return Status::error("rank " + std::to_string(rank_) + ": NCCL: cannot use the GPU");
  }

  Status check(ncclResult_t result, const char *what) {
    if (result == kNcclSuccess)
      return Status::success();
    ncclResult_t async = kNcclSuccess;
    nccl.ncclCommGetAsyncError(comm, &async);
    failed = true;
    return Status::error("rank " + std::to_string(rank_) + ": " + what +
                         " failed: " + nccl.ncclGetErrorString(result) +
                         (async != kNcclSuccess && async != kNcclInProgress
                              ? std::string(" (") + nccl.ncclGetErrorString(async) + ")"
                              : std::string()));
  }

  ncclComm_t comm;
  int64_t rank_, size_;
  bool failed = false;
};

} // namespace

const std::string &nnc::rt::ncclUnavailableReason() {
  static std::once_flag once;
  static std::string reason;
  std::call_once(once, [] {
    const char *name = std::getenv("NNC_NCCL_LIBRARY");
    reason = loadNccl(name ? name : "");
  });
  return reason;
}

Result<std::unique_ptr<Communicator>> nnc::rt::createNcclCommunicator(Communicator &mpi) {
  // Every rank decides the same way before the collective below, or says
  // why it cannot take part.
  const std::string &why = ncclUnavailableReason();
  if (!why.empty())
    return Status::error("rank " + std::to_string(mpi.rank()) + ": " + why);
  if (const std::string &gpuWhy = gpu::unavailableReason(); !gpuWhy.empty())
    return Status::error("rank " + std::to_string(mpi.rank()) + ": cannot use the GPU: " + gpuWhy);
  ncclUniqueId id{};
  if (mpi.rank() == 0)
    if (ncclResult_t r = nccl.ncclGetUniqueId(&id); r != kNcclSuccess)
      return Status::error(std::string("ncclGetUniqueId failed: ") + nccl.ncclGetErrorString(r));
  if (Status st = mpi.broadcast(&id, sizeof(id), 0); st.failed())
    return st;
  gpu::makeContextCurrent();
  ncclComm_t comm = nullptr;
  if (ncclResult_t r = nccl.ncclCommInitRank(&comm, int(mpi.size()), id, int(mpi.rank()));
      r != kNcclSuccess)
    return Status::error("rank " + std::to_string(mpi.rank()) +
                         ": ncclCommInitRank failed: " + nccl.ncclGetErrorString(r));
  return std::unique_ptr<Communicator>(
      std::make_unique<NcclCommunicator>(comm, mpi.rank(), mpi.size()));
}
