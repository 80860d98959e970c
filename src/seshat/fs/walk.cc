#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "seshat/fs/fs.h"

namespace seshat::fs {

Stat from_stat(const struct stat& st) {
  Stat s;
  if (S_ISREG(st.st_mode)) s.kind = Kind::kFile;
  else if (S_ISDIR(st.st_mode)) s.kind = Kind::kDir;
  else if (S_ISLNK(st.st_mode)) s.kind = Kind::kSymlink;
  else {
    s.kind = Kind::kOther;
    s.other_name = S_ISFIFO(st.st_mode) ? "FIFO" : S_ISSOCK(st.st_mode) ? "socket" : "device";
  }
  s.mode = st.st_mode & 07777;
  s.uid = st.st_uid;
  s.gid = st.st_gid;
  s.size = static_cast<uint64_t>(st.st_size);
  s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  s.ctime_ns = static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
  s.inode = st.st_ino;
  s.dev = st.st_dev;
  return s;
}

Dir& Dir::operator=(Dir&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Dir::~Dir() {
  if (fd_ >= 0) ::close(fd_);
}

Dir Dir::open(const std::string& path, int& err) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  err = fd < 0 ? errno : 0;
  return Dir(fd);
}

Dir Dir::open_child(const std::string& name, bool follow, int& err) const {
  int fd = ::openat(fd_, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
  err = fd < 0 ? errno : 0;
  return Dir(fd);
}

std::vector<std::string> Dir::list(int& err) const {
  std::vector<std::string> names;
  err = 0;
  // fdopendir takes ownership of the fd it is given, so give it a duplicate.
  int dup = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    err = errno;
    return names;
  }
  DIR* d = ::fdopendir(dup);
  if (!d) {
    err = errno;
    ::close(dup);
    return names;
  }
  ::rewinddir(d);
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (n[0] == '.' && (n[1] == 0 || (n[1] == '.' && n[2] == 0))) continue;
    names.emplace_back(n);
  }
  if (errno != 0) err = errno;
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<Stat> Dir::stat_child(const std::string& name, bool follow, int& err) const {
  struct stat st;
  if (::fstatat(fd_, name.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) {
    err = errno;
    return std::nullopt;
  }
  err = 0;
  return from_stat(st);
}

std::optional<Stat> Dir::stat_self(int& err) const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    err = errno;
    return std::nullopt;
  }
  err = 0;
  return from_stat(st);
}

std::optional<std::string> Dir::read_link(const std::string& name, int& err) const {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(fd_, name.c_str(), buf.data(), buf.size());
    if (n < 0) {
      err = errno;
      return std::nullopt;
    }
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      err = 0;
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

}  // namespace seshat::fs
