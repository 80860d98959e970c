// The catalog ("the DB"): hosts, their backed-up folders, backups, the tree of every path
// ever seen in each folder, every version of every path, file contents and where their
// blobs live. doc/format/catalog.md describes its encoding.
//
// Memory layout is compact on purpose (DESIGN.md §5): names live in one arena, entries and
// versions are plain structs in vectors, a path's versions are a linked list newest-first.
// Not thread-safe: callers serialize access.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace seshat::catalog {

constexpr uint32_t kNone = 0xffffffffu;

using Hash = std::array<uint8_t, 32>;

// Types 5-8 came with format version 2: special files, recorded and recreated as they are.
enum class Type : uint8_t {
  kFile = 1,
  kDir = 2,
  kSymlink = 3,
  kDeleted = 4,
  kFifo = 5,
  kCharDev = 6,
  kBlockDev = 7,
  kSocket = 8,  // recorded; a restore skips it (a socket is made by the program that listens)
};
constexpr bool is_special(Type t) { return t >= Type::kFifo && t <= Type::kSocket; }
// What LIST and SEARCH show as a file: anything but a directory or a tombstone.
constexpr bool is_leaf(Type t) { return t == Type::kFile || t == Type::kSymlink || is_special(t); }

// Version::flags.
constexpr uint8_t kLinked = 1;  // a file with other hard links when it was read (its Extra has st_dev)
constexpr uint8_t kExtra = 2;   // the version has an Extra (Catalog::extra)
constexpr uint8_t kSparse = 4;  // a file with holes: a restore writes its zero blocks as holes
// Recorded by a Seshat before format 2, which never read hard links, xattrs, ACLs, inode
// flags or holes: the next backup reads the path again even if its stat is unchanged.
constexpr uint8_t kLegacy = 8;

struct Host {
  std::string name;
};

struct Folder {
  uint32_t host = 0;
  std::string path;       // absolute path of the backed-up directory
  uint32_t root = kNone;  // its entry
  bool automatic = true;  // backed up by AUTOMATIC
};

struct Backup {
  uint32_t folder = 0;
  int64_t time_ns = 0;        // the backup timestamp
  bool complete = false;      // false while running, or if it was interrupted
  uint64_t files_stored = 0;  // versions written by this backup
  uint64_t bytes_stored = 0;  // plaintext bytes of new content
};

struct Container {
  std::string name;  // object name, e.g. containers/SEF_host_home_20190726140750_000
  uint64_t size = 0;
};

struct BlobRef {
  uint32_t container = 0;
  uint32_t length = 0;  // stored length
  uint64_t offset = 0;
  uint32_t raw_size = 0;  // plaintext length
  bool compressed = false;
  std::array<uint8_t, 16> iv{};
  std::array<uint8_t, 32> mac{};
};

struct Content {
  Hash hash{};
  uint64_t size = 0;
  uint32_t first_blob = 0;  // blobs [first_blob, first_blob + blob_count) in order
  uint32_t blob_count = 0;
};

// A path's own metadata as a version records it.
struct Meta {
  uint16_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  bool linked = false;  // other hard links to the inode exist (Version::flags kLinked)
};

// 56 bytes: a catalog holds one per file per change, so every byte counts a million times.
struct Version {
  uint32_t backup = 0;
  uint32_t prev = kNone;  // the previous version of the same entry
  uint32_t uid = 0, gid = 0;
  uint32_t content = kNone;  // file: index into contents; symlink: target in the name arena
  uint16_t mode = 0;         // permission bits (07777)
  Type type = Type::kFile;
  uint8_t flags = 0;     // kLinked, kExtra, kSparse
  int64_t mtime_ns = 0;  // saturated outside 1678-2262: the Extra has the exact time
  int64_t ctime_ns = 0;
  uint64_t inode = 0;
  uint64_t size = 0;  // symlink: the target's length

  // The one way each kind of version is made (prev is set by Catalog::add_version).
  static Version file(uint32_t backup, const Meta& m, uint64_t size, uint32_t content);
  static Version dir(uint32_t backup, const Meta& m);
  // target_offset: the target's place in the name arena (Catalog::add_string).
  static Version symlink(uint32_t backup, const Meta& m, uint32_t target_offset, uint64_t target_length);
  // A FIFO, device or socket (is_special(type)); a device's numbers go into its Extra.
  static Version special(uint32_t backup, Type type, const Meta& m);
  static Version deleted(uint32_t backup);
  Meta meta() const { return {mode, uid, gid, mtime_ns, ctime_ns, inode, (flags & kLinked) != 0}; }
};
static_assert(sizeof(Version) == 56);

// What few versions have, kept apart so that the common version stays 56 bytes: st_dev of
// a hard-linked file, a device's numbers, a time a 64-bit nanosecond count cannot hold,
// inode flags (chattr) and extended attributes (ACLs among them). Sorted by version.
struct Extra {
  uint32_t version = kNone;
  uint32_t xattrs_off = 0, xattrs_len = 0;  // in the arena, encoded as util/xattrs.h says
  uint32_t fs_flags = 0;                    // FS_IOC_GETFLAGS bits a restore sets (fs::kRestorableFlags)
  uint64_t dev = 0;                         // linked file: st_dev of its inode
  uint64_t rdev = 0;                        // character or block device: st_rdev
  bool wide_mtime = false;                  // mtime_sec/mtime_nsec are the time (mtime_ns is saturated)
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  bool empty() const { return !xattrs_len && !fs_flags && !dev && !rdev && !wide_mtime; }
};

// A modification time as seconds and nanoseconds: any time_t.
struct Mtime {
  int64_t sec = 0;
  uint32_t nsec = 0;
};

struct Entry {
  uint32_t parent = kNone;
  uint32_t name_off = 0;
  uint32_t name_len = 0;
  uint32_t latest = kNone;  // newest version
};

// Where a catalog stood: the size of every table, and the records a later change may still
// modify in place (a backup's counts and completion, a container's size, a folder's AUTOMATIC
// flag). Everything else only grows. A delta (codec.h) is what was added and changed since a
// mark; Catalog::rollback goes back to one.
struct Mark {
  size_t hosts = 0, folders = 0, backups = 0, containers = 0, blobs = 0, contents = 0, entries = 0, versions = 0,
         extras = 0, arena = 0;
  std::vector<Backup> backup_records;     // backups[0, backups) as they were
  std::vector<uint64_t> container_sizes;  // containers[0, containers).size
  std::vector<uint8_t> folder_automatic;  // folders[0, folders).automatic
};

class Catalog {
 public:
  // ---- marks (deltas and their retries)
  Mark mark() const;
  // True if every table is at least as large as at `m` (the catalog may have grown from it).
  bool extends(const Mark& m) const;
  // Takes back everything added since `m` and the changes made in place since then; entries'
  // newest versions go back along their chains. REQUIRES: extends(m), and nothing added
  // since `m` was changed by other means than the Catalog's own adders.
  void rollback(const Mark& m);

  // ---- hosts, folders, backups, containers
  uint32_t find_or_add_host(const std::string& name);
  std::optional<uint32_t> find_host(const std::string& name) const;
  uint32_t find_or_add_folder(uint32_t host, const std::string& path);
  std::optional<uint32_t> find_folder(uint32_t host, const std::string& path) const;
  uint32_t add_backup(uint32_t folder, int64_t time_ns);
  uint32_t add_container(const std::string& name, uint64_t size);

  // ---- the tree
  uint32_t add_entry(uint32_t parent, std::string_view name);
  std::string_view name(uint32_t entry) const;
  // Takes back entries added last (ids >= n) and the names added with them (the arena from
  // arena_size). REQUIRES: no version, folder or index refers to them.
  void truncate_entries(size_t n, size_t arena_size);
  std::string path(uint32_t entry) const;
  // Children of an entry sorted by name (bytewise), from an index built by
  // build_child_index(); entries added later are not in it.
  void build_child_index();
  // True if the child index covers every entry (no entry was added since it was built).
  bool child_index_current() const { return child_start_.size() == entries.size() + 1; }
  std::pair<const uint32_t*, const uint32_t*> children(uint32_t entry) const;
  // Finds an entry by absolute path below a folder root; nullopt if unknown.
  std::optional<uint32_t> lookup(uint32_t folder, std::string_view abs_path) const;

  // ---- versions
  // Appends a version (its prev is set here) and makes it the entry's latest; with a
  // non-empty extra (whose version is set here) the version gets kExtra.
  uint32_t add_version(uint32_t entry, Version v, const Extra& extra = {});
  // The version's Extra, or nullptr.
  const Extra* extra(uint32_t version) const;
  // The version's modification time, exact also outside 1678-2262.
  Mtime mtime(uint32_t version) const;
  // The version's extended attributes, encoded (empty if none).
  std::string_view xattrs(uint32_t version) const;
  // The version of the entry as of backup `backup` (the newest with v.backup <= backup),
  // or kNone. Tombstones are returned; callers check type.
  uint32_t version_at(uint32_t entry, uint32_t backup) const;
  std::string_view symlink_target(const Version& v) const;
  uint32_t add_string(std::string_view s);

  // ---- contents (file-level dedup)
  std::optional<uint32_t> find_content(const Hash& hash) const;
  uint32_t add_content(const Hash& hash, uint64_t size, const std::vector<BlobRef>& blobs);

  // Calls fn(entry, version_index) for every entry below `root` (root included, parents
  // before children) that exists as of `backup`, i.e. whose version there is not a tombstone.
  void for_each_at(uint32_t root, uint32_t backup, const std::function<void(uint32_t, uint32_t)>& fn) const;

  // Bytes of memory the catalog's data takes (for MEMSTATS and DB SIZE).
  size_t memory_bytes() const;

  std::vector<Host> hosts;
  std::vector<Folder> folders;
  std::vector<Backup> backups;
  std::vector<Container> containers;
  std::vector<BlobRef> blobs;
  std::vector<Content> contents;
  std::vector<Entry> entries;
  std::vector<Version> versions;
  std::vector<Extra> extras;  // sorted by version
  std::string arena;          // names, symlink targets and extended attributes

 private:
  // Open addressing over content ids (kNone = empty slot), keyed by the first bytes of the
  // SHA-256 (already uniform): 4-8 bytes a content instead of a hash-map node.
  void index_content(uint32_t id) const;
  mutable std::vector<uint32_t> content_slots_;
  mutable size_t content_indexed_ = 0;
  std::vector<uint32_t> child_order_;  // entry ids sorted by (parent, name)
  std::vector<uint32_t> child_start_;  // per entry, first position in child_order_ (size entries+1)
};

}  // namespace seshat::catalog
