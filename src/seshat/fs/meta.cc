// Extended attributes, inode flags and special files (fs.h).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "seshat/fs/fs.h"
#include "seshat/util/xattrs.h"

namespace seshat::fs {

const uint32_t kRestorableFlags = FS_SECRM_FL | FS_UNRM_FL | FS_COMPR_FL | FS_SYNC_FL | FS_IMMUTABLE_FL | FS_APPEND_FL |
                                  FS_NODUMP_FL | FS_NOATIME_FL | FS_JOURNAL_DATA_FL | FS_NOTAIL_FL | FS_DIRSYNC_FL |
                                  FS_TOPDIR_FL | FS_NOCOW_FL | FS_PROJINHERIT_FL | FS_NOCOMP_FL;

namespace {

constexpr const char* kAclAccess = "system.posix_acl_access";
constexpr const char* kAclDefault = "system.posix_acl_default";

std::string proc_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

// No attributes here, rather than an error: the file system has none, or none of a kind we
// may read.
bool no_xattrs(int err) { return err == ENOTSUP || err == ENODATA; }

ssize_t list_raw(int fd, bool path_fd, char* buf, size_t size) {
  return path_fd ? ::listxattr(proc_path(fd).c_str(), buf, size) : ::flistxattr(fd, buf, size);
}
ssize_t get_raw(int fd, bool path_fd, const char* name, void* buf, size_t size) {
  return path_fd ? ::getxattr(proc_path(fd).c_str(), name, buf, size) : ::fgetxattr(fd, name, buf, size);
}
int set_raw(int fd, bool path_fd, const std::string& name, std::string_view value) {
  return path_fd ? ::setxattr(proc_path(fd).c_str(), name.c_str(), value.data(), value.size(), 0)
                 : ::fsetxattr(fd, name.c_str(), value.data(), value.size(), 0);
}
int remove_raw(int fd, bool path_fd, const char* name) {
  return path_fd ? ::removexattr(proc_path(fd).c_str(), name) : ::fremovexattr(fd, name);
}

// A value, grown until it fits (it may grow between the size query and the read).
Result<std::string> get_value(int fd, bool path_fd, const char* name) {
  std::string v(256, '\0');
  for (int attempt = 0; attempt < 8; ++attempt) {
    ssize_t n = get_raw(fd, path_fd, name, v.data(), v.size());
    if (n >= 0) {
      v.resize(static_cast<size_t>(n));
      return v;
    }
    if (errno != ERANGE) return errno_error(std::string("extended attribute ") + name, errno);
    ssize_t want = get_raw(fd, path_fd, name, nullptr, 0);
    if (want < 0) return errno_error(std::string("extended attribute ") + name, errno);
    v.assign(static_cast<size_t>(want) + 64, '\0');
  }
  return errno_error(std::string("extended attribute ") + name, ERANGE);
}

}  // namespace

Result<std::string> read_xattrs(int fd, bool path_fd) {
  std::string names(1024, '\0');
  ssize_t n;
  for (;;) {
    n = list_raw(fd, path_fd, names.data(), names.size());
    if (n >= 0) break;
    if (no_xattrs(errno)) return std::string();
    if (errno != ERANGE) return errno_error("extended attributes", errno);
    ssize_t want = list_raw(fd, path_fd, nullptr, 0);
    if (want < 0) return errno_error("extended attributes", errno);
    names.assign(static_cast<size_t>(want) + 256, '\0');
  }
  if (n == 0) return std::string();
  xattrs::List list;
  for (size_t pos = 0; pos < static_cast<size_t>(n);) {
    const char* name = names.data() + pos;
    size_t len = ::strnlen(name, static_cast<size_t>(n) - pos);
    pos += len + 1;
    if (len == 0) continue;
    auto v = get_value(fd, path_fd, name);
    if (!v) {
      if (v.error().sys_errno() == ENODATA) continue;  // removed since it was listed
      return v.error();
    }
    list.emplace_back(std::string(name, len), std::move(v.value()));
  }
  return xattrs::encode(std::move(list));
}

uint32_t read_fs_flags(int fd) {
  int flags = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) return 0;
  return static_cast<uint32_t>(flags) & kRestorableFlags;
}

Status set_fs_flags(int fd, uint32_t want) {
  int cur = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &cur) != 0) {
    if (want == 0) return {};
    return errno_error("cannot set its inode flags", errno);
  }
  int next = static_cast<int>((static_cast<uint32_t>(cur) & ~kRestorableFlags) | (want & kRestorableFlags));
  if (next == cur) return {};
  if (::ioctl(fd, FS_IOC_SETFLAGS, &next) != 0) return errno_error("cannot set its inode flags", errno);
  return {};
}

Status lift_protection(int fd) {
  uint32_t have = read_fs_flags(fd);
  if (!(have & (FS_IMMUTABLE_FL | FS_APPEND_FL))) return {};
  return set_fs_flags(fd, have & ~(FS_IMMUTABLE_FL | FS_APPEND_FL));
}

std::vector<std::string> set_xattrs(int fd, std::string_view encoded, bool path_fd) {
  std::vector<std::string> problems;
  xattrs::List list;
  try {
    list = xattrs::decode(encoded);
  } catch (const Error& e) {
    problems.push_back(std::string("(all: ") + e.what() + ")");
    return problems;
  }
  bool has_access = false, has_default = false;
  for (const auto& [name, value] : list) {
    has_access |= name == kAclAccess;
    has_default |= name == kAclDefault;
  }
  // A file or directory made in a directory with a default ACL inherits it: not what was
  // backed up, and wider than the mode says.
  if (!has_access && remove_raw(fd, path_fd, kAclAccess) != 0 && errno != ENODATA && !no_xattrs(errno) &&
      errno != EPERM && errno != EINVAL)
    problems.push_back(std::string(kAclAccess) + " (cannot remove the inherited ACL: " + std::strerror(errno) + ")");
  if (!has_default) (void)remove_raw(fd, path_fd, kAclDefault);  // only directories have one
  for (const auto& [name, value] : list)
    if (set_raw(fd, path_fd, name, value) != 0) problems.push_back(name + " (" + std::strerror(errno) + ")");
  return problems;
}

Status make_node_at(int dirfd, const std::string& name, uint32_t format, uint64_t rdev, const Meta& meta, bool chown,
                    bool replace, std::vector<std::string>* xattr_problems) {
  const std::string what = format == S_IFIFO ? "FIFO" : "device";
  for (int attempt = 0;; ++attempt) {
    // Straight onto the name when nothing is to be replaced (mknodat never replaces: EEXIST,
    // and leaves no temporary); else under a name nobody can guess, renamed over the old.
    std::string tmp = replace ? ".seshat-restore-" + std::to_string(::getpid()) + "-" + random_hex16() : name;
    if (::mknodat(dirfd, tmp.c_str(), format | 0600, static_cast<dev_t>(rdev)) != 0) {
      if (replace && errno == EEXIST && attempt < 8) continue;
      return errno_error("cannot create " + what + " " + name, errno);
    }
    auto remove = [&](int err) {
      ::unlinkat(dirfd, tmp.c_str(), 0);
      return errno_error("cannot create " + what + " " + name, err);
    };
    int fd = ::openat(dirfd, tmp.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return remove(errno);
    io::Fd held(fd);
    struct stat st;
    // Made just now, owned by us (nobody else can make a node owned by this user in a tree
    // restored as root): anything else there was swapped in and is not ours.
    if (::fstat(fd, &st) != 0 || (st.st_mode & S_IFMT) != format || (format != S_IFIFO && st.st_rdev != rdev) ||
        st.st_uid != ::geteuid() || st.st_nlink != 1) {
      if (!replace) return errno_error("cannot create " + what + " " + name, EEXIST);
      return remove(EEXIST);
    }
    Status first;
    if (chown && ::fchownat(fd, "", meta.uid, meta.gid, AT_EMPTY_PATH) != 0)
      first = errno_error("cannot set its owner", errno);
    if (::chmod(proc_path(fd).c_str(), meta.mode & 07777) != 0 && first.ok())
      first = errno_error("cannot set its mode", errno);
    auto problems = set_xattrs(fd, meta.xattrs, true);
    if (xattr_problems) xattr_problems->insert(xattr_problems->end(), problems.begin(), problems.end());
    timespec ts[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(meta.mtime_sec), static_cast<long>(meta.mtime_nsec)}};
    if (::utimensat(AT_FDCWD, proc_path(fd).c_str(), ts, 0) != 0 && first.ok())
      first = errno_error("cannot set its time", errno);
    if (!replace) return first;
    if (::renameat(dirfd, tmp.c_str(), dirfd, name.c_str()) != 0) return remove(errno);
    return first;
  }
}

}  // namespace seshat::fs
