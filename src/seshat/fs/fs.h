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
  const char* other_name = "";  // for kOther: "FIFO", "socket", "device"
};

Stat from_stat(const struct stat& st);
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

// What a restore sets on a file, directory or symlink.
struct Meta {
  uint32_t mode = 0;  // permission bits (07777); not applied to symlinks
  uint32_t uid = 0, gid = 0;
  int64_t mtime_ns = 0;
};

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
Result<AtomicFile> create_file_at(int dirfd, const std::string& name, uint64_t size, bool replace = true);
// Ownership (if chown), then mode (chown clears set-uid bits), then mtime, through the fd.
// Every step is tried; the first failure is returned.
Status set_metadata_fd(int fd, const Meta& meta, bool chown);
// Ownership and mtime of the symlink `name` in `dirfd` itself (a symlink has no mode).
Status set_symlink_metadata_at(int dirfd, const std::string& name, const Meta& meta, bool chown);
// Replaces whatever is at `name` in `dirfd` by a symlink to target (atomically, through an
// unpredictable temporary name). With !replace, something already at `name` is kept:
// Error with sys_errno() EEXIST.
Status make_symlink_at(int dirfd, const std::string& name, const std::string& target, bool replace = true);
// Removes what killed restores left in the directory: files and symlinks named
// ".seshat-restore-<pid>-<16 hex digits>" that we own, of a process that is gone. Returns
// how many.
size_t remove_restore_leftovers(int dirfd);

}  // namespace seshat::fs
