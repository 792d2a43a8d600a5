//===- Json.h - A small strict JSON parser and string writer ----*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR, no dependencies). Parses
// RFC 8259 JSON strictly (no comments, no trailing commas, no NaN, no
// leading zeros, valid UTF-8 escapes) for safetensors headers, and writes
// JSON string literals for headers and metrics lines. Objects keep their
// members in file order; duplicate keys are an error.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_JSON_H
#define NNC_RUNTIME_JSON_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nnc::rt {

/// A parsed JSON value.
struct JsonValue {
  enum class Kind { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  bool boolean = false;
  /// For numbers: the literal as written ("120", "-1.5e3").
  std::string number;
  /// For strings: the decoded UTF-8 text.
  std::string string;
  /// For arrays.
  std::vector<JsonValue> elements;
  /// For objects, in file order.
  std::vector<std::pair<std::string, JsonValue>> members;

  /// The member named `key` of an object, or nullptr.
  const JsonValue *find(std::string_view key) const;
  /// The number as an unsigned 64-bit integer if it is one (no sign,
  /// fraction or exponent, no overflow).
  std::optional<uint64_t> asUInt64() const;
  /// The number as a double.
  double asDouble() const;
};

/// Parses `text` as exactly one JSON value followed only by whitespace.
/// Returns std::nullopt and sets `error` ("at byte 17: expected ':'") on
/// failure. Nesting deeper than `maxDepth` is an error.
std::optional<JsonValue> parseJson(std::string_view text, std::string &error,
                                   unsigned maxDepth = 64);

/// Appends `s` to `out` as a JSON string literal (RFC 8259 escaping).
void appendJsonString(std::string &out, std::string_view s);

/// Appends `v` to `out` as a JSON number with 6 significant digits ("0.412",
/// "9870", "1e-05"); `null` for NaN and infinities, which JSON cannot hold.
void appendJsonNumber(std::string &out, double v);

} // namespace nnc::rt

#endif // NNC_RUNTIME_JSON_H
