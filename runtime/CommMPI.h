//===- CommMPI.h - The MPI communicator of data-parallel training -*- C++ -*-===//
//
// Part of nnc's runtime. `mpirun -np N nnc train ...` (docs/distributed.md)
// starts N processes; each creates this communicator over MPI_COMM_WORLD
// (Debian's Open MPI) and installs it for the data-parallel hooks
// (runtime/DataParallel.h). Collectives on host f32 buffers, bucketed; a
// failed peer makes a collective return an error (MPI_ERRORS_RETURN on the
// communicator), never a hang of this process.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_COMMMPI_H
#define NNC_RUNTIME_COMMMPI_H

#include "runtime/DataParallel.h"

#include <memory>

namespace nnc::rt {

/// Whether an MPI launcher started this process: mpirun/mpiexec of Open MPI
/// (OMPI_COMM_WORLD_SIZE), a PMI or PMIx launcher (PMI_SIZE, PMIX_RANK).
bool launchedByMpi();

/// The size of one collective's piece: buffers are reduced 4 MiB at a time.
inline constexpr int64_t kCommBucketBytes = int64_t(4) << 20;

/// The host staging the MPI communicator allocates for a flat buffer of
/// `count` f32 elements over `ranks` ranks: a reduce-scatter (`sharded`,
/// ZeRO-1; count a multiple of ranks) stages one piece of each rank's shard
/// side by side, at most one bucket; an all-reduce works in place (0 bytes).
/// `nnc report --devices N` predicts the same bytes (docs/report.md).
int64_t mpiStagingBytes(int64_t count, int64_t ranks, bool sharded);

/// Initializes MPI (MPI_Init_thread, once per process) and returns a
/// communicator over a duplicate of MPI_COMM_WORLD that returns errors
/// instead of aborting. MPI is finalized when the communicator goes away,
/// unless a collective failed (a dead peer: finalizing would wait for it).
Result<std::unique_ptr<Communicator>> createMpiCommunicator();

/// After an error on this rank: `comm` (from createMpiCommunicator) will not
/// finalize MPI, which could wait for ranks that wait for this one; the
/// process exits non-zero and mpirun ends the job.
void abandonMpi(Communicator &comm);

} // namespace nnc::rt

#endif // NNC_RUNTIME_COMMMPI_H
