// Errors with a kind (DESIGN.md §2, STYLE.md 4). Two levels, as in ccache:
//  - Result<T> / Status for outcomes a caller expects and handles (a missing file, a damaged
//    object, a failed syscall in fs): returned, never thrown.
//  - Error thrown for what aborts a command; the shell catches it once per command and prints
//    its message as one line.
// Per-file problems during a walk or restore are reported and counted, not thrown.
#pragma once
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace seshat {

enum class ErrorKind {
  kNotFound,      // an object or file that should exist does not
  kCorruption,    // authentication failed, bad magic, truncated or malformed data
  kTransient,     // may succeed if retried (network, timeouts, busy)
  kPermanent,     // will not succeed without a change by the user (permissions, full disk)
  kInvalidInput,  // the user asked for something that makes no sense
  kLocked,        // the repository is locked by another process
  kInterrupted,   // Ctrl-C or SIGTERM: the work stopped at a clean point
  kUnreachable,   // the store has not answered for a while: the whole command stops
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message, int sys_errno = 0)
      : std::runtime_error(message), kind_(kind), errno_(sys_errno) {}
  ErrorKind kind() const { return kind_; }
  // The errno value behind a failed system call, else 0.
  int sys_errno() const { return errno_; }
  // The same error with `context` before its message: "cannot write /x: No space left".
  Error with_context(const std::string& context) const { return Error(kind_, context + ": " + what(), errno_); }

 private:
  ErrorKind kind_;
  int errno_;
};

// Maps an errno value to the kind a caller would expect (ENOENT -> kNotFound, ...).
ErrorKind kind_from_errno(int err);
// Error(kind_from_errno(err), message + ": " + strerror(err), err).
Error errno_error(const std::string& message, int err);
// Throws errno_error with the given kind.
[[noreturn]] void throw_errno(ErrorKind kind, const std::string& message, int err);

// A value or the Error that prevented it. Cheap to return; never throws by itself.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  // REQUIRES: ok().
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  T* operator->() { return &value(); }
  // REQUIRES: !ok().
  const Error& error() const { return std::get<1>(v_); }
  // The value, or the error thrown (for callers for whom a failure aborts the command).
  T take() && {
    if (!ok()) throw error();
    return std::get<0>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

// Success or the Error that happened.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::in_place, std::move(error)) {}  // NOLINT: implicit by design
  static Status ok_status() { return {}; }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return error_.value(); }
  void throw_if_failed() const {
    if (error_) throw *error_;
  }

 private:
  std::optional<Error> error_;
};

}  // namespace seshat
