#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "seshat/fs/fs.h"

namespace seshat::fs {

namespace {
// The last component is opened with O_PATH first (no device driver open, no FIFO wait, no
// controlling terminal: the walk saw a regular file, but the name may have been swapped for
// a FIFO or device since) and read only if it is a regular file.
Result<io::Fd> reopen_if_regular(const std::string& path, int fd) {
  io::Fd held(fd);
  struct stat st {};
  if (::fstat(held.get(), &st) != 0) return errno_error(path, errno);
  if (S_ISLNK(st.st_mode)) return errno_error(path, ELOOP);  // not followed (O_NOFOLLOW)
  if (!S_ISREG(st.st_mode)) return errno_error(path + ": no longer a regular file", EINVAL);
  // Reopens the inode the O_PATH descriptor holds (checked above), not a name that could
  // have been swapped since.
  std::string self = "/proc/self/fd/" + std::to_string(held.get());
  int r = ::open(self.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (r < 0) return errno_error(path, errno);
  return io::Fd(r);
}
}  // namespace

Result<io::Fd> open_read(const std::string& path, bool follow) {
  const int last_flags = O_PATH | (follow ? 0 : O_NOFOLLOW);
  if (path.size() < PATH_MAX - 1) {
    // The walked path, as before: the last component is never followed unless asked; the
    // parents are (a known gap, noted in issue 14's notes: to be opened beneath the walk's fds).
    int fd = ::open(path.c_str(), O_CLOEXEC | last_flags);
    if (fd < 0) return errno_error(path, errno);
    return reopen_if_regular(path, fd);
  }
  // Too long for one call: descend component by component.
  int d = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return errno_error(path, errno);
  io::Fd dir(d);
  size_t pos = 1;
  for (;;) {
    size_t slash = path.find('/', pos);
    std::string part = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    bool last = slash == std::string::npos;
    int fd = part.empty() ? ::dup(dir.get())
                          : ::openat(dir.get(), part.c_str(), O_CLOEXEC | (last ? last_flags : O_RDONLY | O_DIRECTORY));
    if (fd < 0) return errno_error(path, errno);
    if (last) return reopen_if_regular(path, fd);
    dir.reset(fd);
    pos = slash + 1;
  }
}

}  // namespace seshat::fs
