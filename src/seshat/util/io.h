// Whole reads and writes on file descriptors: retried on EINTR and on short transfers. The one
// set of these loops; every module that moves bytes through a descriptor uses them.
// Failures come back as an Error whose sys_errno() is the errno value; the caller adds what
// it was writing (Error::with_context).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "seshat/util/error.h"

namespace seshat::io {

// Writes all of data at the descriptor's position.
Status write_full(int fd, std::string_view data);
// Writes all of data at offset (pwrite).
Status pwrite_full(int fd, std::string_view data, uint64_t offset);
// Reads up to n bytes at the position; fewer only at the end of the file.
Result<size_t> read_full(int fd, char* buf, size_t n);
// Reads up to n bytes at offset; fewer only at the end of the file.
Result<size_t> pread_full(int fd, char* buf, size_t n, uint64_t offset);
// Reads everything from the position to the end.
Result<std::string> read_all(int fd);

// A descriptor closed on destruction. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.release()) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd = -1);
  // close(2) with its result, for writers that must know the write reached the file.
  Status close();

 private:
  int fd_ = -1;
};

}  // namespace seshat::io
