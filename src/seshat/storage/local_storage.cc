#include "seshat/storage/local_storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <optional>

#include "seshat/util/atomic_file.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/io.h"

namespace seshat::storage {
namespace {

constexpr const char* kTempMarker = ".seshat-tmp-";
// No object name may have a component starting with this: temporaries are never listed.
constexpr std::string_view kTempPrefix = ".seshat-tmp";

// An object being written: an AtomicFile in the object's directory, buffered.
class LocalWriter : public ObjectWriter {
 public:
  LocalWriter(const std::string& final_path, bool exclusive) : final_(final_path) {
    make_dirs(final_.substr(0, final_.rfind('/'))).throw_if_failed();
    AtomicFile::Options o;
    o.marker = kTempMarker;
    o.replace = !exclusive;
    auto f = AtomicFile::create(final_, o);
    if (!f) throw Error(ErrorKind::kPermanent, f.error().what());
    file_.emplace(std::move(f.value()));
  }
  void write(std::string_view data) override {
    if (!file_) throw Error(ErrorKind::kPermanent, "write after commit/abort");
    size_ += data.size();
    if (data.size() >= (1u << 20)) {
      // A big piece goes to the file as it is: copying it into the buffer first would only
      // cost a memmove.
      flush();
      put(data);
      return;
    }
    // A big object's buffer is sized once for the most it holds before a flush (doubling
    // would end at twice that); a small object's grows as usual.
    if (buffer_.size() + data.size() > (64u << 10) && buffer_.capacity() < kBuffer + (1u << 20))
      buffer_.reserve(kBuffer + (1u << 20));
    buffer_.append(data);
    if (buffer_.size() >= kBuffer) flush();
  }
  uint64_t size() const override { return size_; }
  // Returns false if exclusive and the final name already existed.
  bool finish() {
    if (!file_) throw Error(ErrorKind::kPermanent, "commit after commit/abort");
    flush();
    fault::point("local.before_rename");
    auto r = file_->commit();
    file_.reset();
    if (!r) throw Error(ErrorKind::kPermanent, r.error().what());
    return r.value();
  }
  void commit() override { finish(); }
  void abort() override { file_.reset(); }

 private:
  void put(std::string_view data) {
    if (Status st = file_->write(data); !st)
      throw Error(ErrorKind::kPermanent, "cannot write " + final_ + ": " + st.error().what());
    written_ += data.size();
    start_writeback();
  }
  void flush() {
    put(buffer_);
    buffer_.clear();
  }
  // Starts the disk writes of every 32 MB as it is written, so that the fsync at the end
  // (which the whole backup waits for) finds little left to do and the disk works while
  // the CPU packs. Only a hint: errors show at the fsync.
  void start_writeback() {
    constexpr uint64_t kChunk = 32 << 20;
    if (written_ - synced_ < kChunk) return;
    ::sync_file_range(file_->fd(), static_cast<off_t>(synced_), static_cast<off_t>(written_ - synced_),
                      SYNC_FILE_RANGE_WRITE);
    synced_ = written_;
  }
  std::string final_;
  std::optional<AtomicFile> file_;
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
    if (part.empty() || part == "." || part == ".." || part.starts_with(kTempPrefix)) bad = true;
    start = end + 1;
  }
  if (bad) throw Error(ErrorKind::kInvalidInput, "invalid object name: " + name);
}

LocalStorage::LocalStorage(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_.empty() || root_[0] != '/')
    throw Error(ErrorKind::kInvalidInput, "the local store must be an absolute path: " + root_);
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
  auto r = read_file(path_of(name));
  if (!r) {
    if (r.error().kind() == ErrorKind::kNotFound) throw Error(ErrorKind::kNotFound, "object not found: " + name);
    throw Error(ErrorKind::kPermanent, r.error().what());
  }
  return std::move(r).value();
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
  io::Fd owned(fd);
  if (out.size() < length) out.resize(length);
  auto got = io::pread_full(fd, out.data(), length, offset);
  if (!got) throw Error(ErrorKind::kPermanent, "cannot read " + path + ": " + got.error().what());
  if (*got != length) throw Error(ErrorKind::kCorruption, "object " + name + " is shorter than expected");
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
    if (part.empty() || part == "." || part == ".." || part.starts_with(kTempPrefix)) return out;
  }
  // Start at the deepest directory the prefix names, then filter by the full prefix.
  std::string dir_part = prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
  std::function<void(const std::string&, const std::string&)> walk = [&](const std::string& path,
                                                                         const std::string& rel) {
    DIR* d = ::opendir(path.c_str());
    if (!d) {
      if (errno == ENOENT || errno == ENOTDIR) return;
      throw_errno(ErrorKind::kPermanent, "cannot list " + path, errno);
    }
    while (dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n == "." || n == ".." || n.starts_with(kTempPrefix)) continue;
      std::string child_rel = rel.empty() ? n : rel + "/" + n;
      std::string child_path = path + "/" + n;
      struct stat st;
      if (::lstat(child_path.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        if (prefix.starts_with(child_rel + "/") || (child_rel + "/").starts_with(prefix) || prefix.empty())
          walk(child_path, child_rel);
      } else if (S_ISREG(st.st_mode) && child_rel.starts_with(prefix)) {
        out.push_back({child_rel, static_cast<uint64_t>(st.st_size), {}});
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

Leftovers remove_files_of_gone_processes(const std::string& dir, std::string_view marker, bool only_ours) {
  Leftovers out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return out;
    throw_errno(ErrorKind::kPermanent, "cannot list " + dir, errno);
  }
  const uid_t me = ::geteuid();
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (!n.starts_with(marker)) continue;
    const size_t at = 0;
    // <marker><pid>-<n>: a process of this machine that still runs is writing it.
    long pid = std::strtol(n.c_str() + at + marker.size(), nullptr, 10);
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) continue;
    std::string p = dir + "/" + n;
    struct stat st;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (only_ours && st.st_uid != me)) continue;
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
  return remove_files_of_gone_processes(dir.empty() ? root_ : root_ + "/" + dir, kTempMarker);
}

std::unique_ptr<ObjectWriter> LocalStorage::create(const std::string& name, ObjectClass) {
  return std::make_unique<LocalWriter>(path_of(name), false);
}

}  // namespace seshat::storage
