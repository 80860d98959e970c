// Writing a restore's destination through directory handles (fs.h, "writing").
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "seshat/fs/fs.h"

namespace seshat::fs {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
constexpr int kMaxLinks = 40;  // as the kernel's own resolution
constexpr std::string_view kRestoreMarker = ".seshat-restore-";

std::string kind_name(mode_t m) {
  if (S_ISLNK(m)) return "a symlink";
  if (S_ISREG(m)) return "a file";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  if (S_ISCHR(m) || S_ISBLK(m)) return "a device";
  return "something else";
}

// Why `name` in `dirfd` could not be opened as a directory: what is in its way, else errno.
Error open_error(int dirfd, const std::string& name, int err) {
  struct stat st;
  if ((err == ELOOP || err == ENOTDIR) && ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      !S_ISDIR(st.st_mode))
    return Error(ErrorKind::kPermanent, kind_name(st.st_mode) + " is in the way",
                 S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR);
  return errno_error("cannot open directory " + name, err);
}

timespec mtime_spec(const Meta& m) {
  timespec t;
  t.tv_sec = static_cast<time_t>(m.mtime_sec);
  t.tv_nsec = static_cast<long>(m.mtime_nsec);
  return t;
}

// Splits a path into its components, "." and empty ones dropped.
void push_components(std::string_view path, std::vector<std::string>& out) {
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view part = path.substr(pos, slash - pos);
    if (!part.empty() && part != ".") parts.emplace_back(part);
    pos = slash + 1;
  }
  // `out` is a stack: the next component is at its back.
  out.insert(out.end(), parts.rbegin(), parts.rend());
}

// "/" itself: the one path opened by name, safe since the root directory cannot be a symlink
// nor be replaced by another user.
Result<io::Fd> open_root() {
  int fd = ::open("/", kDirFlags);
  if (fd < 0) return errno_error("cannot open /", errno);
  return io::Fd(fd);
}

}  // namespace

Result<io::Fd> open_dir_at(int dirfd, const std::string& name, bool create, bool* created) {
  if (created) *created = false;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Error(ErrorKind::kInvalidInput, "not a name in a directory: " + name);
  for (int attempt = 0;; ++attempt) {
    int fd = ::openat(dirfd, name.c_str(), kDirFlags);
    if (fd >= 0) return io::Fd(fd);
    int err = errno;
    if (err != ENOENT || !create || attempt == 3) return open_error(dirfd, name, err);
    // Made with no access for others: its own mode comes when its metadata is set.
    if (::mkdirat(dirfd, name.c_str(), 0700) == 0) {
      if (created) *created = true;
    } else if (errno != EEXIST) {
      return errno_error("cannot create directory " + name, errno);
    }
  }
}

Result<io::Fd> open_dir_trusted(const std::string& path, bool create) {
  if (path.empty() || path[0] != '/') return Error(ErrorKind::kInvalidInput, "not an absolute path: " + path);
  auto root = open_root();
  if (!root) return root.error();
  io::Fd cur = std::move(root.value());
  std::vector<std::string> todo;
  push_components(path, todo);
  int links = 0;
  const uid_t me = ::geteuid();
  while (!todo.empty()) {
    std::string name = std::move(todo.back());
    todo.pop_back();
    if (name == "..") {
      int fd = ::openat(cur.get(), "..", kDirFlags);
      if (fd < 0) return errno_error(path, errno);
      cur.reset(fd);
      continue;
    }
    auto next = open_dir_at(cur.get(), name, create);
    if (next) {
      cur = std::move(next.value());
      continue;
    }
    struct stat st;
    if (next.error().sys_errno() != ELOOP || ::fstatat(cur.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISLNK(st.st_mode))
      return next.error().with_context(path);
    // A symlink only root or we could have made (or changed) is part of the path as its
    // owner meant it; one of another user may have been planted there to steer us.
    if (st.st_uid != 0 && st.st_uid != me)
      return Error(ErrorKind::kPermanent,
                   path + ": a symlink of another user (uid " + std::to_string(st.st_uid) + ") is in the way", ELOOP);
    if (++links > kMaxLinks) return errno_error(path, ELOOP);
    std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
    ssize_t n = ::readlinkat(cur.get(), name.c_str(), target.data(), target.size());
    if (n < 0 || static_cast<size_t>(n) >= target.size()) return errno_error(path, n < 0 ? errno : EIO);
    target.resize(static_cast<size_t>(n));
    if (!target.empty() && target[0] == '/') {
      auto r = open_root();
      if (!r) return r.error().with_context(path);
      cur = std::move(r.value());
    }
    push_components(target, todo);
  }
  return cur;
}

Result<AtomicFile> create_file_at(int dirfd, const std::string& name, uint64_t size, bool replace, bool preallocate) {
  AtomicFile::Options o;
  o.replace = replace;
  o.mode = 0600;
  o.marker = std::string(kRestoreMarker);
  o.sync = false;
  auto f = AtomicFile::create(dirfd, name, o);
  if (f && preallocate && size > (1u << 20)) ::posix_fallocate(f->fd(), 0, static_cast<off_t>(size));  // best effort
  return f;
}

Status set_metadata_fd(int fd, const Meta& m, bool chown, std::vector<std::string>* xattr_problems) {
  Status first;
  auto note = [&](const char* what, int err) {
    if (first.ok()) first = errno_error(what, err);
  };
  if (chown && ::fchown(fd, m.uid, m.gid) != 0) note("cannot set its owner", errno);
  // The mode after the owner: chown clears set-uid and set-gid bits.
  if (::fchmod(fd, m.mode & 07777) != 0) note("cannot set its mode", errno);
  auto problems = set_xattrs(fd, m.xattrs);
  if (xattr_problems)
    xattr_problems->insert(xattr_problems->end(), problems.begin(), problems.end());
  else if (!problems.empty() && first.ok())
    first = Error(ErrorKind::kPermanent, "cannot set its extended attribute " + problems.front());
  timespec ts[2] = {{0, UTIME_OMIT}, mtime_spec(m)};
  if (::futimens(fd, ts) != 0) note("cannot set its time", errno);
  return first;
}

Status set_symlink_metadata_at(int dirfd, const std::string& name, const Meta& m, bool chown) {
  Status first;
  auto note = [&](const char* what, int err) {
    if (first.ok()) first = errno_error(what, err);
  };
  // Everything through one descriptor of the symlink itself, checked to be one: the owner of
  // the directory may have swapped the name for a hard link to a file of theirs meanwhile.
  io::Fd fd(::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  struct stat st;
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISLNK(st.st_mode))
    return errno_error("cannot set its metadata: no longer the symlink restored", fd.valid() ? ELOOP : errno);
  if (chown && ::fchownat(fd.get(), "", m.uid, m.gid, AT_EMPTY_PATH) != 0) note("cannot set its owner", errno);
  if (!m.xattrs.empty()) {
    auto problems = set_xattrs(fd.get(), m.xattrs, true);
    if (!problems.empty() && first.ok())
      first = Error(ErrorKind::kPermanent, "cannot set its extended attribute " + problems.front());
  }
  timespec ts[2] = {{0, UTIME_OMIT}, mtime_spec(m)};
  if (::utimensat(fd.get(), "", ts, AT_EMPTY_PATH) != 0) {
    // Kernels without AT_EMPTY_PATH for utimensat: by name, never following it.
    if (errno != EINVAL || ::utimensat(dirfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
      note("cannot set its time", errno);
  }
  return first;
}

Status make_symlink_at(int dirfd, const std::string& name, const std::string& target, bool replace) {
  if (!replace) {
    // Straight onto the name: symlinkat never replaces (EEXIST) and never follows.
    if (::symlinkat(target.c_str(), dirfd, name.c_str()) != 0)
      return errno_error("cannot create symlink " + name, errno);
    return {};
  }
  for (int attempt = 0;; ++attempt) {
    std::string tmp = std::string(kRestoreMarker) + std::to_string(::getpid()) + "-" + random_hex16();
    if (::symlinkat(target.c_str(), dirfd, tmp.c_str()) != 0) {
      if (errno == EEXIST && attempt < 8) continue;
      return errno_error("cannot create symlink " + name, errno);
    }
    // rename replaces what is at `name` (a file, a symlink) and never follows it.
    if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) {
      int e = errno;
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return errno_error("cannot create symlink " + name, e);
    }
    return {};
  }
}

Status link_at(int fd, int dirfd, const std::string& name, bool replace) {
  const std::string self = "/proc/self/fd/" + std::to_string(fd);
  if (!replace) {
    // Straight onto the name: linkat never replaces (EEXIST), and leaves no temporary.
    if (::linkat(AT_FDCWD, self.c_str(), dirfd, name.c_str(), AT_SYMLINK_FOLLOW) != 0)
      return errno_error("cannot create hard link " + name, errno);
    return {};
  }
  for (int attempt = 0;; ++attempt) {
    std::string tmp = std::string(kRestoreMarker) + std::to_string(::getpid()) + "-" + random_hex16();
    if (::linkat(AT_FDCWD, self.c_str(), dirfd, tmp.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      if (errno == EEXIST && attempt < 8) continue;
      return errno_error("cannot create hard link " + name, errno);
    }
    int r = replace ? ::renameat(dirfd, tmp.c_str(), dirfd, name.c_str())
                    : ::renameat2(dirfd, tmp.c_str(), dirfd, name.c_str(), RENAME_NOREPLACE);
    if (r != 0) {
      int e = errno;
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return errno_error("cannot create hard link " + name, e);
    }
    return {};
  }
}

size_t remove_restore_leftovers(int dirfd) {
  int fd = ::openat(dirfd, ".", kDirFlags);
  if (fd < 0) return 0;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return 0;
  }
  std::vector<std::string> gone;
  const uid_t me = ::geteuid();
  while (dirent* e = ::readdir(d)) {
    std::string_view n = e->d_name;
    if (n.substr(0, kRestoreMarker.size()) != kRestoreMarker) continue;
    // <marker><pid>-<16 hex digits>: nothing else is ours.
    std::string_view rest = n.substr(kRestoreMarker.size());
    size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string_view::npos || dash > 9 || rest.size() != dash + 17) continue;
    if (rest.substr(0, dash).find_first_not_of("0123456789") != std::string_view::npos) continue;
    if (rest.substr(dash + 1).find_first_not_of("0123456789abcdef") != std::string_view::npos) continue;
    long pid = std::stol(std::string(rest.substr(0, dash)));
    if (pid == ::getpid() || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    struct stat st;
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_uid != me ||
        !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)))
      continue;
    gone.emplace_back(n);
  }
  ::closedir(d);
  size_t removed = 0;
  for (const auto& n : gone)
    if (::unlinkat(dirfd, n.c_str(), 0) == 0) ++removed;
  return removed;
}

}  // namespace seshat::fs
