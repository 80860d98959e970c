#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <atomic>
#include <functional>

#include "seshat/storage/storage.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"

namespace seshat::storage {
namespace {

std::string temp_suffix() {
  static std::atomic<uint64_t> counter{0};
  return ".seshat-tmp-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

void write_all(int fd, std::string_view data, const std::string& what) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(ErrorKind::kPermanent, "cannot write " + what, errno);
    }
    off += static_cast<size_t>(n);
  }
}

void fsync_dir(const std::string& path) {
  std::string dir = path.substr(0, path.rfind('/'));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

class LocalWriter : public ObjectWriter {
 public:
  LocalWriter(std::string final_path, bool exclusive) : final_(std::move(final_path)), exclusive_(exclusive) {
    make_dirs(final_.substr(0, final_.rfind('/')));
    tmp_ = final_.substr(0, final_.rfind('/') + 1) + temp_suffix();
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd_ < 0) throw_errno(ErrorKind::kPermanent, "cannot create " + final_, errno);
  }
  ~LocalWriter() override { abort(); }
  void write(std::string_view data) override {
    if (fd_ < 0) throw Error(ErrorKind::kPermanent, "write after commit/abort");
    size_ += data.size();
    if (data.size() >= (1u << 20)) {
      // A big piece goes to the file as it is: copying it into the buffer first would only
      // cost a memmove.
      flush();
      write_all(fd_, data, final_);
      written_ += data.size();
      start_writeback();
      return;
    }
    // A big object's buffer is sized once for the most it holds before a flush (doubling
    // would end at twice that); a small object's grows as usual.
    if (buffer_.size() + data.size() > (64u << 10) && buffer_.capacity() < kBuffer + (1u << 20)) buffer_.reserve(kBuffer + (1u << 20));
    buffer_.append(data);
    if (buffer_.size() >= kBuffer) flush();
  }
  uint64_t size() const override { return size_; }
  // Returns false if exclusive and the final name already existed.
  bool finish() {
    flush();
    if (::fsync(fd_) != 0) throw_errno(ErrorKind::kPermanent, "cannot write " + final_, errno);
    ::close(fd_);
    fd_ = -1;
    fault::point("local.before_rename");
    if (exclusive_) {
      // link() fails with EEXIST atomically: the conditional create.
      int r = ::link(tmp_.c_str(), final_.c_str());
      int e = errno;
      ::unlink(tmp_.c_str());
      if (r != 0) {
        if (e == EEXIST) return false;
        throw_errno(ErrorKind::kPermanent, "cannot create " + final_, e);
      }
    } else if (::rename(tmp_.c_str(), final_.c_str()) != 0) {
      int e = errno;
      ::unlink(tmp_.c_str());
      throw_errno(ErrorKind::kPermanent, "cannot create " + final_, e);
    }
    fsync_dir(final_);
    return true;
  }
  void commit() override { finish(); }
  void abort() override {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_.c_str());
      fd_ = -1;
    }
  }

 private:
  void flush() {
    write_all(fd_, buffer_, final_);
    written_ += buffer_.size();
    buffer_.clear();
    start_writeback();
  }
  // Starts the disk writes of every 32 MB as it is written, so that the fsync at the end
  // (which the whole backup waits for) finds little left to do and the disk works while
  // the CPU packs. Only a hint: errors show at the fsync.
  void start_writeback() {
    constexpr uint64_t kChunk = 32 << 20;
    if (written_ - synced_ < kChunk) return;
    ::sync_file_range(fd_, static_cast<off_t>(synced_), static_cast<off_t>(written_ - synced_), SYNC_FILE_RANGE_WRITE);
    synced_ = written_;
  }
  std::string final_, tmp_;
  bool exclusive_;
  int fd_ = -1;
  uint64_t size_ = 0;
  static constexpr size_t kBuffer = 4 << 20;
  uint64_t written_ = 0;  // bytes handed to the file
  uint64_t synced_ = 0;   // bytes whose writeback was started
  std::string buffer_;
};

}  // namespace

void check_object_name(const std::string& name) {
  bool bad = name.empty() || name.front() == '/' || name.back() == '/' || name.find('\0') != std::string::npos;
  size_t start = 0;
  while (!bad && start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    std::string_view part(name.data() + start, end - start);
    if (part.empty() || part == "." || part == ".." || part.starts_with(".seshat-tmp")) bad = true;
    start = end + 1;
  }
  if (bad) throw Error(ErrorKind::kInvalidInput, "invalid object name: " + name);
}

LocalStorage::LocalStorage(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_.empty() || root_[0] != '/') throw Error(ErrorKind::kInvalidInput, "the local store must be an absolute path: " + root_);
}

std::string LocalStorage::path_of(const std::string& name) const {
  check_object_name(name);
  return root_ + "/" + name;
}

void LocalStorage::put(const std::string& name, std::string_view data) {
  LocalWriter w(path_of(name), false);
  w.write(data);
  w.commit();
}

bool LocalStorage::put_if_absent(const std::string& name, std::string_view data) {
  LocalWriter w(path_of(name), true);
  w.write(data);
  return w.finish();
}

bool LocalStorage::put_if_absent_stream(const std::string& name, const std::function<void(const Sink&)>& produce) {
  LocalWriter w(path_of(name), true);
  produce([&](std::string_view piece) { w.write(piece); });
  return w.finish();
}

std::string LocalStorage::get(const std::string& name) {
  if (!head(name)) throw Error(ErrorKind::kNotFound, "object not found: " + name);
  try {
    return read_file(path_of(name));
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) throw Error(ErrorKind::kNotFound, "object not found: " + name);
    throw;
  }
}

void LocalStorage::read_range(const std::string& name, uint64_t offset, uint64_t length, std::string& out) {
  std::string path = path_of(name);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) throw Error(ErrorKind::kNotFound, "object not found: " + name);
    throw_errno(ErrorKind::kPermanent, "cannot read " + path, errno);
  }
  struct stat st;
  if (::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(ErrorKind::kNotFound, "object not found: " + name);
  }
  if (out.size() < length) out.resize(length);
  size_t got = 0;
  while (got < length) {
    ssize_t n = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      throw_errno(ErrorKind::kPermanent, "cannot read " + path, e);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != length) throw Error(ErrorKind::kCorruption, "object " + name + " is shorter than expected");
}

std::string LocalStorage::get_range(const std::string& name, uint64_t offset, uint64_t length) {
  std::string out;
  read_range(name, offset, length, out);
  return out;
}

std::optional<uint64_t> LocalStorage::head(const std::string& name) {
  struct stat st;
  if (::stat(path_of(name).c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;
    throw_errno(ErrorKind::kPermanent, "cannot stat object " + name, errno);
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;  // a directory is a prefix of other names, not an object
  return static_cast<uint64_t>(st.st_size);
}

std::vector<ObjectInfo> LocalStorage::list(const std::string& prefix) {
  std::vector<ObjectInfo> out;
  // Every complete component of the prefix must be one a valid name can have; otherwise no
  // object can match (and the walk must never leave the root).
  if (!prefix.empty() && prefix.front() == '/') return out;
  for (size_t start = 0, slash; (slash = prefix.find('/', start)) != std::string::npos; start = slash + 1) {
    std::string_view part(prefix.data() + start, slash - start);
    if (part.empty() || part == "." || part == ".." || part.starts_with(".seshat-tmp")) return out;
  }
  // Start at the deepest directory the prefix names, then filter by the full prefix.
  std::string dir_part = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
  std::function<void(const std::string&, const std::string&)> walk = [&](const std::string& path, const std::string& rel) {
    DIR* d = ::opendir(path.c_str());
    if (!d) {
      if (errno == ENOENT || errno == ENOTDIR) return;
      throw_errno(ErrorKind::kPermanent, "cannot list " + path, errno);
    }
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || n.starts_with(".seshat-tmp")) continue;
      std::string child_rel = rel.empty() ? n : rel + "/" + n;
      std::string child_path = path + "/" + n;
      struct stat st;
      if (::lstat(child_path.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (prefix.starts_with(child_rel + "/") || (child_rel + "/").starts_with(prefix) || prefix.empty())
          walk(child_path, child_rel);
      } else if (S_ISREG(st.st_mode) && child_rel.starts_with(prefix)) {
        out.push_back({child_rel, static_cast<uint64_t>(st.st_size)});
      }
    }
    ::closedir(d);
  };
  walk(dir_part.empty() ? root_ : root_ + "/" + dir_part, dir_part);
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

void LocalStorage::remove(const std::string& name) {
  if (::unlink(path_of(name).c_str()) != 0 && errno != ENOENT && errno != ENOTDIR && errno != EISDIR)
    throw_errno(ErrorKind::kPermanent, "cannot remove object " + name, errno);
}

Leftovers remove_files_of_gone_processes(const std::string& dir, std::string_view marker) {
  Leftovers out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return out;
    throw_errno(ErrorKind::kPermanent, "cannot list " + dir, errno);
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    size_t at = n.find(marker);
    if (at == std::string::npos) continue;
    // <marker><pid>-<n>: a process of this machine that still runs is writing it.
    long pid = std::strtol(n.c_str() + at + marker.size(), nullptr, 10);
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(p.c_str()) == 0) {
      ++out.objects;
      out.bytes += static_cast<uint64_t>(st.st_size);
    }
  }
  ::closedir(d);
  return out;
}

Leftovers LocalStorage::remove_incomplete(const std::string& prefix) {
  std::string dir = prefix;
  while (!dir.empty() && dir.back() == '/') dir.pop_back();
  if (!dir.empty()) check_object_name(dir);
  return remove_files_of_gone_processes(dir.empty() ? root_ : root_ + "/" + dir, ".seshat-tmp-");
}

std::unique_ptr<ObjectWriter> LocalStorage::create(const std::string& name) {
  return std::make_unique<LocalWriter>(path_of(name), false);
}

}  // namespace seshat::storage
