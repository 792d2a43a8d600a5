//===- Json.h - Strict JSON reading on nlohmann::json ------------*- C++
//-*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR). JSON values are
// nlohmann::ordered_json (Debian's nlohmann-json3-dev, header-only, built
// with JSON_NOEXCEPTION: nothing here throws). This adds what the runtime's
// readers of untrusted files need on top: a strict parse that rejects
// duplicate keys and deep nesting and says where and why it failed, and
// accessors that cannot throw or abort on values of the wrong type.
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_JSON_H
#define NNC_RUNTIME_JSON_H

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nnc::rt {

/// A JSON value; objects keep their members in file (insertion) order.
using Json = nlohmann::ordered_json;

/// Parses `text` as exactly one RFC 8259 JSON value followed only by
/// whitespace (no comments, trailing commas, NaN, leading zeros or invalid
/// UTF-8; numbers must fit a double; a leading UTF-8 byte order mark is
/// skipped). Unlike plain nlohmann::json::parse, a key repeated within one
/// object, nesting deeper than `maxDepth` and a NUL byte (where nlohmann
/// would stop reading) are errors. Returns std::nullopt and sets `error`
/// ("at byte 5: syntax error while parsing object separator - unexpected
/// number literal; expected ':'", bytes counted from 0) on failure.
std::optional<Json> parseJson(std::string_view text, std::string &error,
                              unsigned maxDepth = 64);

/// The member `key` of `*v` if `v` points to an object that has one, else
/// nullptr (so lookups chain: jsonMember(jsonMember(&root, "a"), "b")).
const Json *jsonMember(const Json *v, std::string_view key);
/// The same for the result of parseJson (nullptr if it failed).
inline const Json *jsonMember(const std::optional<Json> &v,
                              std::string_view key) {
  return jsonMember(v ? &*v : nullptr, key);
}

/// `*v` as a string, or nullptr if `v` is null or not a string.
inline const std::string *jsonString(const Json *v) {
  return v ? v->get_ptr<const Json::string_t *>() : nullptr;
}

/// `*v` as an unsigned 64-bit integer if it was written as one (no sign,
/// fraction or exponent, at most 2^64 - 1), else std::nullopt.
std::optional<uint64_t> jsonUInt64(const Json *v);

/// Whether `s` is valid UTF-8, i.e. JSON text can hold it unchanged.
bool isValidUtf8(const std::string &s);

/// `v` as compact JSON text. Strings that are not valid UTF-8 are written
/// with U+FFFD in place of the bad bytes (nlohmann's default would abort).
std::string toJsonText(const Json &v);

} // namespace nnc::rt

#endif // NNC_RUNTIME_JSON_H
