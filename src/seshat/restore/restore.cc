#include "seshat/restore/restore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

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
  bool begun = false;  // named to the progress line since its first part came
  bool failed = false;
  std::string problem;
};

// Where a blob's plaintext goes: the request tags index these.
struct Piece {
  uint32_t file;
  uint64_t offset;
};

fs::Meta meta_of(const catalog::Catalog& cat, uint32_t version) {
  const catalog::Version& v = cat.versions[version];
  catalog::Mtime t = cat.mtime(version);
  return {v.mode, v.uid, v.gid, t.sec, t.nsec, cat.xattrs(version)};
}

uint32_t fs_flags_of(const catalog::Catalog& cat, uint32_t version) {
  const catalog::Extra* x = cat.extra(version);
  return x ? x->fs_flags : 0;
}

// The names of one inode as a backup saw them: files flagged linked, of the same device and
// inode, with the same ctime (any link or unlink changes it) and content.
struct LinkKey {
  uint32_t folder;  // names are grouped within a backed-up folder, as the backup saw them
  uint64_t dev, inode;
  int64_t ctime_ns, mtime_ns;
  uint32_t content, backup;
  uint64_t size;
  auto operator<=>(const LinkKey&) const = default;
};

class Restorer {
 public:
  Restorer(const catalog::Catalog& cat, const Options& o, repo::BlobReader& reader)
      : cat_(cat), o_(o), reader_(reader), dest_(cat, o.target) {}

  Result run(const std::vector<Item>& items) {
    std::vector<Planned> dirs, links, specials;
    for (const Item& it : items) {
      Type t = cat_.versions[it.version].type;
      if (t == Type::kDeleted) continue;
      Planned p{it.version, it.entry, destination(cat_.path(it.entry), o_.target)};
      if (t == Type::kSocket) {
        log::info("Not restored: {} (a socket: the program that listens on it makes it again)", p.dest);
        continue;
      }
      (t == Type::kDir       ? dirs
       : t == Type::kFile    ? files_
       : t == Type::kSymlink ? links
                             : specials)
          .push_back(std::move(p));
    }
    if (o_.dry_run) {
      screen(files_);
      screen(links);
      screen(specials);
      return dry_run(dirs, links, specials);
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
    screen(specials);
    group_links();
    restore_files();
    for (const auto& l : links) restore_link(l);
    for (const auto& n : specials) restore_special(n);
    // Directory metadata last, children before parents, so writing inside does not change it;
    // never on what stood in the way of a directory that could not be made.
    for (size_t i = dirs.size(); i-- > 0;)
      if (made[i]) set_dir_metadata(dirs[i]);
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
        e = compare_existing(cat_, v[i].version, d.value()->get(), std::string(cat_.name(v[i].entry)),
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

  // Names of one inode: the first is restored with the content, the others are linked to it
  // (a partial restore links the names it restores among themselves).
  void group_links() {
    std::map<LinkKey, uint32_t> leaders;
    std::vector<Planned> kept;
    for (auto& f : files_) {
      const catalog::Version& v = cat_.versions[f.version];
      if (v.flags & catalog::kLinked) {
        const catalog::Extra* x = cat_.extra(f.version);
        // A version changed while it was read (ctime 0) is grouped only within its backup.
        LinkKey k{cat_.backups[v.backup].folder, x ? x->dev : 0, v.inode, v.ctime_ns, v.mtime_ns, v.content,
                  v.ctime_ns ? 0 : v.backup,     v.size};
        auto [it, fresh] = leaders.emplace(k, static_cast<uint32_t>(kept.size()));
        if (!fresh) {
          followers_[it->second].push_back(std::move(f));
          continue;
        }
      }
      kept.push_back(std::move(f));
    }
    files_ = std::move(kept);
  }

  Result dry_run(const std::vector<Planned>& dirs, const std::vector<Planned>& links,
                 const std::vector<Planned>& specials) {
    uint64_t bytes = 0;
    for (const auto& f : files_) {
      bytes += cat_.versions[f.version].size;
      log::info("Would restore {}", f.dest);
    }
    for (const auto& l : links) log::info("Would restore {}", l.dest);
    for (const auto& n : specials) log::info("Would restore {}", n.dest);
    log::info("Dry run: {} ({}), {}, {}{} would be restored, {} already identical, {} kept; nothing was written",
              plural(files_.size(), "file", "files"), human_size(bytes),
              plural(dirs.size(), "directory", "directories"), plural(links.size(), "symlink", "symlinks"),
              specials.empty() ? "" : ", " + plural(specials.size(), "special file", "special files"), r_.identical,
              r_.kept);
    r_.files = files_.size();
    r_.dirs = dirs.size();
    r_.symlinks = links.size();
    r_.specials = specials.size();
    return r_;
  }

  // What of a restored path's metadata could not be set: named, and counted (exit status 3).
  void incomplete(const std::string& path, const std::string& what) {
    log::warn("Restored {} without {}", path, what);
    std::lock_guard<std::mutex> lk(mu_);
    ++r_.incomplete;
  }
  void report_xattrs(const std::string& path, const std::vector<std::string>& problems) {
    if (problems.empty()) return;
    std::string list;
    for (const auto& p : problems) list += (list.empty() ? "" : ", ") + p;
    incomplete(path, (problems.size() == 1 ? "its extended attribute " : "its extended attributes ") + list);
  }

  void set_dir_metadata(const Planned& p) {
    auto d = dest_.get(p.entry, false);
    if (!d) return incomplete(p.dest, std::string("its metadata (") + d.error().what() + ")");
    // A directory that exists already may be immutable (restored before, say): lifted here,
    // and the flags recorded set exactly once its metadata is (a new directory's inherited
    // ones too).
    if (Status l = fs::lift_protection(d.value()->get()); !l)
      return incomplete(p.dest, "its metadata (" + reason(l.error()) + ")");
    std::vector<std::string> problems;
    Status st = fs::set_metadata_fd(d.value()->get(), meta_of(cat_, p.version), chown_, &problems);
    if (!st) incomplete(p.dest, std::string("all its metadata (") + st.error().what() + ")");
    report_xattrs(p.dest, problems);
    if (Status f = fs::set_fs_flags(d.value()->get(), fs_flags_of(cat_, p.version)); !f)
      incomplete(p.dest, "its inode flags (" + reason(f.error()) + ")");
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
    Status m = fs::set_symlink_metadata_at(d.value()->get(), name, meta_of(cat_, l.version), chown_);
    if (!m) incomplete(l.dest, std::string("all its metadata (") + m.error().what() + ")");
    ++r_.symlinks;
  }

  void restore_special(const Planned& n) {
    const catalog::Version& v = cat_.versions[n.version];
    const catalog::Extra* x = cat_.extra(n.version);
    auto d = dest_.get(cat_.entries[n.entry].parent, true);
    if (!d) return fail_path(n.dest, d.error());
    std::vector<std::string> problems;
    Status st = fs::make_node_at(d.value()->get(), std::string(cat_.name(n.entry)), format_of(v.type), x ? x->rdev : 0,
                                 meta_of(cat_, n.version), chown_, n.replace, &problems);
    if (!st && !n.replace && st.error().sys_errno() == EEXIST) return kept_late(n.dest);
    if (!st && std::string(st.error().what()).find("cannot create") != std::string::npos)
      return fail_path(n.dest, st.error());
    if (!st) incomplete(n.dest, std::string("all its metadata (") + st.error().what() + ")");
    report_xattrs(n.dest, problems);
    ++r_.specials;
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
    uint64_t bytes = 0;
    for (const Planned& f : files_) bytes += cat_.versions[f.version].size;
    progress_ = std::make_unique<Progress>(files_.size(), bytes, "Restore");
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

  bool sparse(const Planned& f) const { return o_.sparse || (cat_.versions[f.version].flags & catalog::kSparse); }

  // Writes the data but its all-zero blocks (4 KiB, at multiples of 4 KiB in the file): they
  // stay holes of the new file.
  static Status write_sparse(AtomicFile& file, std::string_view data, uint64_t offset) {
    constexpr uint64_t kBlock = 4096;
    size_t run_start = 0, pos = 0;
    bool in_run = false;  // a run of data to write: [run_start, pos)
    while (pos < data.size()) {
      size_t end =
          static_cast<size_t>(std::min<uint64_t>(data.size(), (offset + pos) / kBlock * kBlock + kBlock - offset));
      bool zero = std::all_of(data.begin() + pos, data.begin() + end, [](char c) { return c == 0; });
      if (zero && in_run) {
        if (Status st = file.pwrite(data.substr(run_start, pos - run_start), offset + run_start); !st) return st;
        in_run = false;
      } else if (!zero && !in_run) {
        run_start = pos;
        in_run = true;
      }
      pos = end;
    }
    if (in_run) return file.pwrite(data.substr(run_start), offset + run_start);
    return {};
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
    auto t = fs::create_file_at(d.value()->get(), std::string(cat_.name(f.entry)), cat_.versions[f.version].size,
                                f.replace, !sparse(f));
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
    progress_->add_bytes(data.size());
    FileState& s = states_[p.file];
    std::lock_guard<std::mutex> lk(s.mu);
    if (!s.begun) {
      s.begun = true;
      progress_->begin(files_[p.file].dest);
    }
    if (!s.failed && open_temp(p.file, s)) {
      if (Status st = sparse(files_[p.file]) ? write_sparse(*s.file, data, p.offset) : s.file->pwrite(data, p.offset);
          !st) {
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

  // All parts are in (or failed): set size and metadata through the fd, link its other
  // names to it, rename it into place, then set its inode flags (immutable last).
  void finish_locked(uint32_t i, FileState& s) {
    const Planned& f = files_[i];
    if (s.begun) progress_->end(f.dest);
    const catalog::Version& v = cat_.versions[f.version];
    if (!s.failed) open_temp(i, s);
    if (!s.failed && ::ftruncate(s.file->fd(), static_cast<off_t>(v.size)) != 0) {
      s.failed = true;
      s.problem = std::strerror(errno);
    }
    io::Fd keep;  // the inode, for its other names and its flags once it is in place
    bool followers_unlinkable = false;
    if (!s.failed) {
      std::vector<std::string> problems;
      Status st = fs::set_metadata_fd(s.file->fd(), meta_of(cat_, f.version), chown_, &problems);
      if (!st) incomplete(f.dest, std::string("all its metadata (") + st.error().what() + ")");
      report_xattrs(f.dest, problems);
      const bool followers = followers_.count(i) != 0;
      if (fs_flags_of(cat_, f.version) || followers) keep.reset(::fcntl(s.file->fd(), F_DUPFD_CLOEXEC, 0));
      if (followers && !keep.valid()) {
        fail_followers(i, std::strerror(errno));  // nothing to link them to
        followers_unlinkable = true;
      }
      auto c = s.file->commit();
      if (!c) {
        s.failed = true;
        s.problem = std::strerror(c.error().sys_errno() ? c.error().sys_errno() : EIO);
      } else if (!*c) {
        // The first name is kept as it was; the other names still get this content, linked
        // to the temporary before it goes.
        if (keep.valid()) link_followers(i, keep.get());
        s.file.reset();
        s.dir.reset();
        return kept_late(f.dest);
      }
    }
    s.file.reset();  // an uncommitted temporary is removed
    s.dir.reset();
    if (s.failed) {
      if (!followers_unlinkable) fail_followers(i, s.problem);
      return fail_path(cat_.path(f.entry), s.problem);
    }
    // The other names once the first is in place (a commit that fails leaves none); the
    // flags last, as +i and +a forbid new links.
    if (keep.valid()) link_followers(i, keep.get());
    if (keep.valid() && fs_flags_of(cat_, f.version))
      if (Status fl = fs::set_fs_flags(keep.get(), fs_flags_of(cat_, f.version)); !fl)
        incomplete(f.dest, "its inode flags (" + reason(fl.error()) + ")");
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++r_.files;
      r_.bytes += v.size;
    }
    progress_->add();
  }

  // The other names of the file's inode (fd), linked to it once it is in place.
  void link_followers(uint32_t i, int fd) {
    auto it = followers_.find(i);
    if (it == followers_.end()) return;
    for (const Planned& f : it->second) {
      auto d = dest_.get(cat_.entries[f.entry].parent, true);
      if (!d) {
        fail_path(f.dest, d.error());
        continue;
      }
      const std::string name(cat_.name(f.entry));
      Status st = fs::link_at(fd, d.value()->get(), name, f.replace);
      if (!st && !f.replace && st.error().sys_errno() == EEXIST) {
        kept_late(f.dest);
        continue;
      }
      if (!st && (st.error().sys_errno() == EXDEV || st.error().sys_errno() == EMLINK)) {
        // Another file system at this name now (ORIGINAL), or too many links: a copy, named.
        auto c = copy_follower(fd, f, d.value()->get(), name);
        if (!c) {
          fail_path(f.dest, c.error());
        } else if (!*c) {
          kept_late(f.dest);
        } else {
          incomplete(f.dest, "its hard link to " + destination(cat_.path(files_[i].entry), o_.target) + " (" +
                                 std::strerror(st.error().sys_errno()) + "): it is a copy");
          std::lock_guard<std::mutex> lk(mu_);
          ++r_.files;
        }
        continue;
      }
      if (!st) {
        fail_path(f.dest, st.error());
        continue;
      }
      std::lock_guard<std::mutex> lk(mu_);
      ++r_.files;
      ++r_.links;
    }
  }

  // A name of a hard-link group that cannot be linked, written as a file of its own from the
  // first name's inode (src). False: something appeared at the name and is kept.
  seshat::Result<bool> copy_follower(int src, const Planned& f, int dirfd, const std::string& name) {
    const uint64_t size = cat_.versions[f.version].size;
    auto t = fs::create_file_at(dirfd, name, size, f.replace, !sparse(f));
    if (!t) return t.error();
    std::string buf(static_cast<size_t>(std::min<uint64_t>(size, 1 << 20)), '\0');
    for (uint64_t off = 0; off < size;) {
      ssize_t n = ::pread(src, buf.data(), static_cast<size_t>(std::min<uint64_t>(buf.size(), size - off)),
                          static_cast<off_t>(off));
      if (n <= 0) return errno_error("cannot copy the content", n < 0 ? errno : EIO);
      std::string_view data(buf.data(), static_cast<size_t>(n));
      if (Status w = sparse(f) ? write_sparse(*t, data, off) : t->pwrite(data, off); !w) return w.error();
      off += static_cast<uint64_t>(n);
    }
    std::vector<std::string> problems;
    Status m = fs::set_metadata_fd(t->fd(), meta_of(cat_, f.version), chown_, &problems);
    if (!m) incomplete(f.dest, std::string("all its metadata (") + m.error().what() + ")");
    report_xattrs(f.dest, problems);
    io::Fd keep(fs_flags_of(cat_, f.version) ? ::fcntl(t->fd(), F_DUPFD_CLOEXEC, 0) : -1);
    auto c = t->commit();
    if (!c) return c.error();
    if (*c && keep.valid())
      if (Status fl = fs::set_fs_flags(keep.get(), fs_flags_of(cat_, f.version)); !fl)
        incomplete(f.dest, "its inode flags (" + reason(fl.error()) + ")");
    return *c;
  }

  void fail_followers(uint32_t i, const std::string& why) {
    auto it = followers_.find(i);
    if (it == followers_.end()) return;
    for (const Planned& f : it->second)
      fail_path(f.dest, "a hard link to " + cat_.path(files_[i].entry) + ", which was not restored: " + why);
  }

  const catalog::Catalog& cat_;
  const Options& o_;
  repo::BlobReader& reader_;
  DestDirs dest_;
  bool chown_ = false;
  std::vector<Planned> files_;
  std::unordered_map<uint32_t, std::vector<Planned>> followers_;  // per file (index), its other names
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
