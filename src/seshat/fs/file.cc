#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "seshat/fs/fs.h"

namespace seshat::fs {

Result<io::Fd> open_read(const std::string& path) {
  if (path.size() < PATH_MAX - 1) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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
                          : ::openat(dir.get(), part.c_str(), O_RDONLY | O_CLOEXEC | (last ? O_NOFOLLOW : O_DIRECTORY));
    if (fd < 0) return errno_error(path, errno);
    if (last) return io::Fd(fd);
    dir.reset(fd);
    pos = slash + 1;
  }
}

Result<AtomicFile> create_file(const std::string& path, uint64_t size) {
  AtomicFile::Options o;
  o.mode = 0600;
  o.marker = ".seshat-restore-";
  o.sync = false;
  auto f = AtomicFile::create(path, o);
  if (f && size > (1u << 20)) ::posix_fallocate(f->fd(), 0, static_cast<off_t>(size));  // best effort
  return f;
}

namespace {

timespec mtime_spec(int64_t mtime_ns) {
  timespec t;
  t.tv_sec = mtime_ns / 1000000000;
  t.tv_nsec = mtime_ns % 1000000000;
  if (t.tv_nsec < 0) {
    t.tv_nsec += 1000000000;
    t.tv_sec -= 1;
  }
  return t;
}

}  // namespace

Status set_metadata_fd(int fd, const Meta& m, bool chown) {
  Status first;
  auto note = [&](const char* what, int err) {
    if (first.ok()) first = errno_error(what, err);
  };
  if (chown && ::fchown(fd, m.uid, m.gid) != 0) note("cannot set its owner", errno);
  if (::fchmod(fd, m.mode & 07777) != 0) note("cannot set its mode", errno);
  timespec ts[2] = {{0, UTIME_OMIT}, mtime_spec(m.mtime_ns)};
  if (::futimens(fd, ts) != 0) note("cannot set its time", errno);
  return first;
}

Status set_metadata(const std::string& path, bool is_symlink, const Meta& m, bool chown) {
  Status first;
  auto note = [&](int err) {
    if (first.ok()) first = errno_error(path, err);
  };
  if (chown && ::lchown(path.c_str(), m.uid, m.gid) != 0) note(errno);
  // chmod after chown: chown clears set-uid/set-gid bits.
  if (!is_symlink && ::fchmodat(AT_FDCWD, path.c_str(), m.mode & 07777, 0) != 0) note(errno);
  timespec ts[2] = {{0, UTIME_OMIT}, mtime_spec(m.mtime_ns)};
  if (::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) note(errno);
  return first;
}

Status make_symlink(const std::string& target, const std::string& path) {
  size_t slash = path.rfind('/');
  std::string tmp = path.substr(0, slash + 1) + ".seshat-restore-" + std::to_string(::getpid()) + "-" + random_hex16();
  if (::symlink(target.c_str(), tmp.c_str()) != 0) return errno_error(path, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return errno_error(path, e);
  }
  return {};
}

}  // namespace seshat::fs
