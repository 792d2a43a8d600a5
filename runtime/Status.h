//===- Status.h - Errors of the runtime (no LLVM) ---------------*- C++ -*-===//
//
// Part of nnc's runtime (plain C++17, no LLVM/MLIR, no exceptions). The
// runtime cannot use llvm::Error/llvm::Expected, so it reports failures with
// `Status` (success, or an error with a message) and `Result<T>` (a value, or
// an error). Every message names the file it is about and what is wrong:
//
//   /x/train-images.gz: truncated: expected 47,040,000 image bytes, got 1,000
//
//===----------------------------------------------------------------------===//

#ifndef NNC_RUNTIME_STATUS_H
#define NNC_RUNTIME_STATUS_H

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <utility>

namespace nnc::rt {

/// Success, or an error with a human-readable message.
class [[nodiscard]] Status {
public:
  /// A successful status.
  Status() = default;

  /// A successful status.
  static Status success() { return Status(); }
  /// An error with `message` (which should name the file and the problem).
  static Status error(std::string message) {
    Status s;
    s.failed_ = true;
    s.message_ = std::move(message);
    return s;
  }

  /// True if this is a success.
  bool ok() const { return !failed_; }
  /// True if this is an error.
  bool failed() const { return failed_; }
  /// The error message (empty on success).
  const std::string &message() const { return message_; }

private:
  bool failed_ = false;
  std::string message_;
};

/// A value of type T, or an error (like llvm::Expected, without the
/// must-check machinery). Converts implicitly from T and from an error Status.
template <typename T> class [[nodiscard]] Result {
public:
  /// A result holding `value`.
  Result(T value) : value_(std::move(value)) {}
  /// A result holding the error `status` (which must be an error).
  Result(Status status) : status_(std::move(status)) {
    if (status_.ok())
      status_ = Status::error("internal error: Result built from a success");
  }

  /// True if a value is present.
  explicit operator bool() const { return value_.has_value(); }
  /// True if a value is present.
  bool ok() const { return value_.has_value(); }

  /// The value; only valid if ok().
  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }

  /// The error status (success if a value is present).
  const Status &status() const { return status_; }
  /// The error message (empty if a value is present).
  const std::string &message() const { return status_.message(); }

private:
  std::optional<T> value_;
  Status status_;
};

/// `n` with thousands separators: 47040000 -> "47,040,000".
inline std::string groupDigits(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

/// The text of the C library error `errnum` ("No space left on device").
inline std::string errnoText(int errnum) { return std::strerror(errnum); }

} // namespace nnc::rt

#endif // NNC_RUNTIME_STATUS_H
