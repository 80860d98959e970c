#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "seshat/fs/fs.h"

namespace seshat::fs {

Result<io::Fd> open_read(const std::string& path, bool follow) {
  const int last_flags = follow ? 0 : O_NOFOLLOW;
  if (path.size() < PATH_MAX - 1) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | last_flags);
    if (fd < 0) return errno_error(path, errno);
    return io::Fd(fd);
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
                          : ::openat(dir.get(), part.c_str(), O_RDONLY | O_CLOEXEC | (last ? last_flags : O_DIRECTORY));
    if (fd < 0) return errno_error(path, errno);
    if (last) return io::Fd(fd);
    dir.reset(fd);
    pos = slash + 1;
  }
}

}  // namespace seshat::fs
