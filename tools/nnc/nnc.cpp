//===- nnc.cpp - The nnc compiler driver ----------------------------------===//
//
//   nnc compile model.nn -emit=ast|nn [-o out] [--model NAME] [-D name=value]
//   nnc report  model.nn [--batch N] [--optimizer O] [--dtype T]
//                        [--format table|json] [--model NAME] [-D name=value]
//
// Every error is located in the model file and makes nnc exit with status 1;
// an output file is only written (atomically) when everything succeeded.
//
//===----------------------------------------------------------------------===//

#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "passes/ModelReport.h"
#include "passes/Passes.h"
#include "tools/common/Registration.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::SubCommand compileCmd("compile", "Parse a model file and print a compiler stage");
cl::SubCommand reportCmd("report", "Print what a model costs: parameters, bytes, "
                                   "FLOPs, training and inference memory");

cl::OptionCategory nncCategory("nnc options");

cl::opt<std::string> inputFilename(cl::Positional, cl::desc("<model.nn>"),
                                   cl::sub(compileCmd), cl::sub(reportCmd),
                                   cl::cat(nncCategory));
cl::opt<std::string> outputFilename("o", cl::desc("Output file (default: stdout)"),
                                    cl::value_desc("file"), cl::init("-"),
                                    cl::sub(compileCmd), cl::sub(reportCmd),
                                    cl::cat(nncCategory));
cl::opt<std::string> modelName("model", cl::desc("The model to compile (default: all)"),
                               cl::value_desc("name"), cl::sub(compileCmd),
                               cl::sub(reportCmd), cl::cat(nncCategory));
cl::list<std::string> defines("D", cl::desc("Override a hyperparameter: -D name=value"),
                              cl::value_desc("name=value"), cl::Prefix,
                              cl::sub(compileCmd), cl::sub(reportCmd),
                              cl::cat(nncCategory));

enum class Emit { AST, NN };
cl::opt<Emit> emitAction("emit", cl::desc("The stage to print"), cl::init(Emit::NN),
                         cl::values(clEnumValN(Emit::AST, "ast", "the syntax tree"),
                                    clEnumValN(Emit::NN, "nn", "the nn dialect")),
                         cl::sub(compileCmd), cl::cat(nncCategory));
cl::opt<bool> printLocations("locations",
                             cl::desc("Print the model-file location of every op"),
                             cl::sub(compileCmd), cl::cat(nncCategory));

cl::opt<int64_t> batchSize("batch",
                           cl::desc("Batch size (default: the model's train section)"),
                           cl::init(0), cl::sub(reportCmd), cl::cat(nncCategory));
cl::opt<std::string> optimizerName(
    "optimizer", cl::desc("sgd | momentum | adam | adamw (default: the model's)"),
    cl::sub(reportCmd), cl::cat(nncCategory));
cl::opt<std::string> dtypeName("dtype", cl::desc("f32 | f16 | bf16 | int8"),
                               cl::init("f32"), cl::sub(reportCmd),
                               cl::cat(nncCategory));
enum class Format { Table, JSON };
cl::opt<Format> reportFormat("format", cl::desc("Report format"), cl::init(Format::Table),
                       cl::values(clEnumValN(Format::Table, "table", "a table"),
                                  clEnumValN(Format::JSON, "json", "JSON")),
                       cl::sub(reportCmd), cl::cat(nncCategory));
} // namespace

/// Prints an error that has no location in the model file.
static int fail(const Twine &msg) {
  WithColor::error(errs(), "nnc") << msg << "\n";
  return 1;
}

/// Parses, checks and lowers the input to nn. Null after reporting errors.
static mlir::OwningOpRef<mlir::ModuleOp>
lowerToNN(mlir::MLIRContext &context, nnc::DiagEngine &diag,
          std::vector<nnc::ModelGraph> *graphsOut = nullptr) {
  std::unique_ptr<nnc::ast::Module> ast = nnc::parseModelFile(diag);
  if (!ast)
    return nullptr;
  auto graphs = nnc::analyzeModule(*ast, modelName, defines, diag);
  if (!graphs)
    return nullptr;
  auto module = nnc::mlirGen(context, *graphs, diag.getSourceMgr());
  if (graphsOut)
    *graphsOut = std::move(*graphs);
  return module;
}

static int runCompile(nnc::DiagEngine &diag, mlir::MLIRContext &context,
                      raw_ostream &os) {
  if (emitAction == Emit::AST) {
    std::unique_ptr<nnc::ast::Module> ast = nnc::parseModelFile(diag);
    if (!ast)
      return 1;
    nnc::ast::dumpAST(*ast, diag.getSourceMgr(), os);
    return 0;
  }
  mlir::OwningOpRef<mlir::ModuleOp> module = lowerToNN(context, diag);
  if (!module)
    return 1;
  module->print(os, mlir::OpPrintingFlags().enableDebugInfo(printLocations,
                                                           /*prettyForm=*/false));
  os << "\n";
  return 0;
}

static int runReport(nnc::DiagEngine &diag, mlir::MLIRContext &context,
                     raw_ostream &os) {
  if (batchSize.getNumOccurrences() && batchSize < 1)
    return fail("--batch must be at least 1");
  std::vector<nnc::ModelGraph> graphs;
  mlir::OwningOpRef<mlir::ModuleOp> module = lowerToNN(context, diag, &graphs);
  if (!module)
    return 1;

  json::Array jsonReports;
  unsigned index = 0;
  for (auto model : module->getBody()->getOps<mlir::ModuleOp>()) {
    const nnc::ModelGraph &graph = graphs[index++];
    nnc::ReportOptions options;
    options.batch = batchSize ? int64_t(batchSize) : graph.train.batch;
    options.optimizer =
        optimizerName.empty() ? graph.train.optimizer : std::string(optimizerName);
    options.dtype = dtypeName;

    mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
    nnc::NNInferShapesOptions shapeOptions;
    shapeOptions.batch = options.batch;
    pm.addPass(nnc::createNNInferShapes(shapeOptions));
    if (failed(pm.run(model)))
      return 1;
    FailureOr<nnc::ModelReport> report = nnc::computeReport(model, options);
    if (failed(report))
      return 1;
    if (reportFormat == Format::JSON) {
      jsonReports.push_back(nnc::reportToJSON(*report));
    } else {
      if (index > 1)
        os << "\n";
      nnc::printReportTable(*report, os);
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

int main(int argc, char **argv) {
  InitLLVM y(argc, argv);
  cl::HideUnrelatedOptions(nncCategory);
  cl::ParseCommandLineOptions(
      argc, argv,
      "nnc - a compiler for neural-net models\n\n"
      "  nnc compile model.nn -emit=ast|nn\n"
      "  nnc report model.nn --batch 64 --optimizer adam\n");
  if (!compileCmd && !reportCmd)
    return fail("expected a command: 'nnc compile FILE' or 'nnc report FILE' "
                "(see nnc --help)");
  if (inputFilename.empty())
    return fail("no input file (see nnc --help)");

  auto fileOrErr = MemoryBuffer::getFileOrSTDIN(inputFilename, /*IsText=*/true);
  if (std::error_code ec = fileOrErr.getError())
    return fail("cannot open '" + inputFilename + "': " + ec.message());

  SourceMgr srcMgr;
  srcMgr.AddNewSourceBuffer(std::move(*fileOrErr), SMLoc());
  nnc::DiagEngine diag(srcMgr);

  mlir::DialectRegistry registry;
  nnc::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  // Errors from passes print like frontend errors: located, with a caret.
  mlir::SourceMgrDiagnosticHandler handler(srcMgr, &context);

  // The output is built in memory and written (through a temporary file that
  // is renamed into place) only on success, so an error never clobbers it.
  std::string buffer;
  raw_string_ostream os(buffer);
  int rc = compileCmd ? runCompile(diag, context, os) : runReport(diag, context, os);
  if (rc != 0)
    return rc;
  if (Error err = writeToOutput(outputFilename, [&](raw_ostream &out) {
        out << buffer;
        return Error::success();
      }))
    return fail("cannot write '" + outputFilename + "': " + toString(std::move(err)));
  return 0;
}
