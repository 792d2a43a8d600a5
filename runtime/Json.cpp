//===- Json.cpp - Strict JSON reading on nlohmann::json -------------------===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR).
//
//===----------------------------------------------------------------------===//

#include "runtime/Json.h"

#include <set>
#include <vector>

namespace nnc::rt {

namespace {

/// A SAX handler that builds nothing: it stops the parse at the first key
/// repeated within an object or at nesting deeper than the limit (both of
/// which nlohmann's DOM parser lets through), and keeps the parser's own
/// message when the text is not JSON.
class StrictChecker final : public Json::json_sax_t {
public:
  explicit StrictChecker(unsigned maxDepth) : maxDepth(maxDepth) {}

  /// What is wrong, "" while nothing is.
  std::string error;

  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t &) override { return true; }
  bool string(string_t &) override { return true; }
  bool binary(binary_t &) override { return true; }
  bool start_object(std::size_t) override { return open(/*isObject=*/true); }
  bool start_array(std::size_t) override { return open(/*isObject=*/false); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }

  bool key(string_t &key) override {
    Container &c = containers.back();
    if (!c.keys.insert(key).second) {
      error = "duplicate key \"" + key + "\"";
      if (containers.size() > 1 && containers[containers.size() - 2].isObject)
        error += " in \"" + containers[containers.size() - 2].lastKey + "\"";
      return false;
    }
    c.lastKey = key;
    return true;
  }

  bool parse_error(std::size_t position, const std::string &,
                   const Json::exception &ex) override {
    // ex.what(): "[json.exception.parse_error.101] parse error at line 1,
    // column 6: syntax error while parsing ...". Keep the last part: inputs
    // are binary files or one-line tables, so the byte offset says where.
    std::string what = ex.what();
    if (size_t id = what.find("] "); id != std::string::npos)
      what.erase(0, id + 2);
    if (what.rfind("parse error at line", 0) == 0)
      if (size_t colon = what.find(": "); colon != std::string::npos)
        what.erase(0, colon + 2);
    // `position` counts the bytes read, the offending one included.
    error =
        "at byte " + std::to_string(position ? position - 1 : 0) + ": " + what;
    return false;
  }

private:
  struct Container {
    bool isObject;
    std::set<std::string> keys; // Of an object, so far.
    std::string lastKey;
  };

  bool open(bool isObject) {
    if (containers.size() > maxDepth) {
      error = "nesting deeper than " + std::to_string(maxDepth);
      return false;
    }
    containers.push_back({isObject, {}, {}});
    return true;
  }

  bool close() {
    containers.pop_back();
    return true;
  }

  unsigned maxDepth;
  std::vector<Container> containers;
};

} // namespace

std::optional<Json> parseJson(std::string_view text, std::string &error,
                              unsigned maxDepth) {
  // nlohmann's lexer takes a NUL byte for the end of the input and would
  // ignore what follows; valid JSON text never holds one (in a string it
  // must be escaped).
  if (size_t nul = text.find('\0'); nul != std::string_view::npos) {
    error = "at byte " + std::to_string(nul) +
            ": a NUL byte (JSON text cannot hold one)";
    return std::nullopt;
  }
  // Check first (cheap, stops early), then build: the same parser, so the
  // second pass cannot fail where the first passed.
  StrictChecker checker(maxDepth);
  if (!Json::sax_parse(text.begin(), text.end(), &checker,
                       Json::input_format_t::json, /*strict=*/true,
                       /*ignore_comments=*/false)) {
    error = checker.error.empty() ? "not valid JSON" : checker.error;
    return std::nullopt;
  }
  Json value = Json::parse(text.begin(), text.end(), /*cb=*/nullptr,
                           /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    error = "not valid JSON";
    return std::nullopt;
  }
  return value;
}

const Json *jsonMember(const Json *v, std::string_view key) {
  const Json::object_t *object =
      v ? v->get_ptr<const Json::object_t *>() : nullptr;
  if (!object)
    return nullptr;
  // An ordered_json object is a vector of members: find() is this loop too.
  for (const auto &[name, value] : *object)
    if (name == key)
      return &value;
  return nullptr;
}

std::optional<uint64_t> jsonUInt64(const Json *v) {
  // nlohmann reads a literal without sign, fraction or exponent that fits
  // 64 bits as number_unsigned; anything else is another kind of number.
  const Json::number_unsigned_t *u =
      v ? v->get_ptr<const Json::number_unsigned_t *>() : nullptr;
  if (!u)
    return std::nullopt;
  return *u;
}

bool isValidUtf8(const std::string &s) {
  // The serializer drops bad bytes with `ignore` and writes U+FFFD (three
  // bytes) for them with `replace`: the two texts differ exactly when there
  // are bad bytes.
  Json string = s;
  return string.dump(-1, ' ', false, Json::error_handler_t::ignore).size() ==
         string.dump(-1, ' ', false, Json::error_handler_t::replace).size();
}

std::string toJsonText(const Json &v) {
  return v.dump(/*indent=*/-1, ' ', /*ensure_ascii=*/false,
                Json::error_handler_t::replace);
}

} // namespace nnc::rt
