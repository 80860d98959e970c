// What RESTORE ADD selected, and where it goes (RESTORE TARGET): resolved against a catalog
// and the browsing state into the items a restore writes. Not thread-safe.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/restore/restore.h"
#include "seshat/session/browse.h"

namespace seshat::session {

class RestorePlan {
 public:
  void reset();  // selections and target
  void reset_selections();
  // Each logs what it added; Error(kInvalidInput) when there is nothing to add.
  void add_tree(const catalog::Catalog& c, Browser& b);
  void add_folder(const catalog::Catalog& c, Browser& b);
  void add_row(const catalog::Catalog& c, const Browser& b, int n);  // a row of the last listing
  void add_all_rows(const catalog::Catalog& c, const Browser& b);
  // Every folder of the selected host, else of `this_host`. With a restore timestamp, the
  // folders without a backup at or before it are left out with a WARN when the plan is
  // resolved (the others are restored).
  void add_baremetal(const catalog::Catalog& c, const Browser& b, const std::string& this_host);
  std::vector<std::string> describe(const catalog::Catalog& c) const;  // LIST SELECTED
  void set_target(const std::string& dir);                             // "" = ORIGINAL
  const std::string& target() const { return target_; }
  size_t size() const { return set_.size(); }
  // The items to restore, parents before children; a later selection of a path wins.
  // report: log which backup each tree comes from and WARN for left-out folders (once per
  // restore, not when only counting).
  std::vector<restore::Item> resolve(const catalog::Catalog& c, const Browser& b, bool report = true) const;

 private:
  struct Selection {
    enum Kind { kTree, kFolderFiles, kVersion } kind;
    uint32_t folder;
    uint32_t entry;    // subtree root, folder, or file
    uint32_t version;  // kVersion only
    bool baremetal = false;
    uint32_t at = catalog::kNone;  // kTree: as of this backup rather than the point in time
  };
  std::vector<Selection> set_;
  std::string target_;
};

}  // namespace seshat::session
