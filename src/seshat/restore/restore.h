// Restores a selection of file versions (DESIGN.md §7): directories first, then file contents
// read through a BlobReader (which plans, coalesces and falls back) and written under
// temporary names on its threads, then symlinks, then metadata (directories deepest first so
// their mtimes stick). The restore sees the store only through the BlobReader.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/repo/blob_reader.h"

namespace seshat::restore {

struct Item {
  uint32_t entry;
  uint32_t version;
};

struct Options {
  std::string target;  // empty: the original place; else a directory the paths are recreated under
  bool dry_run = false;
  // Replace files and symlinks that exist at the destination with other content. Without it
  // they are kept, each named in a WARN and counted in Result::kept.
  bool overwrite = false;
  int threads = 1;  // reads in flight (fetching overlaps with writing)
  // Write all-zero blocks of every file as holes (SET SPARSE YES); without it only files that
  // had holes when they were backed up get them.
  bool sparse = false;
};

struct Result {
  uint64_t files = 0, dirs = 0, symlinks = 0, bytes = 0;
  uint64_t specials = 0;    // FIFOs and device nodes
  uint64_t links = 0;       // of the files, names restored as hard links to another one
  uint64_t incomplete = 0;  // restored without some of their metadata (each named in a WARN)
  uint64_t failed = 0;      // damaged or unwritable; each was reported by name
  uint64_t identical = 0;   // already at the destination with the same content: left as they are
  uint64_t kept = 0;        // a different file is at the destination and overwrite is off
};

// What is at an item's destination, compared with the version to restore.
enum class Existing {
  kAbsent,
  kIdentical,    // the same content and metadata: nothing to do
  kSameContent,  // the same content, other mode, owner (if check_owner) or time: replaced, no data lost
  kDiffers,      // other content, or something else than a file or symlink
  kUnknown,      // a file of the same size that cannot be compared (a rebuilt DB knows no hash of it)
};

// For a file: a regular file of the same size and content (hashed); for a symlink: a symlink
// with the same target; for a FIFO or device: the same kind (and numbers). Anything else
// there differs. A hard-linked file is never identical (its links are made again). Never
// follows a symlink, never blocks on a FIFO.
Existing compare_existing(const catalog::Catalog& cat, uint32_t version, int dirfd, const std::string& name,
                          bool check_owner);

// How many of the items' files and symlinks have something different at their destination
// (what a restore without overwrite keeps).
size_t count_differing(const catalog::Catalog& cat, const std::vector<Item>& items, const std::string& target);

// The S_IF* file format of a FIFO, device or socket version (0 for other types).
uint32_t format_of(catalog::Type t);

// The path an item is restored to.
std::string destination(const std::string& original, const std::string& target);

// REQUIRES: items are ordered parents before children (as Catalog::for_each_at gives them).
// Never throws for one file's problem: it is reported, counted, and the rest goes on.
Result run(const catalog::Catalog& cat, const std::vector<Item>& items, const Options& options,
           repo::BlobReader& reader);

}  // namespace seshat::restore
