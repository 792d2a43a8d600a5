//===- Parser.cpp - Parse a model file into an AST ------------------------===//
//
// A recursive-descent parser for the grammar of docs/language.md. It stops at
// the first error (lexical or syntactic) and returns null. Pipelines are
// desugared here: `a |> f(b)` becomes the call `f(a, b)` marked as piped.
//
// Hostile inputs cannot overflow the stack: syntactic nesting (parentheses,
// lists, call arguments, unary minus, repeat bodies) and the height of every
// expression tree (long `+` chains and pipelines build deep trees without
// recursion in the parser, but later passes walk them recursively) are both
// limited to kMaxNesting.
//
//===----------------------------------------------------------------------===//

#include "frontend/Parser.h"
#include "frontend/Lexer.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/LogicalResult.h"

#include <algorithm>

using namespace nnc;
using namespace nnc::ast;
using llvm::failure;
using llvm::LogicalResult;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::success;
using llvm::Twine;
using K = Token::Kind;

namespace {

/// The deepest syntactic nesting and the tallest expression tree accepted.
constexpr unsigned kMaxNesting = 256;
/// The largest model file accepted. The AST of a dense file takes ~40 times
/// its size (a 100 MB file of `a=1` statements took 3.6 GB); real model files
/// are a few KB.
constexpr size_t kMaxFileSize = 16 << 20;

/// `text`, cut to at most 32 bytes plus `...` so that a hostile 1 MB name
/// does not make a 1 MB message.
std::string shorten(StringRef text) {
  constexpr size_t kMaxShown = 32;
  if (text.size() <= kMaxShown)
    return text.str();
  size_t cut = kMaxShown;
  // Do not split a UTF-8 sequence (strings may hold any UTF-8 text).
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80)
    --cut;
  return text.take_front(cut).str() + "...";
}

/// `'name'` for messages, shortened.
std::string quote(StringRef name) { return "'" + shorten(name) + "'"; }

/// What `found ...` says about a token in an error message.
std::string describeToken(const Token &tok) {
  switch (tok.kind) {
  case K::Eof:
    return "end of file";
  case K::Error:
    return "an invalid token";
  case K::String:
    return "string " + shorten(tok.spelling);
  default:
    return quote(tok.spelling);
  }
}

class Parser {
public:
  Parser(DiagEngine &diag, StringRef buffer) : diag(diag), lexer(diag, buffer) {
    consume();
  }

  std::unique_ptr<Module> parseFile();

private:
  //===--------------------------------------------------------------------===//
  // Tokens
  //===--------------------------------------------------------------------===//

  /// Advances to the next token.
  void consume() {
    if (hasPeeked) {
      tok = std::move(peeked);
      hasPeeked = false;
    } else {
      tok = lexer.lex();
    }
    if (tok.is(K::Error))
      hadError = true;
  }
  /// The token after the current one.
  const Token &peek() {
    if (!hasPeeked) {
      peeked = lexer.lex();
      hasPeeked = true;
      if (peeked.is(K::Error))
        hadError = true;
    }
    return peeked;
  }
  /// Consumes the current token if it is of kind `kind`.
  bool consumeIf(K kind) {
    if (tok.isNot(kind))
      return false;
    consume();
    return true;
  }

  //===--------------------------------------------------------------------===//
  // Diagnostics
  //===--------------------------------------------------------------------===//

  /// Reports the first error only; later ones (and all errors after a lexical
  /// error, which the lexer reported) are dropped.
  void emitError(SMLoc loc, const Twine &msg) {
    if (hadError)
      return;
    hadError = true;
    diag.error(loc, msg);
  }
  /// Reports `expected <what>, found <tok>` at the current token, or that an
  /// open bracket is not closed when the file ended.
  void emitExpected(const Twine &what) {
    if (tok.is(K::Eof) && !openBrackets.empty()) {
      auto [bracket, loc] = openBrackets.back();
      unsigned line = diag.getSourceMgr().getLineAndColumn(loc).first;
      emitError(tok.getLoc(), Twine("unexpected end of file: '") +
                                  Twine(bracket) + "' at line " + Twine(line) +
                                  " is not closed");
      return;
    }
    emitError(tok.getLoc(),
              "expected " + what + ", found " + describeToken(tok));
  }
  /// Consumes a token of kind `kind` or reports `expected <what>`.
  LogicalResult expect(K kind, const Twine &what) {
    if (consumeIf(kind))
      return success();
    emitExpected(what);
    return failure();
  }

  /// Consumes an opening bracket and remembers it for end-of-file errors.
  void openBracket() {
    openBrackets.push_back(
        {tok.spelling.empty() ? '?' : tok.spelling[0], tok.getLoc()});
    consume();
  }
  /// Consumes the closing bracket `kind` or reports `expected <what>`.
  LogicalResult closeBracket(K kind, const Twine &what) {
    if (failed(expect(kind, what)))
      return failure();
    openBrackets.pop_back();
    return success();
  }

  /// Counts one level of syntactic nesting while alive.
  class NestingScope {
  public:
    NestingScope(Parser &parser, SMLoc loc) : parser(parser) {
      if (++parser.nesting > kMaxNesting)
        parser.emitError(loc, "nesting is too deep (limit " +
                                  Twine(kMaxNesting) + ")");
    }
    ~NestingScope() { --parser.nesting; }
    bool tooDeep() const { return parser.nesting > kMaxNesting; }

  private:
    Parser &parser;
  };

  /// Checks the height of an expression tree about to be built at `loc`.
  LogicalResult checkHeight(unsigned height, SMLoc loc) {
    if (height <= kMaxNesting)
      return success();
    emitError(loc, "nesting is too deep (limit " + Twine(kMaxNesting) + ")");
    return failure();
  }

  //===--------------------------------------------------------------------===//
  // Definitions and statements
  //===--------------------------------------------------------------------===//

  std::unique_ptr<Definition> parseDefinition();
  LogicalResult parseParams(std::vector<Param> &params);
  /// Parses `stmt* '}'` after an opening brace.
  LogicalResult parseBody(std::vector<StmtPtr> &body);
  StmtPtr parseStmt();
  StmtPtr parseInput();
  StmtPtr parseOutput();
  StmtPtr parseAssign();
  StmtPtr parseRepeat();
  StmtPtr parseFor();
  StmtPtr parseIf();
  /// Parses `'{' stmt* '}'` after a statement head; `what` names the body.
  LogicalResult parseBlockBody(std::vector<StmtPtr> &body, const Twine &what);
  StmtPtr parseTrain();

  //===--------------------------------------------------------------------===//
  // Expressions. Each sets `height` to the height of the returned tree.
  //===--------------------------------------------------------------------===//

  ExprPtr parseExpr(unsigned &height);
  /// Parses `operand (op operand)*`, left-associative, for the binary
  /// operators `ops` of one precedence level.
  ExprPtr parseBinaryChain(unsigned &height, llvm::ArrayRef<K> ops,
                           ExprPtr (Parser::*parseOperand)(unsigned &));
  /// Parses `prefix* operand` for the prefix operator `prefix` (`op` in the
  /// AST), right-nested, each level counted as the binary ones are.
  ExprPtr parsePrefix(unsigned &height, K prefix, char op,
                      ExprPtr (Parser::*parseOperand)(unsigned &));
  ExprPtr parseOr(unsigned &height);
  ExprPtr parseAnd(unsigned &height);
  ExprPtr parseNot(unsigned &height);
  ExprPtr parseComparison(unsigned &height);
  ExprPtr parseAdditive(unsigned &height);
  ExprPtr parseTerm(unsigned &height);
  ExprPtr parseUnary(unsigned &height);
  ExprPtr parsePrimary(unsigned &height);
  /// Parses `'(' [args] ')'` and appends to `args`; `height` becomes the
  /// maximum of its value and the heights of the new arguments.
  LogicalResult parseArgs(std::vector<Arg> &args, unsigned &height);
  /// Parses an optional `as NAME` after a call.
  LogicalResult parseOptionalAs(CallExpr &call);
  /// Rejects an `as` that does not directly follow a call.
  LogicalResult rejectStrayAs();
  /// Parses an expression whose height does not matter to the caller.
  ExprPtr parseExpr() {
    unsigned height = 0;
    return parseExpr(height);
  }

  DiagEngine &diag;
  Lexer lexer;
  Token tok;
  Token peeked;
  bool hasPeeked = false;
  /// Set once an error has been reported.
  bool hadError = false;
  unsigned nesting = 0;
  /// The brackets opened and not yet closed, innermost last.
  llvm::SmallVector<std::pair<char, SMLoc>, 8> openBrackets;
};

} // namespace

std::unique_ptr<Module> Parser::parseFile() {
  auto module = std::make_unique<Module>();
  while (!hadError && tok.isNot(K::Eof)) {
    if (tok.isNot(K::KwModel) && tok.isNot(K::KwBlock)) {
      emitExpected("'model' or 'block'");
      break;
    }
    auto def = parseDefinition();
    if (!def)
      break;
    module->definitions.push_back(std::move(def));
  }
  if (hadError)
    return nullptr;
  return module;
}

std::unique_ptr<Definition> Parser::parseDefinition() {
  bool isModel = tok.is(K::KwModel);
  StringRef what = isModel ? "model" : "block";
  consume();
  if (tok.isNot(K::Identifier)) {
    emitExpected("a " + what + " name after '" + what + "'");
    return nullptr;
  }
  std::string name = tok.spelling.str();
  SMLoc loc = tok.getLoc();
  consume();

  std::vector<Param> params;
  bool hasParams = tok.is(K::LParen);
  if (hasParams && failed(parseParams(params)))
    return nullptr;
  if (tok.isNot(K::LBrace)) {
    if (hasParams)
      emitExpected("'{' to begin the body of " + what + " " + quote(name));
    else
      emitExpected("'(' or '{' after " + what + " name " + quote(name));
    return nullptr;
  }
  openBracket();
  std::vector<StmtPtr> body;
  if (failed(parseBody(body)))
    return nullptr;
  return std::make_unique<Definition>(
      isModel ? Definition::Kind::Model : Definition::Kind::Block, loc,
      std::move(name), std::move(params), std::move(body));
}

LogicalResult Parser::parseParams(std::vector<Param> &params) {
  openBracket();
  llvm::StringMap<SMLoc> seen;
  if (tok.isNot(K::RParen)) {
    do {
      if (tok.isNot(K::Identifier)) {
        emitExpected("a parameter name");
        return failure();
      }
      Param param;
      param.name = tok.spelling.str();
      param.loc = tok.getLoc();
      auto [it, inserted] = seen.try_emplace(param.name, param.loc);
      if (!inserted) {
        emitError(param.loc, "duplicate parameter " + quote(param.name));
        diag.note(it->second, quote(param.name) + " was first declared here");
        return failure();
      }
      consume();
      if (consumeIf(K::Equal)) {
        param.defaultValue = parseExpr();
        if (!param.defaultValue)
          return failure();
      }
      params.push_back(std::move(param));
    } while (consumeIf(K::Comma));
  }
  return closeBracket(K::RParen, "')' to close the parameter list");
}

LogicalResult Parser::parseBody(std::vector<StmtPtr> &body) {
  while (!hadError && tok.isNot(K::RBrace)) {
    if (consumeIf(K::Semicolon))
      continue;
    StmtPtr stmt = parseStmt();
    if (!stmt)
      return failure();
    body.push_back(std::move(stmt));
  }
  return closeBracket(K::RBrace, "'}'");
}

StmtPtr Parser::parseStmt() {
  switch (tok.kind) {
  case K::KwInput:
    return parseInput();
  case K::KwOutput:
    return parseOutput();
  case K::KwRepeat:
    return parseRepeat();
  case K::KwFor:
    return parseFor();
  case K::KwIf:
    return parseIf();
  case K::KwTrain:
    return parseTrain();
  case K::Identifier:
    if (peek().is(K::Equal))
      return parseAssign();
    {
      std::string name = tok.spelling.str();
      consume();
      emitExpected("'=' after " + quote(name) +
                   " (a statement is input, output, repeat, for, if, train or "
                   "'name = expression')");
    }
    return nullptr;
  default:
    emitExpected("a statement (input, output, repeat, for, if, train or "
                 "'name = expression')");
    return nullptr;
  }
}

StmtPtr Parser::parseInput() {
  SMLoc loc = tok.getLoc();
  consume();
  if (tok.isNot(K::Identifier)) {
    emitExpected("an input name after 'input'");
    return nullptr;
  }
  std::string name = tok.spelling.str();
  SMLoc nameLoc = tok.getLoc();
  consume();

  std::unique_ptr<TensorTypeAST> type;
  if (consumeIf(K::Colon)) {
    type = std::make_unique<TensorTypeAST>();
    if (tok.isNot(K::Identifier)) {
      emitExpected("a dtype after ':' (f32, f16, bf16, i64 or i32)");
      return nullptr;
    }
    type->dtype = tok.spelling.str();
    type->dtypeLoc = tok.getLoc();
    consume();
    if (tok.isNot(K::LSquare)) {
      emitExpected("'[' to begin the shape of input " + quote(name));
      return nullptr;
    }
    openBracket();
    if (tok.isNot(K::RSquare)) {
      do {
        ExprPtr dim = parseExpr();
        if (!dim)
          return nullptr;
        type->dims.push_back(std::move(dim));
      } while (consumeIf(K::Comma));
    }
    if (failed(closeBracket(K::RSquare, "']' to close the shape")))
      return nullptr;
  }
  return std::make_unique<InputStmt>(loc, std::move(name), nameLoc,
                                     std::move(type));
}

StmtPtr Parser::parseOutput() {
  SMLoc loc = tok.getLoc();
  consume();
  std::string name;
  SMLoc nameLoc;
  if (tok.is(K::Identifier) && peek().is(K::Equal)) {
    name = tok.spelling.str();
    nameLoc = tok.getLoc();
    consume();
    consume();
  }
  ExprPtr value = parseExpr();
  if (!value)
    return nullptr;
  return std::make_unique<OutputStmt>(loc, std::move(name), nameLoc,
                                      std::move(value));
}

StmtPtr Parser::parseAssign() {
  SMLoc loc = tok.getLoc();
  std::string name = tok.spelling.str();
  consume(); // name
  consume(); // '='
  ExprPtr value = parseExpr();
  if (!value)
    return nullptr;
  return std::make_unique<AssignStmt>(loc, std::move(name), std::move(value));
}

StmtPtr Parser::parseRepeat() {
  SMLoc loc = tok.getLoc();
  NestingScope scope(*this, loc);
  if (scope.tooDeep())
    return nullptr;
  consume();
  std::string indexVar;
  SMLoc indexLoc;
  if (tok.is(K::Identifier) && peek().is(K::KwIn)) {
    indexVar = tok.spelling.str();
    indexLoc = tok.getLoc();
    consume();
    consume();
  }
  ExprPtr count = parseExpr();
  if (!count)
    return nullptr;
  if (tok.isNot(K::LBrace)) {
    emitExpected("'{' to begin the repeat body");
    return nullptr;
  }
  openBracket();
  std::vector<StmtPtr> body;
  if (failed(parseBody(body)))
    return nullptr;
  return std::make_unique<RepeatStmt>(loc, std::move(indexVar), indexLoc,
                                      std::move(count), std::move(body));
}

LogicalResult Parser::parseBlockBody(std::vector<StmtPtr> &body, const Twine &what) {
  if (tok.isNot(K::LBrace)) {
    emitExpected("'{' to begin the " + what);
    return failure();
  }
  openBracket();
  return parseBody(body);
}

StmtPtr Parser::parseFor() {
  SMLoc loc = tok.getLoc();
  NestingScope scope(*this, loc);
  if (scope.tooDeep())
    return nullptr;
  consume();
  if (tok.isNot(K::Identifier)) {
    emitExpected("a loop variable after 'for'");
    return nullptr;
  }
  std::string var = tok.spelling.str();
  SMLoc varLoc = tok.getLoc();
  consume();
  if (failed(expect(K::KwIn, "'in' after the loop variable")))
    return nullptr;
  ExprPtr list = parseExpr();
  if (!list)
    return nullptr;
  std::vector<StmtPtr> body;
  if (failed(parseBlockBody(body, "for body")))
    return nullptr;
  return std::make_unique<ForStmt>(loc, std::move(var), varLoc, std::move(list), std::move(body));
}

StmtPtr Parser::parseIf() {
  SMLoc loc = tok.getLoc();
  NestingScope scope(*this, loc);
  if (scope.tooDeep())
    return nullptr;
  std::vector<IfArm> arms;
  consume(); // 'if'
  while (true) {
    IfArm arm;
    arm.cond = parseExpr();
    if (!arm.cond || failed(parseBlockBody(arm.body, "if body")))
      return nullptr;
    arms.push_back(std::move(arm));
    if (!consumeIf(K::KwElse))
      break;
    if (consumeIf(K::KwIf))
      continue;
    IfArm last;
    if (failed(parseBlockBody(last.body, "else body")))
      return nullptr;
    arms.push_back(std::move(last));
    break;
  }
  return std::make_unique<IfStmt>(loc, std::move(arms));
}

StmtPtr Parser::parseTrain() {
  SMLoc loc = tok.getLoc();
  consume();
  if (tok.isNot(K::LBrace)) {
    emitExpected("'{' after 'train'");
    return nullptr;
  }
  openBracket();
  std::vector<TrainSetting> settings;
  while (!hadError && tok.isNot(K::RBrace)) {
    if (tok.isNot(K::Identifier)) {
      emitExpected("a train setting 'name = value' or '}'");
      return nullptr;
    }
    TrainSetting setting;
    setting.key = tok.spelling.str();
    setting.keyLoc = tok.getLoc();
    consume();
    if (failed(
            expect(K::Equal, "'=' after train setting " + quote(setting.key))))
      return nullptr;
    setting.value = parseExpr();
    if (!setting.value)
      return nullptr;
    settings.push_back(std::move(setting));
    consumeIf(K::Semicolon);
  }
  if (failed(closeBracket(K::RBrace, "'}'")))
    return nullptr;
  return std::make_unique<TrainStmt>(loc, std::move(settings));
}

//===----------------------------------------------------------------------===//
// Expressions
//===----------------------------------------------------------------------===//

ExprPtr Parser::parseExpr(unsigned &height) {
  ExprPtr lhs = parseOr(height);
  while (lhs && tok.is(K::Pipe)) {
    consume();
    if (tok.isNot(K::Identifier)) {
      emitExpected("a layer or block name after '|>'");
      return nullptr;
    }
    std::string callee = tok.spelling.str();
    SMLoc calleeLoc = tok.getLoc();
    consume();
    std::vector<Arg> args;
    args.push_back(Arg{"", SMLoc(), std::move(lhs)});
    unsigned argsHeight = height;
    if (tok.is(K::LParen) && failed(parseArgs(args, argsHeight)))
      return nullptr;
    height = argsHeight + 1;
    if (failed(checkHeight(height, calleeLoc)))
      return nullptr;
    auto call = std::make_unique<CallExpr>(calleeLoc, std::move(callee),
                                           std::move(args), /*piped=*/true);
    if (failed(parseOptionalAs(*call)) || failed(rejectStrayAs()))
      return nullptr;
    lhs = std::move(call);
  }
  return lhs;
}

ExprPtr Parser::parseBinaryChain(unsigned &height, llvm::ArrayRef<K> ops,
                                 ExprPtr (Parser::*parseOperand)(unsigned &)) {
  ExprPtr lhs = (this->*parseOperand)(height);
  while (lhs && llvm::any_of(ops, [&](K kind) { return tok.is(kind); })) {
    char op = tok.spelling[0];
    if (tok.is(K::EqualEqual))
      op = '=';
    else if (tok.is(K::NotEqual))
      op = '!';
    else if (tok.is(K::LessEqual))
      op = 'l';
    else if (tok.is(K::GreaterEqual))
      op = 'g';
    else if (tok.is(K::KwAnd))
      op = '&';
    else if (tok.is(K::KwOr))
      op = '|';
    SMLoc opLoc = tok.getLoc();
    consume();
    unsigned rhsHeight = 0;
    ExprPtr rhs = (this->*parseOperand)(rhsHeight);
    if (!rhs)
      return nullptr;
    height = std::max(height, rhsHeight) + 1;
    if (failed(checkHeight(height, opLoc)))
      return nullptr;
    lhs =
        std::make_unique<BinaryExpr>(opLoc, op, std::move(lhs), std::move(rhs));
  }
  return lhs;
}

ExprPtr Parser::parseOr(unsigned &height) {
  return parseBinaryChain(height, {K::KwOr}, &Parser::parseAnd);
}

ExprPtr Parser::parseAnd(unsigned &height) {
  return parseBinaryChain(height, {K::KwAnd}, &Parser::parseNot);
}

ExprPtr Parser::parsePrefix(unsigned &height, K prefix, char op,
                            ExprPtr (Parser::*parseOperand)(unsigned &)) {
  if (tok.isNot(prefix))
    return (this->*parseOperand)(height);
  SMLoc loc = tok.getLoc();
  NestingScope scope(*this, loc);
  if (scope.tooDeep())
    return nullptr;
  consume();
  ExprPtr operand = parsePrefix(height, prefix, op, parseOperand);
  if (!operand)
    return nullptr;
  ++height;
  if (failed(checkHeight(height, loc)))
    return nullptr;
  return std::make_unique<UnaryExpr>(loc, op, std::move(operand));
}

ExprPtr Parser::parseNot(unsigned &height) {
  return parsePrefix(height, K::KwNot, '!', &Parser::parseComparison);
}

ExprPtr Parser::parseComparison(unsigned &height) {
  return parseBinaryChain(
      height, {K::EqualEqual, K::NotEqual, K::Less, K::LessEqual, K::Greater, K::GreaterEqual},
      &Parser::parseAdditive);
}

ExprPtr Parser::parseAdditive(unsigned &height) {
  return parseBinaryChain(height, {K::Plus, K::Minus}, &Parser::parseTerm);
}

ExprPtr Parser::parseTerm(unsigned &height) {
  return parseBinaryChain(height, {K::Star, K::Slash, K::Percent},
                          &Parser::parseUnary);
}

ExprPtr Parser::parseUnary(unsigned &height) {
  return parsePrefix(height, K::Minus, '-', &Parser::parsePrimary);
}

ExprPtr Parser::parsePrimary(unsigned &height) {
  height = 1;
  SMLoc loc = tok.getLoc();
  ExprPtr result;
  switch (tok.kind) {
  case K::Integer:
    result = std::make_unique<IntExpr>(loc, tok.intValue);
    consume();
    break;
  case K::Float:
    result = std::make_unique<FloatExpr>(loc, tok.floatValue);
    consume();
    break;
  case K::String:
    result = std::make_unique<StringExpr>(loc, std::move(tok.stringValue));
    consume();
    break;
  case K::KwTrue:
  case K::KwFalse:
    result = std::make_unique<BoolExpr>(loc, tok.is(K::KwTrue));
    consume();
    break;
  case K::Identifier: {
    std::string name = tok.spelling.str();
    consume();
    if (tok.isNot(K::LParen)) {
      result = std::make_unique<IdentExpr>(loc, std::move(name));
      break;
    }
    std::vector<Arg> args;
    unsigned argsHeight = 0;
    if (failed(parseArgs(args, argsHeight)))
      return nullptr;
    height = argsHeight + 1;
    if (failed(checkHeight(height, loc)))
      return nullptr;
    auto call =
        std::make_unique<CallExpr>(loc, std::move(name), std::move(args));
    if (failed(parseOptionalAs(*call)))
      return nullptr;
    result = std::move(call);
    break;
  }
  case K::LParen: {
    NestingScope scope(*this, loc);
    if (scope.tooDeep())
      return nullptr;
    openBracket();
    result = parseExpr(height);
    if (!result || failed(closeBracket(
                       K::RParen, "')' to close the parenthesized expression")))
      return nullptr;
    break;
  }
  case K::LSquare: {
    NestingScope scope(*this, loc);
    if (scope.tooDeep())
      return nullptr;
    openBracket();
    std::vector<ExprPtr> elements;
    unsigned maxHeight = 0;
    if (tok.isNot(K::RSquare)) {
      do {
        unsigned elementHeight = 0;
        ExprPtr element = parseExpr(elementHeight);
        if (!element)
          return nullptr;
        maxHeight = std::max(maxHeight, elementHeight);
        elements.push_back(std::move(element));
      } while (consumeIf(K::Comma));
    }
    if (failed(closeBracket(K::RSquare, "']' to close the list")))
      return nullptr;
    height = maxHeight + 1;
    if (failed(checkHeight(height, loc)))
      return nullptr;
    result = std::make_unique<ListExpr>(loc, std::move(elements));
    break;
  }
  default:
    emitExpected("an expression");
    return nullptr;
  }
  // Postfix indexing: `list[i]`, `cfgs[d][j]`.
  while (tok.is(K::LSquare)) {
    SMLoc indexLoc = tok.getLoc();
    NestingScope scope(*this, indexLoc);
    if (scope.tooDeep())
      return nullptr;
    openBracket();
    unsigned indexHeight = 0;
    ExprPtr index = parseExpr(indexHeight);
    if (!index || failed(closeBracket(K::RSquare, "']' to close the index")))
      return nullptr;
    height = std::max(height, indexHeight) + 1;
    if (failed(checkHeight(height, indexLoc)))
      return nullptr;
    result = std::make_unique<IndexExpr>(indexLoc, std::move(result), std::move(index));
  }
  if (failed(rejectStrayAs()))
    return nullptr;
  return result;
}

LogicalResult Parser::parseArgs(std::vector<Arg> &args, unsigned &height) {
  NestingScope scope(*this, tok.getLoc());
  if (scope.tooDeep())
    return failure();
  openBracket();
  if (tok.isNot(K::RParen)) {
    llvm::StringMap<SMLoc> keywords;
    std::string lastKeyword;
    do {
      Arg arg;
      // `in` is a keyword of the language but also conv2d's and linear's
      // `in=` argument.
      if ((tok.is(K::Identifier) || tok.is(K::KwIn)) && peek().is(K::Equal)) {
        arg.keyword = tok.spelling.str();
        arg.keywordLoc = tok.getLoc();
        auto [it, inserted] = keywords.try_emplace(arg.keyword, arg.keywordLoc);
        if (!inserted) {
          emitError(arg.keywordLoc,
                    "duplicate keyword argument " + quote(arg.keyword));
          diag.note(it->second, quote(arg.keyword) + " was first given here");
          return failure();
        }
        lastKeyword = arg.keyword;
        consume();
        consume();
      }
      SMLoc argLoc = tok.getLoc();
      unsigned argHeight = 0;
      arg.value = parseExpr(argHeight);
      if (!arg.value)
        return failure();
      if (arg.keyword.empty() && !lastKeyword.empty()) {
        emitError(argLoc, "positional argument follows keyword argument " +
                              quote(lastKeyword));
        return failure();
      }
      height = std::max(height, argHeight);
      args.push_back(std::move(arg));
    } while (consumeIf(K::Comma));
  }
  return closeBracket(K::RParen, "')' to close the argument list");
}

LogicalResult Parser::parseOptionalAs(CallExpr &call) {
  if (!consumeIf(K::KwAs))
    return success();
  if (tok.isNot(K::Identifier)) {
    emitExpected("a layer name after 'as'");
    return failure();
  }
  call.setAsName(tok.spelling.str(), tok.getLoc());
  consume();
  return success();
}

LogicalResult Parser::rejectStrayAs() {
  if (tok.isNot(K::KwAs))
    return success();
  emitError(tok.getLoc(),
            "'as' must directly follow a layer or block call, as in "
            "'conv2d(x, 8, 3) as c1'");
  return failure();
}

std::unique_ptr<Module> nnc::parseModelFile(DiagEngine &diag) {
  llvm::SourceMgr &srcMgr = diag.getSourceMgr();
  if (srcMgr.getNumBuffers() == 0) {
    diag.commandLineError("no input file");
    return nullptr;
  }
  StringRef buffer =
      srcMgr.getMemoryBuffer(srcMgr.getMainFileID())->getBuffer();
  if (buffer.size() > kMaxFileSize) {
    diag.error(SMLoc::getFromPointer(buffer.data()),
               "the model file has " + Twine(buffer.size()) +
                   " bytes, more than the limit of nnc (" +
                   Twine(kMaxFileSize) + " bytes, 16 MiB)");
    return nullptr;
  }
  Parser parser(diag, buffer);
  return parser.parseFile();
}
