// Questions asked of a catalog at a point in time: what a folder holds, the tree below it,
// the versions of a path, which paths match a search, which backup a time means. The
// browsing commands (LIST, CD, SEARCH) and the restore plan are built on these.
// REQUIRES: the child index is current (Catalog::build_child_index) where children are read.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "seshat/catalog/catalog.h"

namespace seshat::catalog {

// One version of one path, as a listing shows it.
struct Row {
  uint32_t entry = kNone;
  uint32_t version = kNone;
  int depth = 0;               // below the listed directory (tree_at)
  bool deleted_later = false;  // search: the path is gone in the newest backup
};

// The children of `dir` that exist as of `backup`, by name.
std::vector<Row> children_at(const Catalog& c, uint32_t dir, uint32_t backup);
// Everything below `dir` that exists as of `backup` (dir itself not included), depth-first
// by name, each directory before what it holds.
std::vector<Row> tree_at(const Catalog& c, uint32_t dir, uint32_t backup);
// Every version of the entry, newest first (tombstones included).
std::vector<Row> versions_of(const Catalog& c, uint32_t entry);
// True if the entry was ever a file or a symlink.
bool ever_file(const Catalog& c, uint32_t entry);
// Every file and symlink version of every path below the roots of the folders whose full
// path `match` accepts, folder by folder, paths in depth-first order, versions newest first
// -- as of a point in time: for each folder, the backup it is seen at (kNone: the folder is
// skipped). Only versions of that backup or older are returned, and deleted_later means the
// path is gone as of that backup.
std::vector<Row> search_at(const Catalog& c, const std::vector<std::pair<uint32_t, uint32_t>>& folder_backups,
                           const std::function<bool(std::string_view path)>& match);

// What a backup holds: files and symlinks in it (new or not) and their bytes.
struct BackupTotals {
  uint64_t files = 0, bytes = 0;
};
// Per backup (by index), in one pass over the versions.
std::vector<BackupTotals> backup_totals(const Catalog& c);

// One path a backup added, changed or deleted (LIST CHANGES).
struct Change {
  enum Kind { kAdded, kChanged, kDeleted } kind;
  uint32_t entry;
  uint32_t version;  // the backup's version; for a deletion the version it deleted
};
// Files and symlinks (and directories added or deleted) that backup `backup` recorded,
// in the order of the tree (depth-first by name).
std::vector<Change> changes_in(const Catalog& c, uint32_t backup);

// The folder whose tree holds the entry.
uint32_t folder_of(const Catalog& c, uint32_t entry);
// The newest backup of the folder, at or before `at_or_before` if given.
std::optional<uint32_t> newest_backup(const Catalog& c, uint32_t folder,
                                      std::optional<int64_t> at_or_before = std::nullopt);

}  // namespace seshat::catalog
