#include "seshat/backup/backup.h"

#include <re2/re2.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "seshat/crypto/crypto.h"
#include "seshat/fs/fs.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::backup {
namespace {

using catalog::kNone;
using catalog::Type;

constexpr size_t kFoundKept = 100000;

// A changed file for the packers: its entry (the path comes from the catalog) and the size
// the walk saw. 16 bytes a file, however long its path.
struct WorkItem {
  uint32_t entry;
  uint64_t size;
};

bool same_file(const catalog::Version& v, const fs::Stat& st) {
  return v.type == Type::kFile && v.size == st.size && v.mtime_ns == st.mtime_ns && v.inode == st.inode &&
         v.ctime_ns == st.ctime_ns && v.mode == st.mode && v.uid == st.uid && v.gid == st.gid;
}

// ---------------------------------------------------------------- phase 1: the walk
class Walker {
 public:
  Walker(catalog::Catalog& cat, const Options& o, uint32_t backup, Result& r)
      : cat_(cat), o_(o), backup_(backup), old_entries_(static_cast<uint32_t>(cat.entries.size())), r_(r) {
    for (const auto& s : o.excludes) add_regex(excludes_, s);
    for (const auto& s : o.includes) add_regex(includes_, s);
  }

  void walk(uint32_t root) {
    int err = 0;
    fs::Dir dir = fs::Dir::open(o_.folder, err);
    if (!dir.valid()) throw_errno(kind_from_errno(err), "cannot back up " + o_.folder, err);
    auto st = dir.stat_self(err);
    if (!st) throw_errno(kind_from_errno(err), "cannot back up " + o_.folder, err);
    record_dir(root, *st);
    path_ = o_.folder == "/" ? "" : o_.folder;
    ancestors_.insert({st->dev, st->inode});
    walk_dir(dir, root);
  }

  std::vector<WorkItem> items;

 private:
  static void add_regex(std::vector<std::unique_ptr<RE2>>& v, const std::string& s) {
    auto re = std::make_unique<RE2>(s, RE2::Quiet);
    if (!re->ok()) throw Error(ErrorKind::kInvalidInput, "bad regular expression '" + s + "': " + re->error());
    v.push_back(std::move(re));
  }

  bool excluded(std::string_view name, const std::string& full) const {
    bool out = (!o_.hidden && name.size() > 1 && name[0] == '.');
    if (!out)
      for (const auto& re : excludes_)
        if (RE2::PartialMatch(full, *re)) {
          out = true;
          break;
        }
    if (out)
      for (const auto& re : includes_)
        if (RE2::PartialMatch(full, *re)) return false;
    return out;
  }

  const catalog::Version* latest(uint32_t entry) const {
    uint32_t v = cat_.entries[entry].latest;
    return v == kNone ? nullptr : &cat_.versions[v];
  }

  void tombstone(uint32_t entry) {
    const catalog::Version* v = latest(entry);
    if (!v || v->type == Type::kDeleted) return;
    bool was_dir = v->type == Type::kDir;
    catalog::Version t;
    t.backup = backup_;
    t.type = Type::kDeleted;
    cat_.add_version(entry, t);
    ++r_.deleted;
    if (was_dir) tombstone_children(entry);
  }

  void tombstone_children(uint32_t entry) {
    if (entry >= old_entries_) return;
    auto [b, e] = cat_.children(entry);
    for (const uint32_t* it = b; it != e; ++it) tombstone(*it);
  }

  void record_dir(uint32_t entry, const fs::Stat& st) {
    const catalog::Version* v = latest(entry);
    if (v && v->type == Type::kDir && v->mode == st.mode && v->uid == st.uid && v->gid == st.gid &&
        v->mtime_ns == st.mtime_ns)
      return;
    if (v && v->type == Type::kDir) {
      // keep the children: only the directory's own metadata changed
    }
    catalog::Version n;
    n.backup = backup_;
    n.type = Type::kDir;
    n.mode = static_cast<uint16_t>(st.mode & 07777);
    n.uid = st.uid;
    n.gid = st.gid;
    n.mtime_ns = st.mtime_ns;
    n.ctime_ns = st.ctime_ns;
    n.inode = st.inode;
    cat_.add_version(entry, n);
  }

  void record_symlink(uint32_t entry, const fs::Stat& st, const std::string& target) {
    const catalog::Version* v = latest(entry);
    if (v && v->type == Type::kSymlink && cat_.symlink_target(*v) == target && v->mtime_ns == st.mtime_ns &&
        v->uid == st.uid && v->gid == st.gid)
      return;
    if (v && v->type == Type::kDir) tombstone_children(entry);
    catalog::Version n;
    n.backup = backup_;
    n.type = Type::kSymlink;
    n.mode = static_cast<uint16_t>(st.mode & 07777);
    n.uid = st.uid;
    n.gid = st.gid;
    n.mtime_ns = st.mtime_ns;
    n.ctime_ns = st.ctime_ns;
    n.inode = st.inode;
    n.size = target.size();
    n.content = cat_.add_string(target);
    cat_.add_version(entry, n);
  }

  void walk_dir(const fs::Dir& dir, uint32_t entry) {
    fault::point("walk.dir");
    ++r_.dirs_scanned;
    int err = 0;
    std::vector<std::string> names = dir.list(err);
    if (err) {
      // Unreadable: warn and leave what the catalog knows of it untouched.
      log::warn("Directory not backed up: {} ({})", path_.empty() ? "/" : path_, std::strerror(err));
      ++r_.not_backed_up;
      return;
    }
    const uint32_t* old_it = nullptr;
    const uint32_t* old_end = nullptr;
    if (entry < old_entries_) std::tie(old_it, old_end) = cat_.children(entry);

    const size_t base_len = path_.size();
    for (const std::string& name : names) {
      // Old children sorting before this name are gone from disk.
      while (old_it != old_end && cat_.name(*old_it) < name) tombstone(*old_it++);
      uint32_t child = kNone;
      if (old_it != old_end && cat_.name(*old_it) == name) child = *old_it++;

      path_.resize(base_len);
      path_.push_back('/');
      path_.append(name);
      if (excluded(name, path_)) {
        log::warn("Ignoring {}", path_);
        if (child != kNone) tombstone(child);
        continue;
      }
      auto st = dir.stat_child(name, o_.follow_symlinks, err);
      if (!st && o_.follow_symlinks && err == ENOENT) st = dir.stat_child(name, false, err);  // dangling link
      fault::point("walk.child");
      if (!st) {
        if (err != ENOENT) {
          log::warn("File not backed up: {} ({})", path_, std::strerror(err));
          ++r_.not_backed_up;
        } else if (child != kNone) {
          tombstone(child);  // vanished between listing and stat
        }
        continue;
      }
      if (st->kind == fs::Kind::kOther) {
        log::warn("Ignoring {} {}", st->other_name, path_);
        if (child != kNone) tombstone(child);
        continue;
      }
      if (child == kNone) child = cat_.add_entry(entry, name);

      switch (st->kind) {
        case fs::Kind::kFile: {
          ++r_.files_scanned;
          const catalog::Version* v = latest(child);
          if (v && same_file(*v, *st)) break;
          if (v && v->type == Type::kDir) tombstone_children(child);
          items.push_back({child, st->size});
          break;
        }
        case fs::Kind::kSymlink: {
          ++r_.files_scanned;
          auto target = dir.read_link(name, err);
          if (!target) {
            if (err != ENOENT) {
              log::warn("File not backed up: {} ({})", path_, std::strerror(err));
              ++r_.not_backed_up;
            }
            break;
          }
          record_symlink(child, *st, *target);
          break;
        }
        case fs::Kind::kDir: {
          const catalog::Version* v = latest(child);
          if (v && v->type != Type::kDir && v->type != Type::kDeleted) {
            // A file or link became a directory: a new history starts with this version.
          }
          record_dir(child, *st);
          if (o_.follow_symlinks && !ancestors_.insert({st->dev, st->inode}).second) {
            log::warn("Ignoring symlink loop at {}", path_);
            break;
          }
          fs::Dir sub = dir.open_child(name, o_.follow_symlinks, err);
          if (!sub.valid()) {
            if (err == ENOENT) break;
            log::warn("Directory not backed up: {} ({})", path_, std::strerror(err));
            ++r_.not_backed_up;
          } else {
            walk_dir(sub, child);
          }
          if (o_.follow_symlinks) ancestors_.erase({st->dev, st->inode});
          break;
        }
        case fs::Kind::kOther:
          break;
      }
    }
    while (old_it != old_end) tombstone(*old_it++);
    path_.resize(base_len);
  }

  catalog::Catalog& cat_;
  const Options& o_;
  uint32_t backup_;
  uint32_t old_entries_;
  Result& r_;
  std::string path_;
  std::vector<std::unique_ptr<RE2>> excludes_, includes_;
  std::set<std::pair<uint64_t, uint64_t>> ancestors_;
};

// ---------------------------------------------------------------- phase 2: packing
//
// Workers read, hash, compress and encrypt files in parallel. Under mu_ a blob gets its place
// in the open container and a ticket; outside mu_ each worker writes its blob's bytes when
// its ticket's turn comes, so that one worker copies into the container while the other
// compresses and encrypts. A file's version goes into the catalog the moment its last blob
// is placed (or its content is found already stored): nothing per file waits for the
// container to close, which waits for every ticket. A checkpoint is saved right after a container is committed, under mu_,
// when no container is open, so every version in it refers to committed containers only.

// An index keeps at most this many bytes in memory before the container is closed: with
// ~150 bytes a file, ~100,000 small files a container.
constexpr size_t kMaxIndexBytes = 16u << 20;

class Packer {
 public:
  Packer(repo::Repository& repo, catalog::Catalog& cat, const Options& o, uint32_t backup, int64_t stamp,
         const std::function<uint64_t()>& save, Result& r)
      : repo_(repo), cat_(cat), o_(o), backup_(backup), stamp_(stamp), save_(save), r_(r) {
    part_size_ = std::min<uint64_t>(o.part_size, std::max<uint64_t>(64 << 10, o.max_container / 4));
    for (const auto& c : cat.contents)
      if (c.size > part_size_) big_sizes_.insert(c.size);
  }

  void run(std::vector<WorkItem>& items) {
    items_ = &items;
    int n = o_.threads > 0 ? o_.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> workers;
    for (int i = 1; i < n; ++i) workers.emplace_back([this] { work(); });
    work();
    for (auto& t : workers) t.join();
    if (failure_) std::rethrow_exception(failure_);
    std::lock_guard<std::mutex> lk(mu_);
    if (writer_) close_container(false);
    if (interrupted()) {
      // What the closed containers hold is in the catalog: keep it as a checkpoint.
      save_();
      throw Error(ErrorKind::kTransient, fmt::format("backup interrupted after {} of {} files; a checkpoint was saved and the next backup resumes from it",
                                                     r_.files_stored, items.size()));
    }
  }

 private:
  void work() {
    // Sized once for a whole part: grown step by step, each would end up to twice that.
    std::string buf;
    buf.reserve(part_size_);
    sealed_buffer().ciphertext.reserve(container::blob_buffer_size(part_size_));
    // Given back however this returns, not when the thread ends (the main thread is one of
    // the workers, and goes on to save the catalog).
    struct Release {
      std::string& buf;
      ~Release() {
        std::string().swap(buf);
        container::SealedBlob().ciphertext.swap(sealed_buffer().ciphertext);
      }
    } release{buf};
    std::string path;
    while (!failed_) {
      if (interrupted()) return;
      size_t i = next_++;
      if (i >= items_->size()) return;
      try {
        path = cat_.path((*items_)[i].entry);  // entries and names do not change while packing
        process((*items_)[i], path, buf);
      } catch (...) {
        std::lock_guard<std::mutex> lk(mu_);
        if (!failure_) failure_ = std::current_exception();
        failed_ = true;
        return;
      }
      size_t done = ++done_;
      size_t total = items_->size();
      int decile = static_cast<int>(done * 10 / total);
      int prev = last_decile_.load();
      while (decile > prev && !last_decile_.compare_exchange_weak(prev, decile)) {
      }
      if (decile > prev && decile < 10) log::info("Progress {} - {}%", done, decile * 10);
    }
  }

  void not_backed_up(const std::string& path, int err) {
    if (err == ENOENT) {
      log::warn("File vanished before it was read: {}", path);
    } else {
      log::warn("File not backed up: {} ({})", path, std::strerror(err));
    }
    std::lock_guard<std::mutex> lk(mu_);
    ++r_.not_backed_up;
  }

  void process(const WorkItem& it, const std::string& path, std::string& buf) {
    int fd = fs::open_read(path);
    if (fd < 0) return not_backed_up(path, -fd);
    struct FdCloser {
      int fd;
      ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat raw;
    if (::fstat(fd, &raw) != 0) return not_backed_up(path, errno);
    fs::Stat st = fs::from_stat(raw);
    if (st.kind != fs::Kind::kFile) {
      log::warn("File not backed up: {} (no longer a regular file)", path);
      std::lock_guard<std::mutex> lk(mu_);
      ++r_.not_backed_up;
      return;
    }
    fault::point("pack.file");
    if (log::detail()) log::info("Backing up {} ({})", path, human_size(st.size));

    if (st.size <= part_size_) {
      buf.resize(st.size);
      ssize_t n = fs::read_full(fd, buf.data(), st.size);
      if (n < 0) return not_backed_up(path, static_cast<int>(-n));
      buf.resize(static_cast<size_t>(n));
      st.size = buf.size();
      bool unstable = changed_while_read(fd, st, path);
      crypto::Hash h = crypto::sha256(buf);
      r_bytes(buf.size());
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (auto c = cat_.find_content(h)) {
          ++r_.deduplicated;
          return commit(it.entry, st, *c, unstable);
        }
      }
      container::SealedBlob& blob = sealed_buffer();
      blob.ciphertext.clear();
      if (!buf.empty()) container::seal_blob_into(repo_.keys(), buf, blob);
      Ticket ticket;
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (auto c = cat_.find_content(h)) {  // the same content stored meanwhile by another worker
          ++r_.deduplicated;
          return commit(it.entry, st, *c, unstable);
        }
        std::vector<catalog::BlobRef> refs;
        if (!buf.empty()) refs.push_back(append(blob, file_info(path, st, h, 0, 1), ticket));
        uint32_t content = cat_.add_content(h, buf.size(), refs);
        cat_.backups[backup_].bytes_stored += buf.size();
        if (buf.size() > part_size_) big_sizes_.insert(buf.size());
        commit(it.entry, st, content, unstable);
      }
      if (ticket.writer) write_in_turn(ticket, blob.ciphertext);
      return;
    }

    bool maybe_dup;
    {
      std::lock_guard<std::mutex> lk(mu_);
      maybe_dup = big_sizes_.count(st.size) > 0;
    }
    if (maybe_dup) {
      // Hash first so that a renamed or copied big file is not stored again.
      crypto::Sha256 sha;
      buf.resize(part_size_);
      for (;;) {
        ssize_t n = fs::read_full(fd, buf.data(), part_size_);
        if (n < 0) return not_backed_up(path, static_cast<int>(-n));
        sha.update(std::string_view(buf.data(), static_cast<size_t>(n)));
        if (static_cast<size_t>(n) < part_size_) break;
      }
      crypto::Hash h = sha.finish();
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (auto c = cat_.find_content(h)) {
          bool unstable = changed_while_read(fd, st, path);
          ++r_.deduplicated;
          return commit(it.entry, st, *c, unstable);
        }
      }
      if (::lseek(fd, 0, SEEK_SET) != 0) return not_backed_up(path, errno);
    }
    crypto::Sha256 sha;
    uint32_t parts = static_cast<uint32_t>((st.size + part_size_ - 1) / part_size_);
    uint64_t total = 0;
    std::vector<catalog::BlobRef> refs;
    for (uint32_t p = 0;; ++p) {
      buf.resize(part_size_);
      ssize_t n = fs::read_full(fd, buf.data(), part_size_);
      if (n < 0) return not_backed_up(path, static_cast<int>(-n));
      if (n == 0) break;
      buf.resize(static_cast<size_t>(n));
      sha.update(buf);
      total += static_cast<uint64_t>(n);
      container::SealedBlob& blob = sealed_buffer();
      container::seal_blob_into(repo_.keys(), buf, blob);
      Ticket ticket;
      {
        std::lock_guard<std::mutex> lk(mu_);
        refs.push_back(append(blob, file_info(path, st, {}, p, std::max(parts, p + 1)), ticket));
      }
      write_in_turn(ticket, blob.ciphertext);
      r_bytes(static_cast<uint64_t>(n));
      if (static_cast<size_t>(n) < part_size_) break;
    }
    crypto::Hash h = sha.finish();
    st.size = total;
    bool unstable = changed_while_read(fd, st, path);
    std::lock_guard<std::mutex> lk(mu_);
    uint32_t content;
    if (auto existing = cat_.find_content(h)) {
      content = *existing;  // the same content stored meanwhile: the parts just written are unused
    } else {
      content = cat_.add_content(h, total, refs);
      cat_.backups[backup_].bytes_stored += total;
      big_sizes_.insert(total);
    }
    commit(it.entry, st, content, unstable);
  }

  // Each worker seals into its own buffer, reused blob after blob.
  static container::SealedBlob& sealed_buffer() {
    thread_local container::SealedBlob blob;
    return blob;
  }

  void r_bytes(uint64_t n) {
    std::lock_guard<std::mutex> lk(mu_);
    r_.bytes_read += n;
  }

  // True (with a WARN) if the file changed while it was read: it is stored as read and taken
  // again by the next backup (its ctime is not recorded).
  static bool changed_while_read(int fd, const fs::Stat& st, const std::string& path) {
    struct stat after;
    if (::fstat(fd, &after) != 0) return false;
    fs::Stat a = fs::from_stat(after);
    if (a.mtime_ns == st.mtime_ns && a.size == st.size && a.ctime_ns == st.ctime_ns) return false;
    log::warn("File changed while it was read: {} (stored as read; taken again next time)", path);
    return true;
  }

  static container::FileInfo file_info(const std::string& path, const fs::Stat& st, const crypto::Hash& h, uint32_t part, uint32_t parts) {
    container::FileInfo fi;
    fi.path = path;
    fi.part = part;
    fi.parts = parts;
    fi.file_size = st.size;
    fi.mtime_ns = st.mtime_ns;
    fi.mode = st.mode;
    fi.uid = st.uid;
    fi.gid = st.gid;
    fi.hash = h;
    return fi;
  }

  // Records the file's version. REQUIRES: mu_ held.
  void commit(uint32_t entry, const fs::Stat& st, uint32_t content, bool unstable) {
    catalog::Version v;
    v.backup = backup_;
    v.type = Type::kFile;
    v.mode = static_cast<uint16_t>(st.mode & 07777);
    v.uid = st.uid;
    v.gid = st.gid;
    v.mtime_ns = st.mtime_ns;
    v.ctime_ns = unstable ? 0 : st.ctime_ns;
    v.inode = st.inode;
    v.size = st.size;
    v.content = content;
    cat_.add_version(entry, v);
    ++cat_.backups[backup_].files_stored;
    ++r_.files_stored;
  }

  // A blob placed in a container whose bytes are still to be written, by write_in_turn().
  // One that goes out of scope unwritten (an exception between placing and writing) fails
  // the writes after it, which would otherwise wait for its turn forever.
  struct Ticket {
    Packer* packer = nullptr;
    repo::ContainerWriter* writer = nullptr;
    uint64_t number = 0;
    bool written = false;
    Ticket() = default;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket() {
      if (writer && !written) packer->abandon();
    }
  };

  void abandon() {
    std::lock_guard<std::mutex> lk(write_mu_);
    if (!write_failure_)
      write_failure_ = std::make_exception_ptr(Error(ErrorKind::kPermanent, "a blob was placed in the container but not written"));
    write_cv_.notify_all();
  }

  // Writes a placed blob's bytes once every blob placed before it is written. Does not need
  // mu_: the container cannot be closed before this ticket is written.
  void write_in_turn(Ticket& t, std::string_view ciphertext) {
    t.written = true;  // from here on a failure is reported below
    std::unique_lock<std::mutex> lk(write_mu_);
    write_cv_.wait(lk, [&] { return written_ == t.number || write_failure_; });
    if (write_failure_) std::rethrow_exception(write_failure_);
    lk.unlock();
    try {
      t.writer->write_reserved(ciphertext);
      fault::point("container.append");
    } catch (...) {
      lk.lock();
      if (!write_failure_) write_failure_ = std::current_exception();
      write_cv_.notify_all();
      throw;
    }
    lk.lock();
    ++written_;
    write_cv_.notify_all();
  }

  // Waits until every placed blob is written. REQUIRES: mu_ held (no new tickets).
  void wait_written() {
    std::unique_lock<std::mutex> lk(write_mu_);
    write_cv_.wait(lk, [&] { return written_ == tickets_ || write_failure_; });
    if (write_failure_) std::rethrow_exception(write_failure_);
  }

  // Places a blob in the open container (opening one if needed); the caller writes its bytes
  // with write_in_turn(ticket) after releasing mu_. REQUIRES: mu_ held.
  catalog::BlobRef append(const container::SealedBlob& blob, const container::FileInfo& fi, Ticket& ticket) {
    if (writer_ && writer_->count() > 0 &&
        (writer_->size() + blob.ciphertext.size() > o_.max_container || writer_->index_size() > kMaxIndexBytes))
      close_container(true);
    if (!writer_) {
      // Never reuse a name: a backup in the same second, or a container left by an
      // interrupted one, must not be overwritten.
      std::string name;
      do {
        name = repo::container_name(o_.host, o_.folder, stamp_, name_seq_++);
      } while (repo_.store().head(name).has_value());
      log::info("Opening container file: {}", name.substr(name.rfind('/') + 1));
      writer_ = repo_.create_container(name, container::Origin{o_.host, o_.folder, stamp_});
      writer_->reserve_index(kMaxIndexBytes + (64 << 10));  // the most it holds: never moved
      container_id_ = cat_.add_container(name, 0);  // its size is set when it is committed
    }
    container::BlobLocation loc = writer_->reserve(blob, fi);
    ticket.packer = this;
    ticket.writer = writer_.get();
    ticket.number = tickets_++;
    return repo::blob_ref(container_id_, loc);
  }

  // REQUIRES: mu_ held.
  void close_container(bool full) {
    std::string shortname = writer_->name().substr(writer_->name().rfind('/') + 1);
    size_t files = writer_->count();
    wait_written();
    fault::point("container.before_commit");
    if (o_.lock_held && !o_.lock_held())
      throw Error(ErrorKind::kLocked, "the DB lock of this backup was removed by another process (DB UNLOCK) or taken over; stopped without writing more");
    uint64_t size = writer_->finish();
    fault::point("container.committed");
    if (full) log::info("Container is full {} size {} files {}", shortname, size, files);
    log::info("Closed container: {}", shortname);
    cat_.containers[container_id_].size = size;
    writer_.reset();
    r_.bytes_uploaded += size;
    ++r_.containers;
    since_checkpoint_ += size;
    // Checkpoint: every version recorded so far refers to committed containers. Each one
    // rewrites the whole catalog, so with many tiny files (a big catalog, small containers)
    // not after every container: once the data since the last one is 4 times the catalog's
    // size (at most a fifth of what is sent is catalog), or every 10 minutes.
    if (full && (since_checkpoint_ >= 4 * catalog_size_ || now_ns() - checkpoint_ns_ > 600LL * 1000000000LL)) {
      catalog_size_ = save_();
      since_checkpoint_ = 0;
      checkpoint_ns_ = now_ns();
    }
  }

  repo::Repository& repo_;
  catalog::Catalog& cat_;
  const Options& o_;
  uint32_t backup_;
  int64_t stamp_;
  const std::function<uint64_t()>& save_;
  uint64_t since_checkpoint_ = 0;  // container bytes committed since the last checkpoint
  uint64_t catalog_size_ = 0;      // of the last generation saved
  int64_t checkpoint_ns_ = now_ns();
  Result& r_;
  uint64_t part_size_;

  std::vector<WorkItem>* items_ = nullptr;
  std::atomic<size_t> next_{0};
  std::atomic<size_t> done_{0};
  std::atomic<int> last_decile_{0};
  std::atomic<bool> failed_{false};
  std::exception_ptr failure_;  // guarded by mu_ until the workers are joined

  std::mutex mu_;  // guards everything below, and the catalog
  std::unique_ptr<repo::ContainerWriter> writer_;
  uint32_t container_id_ = kNone;  // the open container's index in the catalog
  int name_seq_ = 0;               // the <seq> part of the next container's name
  uint64_t tickets_ = 0;           // tickets handed out

  std::mutex write_mu_;  // guards the two below; never held while taking mu_
  std::condition_variable write_cv_;
  uint64_t written_ = 0;  // tickets whose bytes are written
  std::exception_ptr write_failure_;
  std::unordered_set<uint64_t> big_sizes_;
};

}  // namespace

Result run(repo::Repository& repo, catalog::Catalog& cat, const Options& o, const std::function<uint64_t()>& save) {
  Result r;
  uint32_t host = cat.find_or_add_host(o.host);
  bool is_new = !cat.find_folder(host, o.folder).has_value();
  uint32_t folder = cat.find_or_add_folder(host, o.folder);
  if (is_new) log::info("Created top level folder {}", o.folder);
  cat.folders[folder].automatic = true;
  cat.build_child_index();

  // An interrupted backup of this folder left a checkpoint: say what it saves us.
  for (size_t i = cat.backups.size(); i-- > 0;) {
    const catalog::Backup& b = cat.backups[i];
    if (b.folder != folder) continue;
    if (!b.complete && b.files_stored > 0)
      log::info("Resuming: {} files already stored by the interrupted backup of {}", b.files_stored, format_iso(b.time_ns));
    break;
  }
  int64_t start = now_ns();
  uint32_t backup = cat.add_backup(folder, start);
  log::info("Starting File walk...{}", o.folder);
  Walker walker(cat, o, backup, r);
  walker.walk(cat.folders[folder].root);
  r.found = walker.items.size();
  log::info("Completed file walk. Scanned Dir={} File={}. Found: {} to backup. elapsed: {}", r.dirs_scanned,
            r.files_scanned, r.found, format_elapsed(now_ns() - start));

  if (o.dry_run) {
    uint64_t bytes = 0;
    for (const auto& it : walker.items) {
      std::string path = cat.path(it.entry);
      log::info("Would back up {} ({})", path, human_size(it.size));
      bytes += it.size;
      if (r.found_paths.size() < kFoundKept) r.found_paths.push_back(std::move(path));
    }
    log::info("Dry run: {} files ({}) would be backed up, {} deletions recorded; nothing was written", r.found,
              human_size(bytes), r.deleted);
    return r;
  }

  int64_t stamp = now_ns();
  cat.backups[backup].time_ns = stamp;
  log::info("Creating backup timestamp: {}", format_iso(stamp));
  if (walker.items.empty()) log::info("No changed files: no container written");
  Packer packer(repo, cat, o, backup, stamp, save, r);
  packer.run(walker.items);
  cat.backups[backup].complete = true;
  fault::point("backup.before_final_save");
  save();
  // Kept for LIST FOUND; capped so that a huge first backup does not hold every path. Taken
  // after the save, whose buffers are then free again.
  for (const auto& it : walker.items) {
    if (r.found_paths.size() >= kFoundKept) break;
    r.found_paths.push_back(cat.path(it.entry));
  }
  std::vector<WorkItem>().swap(walker.items);
  log::info("Backup of {} complete: {} files stored ({} read, {} new in {} containers), {} unchanged by content, {} deleted, {} not backed up",
            o.folder, r.files_stored, human_size(r.bytes_read), human_size(r.bytes_uploaded), r.containers,
            r.deduplicated, r.deleted, r.not_backed_up);
  return r;
}

}  // namespace seshat::backup
