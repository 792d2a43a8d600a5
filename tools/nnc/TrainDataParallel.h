//===- TrainDataParallel.h - nnc train's data-parallel build -----*- C++ -*-===//
//
// The one place where `mpirun -np N nnc train` asks the compiler for a rank's
// artifact (docs/distributed.md): the seam between the training command
// (tools/nnc/Train.cpp) and the compiler's data-parallel options
// (tools/nnc/Driver.h DataParallelConfig).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_TOOLS_NNC_TRAINDATAPARALLEL_H
#define NNC_TOOLS_NNC_TRAINDATAPARALLEL_H

#include "tools/nnc/Driver.h"

namespace nnc::driver {

/// Makes the build of `model` (through `request`) one rank's artifact of
/// `ranks`-way data parallelism with optimizer sharding `shard` ("none" or
/// "opt"): compiled at the global batch (--batch, else the model's) divided
/// by `ranks`, its train_step calling the hooks of runtime/DataParallel.h.
/// ranks == 1 and shard "none" change nothing. False after reporting one
/// line (a batch that `ranks` does not divide, --no-fuse, ...).
bool setDataParallelBuild(ModelOptions &model, BuildRequest &request, int64_t ranks,
                          llvm::StringRef shard);

} // namespace nnc::driver

#endif // NNC_TOOLS_NNC_TRAINDATAPARALLEL_H
