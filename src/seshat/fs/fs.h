// The only code that touches the user's files. Directory handles are file descriptors so a
// walk uses openat/fstatat relative to its parent and never rebuilds paths per file.
// Functions report per-file failures through errno-style results (the walk warns and goes
// on); only programming errors throw.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

// An open directory. Move-only; closes on destruction.
class Dir {
 public:
  Dir() = default;
  explicit Dir(int fd) : fd_(fd) {}
  Dir(Dir&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Dir& operator=(Dir&& o) noexcept;
  Dir(const Dir&) = delete;
  ~Dir();
  int fd() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

  // Returns the directory or sets err (errno).
  static Dir open(const std::string& path, int& err);
  Dir open_child(const std::string& name, bool follow, int& err) const;
  // Names in the directory (no "." or ".."), sorted bytewise. Sets err on failure.
  std::vector<std::string> list(int& err) const;
  // lstat (or stat if follow) of a child; nullopt and err on failure.
  std::optional<Stat> stat_child(const std::string& name, bool follow, int& err) const;
  std::optional<std::string> read_link(const std::string& name, int& err) const;
  std::optional<Stat> stat_self(int& err) const;

 private:
  int fd_ = -1;
};

// Opens a file for reading by absolute path, also when the path is longer than PATH_MAX
// (component by component with openat). Returns fd or -errno.
int open_read(const std::string& path);
// Reads up to n bytes at the current position, retrying on EINTR and short reads.
// Returns bytes read (less than n only at end of file) or -errno.
ssize_t read_full(int fd, char* buf, size_t n);

// ---- writing (restore)
// mkdir -p with mode 0700 for new directories; returns 0 or errno.
int make_dirs(const std::string& path);
// Writes a file at path atomically (temp name beside it, then rename). `fill` is called to
// write the content to the open fd and returns 0 or errno. Returns 0 or errno.
int write_file_atomic(const std::string& path, uint64_t size, const std::function<int(int fd)>& fill);
// Replaces whatever is at path by a symlink to target (atomically). Returns 0 or errno.
int make_symlink(const std::string& target, const std::string& path);
// Sets mode (not for symlinks), ownership (if chown), and mtime (not following symlinks).
int set_metadata(const std::string& path, bool is_symlink, uint32_t mode, uint32_t uid, uint32_t gid, int64_t mtime_ns, bool chown);
// Writes all of data at offset; returns 0 or errno.
int pwrite_full(int fd, std::string_view data, uint64_t offset);

}  // namespace seshat::fs
