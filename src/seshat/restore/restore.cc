#include "seshat/restore/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "seshat/fs/fs.h"
#include "seshat/repo/content_hash.h"
#include "seshat/restore/dest_dirs.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/workers.h"

namespace seshat::restore {

using catalog::Type;

std::string destination(const std::string& original, const std::string& target) {
  if (target.empty()) return original;
  std::string t = target;
  while (t.size() > 1 && t.back() == '/') t.pop_back();
  if (t == "/") return original;
  return t + original;
}

Existing compare_existing(const catalog::Catalog& cat, const catalog::Version& v, int dirfd, const std::string& name,
                          bool check_owner) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Existing::kAbsent : Existing::kDiffers;
  if (v.type == Type::kSymlink) {
    if (!S_ISLNK(st.st_mode)) return Existing::kDiffers;
    std::string_view want = cat.symlink_target(v);
    std::string got(want.size() + 1, '\0');
    ssize_t n = ::readlinkat(dirfd, name.c_str(), got.data(), got.size());
    if (n < 0 || static_cast<size_t>(n) != want.size() || std::string_view(got.data(), n) != want)
      return Existing::kDiffers;
    return check_owner && (st.st_uid != v.uid || st.st_gid != v.gid) ? Existing::kSameContent : Existing::kIdentical;
  }
  const bool same_meta =
      (st.st_mode & 07777) == v.mode && (!check_owner || (st.st_uid == v.uid && st.st_gid == v.gid)) &&
      static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec == v.mtime_ns && st.st_nlink == 1;
  const Existing same = same_meta ? Existing::kIdentical : Existing::kSameContent;
  if (v.type != Type::kFile || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) != v.size)
    return Existing::kDiffers;
  if (v.size == 0) return same;
  const catalog::Content& c = cat.contents[v.content];
  if (std::all_of(c.hash.begin(), c.hash.end(), [](uint8_t b) { return b == 0; }) || repo::is_rebuilt_stand_in(c.hash))
    return Existing::kUnknown;  // no whole-file hash to compare with (a rebuilt catalog)
  io::Fd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  struct stat ost;
  if (fd.get() < 0 || ::fstat(fd.get(), &ost) != 0 || !S_ISREG(ost.st_mode) || ost.st_ino != st.st_ino ||
      ost.st_dev != st.st_dev)
    return Existing::kDiffers;
  repo::ContentHash h;
  thread_local std::string buf;
  if (buf.size() < (1u << 20)) buf.resize(1u << 20);
  uint64_t total = 0;
  for (;;) {
    auto n = io::read_full(fd.get(), buf.data(), buf.size());
    if (!n) return Existing::kDiffers;
    h.update(std::string_view(buf.data(), *n));
    total += *n;
    if (*n < buf.size()) break;
  }
  return total == v.size && h.finish() == c.hash ? same : Existing::kDiffers;
}

size_t count_differing(const catalog::Catalog& cat, const std::vector<Item>& items, const std::string& target) {
  DestDirs dirs(cat, target);
  size_t n = 0;
  for (const Item& it : items) {
    const catalog::Version& v = cat.versions[it.version];
    if (v.type != Type::kFile && v.type != Type::kSymlink) continue;
    auto d = dirs.get(cat.entries[it.entry].parent, false);
    Existing e =
        d ? compare_existing(cat, v, d.value()->get(), std::string(cat.name(it.entry)), false) : Existing::kAbsent;
    if (e == Existing::kDiffers || e == Existing::kUnknown) ++n;
  }
  return n;
}

namespace {

// Per item to restore: the original path is not kept (cat.path(entry) gives it again for a
// message): with 200,000 files each string kept costs ~25 MB.
struct Planned {
  uint32_t version;
  uint32_t entry;
  std::string dest;
  bool replace = false;  // something is there that may be replaced (screened); else it is kept if one appears
};

// A file being written: parts arrive in any order, from any thread.
struct FileState {
  std::mutex mu;
  DestDirs::Handle dir;            // where it goes, held while its temporary is open
  std::optional<AtomicFile> file;  // its temporary, once the first part came
  uint32_t remaining = 0;
  bool failed = false;
  std::string problem;
};

// Where a blob's plaintext goes: the request tags index these.
struct Piece {
  uint32_t file;
  uint64_t offset;
};

fs::Meta meta_of(const catalog::Version& v) { return {v.mode, v.uid, v.gid, v.mtime_ns}; }

class Restorer {
 public:
  Restorer(const catalog::Catalog& cat, const Options& o, repo::BlobReader& reader)
      : cat_(cat), o_(o), reader_(reader), dest_(cat, o.target) {}

  Result run(const std::vector<Item>& items) {
    std::vector<Planned> dirs, links;
    for (const Item& it : items) {
      Planned p{it.version, it.entry, destination(cat_.path(it.entry), o_.target)};
      switch (cat_.versions[it.version].type) {
        case Type::kDir:
          dirs.push_back(std::move(p));
          break;
        case Type::kFile:
          files_.push_back(std::move(p));
          break;
        case Type::kSymlink:
          links.push_back(std::move(p));
          break;
        case Type::kDeleted:
          break;
      }
    }
    if (o_.dry_run) {
      screen(files_);
      screen(links);
      return dry_run(dirs, links);
    }
    chown_ = ::geteuid() == 0;
    std::vector<bool> made(dirs.size());
    for (size_t i = 0; i < dirs.size(); ++i) {
      auto d = dest_.get(dirs[i].entry, true);
      made[i] = d.ok();
      if (!d)
        fail_path(dirs[i].dest, d.error());
      else
        ++r_.dirs;
    }
    screen(files_);
    screen(links);
    restore_files();
    for (const auto& l : links) restore_link(l);
    // Directory metadata last, children before parents, so writing inside does not change it;
    // never on what stood in the way of a directory that could not be made.
    for (size_t i = dirs.size(); i-- > 0;) {
      if (!made[i]) continue;
      auto d = dest_.get(dirs[i].entry, false);
      Status st = d ? fs::set_metadata_fd(d.value()->get(), meta_of(cat_.versions[dirs[i].version]), chown_)
                    : Status(d.error());
      if (!st) log::warn("Restored {} but could not set its metadata ({})", dirs[i].dest, st.error().what());
    }
    if (size_t n = dest_.leftovers_removed())
      log::info("Removed {} left by an interrupted restore", plural(n, "temporary file", "temporary files"));
    return r_;
  }

 private:
  // What is at each destination already: the same content is left as it is (counted); other
  // content is replaced only with overwrite, else kept and named. What remains is restored.
  void screen(std::vector<Planned>& v) {
    size_t out = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      Existing e = Existing::kAbsent;
      if (auto d = dest_.get(cat_.entries[v[i].entry].parent, false))
        e = compare_existing(cat_, cat_.versions[v[i].version], d.value()->get(), std::string(cat_.name(v[i].entry)),
                             ::geteuid() == 0);
      if (e == Existing::kIdentical) {
        ++r_.identical;
        continue;
      }
      if ((e == Existing::kDiffers || e == Existing::kUnknown) && !o_.overwrite) {
        log::warn("{}: {} ({}; SET OVERWRITE YES replaces it)", o_.dry_run ? "Would keep" : "Kept", v[i].dest,
                  e == Existing::kUnknown ? "a file of the same size is there, which cannot be compared with the "
                                            "backup: the DB was rebuilt and knows no hash of it"
                                          : "a different file is there");
        ++r_.kept;
        continue;
      }
      v[i].replace = e != Existing::kAbsent;
      if (out != i) v[out] = std::move(v[i]);
      ++out;
    }
    v.resize(out);
  }

  Result dry_run(const std::vector<Planned>& dirs, const std::vector<Planned>& links) {
    uint64_t bytes = 0;
    for (const auto& f : files_) {
      bytes += cat_.versions[f.version].size;
      log::info("Would restore {}", f.dest);
    }
    for (const auto& l : links) log::info("Would restore {}", l.dest);
    log::info("Dry run: {} ({}), {}, {} would be restored, {} already identical, {} kept; nothing was written",
              plural(files_.size(), "file", "files"), human_size(bytes),
              plural(dirs.size(), "directory", "directories"), plural(links.size(), "symlink", "symlinks"),
              r_.identical, r_.kept);
    r_.files = files_.size();
    r_.dirs = dirs.size();
    r_.symlinks = links.size();
    return r_;
  }

  void restore_link(const Planned& l) {
    const catalog::Version& v = cat_.versions[l.version];
    auto d = dest_.get(cat_.entries[l.entry].parent, true);
    if (!d) return fail_path(l.dest, d.error());
    std::string name(cat_.name(l.entry));
    if (Status st = fs::make_symlink_at(d.value()->get(), name, std::string(cat_.symlink_target(v)), l.replace); !st) {
      if (!l.replace && st.error().sys_errno() == EEXIST) return kept_late(l.dest);
      return fail_path(l.dest, st.error());
    }
    (void)fs::set_symlink_metadata_at(d.value()->get(), name, meta_of(v), chown_);
    ++r_.symlinks;
  }

  // Why a path was not restored: what was in its way, else the failed call's errno text.
  static std::string reason(const Error& e) {
    std::string what = e.what();
    if (what.find(" is in the way") != std::string::npos || e.sys_errno() == 0) return what;
    return std::strerror(e.sys_errno());
  }

  void fail_path(const std::string& path, const Error& e) { fail_path(path, reason(e)); }

  // Something appeared at the destination after it was screened as free: it stays.
  void kept_late(const std::string& path) {
    log::warn("Kept: {} (it appeared during the restore; SET OVERWRITE YES replaces it)", path);
    std::lock_guard<std::mutex> lk(mu_);
    ++r_.kept;
  }

  void fail_path(const std::string& path, const std::string& why) {
    log::error("Not restored: {} ({})", path, why);
    std::lock_guard<std::mutex> lk(mu_);
    ++r_.failed;
  }

  void restore_files() {
    states_ = std::make_unique<FileState[]>(files_.size());
    std::vector<repo::BlobRequest> requests;
    for (uint32_t i = 0; i < files_.size(); ++i) {
      const catalog::Content& c = cat_.contents[cat_.versions[files_[i].version].content];
      uint64_t off = 0;
      for (uint32_t b = 0; b < c.blob_count; ++b) {
        const catalog::BlobRef& ref = cat_.blobs[c.first_blob + b];
        requests.push_back({&ref, pieces_.size()});
        pieces_.push_back({i, off});
        off += ref.raw_size;
      }
      states_[i].remaining = c.blob_count;
    }
    progress_ = std::make_unique<Progress>(files_.size());
    // Empty files have no blobs: write them now.
    for (uint32_t i = 0; i < files_.size(); ++i)
      if (states_[i].remaining == 0) finish(i);
    repo::BlobReader::Sink sink;
    sink.blob = [this](uint64_t tag, std::string_view plain) { write_part(pieces_[tag], plain); };
    sink.failed = [this](uint64_t tag, const Error& e) {
      part_failed(pieces_[tag].file, e.kind() == ErrorKind::kInterrupted  ? std::string("interrupted")
                                     : e.kind() == ErrorKind::kCorruption ? "damaged: " + std::string(e.what())
                                                                          : "cannot be read: " + std::string(e.what()));
    };
    reader_.read(std::move(requests), o_.threads, sink);
  }

  // Opens the file's temporary (first part), under its lock. False on failure.
  bool open_temp(uint32_t i, FileState& s) {
    if (s.file) return true;
    const Planned& f = files_[i];
    auto d = dest_.get(cat_.entries[f.entry].parent, true);
    if (!d) {
      s.failed = true;
      s.problem = reason(d.error());
      return false;
    }
    auto t =
        fs::create_file_at(d.value()->get(), std::string(cat_.name(f.entry)), cat_.versions[f.version].size, f.replace);
    if (!t) {
      s.failed = true;
      s.problem = reason(t.error());
      return false;
    }
    s.dir = std::move(d.value());
    s.file.emplace(std::move(t.value()));
    return true;
  }

  void part_failed(uint32_t i, const std::string& why) {
    FileState& s = states_[i];
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.failed) {
      s.failed = true;
      s.problem = why;
    }
    if (--s.remaining == 0) finish_locked(i, s);
  }

  void write_part(const Piece& p, std::string_view data) {
    FileState& s = states_[p.file];
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.failed && open_temp(p.file, s)) {
      if (Status st = s.file->pwrite(data, p.offset); !st) {
        s.failed = true;
        s.problem = std::strerror(st.error().sys_errno());
      }
    }
    if (--s.remaining == 0) finish_locked(p.file, s);
  }

  void finish(uint32_t i) {
    FileState& s = states_[i];
    std::lock_guard<std::mutex> lk(s.mu);
    finish_locked(i, s);
  }

  // All parts are in (or failed): set size and metadata through the fd, then rename into place.
  void finish_locked(uint32_t i, FileState& s) {
    const Planned& f = files_[i];
    const catalog::Version& v = cat_.versions[f.version];
    if (!s.failed) open_temp(i, s);
    if (!s.failed && ::ftruncate(s.file->fd(), static_cast<off_t>(v.size)) != 0) {
      s.failed = true;
      s.problem = std::strerror(errno);
    }
    if (!s.failed) {
      Status st = fs::set_metadata_fd(s.file->fd(), meta_of(v), chown_);
      if (!st) log::warn("Restored {} but could not set its metadata ({})", f.dest, st.error().what());
      auto c = s.file->commit();
      if (!c) {
        s.failed = true;
        s.problem = std::strerror(c.error().sys_errno() ? c.error().sys_errno() : EIO);
      } else if (!*c) {
        s.file.reset();
        s.dir.reset();
        return kept_late(f.dest);
      }
    }
    s.file.reset();  // an uncommitted temporary is removed
    s.dir.reset();
    if (s.failed) return fail_path(cat_.path(f.entry), s.problem);
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++r_.files;
      r_.bytes += v.size;
    }
    progress_->add();
  }

  const catalog::Catalog& cat_;
  const Options& o_;
  repo::BlobReader& reader_;
  DestDirs dest_;
  bool chown_ = false;
  std::vector<Planned> files_;
  std::vector<Piece> pieces_;
  std::unique_ptr<FileState[]> states_;
  std::unique_ptr<Progress> progress_;
  std::mutex mu_;  // guards r_
  Result r_;
};

}  // namespace

Result run(const catalog::Catalog& cat, const std::vector<Item>& items, const Options& o, repo::BlobReader& reader) {
  Restorer r(cat, o, reader);
  return r.run(items);
}

}  // namespace seshat::restore
