//===- Json.cpp - A small strict JSON parser and string writer ------------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR).
//
//===----------------------------------------------------------------------===//

#include "runtime/Json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>

namespace nnc::rt {

namespace {

/// A recursive-descent parser over one buffer.
class Parser {
public:
  Parser(std::string_view text, unsigned maxDepth)
      : text_(text), maxDepth_(maxDepth) {}

  std::optional<JsonValue> parseDocument(std::string &error) {
    JsonValue v;
    skipSpace();
    if (!parseValue(v, 0)) {
      error = error_;
      return std::nullopt;
    }
    skipSpace();
    if (pos_ != text_.size()) {
      fail("unexpected data after the JSON value");
      error = error_;
      return std::nullopt;
    }
    return v;
  }

private:
  bool fail(const std::string &what) {
    if (error_.empty())
      error_ = "at byte " + std::to_string(pos_) + ": " + what;
    return false;
  }

  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word)
      return fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool parseValue(JsonValue &v, unsigned depth) {
    if (depth > maxDepth_)
      return fail("nesting deeper than " + std::to_string(maxDepth_));
    if (pos_ >= text_.size())
      return fail("unexpected end of the JSON text");
    char c = text_[pos_];
    switch (c) {
    case '{':
      return parseObject(v, depth);
    case '[':
      return parseArray(v, depth);
    case '"':
      v.kind = JsonValue::Kind::String;
      return parseString(v.string);
    case 't':
      v.kind = JsonValue::Kind::Bool;
      v.boolean = true;
      return literal("true");
    case 'f':
      v.kind = JsonValue::Kind::Bool;
      return literal("false");
    case 'n':
      v.kind = JsonValue::Kind::Null;
      return literal("null");
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber(v);
      return fail(std::string("unexpected character '") + c + "'");
    }
  }

  bool parseObject(JsonValue &v, unsigned depth) {
    v.kind = JsonValue::Kind::Object;
    ++pos_; // '{'
    skipSpace();
    if (consume('}'))
      return true;
    std::set<std::string> keys;
    for (;;) {
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"')
        return fail("expected a string key");
      std::string key;
      size_t keyPos = pos_;
      if (!parseString(key))
        return false;
      if (!keys.insert(key).second) {
        pos_ = keyPos;
        return fail("duplicate key \"" + key + "\"");
      }
      skipSpace();
      if (!consume(':'))
        return fail("expected ':'");
      skipSpace();
      JsonValue member;
      if (!parseValue(member, depth + 1))
        return false;
      v.members.emplace_back(std::move(key), std::move(member));
      skipSpace();
      if (consume('}'))
        return true;
      if (!consume(','))
        return fail("expected ',' or '}'");
    }
  }

  bool parseArray(JsonValue &v, unsigned depth) {
    v.kind = JsonValue::Kind::Array;
    ++pos_; // '['
    skipSpace();
    if (consume(']'))
      return true;
    for (;;) {
      skipSpace();
      JsonValue element;
      if (!parseValue(element, depth + 1))
        return false;
      v.elements.push_back(std::move(element));
      skipSpace();
      if (consume(']'))
        return true;
      if (!consume(','))
        return fail("expected ',' or ']'");
    }
  }

  bool isDigit(size_t i) const {
    return i < text_.size() && text_[i] >= '0' && text_[i] <= '9';
  }

  bool parseNumber(JsonValue &v) {
    size_t start = pos_;
    consume('-');
    if (!isDigit(pos_))
      return fail("expected a digit");
    if (text_[pos_] == '0') {
      ++pos_;
      if (isDigit(pos_))
        return fail("leading zeros are not allowed");
    } else {
      while (isDigit(pos_))
        ++pos_;
    }
    if (consume('.')) {
      if (!isDigit(pos_))
        return fail("expected a digit after '.'");
      while (isDigit(pos_))
        ++pos_;
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (!consume('+'))
        consume('-');
      if (!isDigit(pos_))
        return fail("expected a digit in the exponent");
      while (isDigit(pos_))
        ++pos_;
    }
    v.kind = JsonValue::Kind::Number;
    v.number = std::string(text_.substr(start, pos_ - start));
    return true;
  }

  bool parseHex4(uint32_t &out) {
    if (pos_ + 4 > text_.size())
      return fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      out <<= 4;
      if (c >= '0' && c <= '9')
        out |= c - '0';
      else if (c >= 'a' && c <= 'f')
        out |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        out |= c - 'A' + 10;
      else
        return fail("invalid \\u escape");
    }
    return true;
  }

  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  /// Checks one UTF-8 sequence starting at pos_ and appends it.
  bool copyUtf8(std::string &out) {
    unsigned char c = static_cast<unsigned char>(text_[pos_]);
    unsigned len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 0 || c > 0xF4 || c == 0xC0 || c == 0xC1 ||
        pos_ + len > text_.size())
      return fail("invalid UTF-8 in a string");
    uint32_t cp = c & (0x7F >> len);
    for (unsigned i = 1; i < len; ++i) {
      unsigned char d = static_cast<unsigned char>(text_[pos_ + i]);
      if ((d & 0xC0) != 0x80)
        return fail("invalid UTF-8 in a string");
      cp = (cp << 6) | (d & 0x3F);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return fail("invalid UTF-8 in a string");
    out.append(text_.substr(pos_, len));
    pos_ += len;
    return true;
  }

  bool parseString(std::string &out) {
    ++pos_; // '"'
    for (;;) {
      if (pos_ >= text_.size())
        return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20)
        return fail("control character in a string");
      if (c >= 0x80) {
        if (!copyUtf8(out))
          return false;
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (pos_ >= text_.size())
        return fail("unterminated string");
      char e = text_[pos_++];
      switch (e) {
      case '"':
      case '\\':
      case '/':
        out += e;
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return fail("unpaired surrogate in a \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low;
          if (!consume('\\') || !consume('u') || !parseHex4(low) ||
              low < 0xDC00 || low > 0xDFFF)
            return fail("unpaired surrogate in a \\u escape");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(out, cp);
        break;
      }
      default:
        --pos_;
        return fail(std::string("invalid escape '\\") + e + "'");
      }
    }
  }

  std::string_view text_;
  unsigned maxDepth_;
  size_t pos_ = 0;
  std::string error_;
};

} // namespace

const JsonValue *JsonValue::find(std::string_view key) const {
  for (const auto &m : members)
    if (m.first == key)
      return &m.second;
  return nullptr;
}

std::optional<uint64_t> JsonValue::asUInt64() const {
  if (kind != Kind::Number || number.empty())
    return std::nullopt;
  uint64_t v = 0;
  for (char c : number) {
    if (c < '0' || c > '9')
      return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10)
      return std::nullopt;
    v = v * 10 + d;
  }
  return v;
}

double JsonValue::asDouble() const {
  return kind == Kind::Number ? std::strtod(number.c_str(), nullptr) : 0.0;
}

std::optional<JsonValue> parseJson(std::string_view text, std::string &error,
                                   unsigned maxDepth) {
  return Parser(text, maxDepth).parseDocument(error);
}

void appendJsonString(std::string &out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

void appendJsonNumber(std::string &out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  out += buf;
}

} // namespace nnc::rt
