// The only code that touches the user's files (DESIGN.md §2). Directory handles are file
// descriptors, so a walk uses openat/fstatat relative to its parent and never rebuilds paths
// per file; a whole path is for messages only. Every operation returns a Result or Status
// whose Error carries the errno (sys_errno()): per-file problems are expected, and the caller
// reports them and goes on. Nothing here throws except for programming errors.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seshat/util/atomic_file.h"
#include "seshat/util/error.h"
#include "seshat/util/io.h"

namespace seshat::fs {

enum class Kind : uint8_t { kFile, kDir, kSymlink, kOther };

struct Stat {
  Kind kind = Kind::kOther;
  uint32_t mode = 0;  // permission bits only (07777)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t dev = 0;
  uint64_t nlink = 1;
  uint64_t rdev = 0;      // a device's numbers
  uint64_t blocks = 0;    // 512-byte blocks allocated
  uint32_t format = 0;    // S_IFMT bits
  int64_t mtime_sec = 0;  // the exact time (mtime_ns saturates outside 1678-2262)
  uint32_t mtime_nsec = 0;
  const char* other_name = "";  // for kOther: "FIFO", "socket", "device"
};

Stat from_stat(const struct stat& st);
// sec * 10^9 + nsec, or INT64_MAX/INT64_MIN where that does not fit (before 1678, after 2262).
int64_t saturated_ns(int64_t sec, int64_t nsec);
// fstat of an open file.
Result<Stat> stat_fd(int fd);

// An open directory. Move-only; closes on destruction.
class Dir {
 public:
  Dir() = default;
  explicit Dir(io::Fd fd) : fd_(std::move(fd)) {}
  int fd() const { return fd_.get(); }
  bool valid() const { return fd_.valid(); }

  static Result<Dir> open(const std::string& path);
  // follow: a symlink to a directory is entered (SET SYMLINKS YES); else it is refused (ELOOP).
  Result<Dir> open_child(const std::string& name, bool follow) const;
  // Names in the directory (no "." or ".."), sorted bytewise.
  Result<std::vector<std::string>> list() const;
  // lstat (or stat if follow) of a child.
  Result<Stat> stat_child(const std::string& name, bool follow) const;
  Result<std::string> read_link(const std::string& name) const;
  Result<Stat> stat_self() const;

 private:
  io::Fd fd_;
};

// Opens a file for reading by absolute path, also when the path is longer than PATH_MAX
// (component by component with openat). A final symlink is followed only with follow (SET
// SYMLINKS YES); otherwise it is refused (ELOOP).
Result<io::Fd> open_read(const std::string& path, bool follow = false);

// ---- writing (restore)
//
// A restore may run as root in a tree other users can write. It never follows a symlink it
// did not create: directories are opened one component at a time relative to their parent
// (O_NOFOLLOW | O_DIRECTORY), files, symlinks and metadata are made and set relative to an
// open directory or through an open fd. A symlink, file or device where a directory should
// be is an Error whose message says what is in the way ("a symlink is in the way"; errno
// ELOOP for a symlink, ENOTDIR otherwise).

// What a restore sets on a file, directory, symlink or special file.
struct Meta {
  uint32_t mode = 0;  // permission bits (07777); not applied to symlinks
  uint32_t uid = 0, gid = 0;
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  std::string_view xattrs;  // encoded (util/xattrs.h): exactly these are set; inherited ACLs are removed
};

// ---- extended attributes and inode flags (meta.cc)

// The inode flags (chattr) a restore sets again: append-only, immutable, no-dump, no-atime,
// no-COW, sync, dirsync, ...; not those the file system manages itself (extents, inline
// data, encryption, verity, casefold).
extern const uint32_t kRestorableFlags;
// Extended attributes of every namespace the process may read, encoded (util/xattrs.h);
// empty if there are none or the file system has none. path_fd: fd is an O_PATH descriptor
// (a symlink or special file), read through /proc/self/fd.
Result<std::string> read_xattrs(int fd, bool path_fd = false);
// FS_IOC_GETFLAGS of an open file or directory, masked to kRestorableFlags; 0 where the file
// system has no flags.
uint32_t read_fs_flags(int fd);
// Sets the restorable flags to `flags` (others kept), through the fd.
Status set_fs_flags(int fd, uint32_t flags);
// Lifts immutable and append-only (which forbid any change of metadata or, for a directory,
// of its entries) from an existing file or directory, so that a restore can set what it
// records; set_fs_flags afterwards sets them again if recorded.
Status lift_protection(int fd);
// Sets exactly the encoded attributes: the POSIX ACLs a new file inherited from its directory
// are removed unless they are among them. Every attribute is tried; the failures are
// returned, one "name (reason)" each.
std::vector<std::string> set_xattrs(int fd, std::string_view encoded, bool path_fd = false);

// The directory `name` (one component) in `dirfd`, never through a symlink. With create a
// missing one is made with mode 0700 (its own mode comes with its metadata), and *created
// says so.
Result<io::Fd> open_dir_at(int dirfd, const std::string& name, bool create, bool* created = nullptr);
// A directory by absolute path (of any length), made with its missing parents (0700) if
// create: the root of a restore's destination. A symlink on the way is followed only if root
// or we own it (nobody else can have planted or changed it; its target is resolved by the
// same rule); a symlink of another user is an Error.
Result<io::Fd> open_dir_trusted(const std::string& path, bool create);
// A restored file's content goes to an AtomicFile named `name` in `dirfd` (marker
// ".seshat-restore-", mode 0600 until set_metadata_fd, not fsync'ed: a restore syncs once at
// the end if asked), preallocated when it is big; it is put in place by commit(), which
// replaces a file or symlink at that name without following it -- or, with !replace, keeps
// whatever appeared there meanwhile (commit() then returns false).
// With !preallocate (a file to be written with holes) it is not preallocated.
Result<AtomicFile> create_file_at(int dirfd, const std::string& name, uint64_t size, bool replace = true,
                                  bool preallocate = true);
// Ownership (if chown), then mode (chown clears set-uid bits), then extended attributes
// (after chown, which clears file capabilities), then mtime, through the fd. Every step is
// tried; the first failure is returned, and each attribute that could not be set is added to
// *xattr_problems (if given) instead.
Status set_metadata_fd(int fd, const Meta& meta, bool chown, std::vector<std::string>* xattr_problems = nullptr);
// A FIFO or device node (format: S_IFIFO, S_IFCHR, S_IFBLK) at `name` in `dirfd`: with
// !replace made at the name itself (something there is kept: EEXIST), else under an
// unpredictable temporary name renamed over what is there; checked to be the node just made,
// and given its metadata through an O_PATH descriptor.
Status make_node_at(int dirfd, const std::string& name, uint32_t format, uint64_t rdev, const Meta& meta, bool chown,
                    bool replace, std::vector<std::string>* xattr_problems);
// Ownership and mtime of the symlink `name` in `dirfd` itself (a symlink has no mode).
Status set_symlink_metadata_at(int dirfd, const std::string& name, const Meta& meta, bool chown);
// Replaces whatever is at `name` in `dirfd` by a symlink to target (atomically, through an
// unpredictable temporary name). With !replace, something already at `name` is kept:
// Error with sys_errno() EEXIST.
Status make_symlink_at(int dirfd, const std::string& name, const std::string& target, bool replace = true);
// A new name `name` in `dirfd` for the open file `fd` (a hard link made through
// /proc/self/fd, never through a name that could have been swapped), under a temporary name
// first; it replaces what is at `name`, or with !replace keeps it (EEXIST).
Status link_at(int fd, int dirfd, const std::string& name, bool replace);
// Removes what killed restores left in the directory: files and symlinks named
// ".seshat-restore-<pid>-<16 hex digits>" that we own, of a process that is gone. Returns
// how many.
size_t remove_restore_leftovers(int dirfd);

}  // namespace seshat::fs
