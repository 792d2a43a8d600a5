//===- Lexer.cpp - Tokens of nnc model files ------------------------------===//
//
// Implements the lexical rules of docs/language.md: identifiers and keywords,
// 64-bit integers with `_` separators, floats, strings with `\"` and `\\`
// escapes, punctuation, `#` comments. The file must be UTF-8: non-ASCII bytes
// are allowed only in comments and strings and must form valid UTF-8 there;
// a NUL byte is an error anywhere.
//
//===----------------------------------------------------------------------===//

#include "frontend/Lexer.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Format.h"

#include <cmath>

using namespace nnc;
using llvm::SMLoc;
using llvm::StringRef;
using llvm::Twine;

bool Token::isWord() const {
  switch (kind) {
  case Kind::Identifier:
  case Kind::KwModel:
  case Kind::KwBlock:
  case Kind::KwInput:
  case Kind::KwOutput:
  case Kind::KwRepeat:
  case Kind::KwIn:
  case Kind::KwTrain:
  case Kind::KwAs:
  case Kind::KwTrue:
  case Kind::KwFalse:
  case Kind::KwFor:
  case Kind::KwIf:
  case Kind::KwElse:
  case Kind::KwAnd:
  case Kind::KwOr:
  case Kind::KwNot:
    return true;
  default:
    return false;
  }
}

StringRef nnc::getTokenKindSpelling(Token::Kind kind) {
  using K = Token::Kind;
  switch (kind) {
  case K::Eof:
    return "end of file";
  case K::Error:
    return "invalid token";
  case K::Identifier:
    return "identifier";
  case K::Integer:
    return "integer";
  case K::Float:
    return "float";
  case K::String:
    return "string";
  case K::KwModel:
    return "model";
  case K::KwBlock:
    return "block";
  case K::KwInput:
    return "input";
  case K::KwOutput:
    return "output";
  case K::KwRepeat:
    return "repeat";
  case K::KwIn:
    return "in";
  case K::KwTrain:
    return "train";
  case K::KwAs:
    return "as";
  case K::KwTrue:
    return "true";
  case K::KwFalse:
    return "false";
  case K::KwFor:
    return "for";
  case K::KwIf:
    return "if";
  case K::KwElse:
    return "else";
  case K::KwAnd:
    return "and";
  case K::KwOr:
    return "or";
  case K::KwNot:
    return "not";
  case K::LParen:
    return "(";
  case K::RParen:
    return ")";
  case K::LBrace:
    return "{";
  case K::RBrace:
    return "}";
  case K::LSquare:
    return "[";
  case K::RSquare:
    return "]";
  case K::Comma:
    return ",";
  case K::Colon:
    return ":";
  case K::Semicolon:
    return ";";
  case K::Equal:
    return "=";
  case K::Pipe:
    return "|>";
  case K::Plus:
    return "+";
  case K::Minus:
    return "-";
  case K::Star:
    return "*";
  case K::Slash:
    return "/";
  case K::Percent:
    return "%";
  case K::EqualEqual:
    return "==";
  case K::NotEqual:
    return "!=";
  case K::Less:
    return "<";
  case K::LessEqual:
    return "<=";
  case K::Greater:
    return ">";
  case K::GreaterEqual:
    return ">=";
  }
  return "token";
}

static bool isIdentStart(char c) { return llvm::isAlpha(c) || c == '_'; }
static bool isIdentChar(char c) { return llvm::isAlnum(c) || c == '_'; }

/// Formats a code point as `U+XXXX`.
static std::string formatCodePoint(uint32_t cp) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "U+"
     << llvm::format_hex_no_prefix(cp, cp > 0xFFFF ? 6 : 4, /*Upper=*/true);
  return s;
}

/// If `p` starts a valid UTF-8 sequence of a non-ASCII character before
/// `end`, returns its length and sets `cp`; otherwise returns 0.
static unsigned decodeUTF8(const char *p, const char *end, uint32_t &cp) {
  auto *src = reinterpret_cast<const llvm::UTF8 *>(p);
  auto *srcEnd = reinterpret_cast<const llvm::UTF8 *>(end);
  if (!llvm::isLegalUTF8Sequence(src, srcEnd))
    return 0;
  const llvm::UTF8 *next = src;
  llvm::UTF32 value = 0;
  if (llvm::convertUTF8Sequence(&next, srcEnd, &value,
                                llvm::strictConversion) != llvm::conversionOK)
    return 0;
  cp = value;
  return static_cast<unsigned>(next - src);
}

/// The message for an invalid UTF-8 byte.
static std::string invalidUTF8Message(unsigned char byte) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "invalid UTF-8 byte " << llvm::format_hex(byte, 4, /*Upper=*/true);
  return s;
}

Lexer::Lexer(DiagEngine &diag, StringRef buffer)
    : diag(diag), cur(buffer.begin()), end(buffer.end()) {
  // Skip a UTF-8 byte order mark.
  if (buffer.starts_with("\xEF\xBB\xBF"))
    cur += 3;
}

Token Lexer::error(const char *loc, const Twine &msg) {
  diag.error(SMLoc::getFromPointer(loc), msg);
  done = true;
  Token tok;
  tok.kind = Token::Kind::Error;
  tok.spelling = StringRef(loc, loc < end ? 1 : 0);
  return tok;
}

Token Lexer::makeToken(Token::Kind kind, const char *start) {
  Token tok;
  tok.kind = kind;
  tok.spelling = StringRef(start, cur - start);
  return tok;
}

bool Lexer::validateTextChar() {
  unsigned char c = static_cast<unsigned char>(*cur);
  if (c == '\0') {
    error(cur, "unexpected NUL byte");
    return false;
  }
  uint32_t cp;
  unsigned len = decodeUTF8(cur, end, cp);
  if (len == 0) {
    error(cur, invalidUTF8Message(c));
    return false;
  }
  cur += len;
  return true;
}

bool Lexer::skipTrivia() {
  while (cur < end) {
    char c = *cur;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
        c == '\v') {
      ++cur;
      continue;
    }
    if (c != '#')
      return true;
    // A comment runs to the end of the line; it may hold any UTF-8 text.
    while (cur < end && *cur != '\n') {
      unsigned char b = static_cast<unsigned char>(*cur);
      if (b != 0 && b < 0x80) {
        ++cur;
        continue;
      }
      if (!validateTextChar())
        return false;
    }
  }
  return true;
}

Token Lexer::lex() {
  if (done)
    return makeToken(Token::Kind::Eof, end);
  if (!skipTrivia()) {
    Token tok;
    tok.kind = Token::Kind::Error;
    tok.spelling = StringRef(cur, 0);
    return tok;
  }
  if (cur >= end) {
    done = true;
    return makeToken(Token::Kind::Eof, end);
  }

  const char *start = cur;
  char c = *cur;
  if (isIdentStart(c))
    return lexIdentifier(start);
  if (llvm::isDigit(c))
    return lexNumber(start);
  if (c == '"')
    return lexString(start);

  ++cur;
  using K = Token::Kind;
  switch (c) {
  case '(':
    return makeToken(K::LParen, start);
  case ')':
    return makeToken(K::RParen, start);
  case '{':
    return makeToken(K::LBrace, start);
  case '}':
    return makeToken(K::RBrace, start);
  case '[':
    return makeToken(K::LSquare, start);
  case ']':
    return makeToken(K::RSquare, start);
  case ',':
    return makeToken(K::Comma, start);
  case ':':
    return makeToken(K::Colon, start);
  case ';':
    return makeToken(K::Semicolon, start);
  case '=':
    if (cur < end && *cur == '=') {
      ++cur;
      return makeToken(K::EqualEqual, start);
    }
    return makeToken(K::Equal, start);
  case '!':
    if (cur < end && *cur == '=') {
      ++cur;
      return makeToken(K::NotEqual, start);
    }
    return error(start, "unexpected character '!' (negation is 'not')");
  case '<':
    if (cur < end && *cur == '=') {
      ++cur;
      return makeToken(K::LessEqual, start);
    }
    return makeToken(K::Less, start);
  case '>':
    if (cur < end && *cur == '=') {
      ++cur;
      return makeToken(K::GreaterEqual, start);
    }
    return makeToken(K::Greater, start);
  case '+':
    return makeToken(K::Plus, start);
  case '-':
    return makeToken(K::Minus, start);
  case '*':
    return makeToken(K::Star, start);
  case '/':
    return makeToken(K::Slash, start);
  case '%':
    return makeToken(K::Percent, start);
  case '|':
    if (cur < end && *cur == '>') {
      ++cur;
      return makeToken(K::Pipe, start);
    }
    return error(start,
                 "unexpected character '|' (the pipeline operator is '|>')");
  case '.':
    if (cur < end && llvm::isDigit(*cur))
      return error(start,
                   "a float literal needs a digit before '.' (write 0.5, "
                   "not .5)");
    return error(start, "unexpected character '.'");
  default:
    break;
  }

  unsigned char b = static_cast<unsigned char>(c);
  if (b == 0)
    return error(start, "unexpected NUL byte");
  if (b < 0x80) {
    if (llvm::isPrint(c))
      return error(start, Twine("unexpected character '") + Twine(c) + "'");
    return error(start, "unexpected character " + formatCodePoint(b));
  }
  uint32_t cp;
  unsigned len = decodeUTF8(start, end, cp);
  if (len == 0)
    return error(start, invalidUTF8Message(b));
  return error(start, "unexpected character '" + StringRef(start, len) + "' (" +
                          formatCodePoint(cp) + ")");
}

Token Lexer::lexIdentifier(const char *start) {
  while (cur < end && isIdentChar(*cur))
    ++cur;
  StringRef word(start, cur - start);
  using K = Token::Kind;
  K kind = llvm::StringSwitch<K>(word)
               .Case("model", K::KwModel)
               .Case("block", K::KwBlock)
               .Case("input", K::KwInput)
               .Case("output", K::KwOutput)
               .Case("repeat", K::KwRepeat)
               .Case("in", K::KwIn)
               .Case("train", K::KwTrain)
               .Case("as", K::KwAs)
               .Case("true", K::KwTrue)
               .Case("false", K::KwFalse)
               .Case("for", K::KwFor)
               .Case("if", K::KwIf)
               .Case("else", K::KwElse)
               .Case("and", K::KwAnd)
               .Case("or", K::KwOr)
               .Case("not", K::KwNot)
               .Default(K::Identifier);
  return makeToken(kind, start);
}

/// Lexes a run of digits with `_` separators, starting at a digit, appending
/// the digits to `digits`. Returns the position of a misplaced `_`, or null.
static const char *lexDigits(const char *&cur, const char *end,
                             llvm::SmallVectorImpl<char> &digits) {
  while (cur < end && (llvm::isDigit(*cur) || *cur == '_')) {
    if (*cur == '_') {
      // A separator must sit between two digits.
      if (cur + 1 >= end || !llvm::isDigit(cur[1]))
        return cur;
    } else {
      digits.push_back(*cur);
    }
    ++cur;
  }
  return nullptr;
}

Token Lexer::lexNumber(const char *start) {
  static constexpr const char *kMisplacedUnderscore =
      "'_' in a number must stand between two digits";
  llvm::SmallString<32> digits;
  if (const char *bad = lexDigits(cur, end, digits))
    return error(bad, kMisplacedUnderscore);

  bool isFloat = false;
  if (cur < end && *cur == '.') {
    isFloat = true;
    digits.push_back('.');
    ++cur;
    if (cur >= end || !llvm::isDigit(*cur))
      return error(cur, "expected a digit after '.' in a float literal");
    if (const char *bad = lexDigits(cur, end, digits))
      return error(bad, kMisplacedUnderscore);
  }
  if (cur < end && (*cur == 'e' || *cur == 'E')) {
    isFloat = true;
    digits.push_back('e');
    ++cur;
    if (cur < end && (*cur == '+' || *cur == '-'))
      digits.push_back(*cur++);
    if (cur >= end || !llvm::isDigit(*cur))
      return error(cur, "expected a digit in the exponent of a float literal");
    if (const char *bad = lexDigits(cur, end, digits))
      return error(bad, kMisplacedUnderscore);
  }
  // `12abc` or `3.5x` is one malformed word, not a number and a name.
  if (cur < end && isIdentChar(*cur))
    return error(cur,
                 Twine("invalid character '") + Twine(*cur) + "' in a number");

  Token tok =
      makeToken(isFloat ? Token::Kind::Float : Token::Kind::Integer, start);
  if (isFloat) {
    double value = 0.0;
    if (StringRef(digits).getAsDouble(value, /*AllowInexact=*/true) ||
        !std::isfinite(value))
      return error(start, "float literal is out of range");
    tok.floatValue = value;
  } else {
    // getAsInteger fails on overflow of int64_t.
    int64_t value = 0;
    if (StringRef(digits).getAsInteger(10, value) || value < 0)
      return error(start, "integer literal is too large");
    tok.intValue = value;
  }
  return tok;
}

Token Lexer::lexString(const char *start) {
  ++cur; // The opening quote.
  std::string value;
  while (true) {
    if (cur >= end)
      return error(start, "unterminated string literal");
    char c = *cur;
    if (c == '"')
      break;
    if (c == '\n' || c == '\r')
      return error(start,
                   "unterminated string literal (a string cannot span lines)");
    if (c == '\\') {
      if (cur + 1 < end && (cur[1] == '"' || cur[1] == '\\')) {
        value.push_back(cur[1]);
        cur += 2;
        continue;
      }
      return error(cur,
                   "invalid escape sequence in string (only \\\" and \\\\ are "
                   "allowed)");
    }
    unsigned char b = static_cast<unsigned char>(c);
    if (b != 0 && b < 0x80) {
      value.push_back(c);
      ++cur;
      continue;
    }
    const char *charStart = cur;
    if (!validateTextChar()) {
      Token tok;
      tok.kind = Token::Kind::Error;
      tok.spelling = StringRef(charStart, 1);
      return tok;
    }
    value.append(charStart, cur);
  }
  ++cur; // The closing quote.
  Token tok = makeToken(Token::Kind::String, start);
  tok.stringValue = std::move(value);
  return tok;
}
