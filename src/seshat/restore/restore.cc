#include "seshat/restore/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "seshat/container/container.h"
#include "seshat/fs/fs.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/log.h"

namespace seshat::restore {

using catalog::Type;

std::string destination(const std::string& original, const std::string& target) {
  if (target.empty()) return original;
  std::string t = target;
  while (t.size() > 1 && t.back() == '/') t.pop_back();
  if (t == "/") return original;
  return t + original;
}

namespace {

// Neighbouring blobs of one container are fetched with one ranged read when the gap between
// them is small, up to this many bytes a read.
constexpr uint64_t kMaxRange = 4ull << 20;
constexpr uint64_t kMaxGap = 256ull << 10;

// Per item to restore: the original path is not kept (cat.path(entry) gives it again for a
// message), and a file's temporary name is derived when needed: with 200,000 files each
// string kept costs ~25 MB.
struct Planned {
  uint32_t version;
  uint32_t entry;
  std::string dest;
};

// A file being written: parts arrive in any order, from any thread.
struct FileState {
  std::mutex mu;
  bool opened = false;  // its temporary file was created
  int fd = -1;
  uint32_t remaining = 0;
  bool failed = false;
  std::string problem;
};

struct Piece {
  uint32_t file;       // index into files
  uint64_t file_offset;
  const catalog::BlobRef* ref;
};

struct Range {
  uint32_t container;
  uint64_t start = 0, end = 0;
  std::vector<Piece> pieces;
};

class Restorer {
 public:
  Restorer(repo::Repository& repo, const catalog::Catalog& cat, const Options& o) : repo_(repo), cat_(cat), o_(o) {}

  Result run(const std::vector<Item>& items) {
    std::vector<Planned> dirs, links;
    for (const Item& it : items) {
      std::string original = cat_.path(it.entry);
      Planned p{it.version, it.entry, destination(original, o_.target)};
      switch (cat_.versions[it.version].type) {
        case Type::kDir: dirs.push_back(std::move(p)); break;
        case Type::kFile: files_.push_back(std::move(p)); break;
        case Type::kSymlink: links.push_back(std::move(p)); break;
        case Type::kDeleted: break;
      }
    }
    if (o_.dry_run) return dry_run(dirs, links);
    chown_ = ::geteuid() == 0;

    for (const auto& d : dirs) {
      if (int e = fs::make_dirs(d.dest)) fail_path(d.dest, std::strerror(e));
      else ++r_.dirs;
    }
    restore_files();
    for (const auto& l : links) {
      const catalog::Version& v = cat_.versions[l.version];
      int e = ensure_parent(l.dest);
      if (!e) e = fs::make_symlink(std::string(cat_.symlink_target(v)), l.dest);
      if (e) {
        fail_path(l.dest, std::strerror(e));
        continue;
      }
      fs::set_metadata(l.dest, true, v.mode, v.uid, v.gid, v.mtime_ns, chown_);
      ++r_.symlinks;
    }
    // Directory metadata last, children before parents, so writing inside does not change it.
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
      const catalog::Version& v = cat_.versions[it->version];
      if (int e = fs::set_metadata(it->dest, false, v.mode, v.uid, v.gid, v.mtime_ns, chown_))
        log::warn("Restored {} but could not set its metadata ({})", it->dest, std::strerror(e));
    }
    return r_;
  }

 private:
  Result dry_run(const std::vector<Planned>& dirs, const std::vector<Planned>& links) {
    uint64_t bytes = 0;
    for (const auto& f : files_) {
      bytes += cat_.versions[f.version].size;
      log::info("Would restore {}", f.dest);
    }
    for (const auto& l : links) log::info("Would restore {}", l.dest);
    log::info("Dry run: {} files ({}), {} directories, {} symlinks would be restored; nothing was written", files_.size(),
              human_size(bytes), dirs.size(), links.size());
    r_.files = files_.size();
    r_.dirs = dirs.size();
    r_.symlinks = links.size();
    return r_;
  }

  void fail_path(const std::string& path, const std::string& why) {
    log::error("Not restored: {} ({})", path, why);
    std::lock_guard<std::mutex> lk(mu_);
    ++r_.failed;
  }

  static int ensure_parent(const std::string& dest) {
    size_t slash = dest.rfind('/');
    return slash == 0 || slash == std::string::npos ? 0 : fs::make_dirs(dest.substr(0, slash));
  }

  // Plans the reads: every blob of every file, grouped by container, sorted by offset,
  // neighbours coalesced.
  std::vector<Range> plan() {
    std::vector<Piece> pieces;
    for (uint32_t i = 0; i < files_.size(); ++i) {
      const catalog::Content& c = cat_.contents[cat_.versions[files_[i].version].content];
      uint64_t off = 0;
      for (uint32_t b = 0; b < c.blob_count; ++b) {
        const catalog::BlobRef& ref = cat_.blobs[c.first_blob + b];
        pieces.push_back({i, off, &ref});
        off += ref.raw_size;
      }
      states_[i].remaining = c.blob_count;
    }
    std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) {
      if (a.ref->container != b.ref->container) return a.ref->container < b.ref->container;
      return a.ref->offset < b.ref->offset;
    });
    std::vector<Range> ranges;
    for (const Piece& p : pieces) {
      uint64_t start = p.ref->offset, end = p.ref->offset + p.ref->length;
      if (!ranges.empty()) {
        Range& last = ranges.back();
        if (last.container == p.ref->container && start >= last.end && start - last.end <= kMaxGap &&
            end - last.start <= kMaxRange) {
          last.end = end;
          last.pieces.push_back(p);
          continue;
        }
        // The same blob twice (two files with one content): read it with the range holding it.
        if (last.container == p.ref->container && start >= last.start && end <= last.end) {
          last.pieces.push_back(p);
          continue;
        }
      }
      ranges.push_back({p.ref->container, start, end, {p}});
    }
    return ranges;
  }

  void restore_files() {
    states_ = std::make_unique<FileState[]>(files_.size());
    std::vector<Range> ranges = plan();
    // Empty files have no blobs: write them now.
    for (uint32_t i = 0; i < files_.size(); ++i)
      if (states_[i].remaining == 0) finish(i);

    std::atomic<size_t> next{0};
    size_t total = files_.size();
    auto worker = [&] {
      for (;;) {
        size_t i = next++;
        if (i >= ranges.size()) return;
        fetch(ranges[i], total);
      }
    };
    int n = o_.threads > 0 ? o_.threads : static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (int i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
  }

  void fetch(const Range& range, size_t total) {
    const std::string& cname = cat_.containers[range.container].name;
    // Each fetching thread keeps its buffers from range to range: no fresh pages, no zero-fill.
    thread_local struct {
      std::string range;
      container::OpenBuffers open;
    } bufs;
    std::string problem;
    if (interrupted()) {
      problem = "interrupted";
    } else {
      try {
        repo_.store().read_range(cname, range.start, range.end - range.start, bufs.range);
      } catch (const Error& e) {
        problem = std::string(e.what());
      }
    }
    if (problem.empty() && interrupted()) problem = "interrupted";
    // A read of several neighbouring blobs that failed (a truncated or partly unreadable
    // container): each blob on its own, so that those that are intact still come back.
    bool one_by_one = !problem.empty() && problem != "interrupted" && range.pieces.size() > 1;
    for (const Piece& p : range.pieces) {
      std::string own;
      std::string_view stored;
      if (one_by_one && interrupted()) {
        part_failed(p.file, "interrupted");
        continue;
      }
      if (one_by_one) {
        try {
          own = repo_.store().get_range(cname, p.ref->offset, p.ref->length);
          if (own.size() != p.ref->length) throw Error(ErrorKind::kCorruption, "the store returned a short read");
          stored = own;
        } catch (const Error& e) {
          part_failed(p.file, "damaged: " + std::string(e.what()));
          continue;
        }
      } else if (!problem.empty()) {
        part_failed(p.file, problem == "interrupted" ? problem : "damaged: " + problem);
        continue;
      } else {
        stored = std::string_view(bufs.range).substr(p.ref->offset - range.start, p.ref->length);
      }
      std::string_view plain;
      try {
        plain = container::open_blob_into(repo_.keys(), repo::blob_location(*p.ref), stored, bufs.open);
      } catch (const Error& e) {
        part_failed(p.file, "damaged: " + std::string(e.what()) + " in " + cname.substr(cname.rfind('/') + 1));
        continue;
      }
      write_part(p.file, p.file_offset, plain, total);
    }
  }

  // Opens the file's temporary (first part) under its lock. Returns false on failure.
  bool open_temp(uint32_t i, FileState& s) {
    if (s.fd >= 0) return true;
    const std::string& dest = files_[i].dest;
    if (int e = ensure_parent(dest)) {
      s.failed = true;
      s.problem = std::strerror(e);
      return false;
    }
    s.opened = true;
    s.fd = ::open(temp_path(i).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s.fd < 0) {
      s.failed = true;
      s.problem = std::strerror(errno);
      return false;
    }
    uint64_t size = cat_.versions[files_[i].version].size;
    if (size > (1u << 20)) ::posix_fallocate(s.fd, 0, static_cast<off_t>(size));  // best effort
    return true;
  }

  // Beside the destination, so that the final rename stays in one file system.
  std::string temp_path(uint32_t i) const {
    const std::string& dest = files_[i].dest;
    return dest.substr(0, dest.rfind('/') + 1) + ".seshat-restore-" + std::to_string(::getpid()) + "-" + std::to_string(i);
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

  void write_part(uint32_t i, uint64_t offset, std::string_view data, size_t total) {
    FileState& s = states_[i];
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.failed && open_temp(i, s)) {
      if (int e = fs::pwrite_full(s.fd, data, offset)) {
        s.failed = true;
        s.problem = std::strerror(e);
      }
    }
    if (--s.remaining == 0) finish_locked(i, s);
    (void)total;
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
    if (!s.failed) {
      if (::ftruncate(s.fd, static_cast<off_t>(v.size)) != 0) {
        s.failed = true;
        s.problem = std::strerror(errno);
      }
    }
    if (!s.failed) {
      if (chown_ && ::fchown(s.fd, v.uid, v.gid) != 0) log::warn("Restored {} but could not set its owner ({})", f.dest, std::strerror(errno));
      ::fchmod(s.fd, v.mode);
      timespec ts[2];
      ts[0].tv_sec = 0;
      ts[0].tv_nsec = UTIME_OMIT;
      ts[1].tv_sec = v.mtime_ns / 1000000000;
      ts[1].tv_nsec = v.mtime_ns % 1000000000;
      if (ts[1].tv_nsec < 0) {
        ts[1].tv_nsec += 1000000000;
        ts[1].tv_sec -= 1;
      }
      ::futimens(s.fd, ts);
    }
    if (s.fd >= 0 && ::close(s.fd) != 0 && !s.failed) {
      s.failed = true;
      s.problem = std::strerror(errno);
    }
    s.fd = -1;
    if (!s.failed && ::rename(temp_path(i).c_str(), f.dest.c_str()) != 0) {
      s.failed = true;
      s.problem = std::strerror(errno);
    }
    if (s.failed) {
      if (s.opened) ::unlink(temp_path(i).c_str());
      fail_path(cat_.path(f.entry), s.problem);
      return;
    }
    size_t done;
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++r_.files;
      r_.bytes += v.size;
      done = r_.files;
    }
    size_t total = files_.size();
    int decile = static_cast<int>(done * 10 / total);
    int prev = last_decile_.load();
    while (decile > prev && !last_decile_.compare_exchange_weak(prev, decile)) {
    }
    if (decile > prev && decile < 10) log::info("Progress {} - {}%", done, decile * 10);
  }

  repo::Repository& repo_;
  const catalog::Catalog& cat_;
  const Options& o_;
  bool chown_ = false;
  std::vector<Planned> files_;
  std::unique_ptr<FileState[]> states_;
  std::mutex mu_;  // guards r_
  Result r_;
  std::atomic<int> last_decile_{0};
};

}  // namespace

Result run(repo::Repository& repo, const catalog::Catalog& cat, const std::vector<Item>& items, const Options& o) {
  Restorer r(repo, cat, o);
  return r.run(items);
}

}  // namespace seshat::restore
