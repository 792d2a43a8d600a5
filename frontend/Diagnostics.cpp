//===- Diagnostics.cpp - Located, clang-style frontend diagnostics --------===//
//
// The printer behind every located diagnostic of nnc: SMDiagnostic's format,
// with overlong source lines cut to a window around the caret.
//
//===----------------------------------------------------------------------===//

#include "frontend/Diagnostics.h"

#include "llvm/Support/WithColor.h"

#include <algorithm>

using namespace llvm;

/// Whether `c` continues a UTF-8 sequence (a window must not start or end
/// inside one).
static bool isUtf8Continuation(char c) { return (uint8_t(c) & 0xC0) == 0x80; }

void nnc::printDiagnostic(const SMDiagnostic &diag, raw_ostream &os) {
  StringRef line = diag.getLineContents();
  if (diag.getLineNo() == -1 || diag.getColumnNo() == -1 ||
      line.size() <= kMaxEchoedLineWidth) {
    diag.print(/*ProgName=*/nullptr, os);
    return;
  }
  // The header as SMDiagnostic prints it: the location goes in as the "file
  // name" of a diagnostic that has no source line of its own.
  size_t column = std::min<size_t>(diag.getColumnNo(), line.size());
  StringRef file = diag.getFilename() == "-" ? "<stdin>" : diag.getFilename();
  std::string where = (file + ":" + Twine(diag.getLineNo()) + ":" + Twine(column + 1)).str();
  SMDiagnostic(where, diag.getKind(), diag.getMessage()).print(nullptr, os);

  // A window of kMaxEchoedLineWidth bytes with the caret in its middle, moved
  // inside the line at either end and widened to whole UTF-8 sequences.
  size_t width = kMaxEchoedLineWidth, begin = column > width / 2 ? column - width / 2 : 0;
  size_t end = std::min(line.size(), begin + width);
  begin = end > width ? std::min(begin, end - width) : 0;
  while (begin > 0 && isUtf8Continuation(line[begin]))
    --begin;
  while (end < line.size() && isUtf8Continuation(line[end]))
    ++end;

  // Tabs expand to the next multiple of 8 columns, as SMDiagnostic does; a
  // UTF-8 sequence takes one column.
  std::string shown = begin > 0 ? "..." : "";
  size_t caretColumn = 0, columns = shown.size();
  for (size_t i = begin; i < end; ++i) {
    if (i == column)
      caretColumn = columns;
    char c = line[i];
    if (c == '\t') {
      size_t spaces = 8 - columns % 8;
      shown.append(spaces, ' ');
      columns += spaces;
      continue;
    }
    shown.push_back(c);
    if (!isUtf8Continuation(c))
      ++columns;
  }
  if (column >= end)
    caretColumn = columns;
  if (end < line.size())
    shown += "...";
  os << shown << '\n';
  WithColor(os, raw_ostream::GREEN, /*Bold=*/true) << std::string(caretColumn, ' ') << '^';
  os << '\n';
}

/// Of more than twice this many contexts, an error notes this many innermost
/// and outermost ones.
static constexpr size_t kContextsShown = 5;

/// SourceMgr's handler: prints to the raw_ostream in `context`.
static void printToStream(const SMDiagnostic &diag, void *context) {
  nnc::printDiagnostic(diag, *static_cast<raw_ostream *>(context));
}

nnc::DiagEngine::DiagEngine(SourceMgr &srcMgr, raw_ostream &os)
    : srcMgr(srcMgr), os(os), oldHandler(srcMgr.getDiagHandler()),
      oldContext(srcMgr.getDiagContext()) {
  srcMgr.setDiagHandler(printToStream, &os);
}

nnc::DiagEngine::~DiagEngine() { srcMgr.setDiagHandler(oldHandler, oldContext); }

void nnc::DiagEngine::error(SMLoc loc, const Twine &msg) {
  ++numErrors;
  srcMgr.PrintMessage(os, loc, SourceMgr::DK_Error, msg);
  // Innermost first; of a deep stack, the innermost and outermost few.
  size_t numContexts = contexts.size();
  for (size_t i = 0; i < numContexts; ++i) {
    if (numContexts > 2 * kContextsShown && i == kContextsShown) {
      SMDiagnostic("", SourceMgr::DK_Note,
                   "(" + std::to_string(numContexts - 2 * kContextsShown) +
                       " more instances)")
          .print(nullptr, os);
      i = numContexts - kContextsShown;
    }
    const auto &[contextLoc, contextMsg] = contexts[numContexts - 1 - i];
    if (contextLoc == loc) // An error at the call itself.
      continue;
    srcMgr.PrintMessage(os, contextLoc, SourceMgr::DK_Note, contextMsg);
  }
}

void nnc::DiagEngine::commandLineError(const Twine &msg) {
  ++numErrors;
  SMDiagnostic("<command line>", SourceMgr::DK_Error, msg.str()).print(nullptr, os);
}

void nnc::DiagEngine::note(SMLoc loc, const Twine &msg) {
  srcMgr.PrintMessage(os, loc, SourceMgr::DK_Note, msg);
}
