//===- ReportPass.cpp - -nn-report ----------------------------------------===//
//
// Part of nnc. Prints the cost report (passes/ModelReport.h) of every model
// module to stdout, as a table or JSON. Changes nothing.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "passes/ModelReport.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#define DEBUG_TYPE "nn-report"

namespace nnc {
#define GEN_PASS_DEF_NNREPORT
#include "passes/Passes.h.inc"
} // namespace nnc

using namespace mlir;

namespace {

class ReportPass : public nnc::impl::NNReportBase<ReportPass> {
public:
  using NNReportBase::NNReportBase;

  void runOnOperation() override {
    if (format != "table" && format != "json") {
      getOperation().emitError("nn-report: unknown format '")
          << format << "' (expected table or json)";
      return signalPassFailure();
    }
    // The models: nested modules marked nn.model, or the operation itself.
    SmallVector<ModuleOp> models;
    ModuleOp top = getOperation();
    if (top->hasAttr("nn.model"))
      models.push_back(top);
    for (ModuleOp nested : top.getBody()->getOps<ModuleOp>())
      if (nested->hasAttr("nn.model"))
        models.push_back(nested);
    if (models.empty()) {
      top.emitError("nn-report: no model module (module attributes "
                    "{nn.model}) found");
      return signalPassFailure();
    }

    nnc::ReportOptions options;
    options.batch = batch;
    options.optimizer = optimizer;
    options.dtype = dtype;
    llvm::json::Array reports;
    for (auto [i, model] : llvm::enumerate(models)) {
      FailureOr<nnc::ModelReport> report = nnc::computeReport(model, options);
      if (failed(report))
        return signalPassFailure();
      if (format == "json") {
        reports.push_back(nnc::reportToJSON(*report));
        continue;
      }
      if (i)
        llvm::outs() << "\n";
      nnc::printReportTable(*report, llvm::outs());
    }
    if (format == "json") {
      llvm::json::Value doc = reports.size() == 1
                                  ? std::move(reports[0])
                                  : llvm::json::Value(std::move(reports));
      llvm::outs() << llvm::formatv("{0:2}", doc) << "\n";
    }
    markAllAnalysesPreserved();
  }
};

} // namespace
