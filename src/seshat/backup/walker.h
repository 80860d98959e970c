// Phase 1 of a backup: the walk of the folder, compared with the catalog's newest state.
// Directories and symlinks are recorded as they are met (a new version only when something
// changed), paths gone from disk get a tombstone, and changed files become work items for
// the packers. Single-threaded; mutates the catalog.
#pragma once
#include <re2/re2.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "seshat/backup/backup.h"
#include "seshat/catalog/catalog.h"
#include "seshat/fs/fs.h"

namespace seshat::backup {

// A changed file for the packers: its entry (the path comes from the catalog) and the size
// the walk saw. 16 bytes a file, however long its path.
struct WorkItem {
  uint32_t entry;
  uint64_t size;
};

// The version metadata of a stat (the one place a version is filled from one).
catalog::Meta meta_of(const fs::Stat& st);
// What else a version made from the stat records (catalog::Extra): the device of a linked
// file, a device's numbers, a time outside 1678-2262, inode flags and extended attributes
// (put in the catalog's arena). REQUIRES: the caller serializes access to the catalog.
catalog::Extra extra_of(catalog::Catalog& cat, const fs::Stat& st, const std::string& xattrs, uint32_t fs_flags);
// The catalog type of a special file's stat (FIFO, device, socket); kDeleted if none.
catalog::Type special_type(const fs::Stat& st);
// True if the file's version and its stat agree on everything change detection looks at.
bool unchanged(const catalog::Version& v, const fs::Stat& st);

class Walker {
 public:
  // Throws Error(kInvalidInput) for a bad EXCLUDE or INCLUDE pattern.
  Walker(catalog::Catalog& cat, const Options& o, uint32_t backup, Result& r);
  // Walks o.folder into the tree below `root` (the folder's entry). Throws Error if the
  // folder itself cannot be read.
  void walk(uint32_t root);
  std::vector<WorkItem> items;

 private:
  void refuse_inside_own(const fs::Dir& root) const;
  bool excluded(std::string_view name, const std::string& full) const;
  bool included(const std::string& full) const;  // an INCLUDE pattern matches
  const catalog::Version* latest(uint32_t entry) const;
  void tombstone(uint32_t entry);
  void tombstone_children(uint32_t entry);
  // dirfd: the directory itself, for its attributes and flags.
  void record_dir(uint32_t entry, const fs::Stat& st, int dirfd);
  void record_symlink(uint32_t entry, const fs::Stat& st, const std::string& target, const fs::Dir& parent,
                      const std::string& name);
  void record_special(uint32_t entry, const fs::Stat& st, const fs::Dir& parent, const std::string& name);
  // The attributes of what an O_PATH descriptor of `name` in `parent` reaches (a symlink
  // or special file), "" if it cannot be opened any more.
  std::string node_xattrs(const fs::Dir& parent, const std::string& name, const fs::Stat& st);
  std::string xattrs_or_warn(seshat::Result<std::string> x);
  // outside: the directory is excluded (EXCLUDE or hidden); only what an INCLUDE matches
  // below it is backed up.
  void walk_dir(const fs::Dir& dir, uint32_t entry, bool outside = false);
  void visit(const fs::Dir& dir, uint32_t parent, const std::string& name, uint32_t child, bool outside);
  // True if the name is excluded (and dealt with: warned, tombstoned, or walked for INCLUDE).
  bool skip_excluded(const fs::Dir& dir, uint32_t parent, const std::string& name, uint32_t child, bool outside);
  // An excluded directory with INCLUDE patterns: walked for what they match; it is recorded
  // only if something below it is.
  void visit_excluded_dir(const fs::Dir& dir, uint32_t parent, const std::string& name, uint32_t child,
                          const fs::Stat& st);
  void not_backed_up(const char* what, const Error& e);

  catalog::Catalog& cat_;
  const Options& o_;
  uint32_t backup_;
  uint32_t old_entries_;
  Result& r_;
  std::string path_;
  std::vector<std::unique_ptr<RE2>> excludes_, includes_;
  std::set<std::pair<uint64_t, uint64_t>> ancestors_;
  struct Own {
    std::string what, path;
    bool warned = false;
  };
  std::map<std::pair<uint64_t, uint64_t>, Own> own_;  // (dev, inode) of o.own_dirs
  size_t inside_from_ = 0;                            // where the path below the folder starts in path_
  uint64_t kept_ = 0;                                 // names recorded (to tell whether an excluded dir holds any)
};

}  // namespace seshat::backup
