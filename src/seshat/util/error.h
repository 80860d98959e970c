// Errors with a kind. Fatal conditions are thrown as seshat::Error and caught once per
// command by the shell, which prints the message as one line. Per-file problems during a
// walk or restore are reported and counted instead of thrown.
#pragma once
#include <stdexcept>
#include <string>

namespace seshat {

enum class ErrorKind {
  kNotFound,      // an object or file that should exist does not
  kCorruption,    // authentication failed, bad magic, truncated or malformed data
  kTransient,     // may succeed if retried (network, timeouts, busy)
  kPermanent,     // will not succeed without a change by the user (permissions, full disk)
  kInvalidInput,  // the user asked for something that makes no sense
  kLocked,        // the repository is locked by another process
};

const char* error_kind_name(ErrorKind kind);

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

// Throws Error(kind, message + ": " + strerror(err)).
[[noreturn]] void throw_errno(ErrorKind kind, const std::string& message, int err);
// Maps an errno value to the kind a caller would expect (ENOENT -> kNotFound, ...).
ErrorKind kind_from_errno(int err);

}  // namespace seshat
