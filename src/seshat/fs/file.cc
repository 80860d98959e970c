#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "seshat/fs/fs.h"

namespace seshat::fs {

int open_read(const std::string& path) {
  if (path.size() < PATH_MAX - 1) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    return fd < 0 ? -errno : fd;
  }
  // Too long for one call: descend component by component.
  int dir = ::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return -errno;
  size_t pos = 1;
  for (;;) {
    size_t slash = path.find('/', pos);
    std::string part = path.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
    bool last = slash == std::string::npos;
    int fd = part.empty() ? ::dup(dir)
                          : ::openat(dir, part.c_str(), O_RDONLY | O_CLOEXEC | (last ? O_NOFOLLOW : O_DIRECTORY));
    int e = errno;
    ::close(dir);
    if (fd < 0) return -e;
    if (last) return fd;
    dir = fd;
    pos = slash + 1;
  }
}

ssize_t read_full(int fd, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  return static_cast<ssize_t>(got);
}

int make_dirs(const std::string& path) {
  if (path.empty()) return 0;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    int r = make_dirs(path.substr(0, slash));
    if (r != 0) return r;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return errno;
  return 0;
}

namespace {
std::string temp_beside(const std::string& path) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  size_t slash = path.rfind('/');
  return path.substr(0, slash + 1) + ".seshat-restore-" + std::to_string(rng() % 1000000000);
}
}  // namespace

int pwrite_full(int fd, std::string_view data, uint64_t offset) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    done += static_cast<size_t>(n);
  }
  return 0;
}

int write_file_atomic(const std::string& path, uint64_t size, const std::function<int(int fd)>& fill) {
  std::string tmp = temp_beside(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno;
  if (size > 0) {
    int pr = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    (void)pr;  // best effort: not every file system supports it
  }
  int r = fill(fd);
  if (r == 0 && ::ftruncate(fd, static_cast<off_t>(size)) != 0) r = errno;
  if (::close(fd) != 0 && r == 0) r = errno;
  if (r == 0 && ::rename(tmp.c_str(), path.c_str()) != 0) r = errno;
  if (r != 0) ::unlink(tmp.c_str());
  return r;
}

int make_symlink(const std::string& target, const std::string& path) {
  std::string tmp = temp_beside(path);
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return errno;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return e;
  }
  return 0;
}

int set_metadata(const std::string& path, bool is_symlink, uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime_ns, bool do_chown) {
  int r = 0;
  if (do_chown && ::lchown(path.c_str(), uid, gid) != 0) r = errno;
  // chmod after chown: chown clears set-uid/set-gid bits.
  if (!is_symlink && ::chmod(path.c_str(), mode) != 0 && r == 0) r = errno;
  struct timespec ts[2];
  ts[0].tv_sec = 0;
  ts[0].tv_nsec = UTIME_OMIT;
  ts[1].tv_sec = mtime_ns / 1000000000;
  ts[1].tv_nsec = mtime_ns % 1000000000;
  if (ts[1].tv_nsec < 0) {
    ts[1].tv_nsec += 1000000000;
    ts[1].tv_sec -= 1;
  }
  if (::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0 && r == 0) r = errno;
  return r;
}

}  // namespace seshat::fs
