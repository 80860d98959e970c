#include "seshat/util/atomic_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace seshat {

std::string random_hex16() {
  uint64_t v = 0;
  size_t got = 0;
  while (got < sizeof v) {
    ssize_t n = ::getrandom(reinterpret_cast<char*>(&v) + got, sizeof v - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw errno_error("getrandom", errno);
    }
    got += static_cast<size_t>(n);
  }
  return fmt::format("{:016x}", v);
}

Result<AtomicFile> AtomicFile::create(int dirfd, std::string name, const Options& o) {
  for (int attempt = 0;; ++attempt) {
    std::string temp = o.marker + std::to_string(::getpid()) + "-" + random_hex16();
    int fd = ::openat(dirfd, temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, o.mode & 07777);
    if (fd < 0) {
      if (errno == EEXIST && attempt < 8) continue;  // 64 random bits: never in practice
      return errno_error("cannot create a temporary file for " + name, errno);
    }
    io::Fd owned(fd);
    // O_EXCL made it; the check costs one fstat and catches a file system that lies. Not
    // its owner: network and FAT file systems may show every file as one fixed user's.
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
      ::unlinkat(dirfd, temp.c_str(), 0);
      return Error(ErrorKind::kPermanent, "the temporary file for " + name + " is not the file just created");
    }
    // The umask may have taken bits away; the file gets exactly its final mode. Where the
    // file system has no modes this fails, and the file keeps what open gave it: never more
    // than the mode asked for.
    if ((st.st_mode & 07777) != (o.mode & 07777)) (void)::fchmod(fd, o.mode & 07777);
    return AtomicFile(dirfd, io::Fd(), std::move(name), std::move(temp), std::move(owned), o);
  }
}

Result<AtomicFile> AtomicFile::create(const std::string& path, const Options& o) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (name.empty()) return Error(ErrorKind::kInvalidInput, "not a file name: " + path);
  int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0) return errno_error("cannot write " + path, errno);
  io::Fd owned(d);
  auto f = create(d, name, o);
  if (!f) return f.error().with_context("cannot write " + path);
  f->owned_dir_ = std::move(owned);
  return f;
}

AtomicFile::AtomicFile(AtomicFile&& o) noexcept
    : dirfd_(o.dirfd_),
      owned_dir_(std::move(o.owned_dir_)),
      name_(std::move(o.name_)),
      temp_(std::move(o.temp_)),
      fd_(std::move(o.fd_)),
      replace_(o.replace_),
      sync_(o.sync_),
      done_(o.done_) {
  o.done_ = true;
}

AtomicFile::~AtomicFile() { abort(); }

void AtomicFile::abort() {
  if (done_) return;
  done_ = true;
  fd_.reset();
  ::unlinkat(dirfd_, temp_.c_str(), 0);
}

Result<bool> AtomicFile::commit() {
  if (done_) return Error(ErrorKind::kPermanent, "commit of " + name_ + " after commit or abort");
  auto fail = [&](const std::string& what, int err) -> Result<bool> {
    abort();
    return errno_error("cannot write " + name_ + " (" + what + ")", err);
  };
  if (sync_ && ::fsync(fd_.get()) != 0) return fail("fsync", errno);
  if (Status s = fd_.close(); !s) return fail("close", s.error().sys_errno());
  if (replace_) {
    if (::renameat(dirfd_, temp_.c_str(), dirfd_, name_.c_str()) != 0) return fail("rename", errno);
  } else {
    // A conditional create: rename without replacing where the file system can (also where
    // there are no hard links), else link(), which fails with EEXIST atomically.
    if (::renameat2(dirfd_, temp_.c_str(), dirfd_, name_.c_str(), RENAME_NOREPLACE) == 0) {
      done_ = true;
      if (sync_) ::fsync(dirfd_);
      return true;
    }
    if (errno == EEXIST) {
      ::unlinkat(dirfd_, temp_.c_str(), 0);
      done_ = true;
      return false;
    }
    int r = ::linkat(dirfd_, temp_.c_str(), dirfd_, name_.c_str(), 0);
    int e = errno;
    ::unlinkat(dirfd_, temp_.c_str(), 0);
    if (r != 0) {
      done_ = true;
      if (e == EEXIST) return false;
      return errno_error("cannot write " + name_ + " (link)", e);
    }
  }
  done_ = true;
  if (sync_) ::fsync(dirfd_);  // the rename itself made durable; a failure here changes nothing we could undo
  return true;
}

Status write_file_atomic(const std::string& path, std::string_view data, mode_t mode) {
  AtomicFile::Options o;
  o.mode = mode;
  auto f = AtomicFile::create(path, o);
  if (!f) return f.error();
  if (Status s = f->write(data); !s) return s.error().with_context("cannot write " + path);
  auto c = f->commit();
  if (!c) return c.error();
  return {};
}

Result<std::string> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot read " + path, errno);
  io::Fd owned(fd);
  auto r = io::read_all(fd);
  if (!r) return r.error().with_context("cannot read " + path);
  return r;
}

Status make_dirs(const std::string& path, mode_t mode) {
  if (path.empty()) return {};
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) == 0) continue;
    if (errno != EEXIST) return errno_error("cannot create directory " + cur, errno);
  }
  // What was there already must be a directory (or lead to one).
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return errno_error("cannot create directory " + path, errno);
  if (!S_ISDIR(st.st_mode)) return errno_error("cannot create directory " + path, ENOTDIR);
  return {};
}

}  // namespace seshat
