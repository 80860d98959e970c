#include "seshat/session/browse.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <numeric>

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
    case Type::kFifo:
      return EntryRow::Kind::kFifo;
    case Type::kCharDev:
      return EntryRow::Kind::kCharDev;
    case Type::kBlockDev:
      return EntryRow::Kind::kBlockDev;
    case Type::kSocket:
      return EntryRow::Kind::kSocket;
    case Type::kFile:
      break;
  }
  return EntryRow::Kind::kFile;
}

// Backup indexes by time (stable: the older index first at equal times).
std::vector<uint32_t> by_time(const catalog::Catalog& c) {
  std::vector<uint32_t> order(c.backups.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return c.backups[a].time_ns < c.backups[b].time_ns; });
  return order;
}

}  // namespace

// Backups are numbered in the order they were recorded (their index + 1): a number never
// changes as backups are added, whatever the clocks of the hosts that made them.
std::string backup_label(int number, int64_t time_ns) { return fmt::format("#{} {}", number, format_listing(time_ns)); }

std::string backup_label(const catalog::Catalog& c, uint32_t backup) {
  return backup_label(static_cast<int>(backup + 1), c.backups[backup].time_ns);
}

// ---------------------------------------------------------------- rows of the catalog

std::vector<BackupRow> Browser::backups(const catalog::Catalog& c) const {
  std::vector<BackupRow> rows;
  auto totals = catalog::backup_totals(c);
  for (uint32_t i = 0; i < c.backups.size(); ++i) {
    const auto& b = c.backups[i];
    const auto& f = c.folders[b.folder];
    if (folder_ && b.folder != *folder_) continue;
    if (host_sel_ && f.host != *host_sel_) continue;
    rows.push_back({i, static_cast<int>(i + 1), c.hosts[f.host].name, f.path, b.time_ns, b.complete, b.files_stored,
                    b.bytes_stored, totals[i].files, totals[i].bytes});
  }
  return rows;
}

std::vector<FolderRow> Browser::folders(const catalog::Catalog& c) const {
  std::vector<FolderRow> rows;
  for (uint32_t i = 0; i < c.folders.size(); ++i) {
    const auto& f = c.folders[i];
    if (host_sel_ && f.host != *host_sel_) continue;
    FolderRow r{i, c.hosts[f.host].name, f.path, 0, std::nullopt, 0, f.automatic};
    for (uint32_t k = 0; k < c.backups.size(); ++k) {
      const auto& b = c.backups[k];
      if (b.folder != i) continue;
      ++r.backups;
      if (static_cast<int>(k + 1) > r.last_number) {
        r.last_number = static_cast<int>(k + 1);
        r.last_ns = b.time_ns;
      }
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

std::optional<uint32_t> Browser::scope_host(const catalog::Catalog& c) const {
  return host_sel_ ? host_sel_ : c.find_host(host_);
}

void Browser::clear_time_for_backup() {
  if (!time_) return;
  time_.reset();
  log::info("Restore timestamp cleared: the selected backup is the point in time now");
}

void Browser::set_time(std::optional<int64_t> t) {
  time_ = t;
  if (t && backup_) {
    backup_.reset();
    log::info("Selected backup cleared: the restore timestamp is the point in time now");
  }
}

void Browser::select_backup_number(const catalog::Catalog& c, int n) {
  if (n < 1 || static_cast<size_t>(n) > c.backups.size())
    throw Error(ErrorKind::kInvalidInput,
                fmt::format("there is no backup #{} (LIST BACKUPS shows #1 to #{})", n, c.backups.size()));
  uint32_t b = static_cast<uint32_t>(n - 1);
  backup_ = b;
  folder_ = c.backups[b].folder;
  host_sel_ = c.folders[*folder_].host;
  cwd_.reset();
  picked_.reset();
  clear_time_for_backup();
  log::info("Selected backup {} of {} on host {}", backup_label(c, b), c.folders[*folder_].path,
            c.hosts[*host_sel_].name);
}

void Browser::select_backup_date(const catalog::Catalog& c, const std::string& date) {
  auto t = parse_listing(date, true);
  if (!t) throw Error(ErrorKind::kInvalidInput, "'" + date + "' is not a date of the form dd-MMM-yyyy [HH:MM[:SS]]");
  // This host's backups unless SELECT HOST chose another: a date never picks another
  // machine's backup by accident. Within the selected folder if there is one.
  std::optional<uint32_t> h = scope_host(c);
  if (!h)
    throw Error(ErrorKind::kNotFound, "host " + host_ + " has no backups; SELECT HOST another first (LIST HOSTS)");
  std::optional<uint32_t> best;
  for (uint32_t i : by_time(c)) {
    const auto& b = c.backups[i];
    if (b.time_ns > *t || c.folders[b.folder].host != *h) continue;
    if (folder_ && b.folder != *folder_) continue;
    best = i;
  }
  if (!best)
    throw Error(ErrorKind::kNotFound, "no backup of " + (folder_ ? c.folders[*folder_].path + " on " : "") + "host " +
                                          c.hosts[*h].name + " at or before " + date);
  backup_ = *best;
  folder_ = c.backups[*best].folder;
  host_sel_ = c.folders[*folder_].host;
  cwd_.reset();
  picked_.reset();
  clear_time_for_backup();
  log::info("Selected backup {} of {} on host {}", backup_label(c, *best), c.folders[*folder_].path,
            c.hosts[*host_sel_].name);
}

void Browser::select_folder(const catalog::Catalog& c, const std::string& name) {
  std::string want = name;
  while (want.size() > 1 && want.back() == '/') want.pop_back();
  // This host's folder unless SELECT HOST chose another.
  std::optional<uint32_t> h = scope_host(c);
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
  if (folder_ != matches[0]) {
    cwd_.reset();
    picked_.reset();
  }
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
  if (folder_ != r.folder) {
    cwd_.reset();
    picked_.reset();
  }
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
    cwd_.reset();
    picked_.reset();
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
  time_.reset();
  cwd_.reset();
  picked_.reset();
}

std::string Browser::describe(const catalog::Catalog* c) const {
  if (!c) return "none";
  std::string s;
  if (host_sel_) s += "host " + c->hosts[*host_sel_].name;
  if (folder_) s += (s.empty() ? "" : ", ") + std::string("folder ") + c->folders[*folder_].path;
  if (backup_) s += (s.empty() ? "" : ", ") + std::string("backup ") + backup_label(*c, *backup_);
  return s.empty() ? "none" : s;
}

std::string Browser::describe_point(const catalog::Catalog* c) const {
  if (time_) return "timestamp " + format_listing(*time_) + " (each folder's newest backup at or before it)";
  if (backup_ && c) return "backup " + backup_label(*c, *backup_);
  return "the newest backup of each folder";
}

std::string Browser::point_phrase(const catalog::Catalog& c) const {
  if (time_) return "the restore timestamp " + format_listing(*time_);
  if (backup_) return "the selected backup " + backup_label(c, *backup_);
  return "the newest backup";
}

uint32_t Browser::backup_or_none(const catalog::Catalog& c, uint32_t folder) const {
  if (time_) return catalog::newest_backup(c, folder, *time_).value_or(kNone);
  // The selected backup is a point in time for every folder: the others are seen as of
  // their newest backup at or before it (a BAREMETAL restore after SELECT BACKUP is one
  // moment, not a mix).
  if (backup_ && c.backups[*backup_].folder == folder) return *backup_;
  if (backup_) return catalog::newest_backup(c, folder, c.backups[*backup_].time_ns).value_or(kNone);
  return catalog::newest_backup(c, folder).value_or(kNone);
}

uint32_t Browser::backup_for(const catalog::Catalog& c, uint32_t folder) const {
  uint32_t b = backup_or_none(c, folder);
  if (b != kNone) return b;
  if (time_)
    throw Error(ErrorKind::kNotFound, "no backup of " + c.folders[folder].path +
                                          " at or before the restore timestamp " + format_listing(*time_));
  if (backup_)
    throw Error(ErrorKind::kNotFound, "no backup of " + c.folders[folder].path + " at or before the selected backup " +
                                          backup_label(c, *backup_));
  throw Error(ErrorKind::kNotFound, "no backup of " + c.folders[folder].path);
}

uint32_t Browser::folder(const catalog::Catalog& c) {
  if (folder_) return *folder_;
  std::optional<uint32_t> h = scope_host(c);
  std::vector<uint32_t> mine;
  for (uint32_t i = 0; h && i < c.folders.size(); ++i)
    if (c.folders[i].host == *h && catalog::newest_backup(c, i)) mine.push_back(i);
  if (mine.size() == 1) {
    folder_ = mine[0];
    host_sel_ = *h;
    log::info("Selected folder {} of host {} (the only backed-up folder of that host)", c.folders[mine[0]].path,
              c.hosts[*h].name);
    return *folder_;
  }
  if (mine.empty()) {
    std::string name = h ? c.hosts[*h].name : host_;
    throw Error(ErrorKind::kInvalidInput,
                "host " + name + " has no backed-up folder; SELECT HOST another first (LIST HOSTS shows them)");
  }
  std::string list;
  auto rows = folders(c);
  for (size_t i = 0; i < rows.size(); ++i)
    if (std::find(mine.begin(), mine.end(), rows[i].folder) != mine.end())
      list += fmt::format("{}{} {}", list.empty() ? "" : ", ", i + 1, rows[i].path);
  throw Error(ErrorKind::kInvalidInput,
              fmt::format("host {} has {} backed-up folders: select one first with SELECT FOLDER <number|path> ({})",
                          c.hosts[*h].name, mine.size(), list));
}

uint32_t Browser::cwd(const catalog::Catalog& c) {
  uint32_t f = folder(c);
  if (!cwd_ || *cwd_ >= c.entries.size() || catalog::folder_of(c, *cwd_) != f) cwd_ = c.folders[f].root;
  return *cwd_;
}

std::string Browser::cwd_path(const catalog::Catalog* c) {
  if (!c) return "(no folder selected)";
  if (!folder_) {
    try {
      folder(*c);
    } catch (const Error&) {
      return "(no folder selected)";
    }
  }
  return c->path(cwd(*c));
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
  r.backup_number = static_cast<int>(v.backup + 1);
  r.host = c.hosts[c.folders[c.backups[v.backup].folder].host].name;
  r.deleted_later = deleted_later;
  r.kind = kind_of(v.type);
  r.mode = v.mode;
  r.size = v.size;
  r.mtime_ns = v.mtime_ns;
  r.mtime_sec = c.mtime(version).sec;
  if (const catalog::Extra* x = c.extra(version)) r.rdev = x->rdev;
  if (v.type == Type::kSymlink) r.link_target = std::string(c.symlink_target(v));
  return r;
}

std::vector<EntryRow> Browser::keep(std::vector<EntryRow> rows) {
  last_rows_ = rows;
  return rows;
}

std::vector<EntryRow> Browser::list_files(const catalog::Catalog& c) {
  uint32_t b = backup_for(c, folder(c));
  std::vector<EntryRow> rows;
  for (const auto& r : catalog::children_at(c, cwd(c), b))
    rows.push_back(entry_row(c, r.entry, r.version, std::string(c.name(r.entry))));
  return keep(std::move(rows));
}

std::vector<EntryRow> Browser::list_tree(const catalog::Catalog& c) {
  uint32_t b = backup_for(c, folder(c));
  std::vector<EntryRow> rows;
  for (const auto& r : catalog::tree_at(c, cwd(c), b))
    rows.push_back(entry_row(c, r.entry, r.version, std::string(c.name(r.entry)), r.depth));
  return keep(std::move(rows));
}

std::vector<EntryRow> Browser::list_versions(const catalog::Catalog& c) {
  uint32_t f = folder(c);
  // Versions newer than the point in time (a timestamp or a selected backup) are shown,
  // marked: "what came after" is part of a file's story. None without a point in time.
  uint32_t at = (time_ || backup_) ? backup_or_none(c, f) : kNone;
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
    for (const auto& r : catalog::versions_of(c, e)) {
      EntryRow row = entry_row(c, e, r.version, path);
      row.newer = (time_ || backup_) && (at == kNone || c.versions[r.version].backup > at);
      rows.push_back(std::move(row));
    }
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
  // Each folder in scope as of the point in time: the selected backup, the timestamp, or
  // the newest backup. Nothing newer is found.
  std::vector<std::pair<uint32_t, uint32_t>> folders;
  for (uint32_t f = 0; f < c.folders.size(); ++f) {
    if (folder_ && f != *folder_) continue;
    if (host_sel_ && c.folders[f].host != *host_sel_) continue;
    folders.emplace_back(f, backup_or_none(c, f));
  }
  std::string lowered;
  auto match = [&](std::string_view path) {
    if (regex) return RE2::PartialMatch(path, *re);
    lowered.clear();
    for (char ch : path) lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
    return lowered.find(needle) != std::string::npos;
  };
  std::vector<EntryRow> rows;
  for (const auto& r : catalog::search_at(c, folders, match))
    rows.push_back(entry_row(c, r.entry, r.version, c.path(r.entry), 0, r.deleted_later));
  return keep(std::move(rows));
}

std::vector<EntryRow> Browser::list_changes(const catalog::Catalog& c, int number, uint32_t& backup) {
  if (number > 0) {
    if (static_cast<size_t>(number) > c.backups.size())
      throw Error(ErrorKind::kInvalidInput,
                  fmt::format("there is no backup #{} (LIST BACKUPS shows #1 to #{})", number, c.backups.size()));
    backup = static_cast<uint32_t>(number - 1);
  } else if (backup_) {
    backup = *backup_;
  } else {
    // The newest backup in scope: of the selected folder, else of the selected host (or this one).
    std::optional<uint32_t> h = scope_host(c);
    std::optional<uint32_t> best;
    for (uint32_t i : by_time(c)) {
      const auto& b = c.backups[i];
      if (time_ && b.time_ns > *time_) break;  // as of the restore timestamp
      if (folder_ ? b.folder == *folder_ : (h && c.folders[b.folder].host == *h)) best = i;
    }
    if (!best)
      throw Error(ErrorKind::kNotFound, "no backup of " + (folder_ ? c.folders[*folder_].path + " on " : "") + "host " +
                                            (h ? c.hosts[*h].name : host_) + " (LIST BACKUPS shows them)");
    backup = *best;
  }
  std::vector<EntryRow> rows;
  for (const auto& ch : catalog::changes_in(c, backup)) {
    EntryRow r = entry_row(c, ch.entry, ch.version, c.path(ch.entry));
    if (ch.kind == catalog::Change::kDeleted && c.versions[ch.version].type == Type::kDir) {
      // Restored as it was in the folder's backup before this one (its last before the deletion).
      for (uint32_t k = backup; k-- > 0;)
        if (c.backups[k].folder == c.backups[backup].folder) {
          r.as_of = k;
          break;
        }
    }
    r.change = ch.kind == catalog::Change::kAdded     ? EntryRow::Change::kAdded
               : ch.kind == catalog::Change::kChanged ? EntryRow::Change::kChanged
                                                      : EntryRow::Change::kDeleted;
    rows.push_back(std::move(r));
  }
  return keep(std::move(rows));
}

std::string Browser::cd(const catalog::Catalog& c, const std::string& where) {
  uint32_t f = folder(c);
  const uint32_t root = c.folders[f].root;
  const std::string& top = c.folders[f].path;
  uint32_t at = cwd(c);
  std::string rest = where;
  if (!where.empty() && where[0] == '/') {
    // An absolute path: inside the folder's own path, else below the top of the folder.
    at = root;
    if (top == "/") {
      rest = where;
    } else if (where == top || where.starts_with(top + "/")) {
      rest = where.substr(top.size());
    }
  }
  uint32_t b = backup_for(c, f);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t slash = rest.find('/', pos);
    if (slash == std::string::npos) slash = rest.size();
    std::string name = rest.substr(pos, slash - pos);
    pos = slash + 1;
    if (name.empty() || name == ".") continue;
    if (name == "..") {
      if (at != root) at = c.entries[at].parent;
      continue;
    }
    auto [first, last] = c.children(at);
    const uint32_t* it =
        std::lower_bound(first, last, name, [&](uint32_t e, const std::string& n) { return c.name(e) < n; });
    uint32_t v = (it != last && c.name(*it) == name) ? c.version_at(*it, b) : kNone;
    if (v == kNone || c.versions[v].type == Type::kDeleted)
      throw Error(ErrorKind::kNotFound,
                  "no folder " + name + " in " + c.path(at) + " as of backup " + backup_label(c, b));
    if (c.versions[v].type != Type::kDir)
      throw Error(ErrorKind::kInvalidInput, c.path(*it) +
                                                " is a file, not a folder (CD <n> of a listing row picks a "
                                                "file for LIST VERSIONS)");
    at = *it;
  }
  picked_.reset();
  cwd_ = at;
  return c.path(at);
}

std::vector<std::string> Browser::cd_names(const catalog::Catalog& c) const {
  std::vector<std::string> out;
  if (!folder_) return out;
  uint32_t at = cwd_ && *cwd_ < c.entries.size() ? *cwd_ : c.folders[*folder_].root;
  uint32_t b = backup_or_none(c, *folder_);
  if (b == kNone) return out;
  for (const auto& r : catalog::children_at(c, at, b))
    if (c.versions[r.version].type == Type::kDir) out.push_back(std::string(c.name(r.entry)) + "/");
  return out;
}

const EntryRow& Browser::row(int n) const {
  if (n < 1 || static_cast<size_t>(n) > last_rows_.size()) throw no_row(n, last_rows_.size());
  return last_rows_[static_cast<size_t>(n - 1)];
}

std::string Browser::cd_number(const catalog::Catalog& c, int n) {
  const EntryRow r = row(n);
  uint32_t f = catalog::folder_of(c, r.entry);
  if (f != folder_) {
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
