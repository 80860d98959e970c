#include "seshat/util/io.h"

#include <unistd.h>

#include <cerrno>

namespace seshat::io {

Status write_full(int fd, std::string_view data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write", errno);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Status pwrite_full(int fd, std::string_view data, uint64_t offset) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + off, data.size() - off, static_cast<off_t>(offset + off));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error("write", errno);
    }
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<size_t> read_full(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_error("read", errno);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

Result<size_t> pread_full(int fd, char* buf, size_t n, uint64_t offset) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, buf + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_error("read", errno);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return got;
}

Result<std::string> read_all(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    auto n = read_full(fd, buf, sizeof buf);
    if (!n) return n.error();
    out.append(buf, *n);
    if (*n < sizeof buf) return out;
  }
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void Fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status Fd::close() {
  if (fd_ < 0) return {};
  int r = ::close(fd_);
  fd_ = -1;
  if (r != 0 && errno != EINTR) return errno_error("close", errno);
  return {};
}

}  // namespace seshat::io
