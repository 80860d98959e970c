#include "seshat/session/browse.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "seshat/catalog/query.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::session {

using catalog::kNone;
using catalog::Type;

namespace {

Error no_row(int n, size_t rows) {
  return Error(ErrorKind::kInvalidInput, fmt::format("there is no row {} in the last listing ({} rows)", n, rows));
}

EntryRow::Kind kind_of(Type t) {
  switch (t) {
    case Type::kDir:
      return EntryRow::Kind::kDir;
    case Type::kSymlink:
      return EntryRow::Kind::kSymlink;
    case Type::kDeleted:
      return EntryRow::Kind::kDeleted;
    case Type::kFile:
      break;
  }
  return EntryRow::Kind::kFile;
}

}  // namespace

// ---------------------------------------------------------------- rows of the catalog

std::vector<BackupRow> Browser::backups(const catalog::Catalog& c) const {
  std::vector<BackupRow> rows;
  for (uint32_t i = 0; i < c.backups.size(); ++i) {
    const auto& b = c.backups[i];
    const auto& f = c.folders[b.folder];
    if (folder_ && b.folder != *folder_) continue;
    if (host_sel_ && f.host != *host_sel_) continue;
    rows.push_back({i, c.hosts[f.host].name, f.path, b.time_ns, b.complete, b.files_stored, b.bytes_stored});
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const BackupRow& a, const BackupRow& b) { return a.time_ns < b.time_ns; });
  return rows;
}

std::vector<FolderRow> Browser::folders(const catalog::Catalog& c) const {
  std::vector<FolderRow> rows;
  for (uint32_t i = 0; i < c.folders.size(); ++i) {
    const auto& f = c.folders[i];
    if (host_sel_ && f.host != *host_sel_) continue;
    FolderRow r{i, c.hosts[f.host].name, f.path, 0, std::nullopt, f.automatic};
    for (const auto& b : c.backups)
      if (b.folder == i) {
        ++r.backups;
        r.last_ns = std::max(r.last_ns.value_or(b.time_ns), b.time_ns);
      }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<HostRow> Browser::hosts(const catalog::Catalog& c) const {
  std::vector<HostRow> rows;
  for (uint32_t i = 0; i < c.hosts.size(); ++i) {
    size_t n = 0;
    for (const auto& f : c.folders) n += f.host == i;
    rows.push_back({i, c.hosts[i].name, n});
  }
  return rows;
}

// ---------------------------------------------------------------- selecting

void Browser::select_backup_number(const catalog::Catalog& c, int n) {
  auto rows = backups(c);
  if (n < 1 || static_cast<size_t>(n) > rows.size())
    throw Error(ErrorKind::kInvalidInput,
                fmt::format("there is no backup number {} (LIST BACKUPS shows {})", n, rows.size()));
  const auto& r = rows[static_cast<size_t>(n - 1)];
  backup_ = r.backup;
  folder_ = c.backups[r.backup].folder;
  host_sel_ = c.folders[*folder_].host;
  log::info("Selected backup {} of {} on {} at {}", n, r.folder, r.host, format_listing(r.time_ns));
}

void Browser::select_backup_date(const catalog::Catalog& c, const std::string& date) {
  auto t = parse_listing(date, true);
  if (!t) throw Error(ErrorKind::kInvalidInput, "'" + date + "' is not a date of the form dd-MMM-yyyy [HH:MM[:SS]]");
  // This host's backups unless SELECT HOST chose another: a date never picks another
  // machine's backup by accident.
  std::optional<uint32_t> h = host_sel_ ? host_sel_ : c.find_host(host_);
  if (!h)
    throw Error(ErrorKind::kNotFound, "host " + host_ + " has no backups; SELECT HOST another first (LIST HOSTS)");
  auto rows = backups(c);
  const BackupRow* best = nullptr;
  for (const auto& r : rows)
    if (r.time_ns <= *t && c.folders[c.backups[r.backup].folder].host == *h) best = &r;
  if (!best) throw Error(ErrorKind::kNotFound, "no backup of host " + c.hosts[*h].name + " at or before " + date);
  backup_ = best->backup;
  folder_ = c.backups[best->backup].folder;
  host_sel_ = c.folders[*folder_].host;
  log::info("Selected the backup of {} on {} at {}", best->folder, best->host, format_listing(best->time_ns));
}

void Browser::select_folder(const catalog::Catalog& c, const std::string& name) {
  std::string want = name;
  while (want.size() > 1 && want.back() == '/') want.pop_back();
  // This host's folder unless SELECT HOST chose another.
  std::optional<uint32_t> h = host_sel_ ? host_sel_ : c.find_host(host_);
  std::vector<uint32_t> matches;
  std::string elsewhere;
  for (uint32_t i = 0; i < c.folders.size(); ++i) {
    if (c.folders[i].path != want) continue;
    if (h && c.folders[i].host == *h)
      matches.push_back(i);
    else
      elsewhere += (elsewhere.empty() ? "" : ", ") + c.hosts[c.folders[i].host].name;
  }
  if (matches.empty() && !elsewhere.empty())
    throw Error(ErrorKind::kNotFound, "no backed-up folder " + name + " on host " + (h ? c.hosts[*h].name : host_) +
                                          "; it has backups on " + elsewhere + " (SELECT HOST <name> first)");
  if (matches.empty()) throw Error(ErrorKind::kNotFound, "no backed-up folder " + name + " (LIST FOLDERS shows them)");
  folder_ = matches[0];
  host_sel_ = c.folders[matches[0]].host;
  if (backup_ && c.backups[*backup_].folder != *folder_) backup_.reset();
  log::info("Selected folder {} of host {}", want, c.hosts[*host_sel_].name);
}

void Browser::select_folder_number(const catalog::Catalog& c, int n) {
  auto rows = folders(c);
  if (n < 1 || static_cast<size_t>(n) > rows.size())
    throw Error(ErrorKind::kInvalidInput,
                fmt::format("there is no folder number {} (LIST FOLDERS shows {})", n, rows.size()));
  const FolderRow& r = rows[static_cast<size_t>(n - 1)];
  folder_ = r.folder;
  host_sel_ = c.folders[*folder_].host;
  if (backup_ && c.backups[*backup_].folder != *folder_) backup_.reset();
  log::info("Selected folder {} of host {}", r.path, r.host);
}

void Browser::select_host(const catalog::Catalog& c, const std::string& name) {
  auto h = c.find_host(name);
  if (!h) throw Error(ErrorKind::kNotFound, "no host " + name + " in the DB (LIST HOSTS shows them)");
  if (host_sel_ != h) {
    folder_.reset();
    backup_.reset();
  }
  host_sel_ = *h;
  log::info("Selected host {}", name);
}

void Browser::select_host_number(const catalog::Catalog& c, int n) {
  auto rows = hosts(c);
  if (n < 1 || static_cast<size_t>(n) > rows.size())
    throw Error(ErrorKind::kInvalidInput,
                fmt::format("there is no host number {} (LIST HOSTS shows {})", n, rows.size()));
  select_host(c, rows[static_cast<size_t>(n - 1)].name);
}

void Browser::reset() {
  host_sel_.reset();
  folder_.reset();
  backup_.reset();
  cwd_.reset();
  picked_.reset();
}

std::string Browser::describe(const catalog::Catalog* c) const {
  if (!c) return "none";
  std::string s;
  if (host_sel_) s += "host " + c->hosts[*host_sel_].name;
  if (folder_) s += (s.empty() ? "" : ", ") + std::string("folder ") + c->folders[*folder_].path;
  if (backup_) s += (s.empty() ? "" : ", ") + std::string("backup of ") + format_listing(c->backups[*backup_].time_ns);
  return s.empty() ? "none" : s;
}

uint32_t Browser::backup_for(const catalog::Catalog& c, uint32_t folder) const {
  if (time_) {
    auto b = catalog::newest_backup(c, folder, *time_);
    if (!b)
      throw Error(ErrorKind::kNotFound,
                  "no backup of " + c.folders[folder].path + " at or before the restore timestamp");
    return *b;
  }
  if (backup_ && c.backups[*backup_].folder == folder) return *backup_;
  auto b = catalog::newest_backup(c, folder);
  if (!b) throw Error(ErrorKind::kNotFound, "no backup of " + c.folders[folder].path);
  return *b;
}

uint32_t Browser::require_folder() const {
  if (!folder_) throw Error(ErrorKind::kInvalidInput, "select a folder first (SELECT FOLDER or SELECT BACKUP)");
  return *folder_;
}

uint32_t Browser::cwd(const catalog::Catalog& c) {
  uint32_t f = require_folder();
  if (!cwd_ || *cwd_ >= c.entries.size() || catalog::folder_of(c, *cwd_) != f) cwd_ = c.folders[f].root;
  return *cwd_;
}

std::string Browser::cwd_path(const catalog::Catalog* c) {
  return c && folder_ ? c->path(cwd(*c)) : "(no folder selected)";
}

// ---------------------------------------------------------------- listings

EntryRow Browser::entry_row(const catalog::Catalog& c, uint32_t entry, uint32_t version, std::string path, int depth,
                            bool deleted_later) const {
  const catalog::Version& v = c.versions[version];
  EntryRow r;
  r.entry = entry;
  r.version = version;
  r.path = std::move(path);
  r.depth = depth;
  r.backup_ns = c.backups[v.backup].time_ns;
  r.deleted_later = deleted_later;
  r.kind = kind_of(v.type);
  r.mode = v.mode;
  r.size = v.size;
  r.mtime_ns = v.mtime_ns;
  if (v.type == Type::kSymlink) r.link_target = std::string(c.symlink_target(v));
  return r;
}

std::vector<EntryRow> Browser::keep(std::vector<EntryRow> rows) {
  last_rows_ = rows;
  return rows;
}

std::vector<EntryRow> Browser::list_files(const catalog::Catalog& c) {
  uint32_t b = backup_for(c, require_folder());
  std::vector<EntryRow> rows;
  for (const auto& r : catalog::children_at(c, cwd(c), b))
    rows.push_back(entry_row(c, r.entry, r.version, std::string(c.name(r.entry))));
  return keep(std::move(rows));
}

std::vector<EntryRow> Browser::list_tree(const catalog::Catalog& c) {
  uint32_t b = backup_for(c, require_folder());
  std::vector<EntryRow> rows;
  for (const auto& r : catalog::tree_at(c, cwd(c), b))
    rows.push_back(entry_row(c, r.entry, r.version, std::string(c.name(r.entry)), r.depth));
  return keep(std::move(rows));
}

std::vector<EntryRow> Browser::list_versions(const catalog::Catalog& c) {
  uint32_t f = require_folder();
  std::vector<uint32_t> entries;
  if (picked_ && *picked_ < c.entries.size() && catalog::folder_of(c, *picked_) == f) {
    entries.push_back(*picked_);
  } else {
    auto [first, last] = c.children(cwd(c));
    for (const uint32_t* it = first; it != last; ++it)
      if (catalog::ever_file(c, *it)) entries.push_back(*it);
  }
  std::vector<EntryRow> rows;
  for (uint32_t e : entries) {
    std::string path = c.path(e);
    for (const auto& r : catalog::versions_of(c, e)) rows.push_back(entry_row(c, e, r.version, path));
  }
  return keep(std::move(rows));
}

std::vector<EntryRow> Browser::search(const catalog::Catalog& c, const std::string& pattern, bool regex) {
  std::unique_ptr<RE2> re;
  std::string needle;
  if (regex) {
    re = std::make_unique<RE2>(pattern, RE2::Quiet);
    if (!re->ok()) throw Error(ErrorKind::kInvalidInput, "bad regular expression '" + pattern + "': " + re->error());
  } else {
    for (char ch : pattern) needle.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  }
  std::vector<uint32_t> folders;
  for (uint32_t f = 0; f < c.folders.size(); ++f) {
    if (folder_ && f != *folder_) continue;
    if (host_sel_ && c.folders[f].host != *host_sel_) continue;
    folders.push_back(f);
  }
  std::string lowered;
  auto match = [&](std::string_view path) {
    if (regex) return RE2::PartialMatch(path, *re);
    lowered.clear();
    for (char ch : path) lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    return lowered.find(needle) != std::string::npos;
  };
  std::vector<EntryRow> rows;
  for (const auto& r : catalog::search(c, folders, match))
    rows.push_back(entry_row(c, r.entry, r.version, c.path(r.entry), 0, r.deleted_later));
  return keep(std::move(rows));
}

std::string Browser::cd(const catalog::Catalog& c, const std::string& where) {
  uint32_t f = require_folder();
  uint32_t here = cwd(c);
  picked_.reset();
  if (where == "/") {
    cwd_ = c.folders[f].root;
  } else if (where == "..") {
    if (here != c.folders[f].root) cwd_ = c.entries[here].parent;
  } else {
    uint32_t b = backup_for(c, f);
    auto [first, last] = c.children(here);
    const uint32_t* it =
        std::lower_bound(first, last, where, [&](uint32_t e, const std::string& n) { return c.name(e) < n; });
    if (it == last || c.name(*it) != where)
      throw Error(ErrorKind::kNotFound, "no folder " + where + " in " + c.path(here));
    uint32_t v = c.version_at(*it, b);
    if (v == kNone || c.versions[v].type != Type::kDir)
      throw Error(ErrorKind::kInvalidInput, where + " is not a folder in this backup");
    cwd_ = *it;
  }
  return c.path(*cwd_);
}

const EntryRow& Browser::row(int n) const {
  if (n < 1 || static_cast<size_t>(n) > last_rows_.size()) throw no_row(n, last_rows_.size());
  return last_rows_[static_cast<size_t>(n - 1)];
}

std::string Browser::cd_number(const catalog::Catalog& c, int n) {
  require_folder();
  const EntryRow r = row(n);
  uint32_t f = catalog::folder_of(c, r.entry);
  if (f != *folder_) {
    folder_ = f;
    host_sel_ = c.folders[f].host;
    backup_.reset();
  }
  if (r.version != kNone && c.versions[r.version].type == Type::kDir) {
    cwd_ = r.entry;
    picked_.reset();
    return c.path(r.entry);
  }
  picked_ = r.entry;
  cwd_ = c.entries[r.entry].parent;
  return c.path(r.entry);
}

}  // namespace seshat::session
