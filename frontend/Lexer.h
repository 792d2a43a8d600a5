//===- Lexer.h - Tokens of nnc model files ----------------------*- C++ -*-===//
//
// Splits the main buffer of a SourceMgr into tokens following the lexical
// rules of docs/language.md. Errors (bad characters, NUL bytes, invalid UTF-8,
// malformed or out-of-range literals, unterminated strings) are reported
// through the DiagEngine at the offending character; the lexer then returns a
// Token::Kind::Error token and the parser stops.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_FRONTEND_LEXER_H
#define NNC_FRONTEND_LEXER_H

#include "frontend/Diagnostics.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <string>

namespace nnc {

/// One token: its kind, its spelling in the buffer and, for literals, its
/// value.
struct Token {
  enum class Kind {
    Eof,
    Error, ///< A lexical error, already reported.
    Identifier,
    Integer,
    Float,
    String,
    // Keywords.
    KwModel,
    KwBlock,
    KwInput,
    KwOutput,
    KwRepeat,
    KwIn,
    KwTrain,
    KwAs,
    KwTrue,
    KwFalse,
    KwFor,
    KwIf,
    KwElse,
    KwAnd,
    KwOr,
    KwNot,
    // Punctuation.
    LParen,
    RParen,
    LBrace,
    RBrace,
    LSquare,
    RSquare,
    Comma,
    Colon,
    Semicolon,
    Equal,
    Pipe, ///< `|>`
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    EqualEqual,   ///< `==`
    NotEqual,     ///< `!=`
    Less,         ///< `<`
    LessEqual,    ///< `<=`
    Greater,      ///< `>`
    GreaterEqual, ///< `>=`
  };

  Kind kind = Kind::Eof;
  /// The exact source text of the token (empty for Eof).
  llvm::StringRef spelling;
  /// The value of an Integer token.
  int64_t intValue = 0;
  /// The value of a Float token.
  double floatValue = 0.0;
  /// The unescaped contents of a String token.
  std::string stringValue;

  bool is(Kind k) const { return kind == k; }
  bool isNot(Kind k) const { return kind != k; }
  /// True for identifiers and keywords (words that could name something).
  bool isWord() const;
  /// The location of the token's first character.
  llvm::SMLoc getLoc() const {
    return llvm::SMLoc::getFromPointer(spelling.data());
  }
};

/// Returns the fixed spelling of a keyword or punctuation kind (`model`, `|>`),
/// or a description for the other kinds (`identifier`, `end of file`).
llvm::StringRef getTokenKindSpelling(Token::Kind kind);

/// Lexes the main buffer of `diag`'s SourceMgr, one token at a time.
class Lexer {
public:
  /// Lexes `buffer`, which must live in `diag`'s SourceMgr (locations point
  /// into it).
  Lexer(DiagEngine &diag, llvm::StringRef buffer);

  /// Returns the next token. After an Error or Eof token, keeps returning Eof
  /// at the end of the buffer (Error only once).
  Token lex();

  /// The location one past the last character of the buffer.
  llvm::SMLoc getEndLoc() const { return llvm::SMLoc::getFromPointer(end); }

private:
  /// Reports `msg` at `loc` and returns an Error token starting there.
  Token error(const char *loc, const llvm::Twine &msg);
  /// Skips whitespace and comments. Returns false after reporting an error.
  bool skipTrivia();
  /// Validates one character of a comment or string starting at `cur` that
  /// is NUL or non-ASCII; on success advances `cur` past it. On failure
  /// reports the error and returns false.
  bool validateTextChar();
  Token lexIdentifier(const char *start);
  Token lexNumber(const char *start);
  Token lexString(const char *start);
  Token makeToken(Token::Kind kind, const char *start);

  DiagEngine &diag;
  const char *cur;
  const char *end;
  bool done = false;
};

} // namespace nnc

#endif // NNC_FRONTEND_LEXER_H
