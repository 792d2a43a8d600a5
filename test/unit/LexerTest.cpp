//===- LexerTest.cpp - Tests of the model-file lexer ----------------------===//
//
// Each test lexes a small text and checks the tokens (kind, spelling, value,
// line:col) or the exact located diagnostic.
//
//===----------------------------------------------------------------------===//

#include "frontend/Lexer.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include "gtest/gtest.h"

#include <string>
#include <vector>

using namespace nnc;
using K = Token::Kind;

namespace {

/// A token copied out of the buffer, with its resolved location.
struct LexedToken {
  K kind;
  std::string spelling;
  unsigned line, col;
  int64_t intValue;
  double floatValue;
  std::string stringValue;
};

/// Lexes `text` (named test.nn) to the end or the first error.
struct LexResult {
  std::vector<LexedToken> tokens; ///< Ends with Eof or Error.
  std::string diags;
  unsigned numErrors = 0;

  /// The kinds of all tokens, including the final Eof/Error.
  std::vector<K> kinds() const {
    std::vector<K> result;
    for (const LexedToken &tok : tokens)
      result.push_back(tok.kind);
    return result;
  }
};

LexResult lex(llvm::StringRef text) {
  llvm::SourceMgr srcMgr;
  srcMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(text, "test.nn"), llvm::SMLoc());
  LexResult result;
  llvm::raw_string_ostream os(result.diags);
  DiagEngine diag(srcMgr, os);
  Lexer lexer(diag,
              srcMgr.getMemoryBuffer(srcMgr.getMainFileID())->getBuffer());
  while (true) {
    Token tok = lexer.lex();
    auto [line, col] = srcMgr.getLineAndColumn(tok.getLoc());
    result.tokens.push_back({tok.kind, tok.spelling.str(), line, col,
                             tok.intValue, tok.floatValue, tok.stringValue});
    if (tok.is(K::Eof) || tok.is(K::Error))
      break;
  }
  // After the end (or an error) the lexer keeps returning Eof.
  EXPECT_TRUE(lexer.lex().is(K::Eof));
  result.numErrors = diag.getNumErrors();
  return result;
}

/// The first line of the diagnostics (`test.nn:L:C: error: message`).
std::string firstLine(const std::string &diags) {
  return diags.substr(0, diags.find('\n'));
}

/// Expects `text` to fail with exactly `expected` as its first diagnostic line.
void expectError(llvm::StringRef text, const std::string &expected) {
  LexResult result = lex(text);
  EXPECT_EQ(result.numErrors, 1u) << text.str();
  ASSERT_FALSE(result.tokens.empty());
  EXPECT_EQ(result.tokens.back().kind, K::Error) << text.str();
  EXPECT_EQ(firstLine(result.diags), expected) << text.str();
}

TEST(LexerTest, EmptyAndTrivia) {
  EXPECT_EQ(lex("").kinds(), std::vector<K>{K::Eof});
  EXPECT_EQ(lex("  \t\r\n\n").kinds(), std::vector<K>{K::Eof});
  EXPECT_EQ(lex("# only a comment").kinds(), std::vector<K>{K::Eof});
  EXPECT_EQ(lex("# c1\n# c2\n").kinds(), std::vector<K>{K::Eof});
  // A comment ends at the newline.
  LexResult result = lex("# comment\nx # more\ny");
  ASSERT_EQ(result.kinds(),
            (std::vector<K>{K::Identifier, K::Identifier, K::Eof}));
  EXPECT_EQ(result.tokens[0].line, 2u);
  EXPECT_EQ(result.tokens[1].line, 3u);
  EXPECT_EQ(result.diags, "");
}

TEST(LexerTest, KeywordsAndIdentifiers) {
  LexResult result =
      lex("model block input output repeat in train as true false "
          "models _x x_1 In f32 inx");
  EXPECT_EQ(
      result.kinds(),
      (std::vector<K>{K::KwModel, K::KwBlock, K::KwInput, K::KwOutput,
                      K::KwRepeat, K::KwIn, K::KwTrain, K::KwAs, K::KwTrue,
                      K::KwFalse, K::Identifier, K::Identifier, K::Identifier,
                      K::Identifier, K::Identifier, K::Identifier, K::Eof}));
  EXPECT_EQ(result.tokens[10].spelling, "models");
  EXPECT_EQ(result.tokens[11].spelling, "_x");
  EXPECT_EQ(result.tokens[12].spelling, "x_1");
}

TEST(LexerTest, Punctuation) {
  LexResult result = lex("( ) { } [ ] , : ; = |> + - * / %");
  EXPECT_EQ(result.kinds(),
            (std::vector<K>{K::LParen, K::RParen, K::LBrace, K::RBrace,
                            K::LSquare, K::RSquare, K::Comma, K::Colon,
                            K::Semicolon, K::Equal, K::Pipe, K::Plus, K::Minus,
                            K::Star, K::Slash, K::Percent, K::Eof}));
  // No whitespace is needed between tokens.
  EXPECT_EQ(lex("x|>f(a,b=-1)").kinds(),
            (std::vector<K>{K::Identifier, K::Pipe, K::Identifier, K::LParen,
                            K::Identifier, K::Comma, K::Identifier, K::Equal,
                            K::Minus, K::Integer, K::RParen, K::Eof}));
}

TEST(LexerTest, ControlFlowTokens) {
  LexResult result = lex("for if else and or not fork iff == != < <= > >= a<=b");
  EXPECT_EQ(
      result.kinds(),
      (std::vector<K>{K::KwFor, K::KwIf, K::KwElse, K::KwAnd, K::KwOr, K::KwNot, K::Identifier,
                      K::Identifier, K::EqualEqual, K::NotEqual, K::Less, K::LessEqual, K::Greater,
                      K::GreaterEqual, K::Identifier, K::LessEqual, K::Identifier, K::Eof}));
  // `= =` is two assignments' worth of `=`, not `==`.
  EXPECT_EQ(lex("= =").kinds(), (std::vector<K>{K::Equal, K::Equal, K::Eof}));
  expectError("if !b", "test.nn:1:4: error: unexpected character '!' (negation is 'not')");
}

TEST(LexerTest, Locations) {
  LexResult result = lex("model m {\n  x = 1\n\t}");
  ASSERT_EQ(result.tokens.size(), 8u);
  EXPECT_EQ(result.tokens[0].line, 1u);
  EXPECT_EQ(result.tokens[0].col, 1u);
  EXPECT_EQ(result.tokens[1].col, 7u);
  EXPECT_EQ(result.tokens[3].line, 2u); // x
  EXPECT_EQ(result.tokens[3].col, 3u);
  EXPECT_EQ(result.tokens[5].col, 7u);  // 1
  EXPECT_EQ(result.tokens[6].line, 3u); // } after a tab
  EXPECT_EQ(result.tokens[6].col, 2u);
}

TEST(LexerTest, Integers) {
  LexResult result = lex("0 7 007 1_000 64 9223372036854775807 1_2_3");
  ASSERT_EQ(result.tokens.size(), 8u);
  std::vector<int64_t> expected = {0, 7, 7, 1000, 64, INT64_MAX, 123};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result.tokens[i].kind, K::Integer);
    EXPECT_EQ(result.tokens[i].intValue, expected[i]);
  }
  EXPECT_EQ(result.tokens[3].spelling, "1_000");
}

TEST(LexerTest, IntegerErrors) {
  expectError("x = 9223372036854775808",
              "test.nn:1:5: error: integer literal is too large");
  expectError("x = 99999999999999999999999999999",
              "test.nn:1:5: error: integer literal is too large");
  expectError(
      "x = 1__000",
      "test.nn:1:6: error: '_' in a number must stand between two digits");
  expectError(
      "x = 1000_",
      "test.nn:1:9: error: '_' in a number must stand between two digits");
  expectError("x = 12abc",
              "test.nn:1:7: error: invalid character 'a' in a number");
  expectError("x = 3x",
              "test.nn:1:6: error: invalid character 'x' in a number");
}

TEST(LexerTest, Floats) {
  LexResult result = lex("0.5 1e-3 2.5E+2 1_000.25 3e2 0.001 1e-400");
  ASSERT_EQ(result.tokens.size(), 8u);
  std::vector<double> expected = {0.5, 1e-3, 250.0, 1000.25, 300.0, 0.001, 0.0};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(result.tokens[i].kind, K::Float) << i;
    EXPECT_EQ(result.tokens[i].floatValue, expected[i]) << i;
  }
}

TEST(LexerTest, FloatErrors) {
  expectError("x = 1.",
              "test.nn:1:7: error: expected a digit after '.' in a float "
              "literal");
  expectError("x = 1.e3",
              "test.nn:1:7: error: expected a digit after '.' in a float "
              "literal");
  expectError("x = 1e",
              "test.nn:1:7: error: expected a digit in the exponent of a "
              "float literal");
  expectError("x = 1e+",
              "test.nn:1:8: error: expected a digit in the exponent of a "
              "float literal");
  expectError("x = 1e999", "test.nn:1:5: error: float literal is out of range");
  expectError("x = .5",
              "test.nn:1:5: error: a float literal needs a digit before "
              "'.' (write 0.5, not .5)");
  expectError("x = 2.5x",
              "test.nn:1:8: error: invalid character 'x' in a number");
}

TEST(LexerTest, Strings) {
  LexResult result = lex("\"same\" \"\" \"a\\\"b\" \"back\\\\slash\" "
                         "\"caf\xC3\xA9\" \"tab\tin\"");
  ASSERT_EQ(result.tokens.size(), 7u);
  EXPECT_EQ(result.tokens[0].stringValue, "same");
  EXPECT_EQ(result.tokens[0].spelling, "\"same\"");
  EXPECT_EQ(result.tokens[1].stringValue, "");
  EXPECT_EQ(result.tokens[2].stringValue, "a\"b");
  EXPECT_EQ(result.tokens[3].stringValue, "back\\slash");
  EXPECT_EQ(result.tokens[4].stringValue, "caf\xC3\xA9");
  EXPECT_EQ(result.tokens[5].stringValue, "tab\tin");
  EXPECT_EQ(result.diags, "");
}

TEST(LexerTest, StringErrors) {
  expectError("p = \"same", "test.nn:1:5: error: unterminated string literal");
  expectError("p = \"same\nx",
              "test.nn:1:5: error: unterminated string literal (a "
              "string cannot span lines)");
  expectError("p = \"a\\nb\"",
              "test.nn:1:7: error: invalid escape sequence in string "
              "(only \\\" and \\\\ are allowed)");
  expectError("p = \"a\\",
              "test.nn:1:7: error: invalid escape sequence in string "
              "(only \\\" and \\\\ are allowed)");
}

TEST(LexerTest, CharacterErrors) {
  expectError("x = a $ b", "test.nn:1:7: error: unexpected character '$'");
  expectError("x = a.b", "test.nn:1:6: error: unexpected character '.'");
  expectError("x = a | b", "test.nn:1:7: error: unexpected character '|' (the "
                           "pipeline operator is '|>')");
  expectError("x = \x01", "test.nn:1:5: error: unexpected character U+0001");
  // Non-ASCII characters are allowed only in comments and strings.
  expectError("x = caf\xC3\xA9",
              "test.nn:1:8: error: unexpected character '\xC3\xA9' (U+00E9)");
  expectError("x\xE2\x82\xAC", "test.nn:1:2: error: unexpected character "
                               "'\xE2\x82\xAC' (U+20AC)");
}

TEST(LexerTest, FullDiagnosticHasSourceLineAndCaret) {
  LexResult result = lex("model m {\n  x = 3 $ 4\n}\n");
  EXPECT_EQ(result.diags, "test.nn:2:9: error: unexpected character '$'\n"
                          "  x = 3 $ 4\n"
                          "        ^\n");
}

TEST(LexerTest, NulBytes) {
  using namespace std::string_literals;
  expectError("x = a\0b"s, "test.nn:1:6: error: unexpected NUL byte");
  expectError("# comment \0 here"s, "test.nn:1:11: error: unexpected NUL byte");
  expectError("x = \"a\0b\""s, "test.nn:1:7: error: unexpected NUL byte");
  expectError("\0"s, "test.nn:1:1: error: unexpected NUL byte");
}

TEST(LexerTest, Utf8) {
  // Valid UTF-8 is fine in comments and strings.
  LexResult ok =
      lex("# \xE2\x80\x94 \xF0\x9F\x98\x80 caf\xC3\xA9\nx = \"\xE4\xB8\xAD\"");
  EXPECT_EQ(ok.kinds(),
            (std::vector<K>{K::Identifier, K::Equal, K::String, K::Eof}));
  EXPECT_EQ(ok.diags, "");
  // A byte order mark at the start is skipped.
  EXPECT_EQ(lex("\xEF\xBB\xBFx").kinds(),
            (std::vector<K>{K::Identifier, K::Eof}));

  expectError("# \xFF", "test.nn:1:3: error: invalid UTF-8 byte 0xFF");
  expectError("# ok\n# bad \xC3",
              "test.nn:2:7: error: invalid UTF-8 byte 0xC3");
  // A lone continuation byte, an overlong encoding, a surrogate.
  expectError("# \x80", "test.nn:1:3: error: invalid UTF-8 byte 0x80");
  expectError("# \xC0\xAF", "test.nn:1:3: error: invalid UTF-8 byte 0xC0");
  expectError("# \xED\xA0\x80", "test.nn:1:3: error: invalid UTF-8 byte 0xED");
  expectError("x = \"\xC3(\"", "test.nn:1:6: error: invalid UTF-8 byte 0xC3");
  expectError("x = \xFE", "test.nn:1:5: error: invalid UTF-8 byte 0xFE");
  // A truncated sequence at the end of the file.
  expectError("# \xE2\x82", "test.nn:1:3: error: invalid UTF-8 byte 0xE2");
}

TEST(LexerTest, LongIdentifier) {
  std::string name(1 << 20, 'a');
  LexResult result = lex("x = " + name + " + 1");
  ASSERT_EQ(result.tokens.size(), 6u);
  EXPECT_EQ(result.tokens[2].spelling.size(), name.size());
  EXPECT_EQ(result.tokens[3].col, 6u + name.size());
}

TEST(LexerTest, TokenKindSpelling) {
  EXPECT_EQ(getTokenKindSpelling(K::Pipe), "|>");
  EXPECT_EQ(getTokenKindSpelling(K::KwRepeat), "repeat");
  EXPECT_EQ(getTokenKindSpelling(K::Eof), "end of file");
}

} // namespace
