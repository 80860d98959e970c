#include "seshat/session/restore_plan.h"

#include <sys/stat.h>

#include <unordered_map>

#include "seshat/catalog/query.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::session {

using catalog::kNone;
using catalog::Type;

void RestorePlan::reset() {
  set_.clear();
  target_.clear();
}

void RestorePlan::reset_selections() {
  set_.clear();
  log::info("Restore selections reset");
}

void RestorePlan::add_tree(const catalog::Catalog& c, Browser& b) {
  uint32_t f = b.folder(c);
  uint32_t e = b.cwd(c);
  set_.push_back({Selection::kTree, f, e, kNone});
  log::info("Added the tree {} to the restore", c.path(e));
}

void RestorePlan::add_folder(const catalog::Catalog& c, Browser& b) {
  uint32_t f = b.folder(c);
  uint32_t e = b.cwd(c);
  set_.push_back({Selection::kFolderFiles, f, e, kNone});
  log::info("Added the files of {} to the restore", c.path(e));
}

void RestorePlan::add_row(const catalog::Catalog& c, const Browser& b, int n) {
  const EntryRow& r = b.row(n);
  if (r.version == kNone || c.versions[r.version].type == Type::kDeleted)
    throw Error(ErrorKind::kInvalidInput, "row " + std::to_string(n) + " is a deletion, not a version to restore");
  uint32_t f = catalog::folder_of(c, r.entry);
  if (c.versions[r.version].type == Type::kDir) {
    set_.push_back({Selection::kTree, f, r.entry, kNone, false, r.as_of});
    if (r.as_of != kNone)
      log::info("Added the tree {} as of backup {} to the restore", c.path(r.entry), backup_label(c, r.as_of));
    else
      log::info("Added the tree {} to the restore", r.path);
  } else {
    set_.push_back({Selection::kVersion, f, r.entry, r.version});
    log::info("Added {} as of backup {} to the restore", c.path(r.entry),
              backup_label(c, c.versions[r.version].backup));
  }
}

void RestorePlan::add_all_rows(const catalog::Catalog& c, const Browser& b) {
  const auto& rows = b.last_rows();
  if (rows.empty())
    throw Error(ErrorKind::kInvalidInput, "nothing listed: use LIST FILES, LIST VERSIONS or SEARCH first");
  size_t added = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].version == kNone || c.versions[rows[i].version].type == Type::kDeleted) continue;
    add_row(c, b, static_cast<int>(i + 1));
    ++added;
  }
  log::info("Added {} rows to the restore", added);
}

void RestorePlan::add_baremetal(const catalog::Catalog& c, const Browser& b, const std::string& this_host) {
  std::optional<uint32_t> h = b.selected_host();
  if (!h) h = c.find_host(this_host);
  if (!h) throw Error(ErrorKind::kNotFound, "host " + this_host + " has no backups; SELECT HOST first");
  size_t n = 0;
  for (uint32_t f = 0; f < c.folders.size(); ++f)
    if (c.folders[f].host == *h && catalog::newest_backup(c, f)) {
      set_.push_back({Selection::kTree, f, c.folders[f].root, kNone, true});
      ++n;
    }
  if (n == 0) throw Error(ErrorKind::kNotFound, "host " + c.hosts[*h].name + " has no backed-up folder");
  log::info("Added every folder of host {} to the restore ({} {})", c.hosts[*h].name, n, n == 1 ? "folder" : "folders");
}

std::vector<std::string> RestorePlan::describe(const catalog::Catalog& c) const {
  std::vector<std::string> out;
  for (const auto& s : set_) {
    switch (s.kind) {
      case Selection::kTree:
        out.push_back("tree    " + c.path(s.entry));
        break;
      case Selection::kFolderFiles:
        out.push_back("files   " + c.path(s.entry) + "/*");
        break;
      case Selection::kVersion:
        out.push_back("file    " + c.path(s.entry) + "  (version of backup " +
                      backup_label(c, c.versions[s.version].backup) + ")");
        break;
    }
  }
  return out;
}

void RestorePlan::set_target(const std::string& dir) {
  if (!dir.empty() && dir[0] != '/')
    throw Error(ErrorKind::kInvalidInput, "RESTORE TARGET needs an absolute directory or ORIGINAL");
  target_ = dir;
  log::info("Restore target is: {}", dir.empty() ? "ORIGINAL" : dir);
}

std::vector<restore::Item> RestorePlan::resolve(const catalog::Catalog& c, const Browser& br, bool report) const {
  if (set_.empty()) throw Error(ErrorKind::kInvalidInput, "nothing to restore: add files with RESTORE ADD first");
  std::vector<restore::Item> items;
  std::unordered_map<uint32_t, size_t> seen;  // entry -> index in items (a later selection wins)
  size_t left_out = 0;
  auto add = [&](uint32_t e, uint32_t v) {
    auto [it, inserted] = seen.emplace(e, items.size());
    if (inserted)
      items.push_back({e, v});
    else
      items[it->second].version = v;
  };
  for (const auto& s : set_) {
    if (s.kind == Selection::kVersion) {
      add(s.entry, s.version);
      continue;
    }
    uint32_t b = s.at != kNone ? s.at : s.baremetal ? br.backup_or_none(c, s.folder) : br.backup_for(c, s.folder);
    if (b == kNone) {
      // BAREMETAL as of a time before this folder's first backup: the others still come back.
      ++left_out;
      if (report)
        log::warn("Not restoring {}: it has no backup at or before {}", c.folders[s.folder].path, br.point_phrase(c));
      continue;
    }
    if (s.kind == Selection::kTree) {
      if (report) log::info("Restoring {} as of backup {}", c.path(s.entry), backup_label(c, b));
      c.for_each_at(s.entry, b, [&](uint32_t e, uint32_t v) { add(e, v); });
    } else {
      for (const auto& r : catalog::children_at(c, s.entry, b)) {
        Type t = c.versions[r.version].type;
        if (catalog::is_leaf(t)) add(r.entry, r.version);
      }
    }
  }
  if (items.empty() && left_out > 0)
    throw Error(ErrorKind::kNotFound,
                "nothing to restore: no selected folder has a backup at or before " + br.point_phrase(c));
  return items;
}

}  // namespace seshat::session
