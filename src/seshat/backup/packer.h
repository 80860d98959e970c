// Phase 2 of a backup: the changed files read, hashed, sealed and placed in containers on a
// pool of threads (repo/blob_writer.h says how a blob is sealed, placed and written). A
// file's version goes into the catalog the moment its last blob is placed, or its content is
// found already stored (file-level dedup: renames, copies, touched-but-same files); nothing
// per file waits for a container to close. After a full container is committed, a
// checkpoint of the catalog is saved (throttled: see committed()).
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "seshat/backup/backup.h"
#include "seshat/backup/walker.h"
#include "seshat/catalog/catalog.h"
#include "seshat/fs/fs.h"
#include "seshat/repo/blob_writer.h"
#include "seshat/util/workers.h"

namespace seshat::backup {

// What a file's version records besides its stat: read through its fd before its content.
struct FileAttrs {
  std::string xattrs;  // encoded (util/xattrs.h)
  uint32_t fs_flags = 0;
  bool sparse = false;  // fewer blocks than its size: holes are found with SEEK_DATA and not read
};

// Reads a file from its start, part after part, as io::read_full would; the holes of a
// sparse file (SEEK_DATA/SEEK_HOLE) are zero-filled instead of read.
class PartReader {
 public:
  PartReader(int fd, bool sparse, uint64_t size) : fd_(fd), sparse_(sparse), size_(size) {}
  seshat::Result<size_t> read(char* buf, size_t n);
  Status rewind();

 private:
  int fd_;
  bool sparse_;
  uint64_t size_;
  uint64_t pos_ = 0, data_ = 0, hole_ = 0;  // [data_, hole_) is the data region at or after pos_
};

class Packer {
 public:
  Packer(catalog::Catalog& cat, const Options& o, uint32_t backup, int64_t stamp, const Services& services, Result& r);
  // Packs every item. Interrupted (Ctrl-C): the containers committed so far are kept with a
  // checkpoint, then Error(kInterrupted) is thrown.
  void run(const std::vector<WorkItem>& items);

 private:
  void work();
  void process(const WorkItem& it, const std::string& path, std::string& buf);
  void store_small(const WorkItem& it, const std::string& path, int fd, PartReader& in, fs::Stat st, const FileAttrs& a,
                   std::string& buf);
  void store_parts(const WorkItem& it, const std::string& path, int fd, PartReader& in, fs::Stat st, const FileAttrs& a,
                   std::string& buf);
  bool dedup_by_hash_first(const WorkItem& it, const std::string& path, int fd, PartReader& in, const fs::Stat& st,
                           const FileAttrs& a, std::string& buf);
  void not_backed_up(const std::string& path, int err);
  // Records the file's version. REQUIRES: mu_ held.
  void record(uint32_t entry, const fs::Stat& st, uint32_t content, bool unstable, const FileAttrs& a);
  // A committed container (BlobWriter hook, under mu_): maybe a checkpoint.
  void committed(uint32_t id, uint64_t size, bool full);
  static repo::BlobOrigin origin(const std::string& path, const fs::Stat& st, const catalog::Hash& h, uint32_t part,
                                 uint32_t parts);

  catalog::Catalog& cat_;
  const Options& o_;
  uint32_t backup_;
  const Services& services_;
  Result& r_;
  uint64_t part_size_;
  std::unique_ptr<repo::BlobWriter> writer_;

  const std::vector<WorkItem>* items_ = nullptr;
  std::unique_ptr<Progress> progress_;
  std::atomic<size_t> next_{0};
  std::atomic<bool> failed_{false};

  std::mutex mu_;                  // guards the catalog, r_, the writer's place() and finish(), and below
  uint64_t since_checkpoint_ = 0;  // container bytes committed since the last checkpoint
  uint64_t catalog_size_ = 0;      // stored size of the catalog at the last save
  int64_t checkpoint_ns_;
  std::unordered_set<uint64_t> big_sizes_;  // sizes of stored multi-part contents
};

}  // namespace seshat::backup
