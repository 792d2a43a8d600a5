//===- CommNCCL.h - The NCCL communicator of data-parallel training -*- C++ -*-===//
//
// Part of nnc's runtime. A GPU artifact trained with `mpirun -np N nnc train
// --device gpu` reduces its gradients with NCCL (NVIDIA's collectives),
// loaded with dlopen like cuBLAS and cuDNN (runtime/Gpu.h): nnc builds and
// runs without it, and says why when it is missing. The ranks find each
// other through MPI: rank 0's NCCL unique id is broadcast over the MPI
// communicator. Collectives run on the GPU path's one stream (device
// pointers); the gradient scaling is a cuBLAS sgeam on that stream.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_COMMNCCL_H
#define NNC_RUNTIME_COMMNCCL_H

#include "runtime/DataParallel.h"

#include <memory>
#include <string>

namespace nnc::rt {

/// Why NCCL cannot be used in this process ("NCCL missing: libnccl.so.2 not
/// found (...)", "NCCL: missing symbol ncclCommInitRank"), or "" once its
/// functions are loaded. NNC_NCCL_LIBRARY names another library to load
/// (tests). Loaded once (thread-safe).
const std::string &ncclUnavailableReason();

/// Loads NCCL's functions from `library` now (not cached; for tests): the
/// reason it cannot be used, or "".
std::string loadNccl(const std::string &library);

/// An NCCL communicator over the ranks of `mpi` (which must outlive it), on
/// GPU 0 of this process (runtime/Gpu.h: unavailableReason() must be "").
/// Collective: every rank of `mpi` calls it. A missing library or a failed
/// initialization is an error naming the reason.
Result<std::unique_ptr<Communicator>> createNcclCommunicator(Communicator &mpi);

} // namespace nnc::rt

#endif // NNC_RUNTIME_COMMNCCL_H
