//===- FrontendFuzzer.cpp - libFuzzer target over the whole frontend ------===//
//
// Treats the input as a model file and runs what `nnc compile -emit=ast|nn`
// and `nnc report` run: lex + parse, the AST dump, Sema (analyzeModule),
// MLIRGen with the verifier, a print / parse / print round trip of the nn IR,
// then -nn-infer-shapes at the model's batch size and the report analysis.
//
// Any input may be rejected with a located error; what must never happen is
// a crash, a sanitizer report, a hang, an out-of-memory, or an internal
// error: once Sema accepts a model, MLIRGen must build IR that verifies and
// round-trips (an nn op builder aborting because type inference disagrees
// with Sema is the typical bug this finds).
//
// Sema's limits are lowered (see kLimits) so one input stays fast; the real
// limits are covered by test/frontend/hostile. One MLIRContext is reused and
// replaced every kInputsPerContext inputs so uniqued attributes cannot grow
// without bound. Set NNC_FUZZ_VERBOSE=1 to print the diagnostics when
// reproducing a crash: `nnc-frontend-fuzzer crash-<sha1>`.
//
//===----------------------------------------------------------------------===//

#include "frontend/AST.h"
#include "frontend/MLIRGen.h"
#include "frontend/Parser.h"
#include "frontend/Sema.h"
#include "passes/ModelReport.h"
#include "passes/Passes.h"
#include "tools/common/Registration.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>
#include <memory>

namespace {

/// Lower than SemaLimits' defaults so that one input runs in milliseconds.
nnc::SemaLimits makeLimits() {
  nnc::SemaLimits limits;
  limits.maxRepeat = 100;
  limits.maxLayers = 2000;
  limits.maxBlockDepth = 16;
  limits.maxSteps = 200000;
  return limits;
}
const nnc::SemaLimits kLimits = makeLimits();
/// Largest input considered; larger ones only slow the search down.
constexpr size_t kMaxInputSize = 16 * 1024;
constexpr unsigned kInputsPerContext = 2000;
/// Batch sizes above this are still checked by Sema, but the report runs at
/// this size (a huge batch is a test of its own in test/frontend/hostile).
constexpr int64_t kMaxReportBatch = 1 << 20;

bool verbose = false;

/// Aborts with a message: a bug the fuzzer found.
[[noreturn]] void bug(const char *what) {
  llvm::errs() << "nnc-frontend-fuzzer: BUG: " << what << "\n";
  std::abort();
}

std::unique_ptr<mlir::MLIRContext> makeContext() {
  mlir::DialectRegistry registry;
  nnc::registerAllDialects(registry);
  auto context = std::make_unique<mlir::MLIRContext>(
      registry, mlir::MLIRContext::Threading::DISABLED);
  context->loadAllAvailableDialects();
  return context;
}

mlir::MLIRContext &getContext() {
  static std::unique_ptr<mlir::MLIRContext> context;
  static unsigned uses = 0;
  if (!context || ++uses % kInputsPerContext == 0)
    context = makeContext();
  return *context;
}

std::string print(mlir::Operation *op) {
  std::string text;
  llvm::raw_string_ostream os(text);
  op->print(os, mlir::OpPrintingFlags().enableDebugInfo(true, false));
  return text;
}

void runOne(llvm::StringRef input) {
  llvm::SourceMgr srcMgr;
  srcMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(input, "fuzz.nn"), llvm::SMLoc());
  llvm::raw_ostream &diagOS = verbose ? llvm::errs() : llvm::nulls();
  nnc::DiagEngine diag(srcMgr, diagOS);

  std::unique_ptr<nnc::ast::Module> ast = nnc::parseModelFile(diag);
  if (!ast) {
    if (diag.getNumErrors() == 0)
      bug("the parser failed without an error");
    return;
  }
  nnc::ast::dumpAST(*ast, srcMgr, llvm::nulls());

  auto graphs = nnc::analyzeModule(*ast, "", {}, diag, kLimits);
  if (!graphs) {
    if (diag.getNumErrors() == 0)
      bug("Sema failed without an error");
    return;
  }
  if (diag.getNumErrors() != 0)
    bug("Sema reported an error but succeeded");

  mlir::MLIRContext &context = getContext();
  // MLIR diagnostics: printed when verbose, counted always.
  unsigned mlirErrors = 0;
  mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
    if (d.getSeverity() == mlir::DiagnosticSeverity::Error)
      ++mlirErrors;
    if (verbose)
      llvm::errs() << d.getLocation() << ": " << d.str() << "\n";
    return mlir::success();
  });

  mlir::OwningOpRef<mlir::ModuleOp> module =
      nnc::mlirGen(context, *graphs, srcMgr);
  if (!module)
    bug("Sema accepted the model but MLIRGen's IR does not verify");

  // The printed IR parses back to the same IR (nnc compile | nn-opt).
  std::string text = print(*module);
  mlir::ParserConfig config(&context);
  mlir::OwningOpRef<mlir::ModuleOp> reparsed =
      mlir::parseSourceString<mlir::ModuleOp>(text, config);
  if (!reparsed)
    bug("the printed nn IR does not parse back");
  if (print(*reparsed) != text)
    bug("the printed nn IR does not round-trip");

  // What `nnc report` does for each model.
  unsigned index = 0;
  for (auto model : module->getBody()->getOps<mlir::ModuleOp>()) {
    const nnc::ModelGraph &graph = (*graphs)[index++];
    nnc::ReportOptions options;
    options.batch = std::min(graph.train.batch, kMaxReportBatch);
    options.optimizer = graph.train.optimizer;
    mlir::PassManager pm(&context, mlir::ModuleOp::getOperationName());
    nnc::NNInferShapesOptions shapeOptions;
    shapeOptions.batch = options.batch;
    pm.addPass(nnc::createNNInferShapes(shapeOptions));
    if (mlir::failed(pm.run(model))) {
      if (mlirErrors == 0)
        bug("-nn-infer-shapes failed without an error");
      continue;
    }
    llvm::FailureOr<nnc::ModelReport> report =
        nnc::computeReport(model, options);
    if (mlir::succeeded(report)) {
      nnc::printReportTable(*report, llvm::nulls());
      llvm::json::Value json = nnc::reportToJSON(*report);
      (void)json;
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  const char *v = std::getenv("NNC_FUZZ_VERBOSE");
  verbose = v && *v && *v != '0';
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > kMaxInputSize)
    return -1; // Not added to the corpus.
  runOne(llvm::StringRef(reinterpret_cast<const char *>(data), size));
  return 0;
}
