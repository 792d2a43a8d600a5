//===- Diagnostics.h - Located, clang-style frontend diagnostics -*- C++ -*-===//
//
// Every frontend error is printed as `file:line:col: error: message`, then the
// source line and a caret, through llvm::SourceMgr (the same format MLIR's
// SourceMgrDiagnosticHandler uses for errors raised by later passes, which the
// DiagEngine routes through the same printer). Errors about the command line
// print as `<command line>: error: message`.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_FRONTEND_DIAGNOSTICS_H
#define NNC_FRONTEND_DIAGNOSTICS_H

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <string>
#include <utility>
#include <vector>

namespace nnc {

/// The widest source line a diagnostic echoes whole; a longer one (a model
/// file of one 50 MB line) is shown as a window of about this many columns
/// around the caret, with `...` where it was cut.
constexpr unsigned kMaxEchoedLineWidth = 120;

/// Prints `diag` as SMDiagnostic::print does (`file:line:col: error: msg`, the
/// source line and a caret), except that a source line wider than
/// kMaxEchoedLineWidth is cut to a window around the caret.
void printDiagnostic(const llvm::SMDiagnostic &diag, llvm::raw_ostream &os);

/// Prints diagnostics against the buffers of one SourceMgr and counts errors.
/// While it lives, every message printed through the SourceMgr (also those of
/// MLIR's SourceMgrDiagnosticHandler, for errors raised by passes) goes
/// through printDiagnostic to its stream.
class DiagEngine {
public:
  explicit DiagEngine(llvm::SourceMgr &srcMgr, llvm::raw_ostream &os = llvm::errs());
  ~DiagEngine();
  DiagEngine(const DiagEngine &) = delete;
  DiagEngine &operator=(const DiagEngine &) = delete;

  /// Reports an error at `loc`, followed by a note for each enclosing context
  /// (innermost first).
  void error(llvm::SMLoc loc, const llvm::Twine &msg);
  /// Reports an error about the command line (`<command line>: error: msg`).
  void commandLineError(const llvm::Twine &msg);
  /// Attaches a note (e.g. "previous definition is here") to the last error.
  void note(llvm::SMLoc loc, const llvm::Twine &msg);

  /// Adds a context, e.g. a block instance, that every error reported until
  /// the matching popContext() is noted with: `note: <msg>` at `loc`.
  void pushContext(llvm::SMLoc loc, std::string msg) {
    contexts.emplace_back(loc, std::move(msg));
  }
  void popContext() { contexts.pop_back(); }

  unsigned getNumErrors() const { return numErrors; }
  llvm::SourceMgr &getSourceMgr() const { return srcMgr; }

private:
  llvm::SourceMgr &srcMgr;
  llvm::raw_ostream &os;
  unsigned numErrors = 0;
  std::vector<std::pair<llvm::SMLoc, std::string>> contexts;
  llvm::SourceMgr::DiagHandlerTy oldHandler;
  void *oldContext;
};

/// Line and column of many locations in one buffer, O(log lines) each, for
/// MLIRGen's op locations and the AST dump. SourceMgr::getLineAndColumn (and
/// FindLineNumber, which calls it) scans back to the line start on every
/// call: quadratic on a hostile one-line file of 100,000 layers. Lines end at
/// '\n'; columns count bytes from 1 (SourceMgr also restarts them after a
/// lone '\r' inside a line, the only difference).
class LineLocator {
public:
  explicit LineLocator(llvm::StringRef buffer) : buffer(buffer) {
    lineStarts.push_back(buffer.data());
    for (size_t i = 0; i < buffer.size(); ++i)
      if (buffer[i] == '\n')
        lineStarts.push_back(buffer.data() + i + 1);
  }
  /// Whether `loc` points into the buffer (or one past its end).
  bool contains(llvm::SMLoc loc) const {
    const char *p = loc.getPointer();
    return p && p >= buffer.begin() && p <= buffer.end();
  }
  /// The 1-based line and column of `loc`, which must be contained.
  std::pair<unsigned, unsigned> getLineAndColumn(llvm::SMLoc loc) const {
    const char *p = loc.getPointer();
    // The last line start <= p.
    auto it = llvm::upper_bound(lineStarts, p) - 1;
    return {unsigned(it - lineStarts.begin()) + 1, unsigned(p - *it) + 1};
  }

private:
  llvm::StringRef buffer;
  std::vector<const char *> lineStarts;
};

} // namespace nnc

#endif // NNC_FRONTEND_DIAGNOSTICS_H
