#include "seshat/backup/packer.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/interrupt.h"
#include "seshat/util/io.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"
#include "seshat/util/workers.h"

namespace seshat::backup {
namespace {

// Each worker seals into its own buffer, reused blob after blob.
repo::SealedBuffer& sealed_buffer() {
  thread_local repo::SealedBuffer blob;
  return blob;
}

// A placed blob whose bytes are yet to be written: abandoned (so that the writes after it
// fail instead of waiting forever) if it goes out of scope unwritten.
struct PendingWrite {
  repo::BlobWriter* writer = nullptr;
  repo::Placement placement;
  ~PendingWrite() {
    if (writer) writer->abandon(placement);
  }
  void write(std::string_view bytes) {
    repo::BlobWriter* w = writer;
    writer = nullptr;  // from here on a failure is reported by write() itself
    w->write(placement, bytes);
  }
};

// True (with a WARN) if the file changed while it was read: it is stored as read and taken
// again by the next backup (its ctime is not recorded).
bool changed_while_read(int fd, const fs::Stat& st, const std::string& path) {
  auto a = fs::stat_fd(fd);
  if (!a || (a->mtime_ns == st.mtime_ns && a->size == st.size && a->ctime_ns == st.ctime_ns)) return false;
  log::warn("File changed while it was read: {} (stored as read; taken again next time)", path);
  return true;
}

}  // namespace

seshat::Result<size_t> PartReader::read(char* buf, size_t n) {
  if (!sparse_) return io::read_full(fd_, buf, n);
  size_t got = 0;
  while (got < n && pos_ < size_) {
    if (pos_ >= hole_) {
      off_t d = ::lseek(fd_, static_cast<off_t>(pos_), SEEK_DATA);
      if (d < 0 && errno != ENXIO) return errno_error("seek", errno);
      data_ = d < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(d), size_);
      off_t h = data_ >= size_ ? -1 : ::lseek(fd_, static_cast<off_t>(data_), SEEK_HOLE);
      hole_ = h < 0 ? size_ : std::min<uint64_t>(static_cast<uint64_t>(h), size_);
      if (hole_ <= pos_) hole_ = size_;  // no progress from the file system: read the rest
    }
    if (pos_ < data_) {  // a hole: zeros, not read
      size_t z = static_cast<size_t>(std::min<uint64_t>(data_ - pos_, n - got));
      std::memset(buf + got, 0, z);
      pos_ += z;
      got += z;
      continue;
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(hole_ - pos_, n - got));
    ssize_t r = ::pread(fd_, buf + got, want, static_cast<off_t>(pos_));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_error("read", errno);
    }
    if (r == 0) {  // shorter than it was
      size_ = pos_;
      break;
    }
    pos_ += static_cast<uint64_t>(r);
    got += static_cast<size_t>(r);
  }
  return got;
}

Status PartReader::rewind() {
  pos_ = data_ = hole_ = 0;
  if (!sparse_ && ::lseek(fd_, 0, SEEK_SET) != 0) return errno_error("seek", errno);
  return {};
}

Packer::Packer(catalog::Catalog& cat, const Options& o, uint32_t backup, int64_t stamp, const Services& services,
               Result& r)
    : cat_(cat), o_(o), backup_(backup), services_(services), r_(r), checkpoint_ns_(now_ns()) {
  part_size_ = std::min<uint64_t>(o.part_size, std::max<uint64_t>(64 << 10, o.max_container / 4));
  for (const auto& c : cat.contents)
    if (c.size > part_size_) big_sizes_.insert(c.size);
  repo::BlobWriter::Hooks hooks;
  hooks.opened = [this](const std::string& name) { return cat_.add_container(name, 0); };  // its size comes at commit
  hooks.may_commit = [this] { return !o_.lock_held || o_.lock_held(); };
  hooks.committed = [this](uint32_t id, uint64_t size, size_t, bool full) { committed(id, size, full); };
  writer_ = services.writer(repo::ContainerOrigin{o.host, o.folder, stamp}, std::move(hooks));
}

void Packer::run(const std::vector<WorkItem>& items) {
  items_ = &items;
  uint64_t bytes = 0;
  for (const auto& it : items) bytes += it.size;
  progress_ = std::make_unique<Progress>(items.size(), bytes, "Backup");
  run_on_threads(std::max(1, o_.threads), [&] { work(); });
  std::lock_guard<std::mutex> lk(mu_);
  writer_->finish();
  if (interrupted()) {
    // What the closed containers hold is in the catalog: keep it as a checkpoint.
    services_.save(false);
    throw Error(
        ErrorKind::kInterrupted,
        fmt::format(
            "backup interrupted after {} of {} files; a checkpoint was saved and the next backup resumes from it",
            r_.files_stored, items.size()));
  }
}

void Packer::work() {
  // Sized once for a whole part: grown step by step, each would end up to twice that.
  std::string buf;
  buf.reserve(part_size_);
  sealed_buffer().bytes.reserve(writer_->buffer_size(part_size_));
  // Given back however this returns, not when the thread ends (the main thread is one of
  // the workers, and goes on to save the catalog).
  struct Release {
    std::string& buf;
    ~Release() {
      std::string().swap(buf);
      std::string().swap(sealed_buffer().bytes);
    }
  } release{buf};
  std::string path;
  while (!failed_) {
    if (interrupted()) return;
    size_t i = next_++;
    if (i >= items_->size()) return;
    try {
      {
        // Entries do not change while packing, but record() appends xattrs to the arena the
        // names live in: read them under the same lock.
        std::lock_guard<std::mutex> lk(mu_);
        path = cat_.path((*items_)[i].entry);
      }
      progress_->begin(path);
      process((*items_)[i], path, buf);
      progress_->end(path);
    } catch (...) {
      progress_->end(path);
      failed_ = true;
      throw;
    }
    progress_->add();
  }
}

void Packer::not_backed_up(const std::string& path, int err) {
  if (err == ENOENT)
    log::warn("File vanished before it was read: {}", path);
  else
    log::warn("File not backed up: {} ({})", path, std::strerror(err));
  std::lock_guard<std::mutex> lk(mu_);
  ++r_.not_backed_up;
}

repo::BlobOrigin Packer::origin(const std::string& path, const fs::Stat& st, const catalog::Hash& h, uint32_t part,
                                uint32_t parts) {
  repo::BlobOrigin o;
  o.path = path;
  o.part = part;
  o.parts = parts;
  o.file_size = st.size;
  o.mtime_ns = st.mtime_ns;
  o.mode = st.mode;
  o.uid = st.uid;
  o.gid = st.gid;
  o.hash = h;
  return o;
}

void Packer::record(uint32_t entry, const fs::Stat& st, uint32_t content, bool unstable, const FileAttrs& a) {
  catalog::Meta m = meta_of(st);
  if (unstable) m.ctime_ns = 0;  // taken again by the next backup
  catalog::Version v = catalog::Version::file(backup_, m, st.size, content);
  if (a.sparse) v.flags |= catalog::kSparse;
  cat_.add_version(entry, v, extra_of(cat_, st, a.xattrs, a.fs_flags));
  ++cat_.backups[backup_].files_stored;
  ++r_.files_stored;
}

void Packer::process(const WorkItem& it, const std::string& path, std::string& buf) {
  // The walk saw a file here; under SET SYMLINKS YES that may be a link to one.
  auto fd = fs::open_read(path, o_.follow_symlinks);
  if (!fd) return not_backed_up(path, fd.error().sys_errno());
  auto st = fs::stat_fd(fd->get());
  if (!st) return not_backed_up(path, st.error().sys_errno());
  if (st->kind != fs::Kind::kFile) {
    log::warn("File not backed up: {} (no longer a regular file)", path);
    std::lock_guard<std::mutex> lk(mu_);
    ++r_.not_backed_up;
    return;
  }
  fault::point("pack.file");
  if (log::detail()) log::info("Backing up {} ({})", path, human_size(st->size));
  FileAttrs a;
  if (auto x = fs::read_xattrs(fd->get())) {
    a.xattrs = std::move(x.value());
  } else {
    log::warn("Extended attributes not backed up: {} ({})", path, std::strerror(x.error().sys_errno()));
    std::lock_guard<std::mutex> lk(mu_);
    ++r_.metadata_lost;
  }
  a.fs_flags = fs::read_fs_flags(fd->get());
  a.sparse = st->size >= 4096 && st->blocks * 512 < st->size;
  PartReader in(fd->get(), a.sparse, st->size);
  if (st->size <= part_size_) return store_small(it, path, fd->get(), in, *st, a, buf);
  if (dedup_by_hash_first(it, path, fd->get(), in, *st, a, buf)) return;
  store_parts(it, path, fd->get(), in, *st, a, buf);
}

// A file of at most one part: read whole, hashed, sealed, placed; or found stored already.
void Packer::store_small(const WorkItem& it, const std::string& path, int fd, PartReader& in, fs::Stat st,
                         const FileAttrs& a, std::string& buf) {
  buf.resize(st.size);
  auto n = in.read(buf.data(), st.size);
  if (!n) return not_backed_up(path, n.error().sys_errno());
  progress_->add_bytes(*n);
  buf.resize(*n);
  st.size = buf.size();
  bool unstable = changed_while_read(fd, st, path);
  catalog::Hash h = repo::ContentHash::of(buf);
  {
    std::lock_guard<std::mutex> lk(mu_);
    r_.bytes_read += buf.size();
    if (auto c = cat_.find_content(h)) {
      ++r_.deduplicated;
      return record(it.entry, st, *c, unstable, a);
    }
  }
  repo::SealedBuffer& blob = sealed_buffer();
  blob.bytes.clear();
  if (!buf.empty()) writer_->seal(buf, blob);
  PendingWrite pending;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (auto c = cat_.find_content(h)) {  // the same content stored meanwhile by another worker
      ++r_.deduplicated;
      return record(it.entry, st, *c, unstable, a);
    }
    std::vector<catalog::BlobRef> refs;
    if (!buf.empty()) {
      pending.placement = writer_->place(blob, origin(path, st, h, 0, 1));
      pending.writer = writer_.get();
      refs.push_back(pending.placement.ref);
    }
    uint32_t content = cat_.add_content(h, buf.size(), refs);
    cat_.backups[backup_].bytes_stored += buf.size();
    record(it.entry, st, content, unstable, a);
  }
  if (pending.writer) pending.write(blob.bytes);
}

// A big file of a size some stored content has: hashed first, so that a renamed or copied
// big file is not stored again. True if it was found (and recorded).
bool Packer::dedup_by_hash_first(const WorkItem& it, const std::string& path, int fd, PartReader& in,
                                 const fs::Stat& st, const FileAttrs& a, std::string& buf) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!big_sizes_.count(st.size)) return false;
  }
  repo::ContentHash sha;
  buf.resize(part_size_);
  for (;;) {
    auto n = in.read(buf.data(), part_size_);
    if (!n) {
      not_backed_up(path, n.error().sys_errno());
      return true;
    }
    sha.update(std::string_view(buf.data(), *n));
    progress_->add_bytes(*n);
    if (*n < part_size_) break;
  }
  catalog::Hash h = sha.finish();
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (auto c = cat_.find_content(h)) {
      bool unstable = changed_while_read(fd, st, path);
      ++r_.deduplicated;
      record(it.entry, st, *c, unstable, a);
      return true;
    }
  }
  progress_->add_total_bytes(st.size);  // not stored yet: read a second time
  if (Status rw = in.rewind(); !rw) {
    not_backed_up(path, rw.error().sys_errno());
    return true;
  }
  return false;
}

// A file of several parts, each its own blob.
void Packer::store_parts(const WorkItem& it, const std::string& path, int fd, PartReader& in, fs::Stat st,
                         const FileAttrs& a, std::string& buf) {
  repo::ContentHash sha;
  uint32_t parts = static_cast<uint32_t>((st.size + part_size_ - 1) / part_size_);
  uint64_t total = 0;
  std::vector<catalog::BlobRef> refs;
  for (uint32_t p = 0;; ++p) {
    buf.resize(part_size_);
    auto n = in.read(buf.data(), part_size_);
    if (!n) return not_backed_up(path, n.error().sys_errno());
    if (*n == 0) break;
    progress_->add_bytes(*n);
    buf.resize(*n);
    sha.update(buf);
    total += *n;
    repo::SealedBuffer& blob = sealed_buffer();
    writer_->seal(buf, blob);
    PendingWrite pending;
    {
      std::lock_guard<std::mutex> lk(mu_);
      pending.placement = writer_->place(blob, origin(path, st, {}, p, std::max(parts, p + 1)));
      pending.writer = writer_.get();
      refs.push_back(pending.placement.ref);
      r_.bytes_read += *n;
    }
    pending.write(blob.bytes);
    if (*n < part_size_) break;
  }
  catalog::Hash h = sha.finish();
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
  record(it.entry, st, content, unstable, a);
}

// Checkpoint: every version recorded so far refers to committed containers. Each one
// rewrites the whole catalog, so with many tiny files (a big catalog, small containers) not
// after every container: once the data since the last one is 4 times the catalog's size (at
// most a fifth of what is sent is catalog), or every 10 minutes.
void Packer::committed(uint32_t id, uint64_t size, bool full) {
  cat_.containers[id].size = size;
  r_.bytes_uploaded += size;
  ++r_.containers;
  since_checkpoint_ += size;
  if (full && (since_checkpoint_ >= 4 * catalog_size_ || now_ns() - checkpoint_ns_ > 600LL * 1000000000LL)) {
    catalog_size_ = services_.save(false);
    since_checkpoint_ = 0;
    checkpoint_ns_ = now_ns();
  }
}

}  // namespace seshat::backup
