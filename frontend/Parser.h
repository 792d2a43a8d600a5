//===- Parser.h - Parse a model file into an AST ----------------*- C++ -*-===//

#ifndef NNC_FRONTEND_PARSER_H
#define NNC_FRONTEND_PARSER_H

#include "frontend/AST.h"
#include "frontend/Diagnostics.h"

#include <memory>

namespace nnc {

/// Parses the main buffer of the DiagEngine's SourceMgr. Returns null after
/// reporting the first syntax error (the parser does not try to recover).
std::unique_ptr<ast::Module> parseModelFile(DiagEngine &diag);

} // namespace nnc

#endif // NNC_FRONTEND_PARSER_H
