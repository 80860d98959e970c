// What the session hands the shell to print: plain rows, no catalog types. The numbers in
// them (backup, folder, entry, version) are the session's handles for later commands.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace seshat::session {

struct BackupRow {
  uint32_t backup;
  int number;  // its number in LIST BACKUPS (#3): the rank by time among all backups
  std::string host, folder;
  int64_t time_ns;
  bool complete;
  uint64_t files_new, bytes_new;      // versions written by it, bytes of new content
  uint64_t files_total, bytes_total;  // files and symlinks in it, their bytes
};

struct FolderRow {
  uint32_t folder;
  std::string host, path;
  size_t backups;
  std::optional<int64_t> last_ns;
  int last_number = 0;  // the newest backup's LIST BACKUPS number
  bool automatic;
};

struct HostRow {
  uint32_t host;
  std::string name;
  size_t folders;
};

// One row of a numbered listing (LIST FILES, LIST TREE, LIST VERSIONS, SEARCH): what CD <n>
// and RESTORE ADD FILE <n> refer to.
struct EntryRow {
  enum class Kind { kFile, kDir, kSymlink, kDeleted, kFifo, kCharDev, kBlockDev, kSocket };
  uint32_t entry;
  uint32_t version;
  std::string path;            // full path (LIST FILES and TREE: the name)
  int depth = 0;               // LIST TREE indentation
  int64_t backup_ns = 0;       // the backup the version is from
  int backup_number = 0;       // its LIST BACKUPS number
  std::string host;            // of the folder (SEARCH shows it)
  bool deleted_later = false;  // SEARCH: gone as of the point in time looked at
  bool newer = false;          // LIST VERSIONS: newer than the selected backup or timestamp
  enum class Change { kNone, kAdded, kChanged, kDeleted } change = Change::kNone;  // LIST CHANGES
  uint32_t as_of = 0xffffffffu;  // a deleted folder's row: the backup it is restored as of (the one before)
  Kind kind = Kind::kFile;
  uint32_t mode = 0;  // permission bits
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t mtime_sec = 0;    // exact (mtime_ns saturates past 2262)
  uint64_t rdev = 0;        // a device's numbers
  std::string link_target;  // symlinks
};

// What RESTORE GO did: files and symlinks restored, left alone because identical, kept because
// something different was there (no overwrite), and failed (each was reported by name).
struct RestoreOutcome {
  uint64_t restored = 0, identical = 0, kept = 0, failed = 0;
};

// A catalog generation in the store (DB GENERATIONS).
struct GenerationRow {
  uint64_t number = 0;
  uint64_t size = 0;
  bool kept = false;     // set aside by a DB REBUILD, never pruned
  bool current = false;  // the one loaded
};

struct DbSize {
  uint64_t generation = 0;
  uint64_t stored_bytes = 0;  // the loaded state's base and deltas
  uint64_t deltas = 0;        // deltas after its base
  size_t generations = 0;
  size_t hosts = 0, folders = 0, backups = 0, containers = 0, entries = 0, versions = 0, contents = 0;
  size_t memory_bytes = 0;
};

}  // namespace seshat::session
