#include "seshat/catalog/query.h"

#include <algorithm>
#include <string>
#include <utility>

#include "seshat/util/error.h"

namespace seshat::catalog {

std::vector<Row> children_at(const Catalog& c, uint32_t dir, uint32_t backup) {
  std::vector<Row> rows;
  auto [first, last] = c.children(dir);
  for (const uint32_t* it = first; it != last; ++it) {
    uint32_t v = c.version_at(*it, backup);
    if (v == kNone || c.versions[v].type == Type::kDeleted) continue;
    rows.push_back({*it, v, 0, false});
  }
  return rows;
}

std::vector<Row> tree_at(const Catalog& c, uint32_t dir, uint32_t backup) {
  std::vector<Row> rows;
  std::vector<std::pair<uint32_t, int>> stack{{dir, 0}};
  while (!stack.empty()) {
    auto [e, depth] = stack.back();
    stack.pop_back();
    uint32_t v = c.version_at(e, backup);
    if (v == kNone || c.versions[v].type == Type::kDeleted) continue;
    if (e != dir) rows.push_back({e, v, depth - 1, false});
    if (c.versions[v].type != Type::kDir) continue;
    auto [first, last] = c.children(e);
    for (const uint32_t* it = last; it != first;) stack.push_back({*--it, depth + 1});
  }
  return rows;
}

std::vector<Row> versions_of(const Catalog& c, uint32_t entry) {
  std::vector<Row> rows;
  for (uint32_t v = c.entries[entry].latest; v != kNone; v = c.versions[v].prev) rows.push_back({entry, v, 0, false});
  return rows;
}

bool ever_file(const Catalog& c, uint32_t entry) {
  for (uint32_t v = c.entries[entry].latest; v != kNone; v = c.versions[v].prev)
    if (is_leaf(c.versions[v].type)) return true;
  return false;
}

std::vector<Row> search_at(const Catalog& c, const std::vector<std::pair<uint32_t, uint32_t>>& folder_backups,
                           const std::function<bool(std::string_view path)>& match) {
  std::vector<Row> rows;
  for (auto [f, at] : folder_backups) {
    if (at == kNone) continue;
    std::vector<std::pair<uint32_t, std::string>> stack{{c.folders[f].root, c.folders[f].path}};
    while (!stack.empty()) {
      auto [e, path] = std::move(stack.back());
      stack.pop_back();
      auto [first, last] = c.children(e);
      for (const uint32_t* it = last; it != first;) {
        --it;
        std::string_view name = c.name(*it);
        stack.push_back({*it, path == "/" ? "/" + std::string(name) : path + "/" + std::string(name)});
      }
      uint32_t then = c.version_at(e, at);
      if (then == kNone || !match(path)) continue;
      bool deleted = c.versions[then].type == Type::kDeleted;
      for (uint32_t v = then; v != kNone; v = c.versions[v].prev) {
        Type t = c.versions[v].type;
        if (is_leaf(t)) rows.push_back({e, v, 0, deleted});
      }
    }
  }
  return rows;
}

namespace {
bool is_file(Type t) { return is_leaf(t); }
}  // namespace

std::vector<BackupTotals> backup_totals(const Catalog& c) {
  // Deltas per backup, then running sums along each folder's backups in index order (the
  // order version_at reads them in).
  std::vector<int64_t> dfiles(c.backups.size(), 0), dbytes(c.backups.size(), 0);
  for (const Version& v : c.versions) {
    if (v.backup >= c.backups.size()) continue;
    const Version* p = v.prev == kNone ? nullptr : &c.versions[v.prev];
    bool was = p && is_file(p->type), is = is_file(v.type);
    if (was) {
      dfiles[v.backup] -= 1;
      dbytes[v.backup] -= static_cast<int64_t>(p->type == Type::kFile ? p->size : 0);
    }
    if (is) {
      dfiles[v.backup] += 1;
      dbytes[v.backup] += static_cast<int64_t>(v.type == Type::kFile ? v.size : 0);
    }
  }
  std::vector<BackupTotals> out(c.backups.size());
  std::vector<std::pair<int64_t, int64_t>> running(c.folders.size(), {0, 0});
  for (uint32_t b = 0; b < c.backups.size(); ++b) {
    auto& r = running[c.backups[b].folder];
    r.first += dfiles[b];
    r.second += dbytes[b];
    out[b] = {static_cast<uint64_t>(std::max<int64_t>(r.first, 0)),
              static_cast<uint64_t>(std::max<int64_t>(r.second, 0))};
  }
  return out;
}

std::vector<Change> changes_in(const Catalog& c, uint32_t backup) {
  std::vector<Change> out;
  uint32_t f = c.backups.at(backup).folder;
  std::vector<uint32_t> stack{c.folders[f].root};
  while (!stack.empty()) {
    uint32_t e = stack.back();
    stack.pop_back();
    auto [first, last] = c.children(e);
    for (const uint32_t* it = last; it != first;) stack.push_back(*--it);
    if (e == c.folders[f].root) continue;
    uint32_t v = c.version_at(e, backup);
    if (v == kNone || c.versions[v].backup != backup) continue;
    const Version& now = c.versions[v];
    uint32_t p = now.prev;
    Type before = p == kNone ? Type::kDeleted : c.versions[p].type;
    if (now.type == Type::kDeleted) {
      if (before != Type::kDeleted) out.push_back({Change::kDeleted, e, p});
    } else if (now.type == Type::kDir) {
      if (before != Type::kDir) out.push_back({Change::kAdded, e, v});
    } else {
      out.push_back({is_file(before) ? Change::kChanged : Change::kAdded, e, v});
    }
  }
  return out;
}

uint32_t folder_of(const Catalog& c, uint32_t entry) {
  uint32_t e = entry;
  while (c.entries[e].parent != kNone) e = c.entries[e].parent;
  for (uint32_t i = 0; i < c.folders.size(); ++i)
    if (c.folders[i].root == e) return i;
  throw Error(ErrorKind::kCorruption, "catalog entry without a folder");
}

std::optional<uint32_t> newest_backup(const Catalog& c, uint32_t folder, std::optional<int64_t> at_or_before) {
  std::optional<uint32_t> best;
  for (uint32_t i = 0; i < c.backups.size(); ++i) {
    const Backup& b = c.backups[i];
    if (b.folder != folder || (at_or_before && b.time_ns > *at_or_before)) continue;
    if (!best || b.time_ns >= c.backups[*best].time_ns) best = i;
  }
  return best;
}

}  // namespace seshat::catalog
