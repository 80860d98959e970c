#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "seshat/fs/fs.h"

namespace seshat::fs {

int64_t saturated_ns(int64_t sec, int64_t nsec) {
  constexpr int64_t kMax = INT64_MAX / 1000000000 - 1;
  if (sec > kMax) return INT64_MAX;
  if (sec < -kMax) return INT64_MIN;
  return sec * 1000000000 + nsec;
}

Stat from_stat(const struct stat& st) {
  Stat s;
  if (S_ISREG(st.st_mode))
    s.kind = Kind::kFile;
  else if (S_ISDIR(st.st_mode))
    s.kind = Kind::kDir;
  else if (S_ISLNK(st.st_mode))
    s.kind = Kind::kSymlink;
  else {
    s.kind = Kind::kOther;
    s.other_name = S_ISFIFO(st.st_mode) ? "FIFO" : S_ISSOCK(st.st_mode) ? "socket" : "device";
  }
  s.mode = st.st_mode & 07777;
  s.uid = st.st_uid;
  s.gid = st.st_gid;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = saturated_ns(st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  s.ctime_ns = saturated_ns(st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  s.mtime_sec = st.st_mtim.tv_sec;
  s.mtime_nsec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  s.nlink = st.st_nlink;
  s.rdev = st.st_rdev;
  s.blocks = static_cast<uint64_t>(st.st_blocks);
  s.format = st.st_mode & S_IFMT;
  s.inode = st.st_ino;
  s.dev = st.st_dev;
  return s;
}

Result<Stat> stat_fd(int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return errno_error("fstat", errno);
  return from_stat(st);
}

Result<Dir> Dir::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error(path, errno);
  return Dir(io::Fd(fd));
}

Result<Dir> Dir::open_child(const std::string& name, bool follow) const {
  int fd = ::openat(fd_.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  if (fd < 0) return errno_error(name, errno);
  return Dir(io::Fd(fd));
}

Result<std::vector<std::string>> Dir::list() const {
  // fdopendir takes ownership of the fd it is given, so give it a duplicate.
  int dup = ::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return errno_error("list", errno);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    int e = errno;
    ::close(dup);
    return errno_error("list", e);
  }
  ::rewinddir(d);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return errno_error("list", err);
  std::sort(names.begin(), names.end());
  return names;
}

Result<Stat> Dir::stat_child(const std::string& name, bool follow) const {
  struct stat st;
  if (::fstatat(fd_.get(), name.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return errno_error(name, errno);
  return from_stat(st);
}

Result<Stat> Dir::stat_self() const { return stat_fd(fd_.get()); }

Result<std::string> Dir::read_link(const std::string& name) const {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(fd_.get(), name.c_str(), buf.data(), buf.size());
    if (n < 0) return errno_error(name, errno);
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

}  // namespace seshat::fs
