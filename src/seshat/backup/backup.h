// One backup of one folder (DESIGN.md §6): the walk with change detection against the
// catalog (walker.h), then packing the changed files into containers on a pool of threads
// (packer.h), with a catalog checkpoint after full containers. The backup sees the store only
// through a BlobWriter (repo/blob_writer.h) and a save function.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/repo/blob_writer.h"

namespace seshat::backup {

struct Options {
  std::string host;
  std::string folder;                   // absolute path, no trailing slash (except "/")
  uint64_t max_container = 8ull << 30;  // split containers before they pass this size
  // Files larger than this are stored in parts. Each packing thread holds two buffers of a
  // part's size, so this is also most of the memory packing takes.
  uint64_t part_size = 4ull << 20;
  // Asked before each container is committed: false when the DB lock was lost (the backup
  // then stops without committing it). Unset: always held.
  std::function<bool()> lock_held;
  bool hidden = true;  // back up names starting with '.'
  bool follow_symlinks = false;
  bool dry_run = false;               // walk and report; store nothing
  std::vector<std::string> excludes;  // RE2, matched (partially) against the full path
  std::vector<std::string> includes;  // RE2; a match overrides every exclusion
  int threads = 1;                    // packing threads
  // Seshat's own directories (the local store, the private staging directory), as (what,
  // path): never backed up, with a WARN "Ignoring the Seshat <what> <path>" when met.
  std::vector<std::pair<std::string, std::string>> own_dirs;
  // A backup that would record more than half of the files of the folder's last backup as
  // deleted (an unmounted drive, an EXCLUDE too broad) stops before it stores anything,
  // unless this allows it (SET DELETIONS YES).
  bool allow_deletions = false;
};

struct Result {
  uint64_t dirs_scanned = 0;
  uint64_t files_scanned = 0;
  uint64_t found = 0;         // files to back up after the walk
  uint64_t files_stored = 0;  // file versions written
  uint64_t bytes_read = 0;
  uint64_t bytes_uploaded = 0;  // container bytes
  uint64_t deduplicated = 0;    // files whose content was already stored
  uint64_t not_backed_up = 0;   // unreadable or vanished files and directories
  uint64_t metadata_lost = 0;   // backed up without some of their metadata (extended attributes unreadable)
  uint64_t deleted = 0;         // tombstones recorded
  uint64_t deleted_files = 0;   // of them, files and symlinks
  int containers = 0;
  std::vector<std::string> found_paths;  // what the walk found to back up (LIST FOUND; the first 100,000)
};

// What a backup needs from outside.
struct Services {
  // Makes the writer of this backup's containers.
  std::function<std::unique_ptr<repo::BlobWriter>(const repo::ContainerOrigin&, repo::BlobWriter::Hooks)> writer;
  // Stores a catalog generation (checkpoints and the final save) and returns the catalog's
  // stored size (its base and deltas: what checkpoints are paced by); it is
  // called with the catalog mutated only by this backup.
  // `final` is true for the save at the end of the backup (checkpoints: false).
  std::function<uint64_t(bool final)> save;
};

// Runs the backup.
// REQUIRES: the caller holds the repository lock. Throws Error on fatal failures (the store
// failing, the folder missing); per-file problems are WARNed and counted.
Result run(catalog::Catalog& cat, const Options& options, const Services& services);

}  // namespace seshat::backup
