//===- Diagnostics.h - Located, clang-style frontend diagnostics -*- C++ -*-===//
//
// Every frontend error is printed as `file:line:col: error: message`, then the
// source line and a caret, through llvm::SourceMgr (the same format MLIR's
// SourceMgrDiagnosticHandler uses for errors raised by later passes).
//
//===----------------------------------------------------------------------===//

#ifndef NNC_FRONTEND_DIAGNOSTICS_H
#define NNC_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

namespace nnc {

/// Prints diagnostics against the buffers of one SourceMgr and counts errors.
class DiagEngine {
public:
  explicit DiagEngine(llvm::SourceMgr &srcMgr, llvm::raw_ostream &os = llvm::errs())
      : srcMgr(srcMgr), os(os) {}

  /// Reports an error at `loc`.
  void error(llvm::SMLoc loc, const llvm::Twine &msg) {
    ++numErrors;
    srcMgr.PrintMessage(os, loc, llvm::SourceMgr::DK_Error, msg);
  }
  /// Attaches a note (e.g. "previous definition is here") to the last error.
  void note(llvm::SMLoc loc, const llvm::Twine &msg) {
    srcMgr.PrintMessage(os, loc, llvm::SourceMgr::DK_Note, msg);
  }

  unsigned getNumErrors() const { return numErrors; }
  llvm::SourceMgr &getSourceMgr() const { return srcMgr; }

private:
  llvm::SourceMgr &srcMgr;
  llvm::raw_ostream &os;
  unsigned numErrors = 0;
};

} // namespace nnc

#endif // NNC_FRONTEND_DIAGNOSTICS_H
