//===- TrainDataParallel.cpp - nnc train's data-parallel build ------------===//
//
// `mpirun -np N nnc train` builds each rank's artifact with the compiler's
// data-parallel options (tools/nnc/Driver.h DataParallelConfig): the
// per-rank batch, the hook calls and, for --shard opt, the sharded state.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/TrainDataParallel.h"

using namespace llvm;
using namespace nnc::driver;

bool nnc::driver::setDataParallelBuild(ModelOptions &model, BuildRequest &request, int64_t ranks,
                                       StringRef shard) {
  (void)model;
  // The build (Driver.cpp buildModel) checks the combination, divides the
  // global batch by `ranks` (Session::specializeBatch) and marks the module
  // for -nn-lower-to-buffers.
  request.dataParallel = {ranks, shard.str()};
  return true;
}
