//===- TrainDataParallel.cpp - nnc train's data-parallel build ------------===//
//
// Until the compiler's data-parallel options are merged (branch dp-compiler)
// this divides the batch only: the artifact's train_step does not call the
// hooks yet, and the runtime says so (runtime/Train.cpp). The integrator
// replaces the body with DataParallelOptions (ranks, shard) on `request`.
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/TrainDataParallel.h"

#include "passes/ModelReport.h"

#include "llvm/Support/FormatVariadic.h"

using namespace llvm;
using namespace nnc::driver;

bool nnc::driver::setDataParallelBuild(ModelOptions &model, BuildRequest &request, int64_t ranks,
                                       StringRef shard) {
  (void)request;
  if (ranks == 1 && shard == "none")
    return true;
  if (shard != "none") {
    fail("--shard opt needs the compiler's data-parallel build (not in this nnc)");
    return false;
  }
  if (model.noFuse) {
    fail("data-parallel training reduces the flat gradient buffers of the fused optimizer "
         "update; --no-fuse has none");
    return false;
  }
  int64_t global = model.batch.getNumOccurrences() ? int64_t(model.batch) : 0;
  if (!global) {
    // The model's own batch, from its train section.
    std::unique_ptr<Session> session = Session::open(model);
    if (!session)
      return false;
    mlir::OwningOpRef<mlir::ModuleOp> module;
    std::vector<nnc::ModelGraph> graphs;
    auto single = session->lowerSingleModel(module, graphs);
    if (failed(single))
      return false;
    global = single->second->train.batch;
  }
  if (global % ranks != 0) {
    fail(formatv("the global batch {0} is not a multiple of the {1} ranks: each rank trains "
                 "on batch / ranks samples; choose another --batch",
                 global, ranks));
    return false;
  }
  if (model.batch.getNumOccurrences())
    model.batch.setValue(global / ranks);
  else
    model.impliedBatch = global / ranks;
  return true;
}
