#include "seshat/util/error.h"

#include <cerrno>
#include <cstring>

namespace seshat {

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kCorruption:
      return "corruption";
    case ErrorKind::kTransient:
      return "transient";
    case ErrorKind::kPermanent:
      return "permanent";
    case ErrorKind::kInvalidInput:
      return "invalid input";
    case ErrorKind::kLocked:
      return "locked";
    case ErrorKind::kInterrupted:
      return "interrupted";
    case ErrorKind::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

ErrorKind kind_from_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      return ErrorKind::kNotFound;
    case EINTR:
    case EAGAIN:
    case ETIMEDOUT:
      return ErrorKind::kTransient;
    default:
      return ErrorKind::kPermanent;
  }
}

Error errno_error(const std::string& message, int err) {
  return Error(kind_from_errno(err), message + ": " + std::strerror(err), err);
}

void throw_errno(ErrorKind kind, const std::string& message, int err) {
  throw Error(kind, message + ": " + std::strerror(err), err);
}

}  // namespace seshat
