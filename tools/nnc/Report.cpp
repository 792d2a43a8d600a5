//===- Report.cpp - nnc report: what a model costs ------------------------===//
//
//   nnc report model.nn [--batch N] [--optimizer O] [--dtype T]
//                       [--format table|json] [--kernels] [--model NAME]
//                       [-D name=value]
//
//===----------------------------------------------------------------------===//

#include "tools/nnc/Driver.h"

#include "codegen/CPUPipeline.h"
#include "codegen/KernelReport.h"
#include "codegen/Passes.h"
#include "passes/ModelReport.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassManager.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

using namespace llvm;
using namespace nnc::driver;

namespace {
cl::SubCommand reportCmd("report", "Print what a model costs: parameters, bytes, "
                                   "FLOPs, training and inference memory");

ModelOptions model(reportCmd);
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::sub(reportCmd), cl::cat(category()));
cl::opt<std::string> optimizerName(
    "optimizer",
    cl::desc("Optimizer whose state counts in training memory: sgd | momentum | adam | "
             "adamw (default: the model's)"),
    cl::sub(reportCmd), cl::cat(category()));
cl::opt<std::string> dtypeName("dtype", cl::desc("f32 | f16 | bf16 | int8 (default: the model's)"), cl::init("f32"),
                               cl::sub(reportCmd), cl::cat(category()));
enum class Format { Table, JSON };
cl::opt<Format> reportFormat("format", cl::desc("Report format"), cl::init(Format::Table),
                             cl::values(clEnumValN(Format::Table, "table", "a table"),
                                        clEnumValN(Format::JSON, "json", "JSON")),
                             cl::sub(reportCmd), cl::cat(category()));
cl::opt<bool> listKernels("kernels",
                          cl::desc("List every generated kernel and library call of each "
                                   "entry point (the JSON always has them)"),
                          cl::sub(reportCmd), cl::cat(category()));
} // namespace

/// What runs for `model` (a model module of `module`, not yet specialized):
/// its forward pass and training step lowered to linalg, and fused unless
/// --no-fuse. Empty for models whose element types nnc does not compile.
static FailureOr<std::vector<nnc::EntryKernels>>
kernelsOf(Session &session, mlir::ModuleOp model, const nnc::ModelGraph &graph,
          StringRef optimizer, bool fuse) {
  for (const nnc::InputInfo &in : graph.inputs)
    if (nnc::isFloat(graph.values[in.value].dtype) &&
        graph.values[in.value].dtype != nnc::DType::F32)
      return std::vector<nnc::EntryKernels>();
  // A copy of the model alone, with its training step.
  mlir::OpBuilder b(&session.context());
  mlir::OwningOpRef<mlir::ModuleOp> top(mlir::ModuleOp::create(model.getLoc()));
  b.setInsertionPointToStart(top->getBody());
  auto copy = cast<mlir::ModuleOp>(b.clone(*model));
  nnc::NNAutodiffOptions autodiff;
  autodiff.optimizer = optimizer.str();
  mlir::PassManager pm(&session.context(), mlir::ModuleOp::getOperationName());
  pm.addPass(nnc::createNNAutodiff(autodiff));
  if (failed(pm.run(*top)) || failed(session.specializeBatch(copy, graph)))
    return failure();
  mlir::PassManager lower(&session.context(), mlir::ModuleOp::getOperationName());
  nnc::addLinalgStages(lower, fuse);
  if (failed(lower.run(*top)))
    return failure();
  return nnc::analyzeKernels(copy);
}

/// Prints the report of every model to `os`; returns the exit status.
static int printReports(Session &session, raw_ostream &os) {
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = session.lowerToNN(&graphs);
  if (!module)
    return 1;
  json::Array jsonReports;
  unsigned index = 0;
  for (auto [m, graphPtr] : modelsOf(*module, graphs)) {
    const nnc::ModelGraph &graph = *graphPtr;
    ++index;
    nnc::ReportOptions options;
    options.batch = model.batchFor(graph.train.batch);
    options.optimizer =
        optimizerName.empty() ? graph.train.optimizer : std::string(optimizerName);
    // Without --dtype, the model's own floating-point type (its first float
    // input's): an f16 model's bytes are f16 bytes.
    options.dtype = dtypeName;
    if (!dtypeName.getNumOccurrences())
      for (const nnc::InputInfo &in : graph.inputs)
        if (nnc::isFloat(graph.values[in.value].dtype)) {
          options.dtype = nnc::dtypeName(graph.values[in.value].dtype).str();
          break;
        }
    FailureOr<std::vector<nnc::EntryKernels>> kernels =
        kernelsOf(session, m, graph, options.optimizer, !model.noFuse);
    if (failed(kernels) || failed(session.specializeBatch(m, graph)))
      return 1;
    FailureOr<nnc::ModelReport> report = nnc::computeReport(m, options);
    if (failed(report))
      return 1;
    const bool fused = !model.noFuse;
    if (reportFormat == Format::JSON) {
      json::Value value = nnc::reportToJSON(*report);
      if (!kernels->empty())
        (*value.getAsObject())["kernels"] = nnc::kernelsToJSON(*kernels, fused);
      jsonReports.push_back(std::move(value));
    } else {
      if (index > 1)
        os << "\n";
      nnc::printReportTable(*report, os);
      if (kernels->empty())
        os << "kernels: none generated (nnc compiles f32 models only)\n";
      else
        nnc::printKernelTable(*kernels, fused, listKernels, os);
    }
  }
  if (reportFormat == Format::JSON) {
    // One model: its report object; several: an array of them.
    if (jsonReports.size() == 1)
      os << formatv("{0:2}", json::Value(std::move(jsonReports[0]))) << "\n";
    else
      os << formatv("{0:2}", json::Value(std::move(jsonReports))) << "\n";
  }
  return 0;
}

static int runReport() {
  if (!model.check() || !checkChoice(optimizerName, optimizerNames()) ||
      !checkChoice(dtypeName, {"f32", "f16", "bf16", "int8"}))
    return 1;
  return printToOutput(model, outputFilename, printReports);
}

static Command registration(reportCmd, runReport);
