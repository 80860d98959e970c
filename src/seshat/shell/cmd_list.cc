// LIST ..., SEARCH, MEMSTATS: the rows the session gives, numbered.
#include <fmt/format.h>
#include <sys/sysmacros.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/printable.h"
#include "seshat/util/time.h"

namespace seshat::shell {
namespace {

using session::EntryRow;
using session::Session;

// LIST <n>: the row limit (-1: all). LIST 0 is refused rather than printing nothing.
int limit_of(const Context& c) {
  if (c.args.empty()) return -1;
  int n = std::stoi(c.args[0]);
  if (n < 1)
    throw Error(ErrorKind::kInvalidInput,
                "LIST 0 would show nothing: give the number of rows to show (1 or more), or none for all");
  return n;
}

// The word after LIST (and its number) that names this listing, for "LIST ALL BACKUPS".
struct Listing {
  const char* name;          // "BACKUPS"
  bool newest_last = false;  // rows are oldest first: a limit shows the last (newest) rows
};

using Json = nlohmann::json;

// Rows are printed numbered as in the whole listing; a limit keeps the first rows (the
// newest where rows are in time order) and says how many there are. Under SET OUTPUT JSON
// each row is one JSON line (doc/json.md) with its "type" and "number" instead.
template <typename Rows, typename Num, typename Fn, typename ToJson>
void numbered_as(const Context& c, const Rows& rows, int limit, const Listing& l, Num number, Fn line, const char* type,
                 ToJson to_json) {
  const size_t total = rows.size();
  const size_t shown = limit < 0 ? total : std::min(total, static_cast<size_t>(limit));
  const size_t from = l.newest_last ? total - shown : 0;
  if (json_output(c)) {
    for (size_t i = from; i < from + shown; ++i) {
      Json j = to_json(rows[i]);
      j["type"] = type;
      j["number"] = number(rows[i], i);
      log::json(j);
    }
    return;
  }
  for (size_t i = from; i < from + shown; ++i) out(fmt::format("{:>4}  {}", number(rows[i], i), line(rows[i])));
  if (rows.empty()) out("  (none)");
  if (shown < total)
    out(fmt::format("  ({} of {}{}; LIST ALL {} for all)", shown, total, l.newest_last ? ", the newest" : "", l.name));
}

template <typename Rows, typename Fn, typename ToJson>
void numbered(const Context& c, const Rows& rows, int limit, const Listing& l, Fn line, const char* type,
              ToJson to_json) {
  numbered_as(
      c, rows, limit, l, [](const auto&, size_t i) { return static_cast<int>(i + 1); }, line, type, to_json);
}

std::string mode_string(const EntryRow& r) {
  std::string s = r.kind == EntryRow::Kind::kDir        ? "d"
                  : r.kind == EntryRow::Kind::kSymlink  ? "l"
                  : r.kind == EntryRow::Kind::kDeleted  ? "x"
                  : r.kind == EntryRow::Kind::kFifo     ? "p"
                  : r.kind == EntryRow::Kind::kCharDev  ? "c"
                  : r.kind == EntryRow::Kind::kBlockDev ? "b"
                  : r.kind == EntryRow::Kind::kSocket   ? "s"
                                                        : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s.push_back((r.mode & (0400u >> i)) ? rwx[i] : '-');
  // setuid, setgid and sticky as ls shows them: s/t over x, S/T where x is not set.
  auto special = [&s](size_t at, bool on, char with_x, char without_x) {
    if (on) s[at] = s[at] == 'x' ? with_x : without_x;
  };
  special(3, r.mode & 04000u, 's', 'S');
  special(6, r.mode & 02000u, 's', 'S');
  special(9, r.mode & 01000u, 't', 'T');
  return s;
}

// The size column: a device's numbers (as ls), nothing for a directory or FIFO.
std::string size_column(const EntryRow& r) {
  switch (r.kind) {
    case EntryRow::Kind::kDir:
    case EntryRow::Kind::kFifo:
    case EntryRow::Kind::kSocket:
      return "";
    case EntryRow::Kind::kCharDev:
    case EntryRow::Kind::kBlockDev:
      return fmt::format("{}, {}", major(r.rdev), minor(r.rdev));
    default:
      return human_size(r.size);
  }
}

std::string backup_name(const EntryRow& r) { return session::backup_label(r.backup_number, r.backup_ns); }

// versions: the backup of each row is named; search: the host too.
std::string entry_line(const EntryRow& r, bool versions, bool search = false) {
  std::string where = search ? "  host " + r.host : "";
  if (r.kind == EntryRow::Kind::kDeleted)
    return fmt::format("{}  deleted in backup {}{}{}", r.path, backup_name(r), where,
                       r.newer ? "  (newer than the point in time)" : "");
  std::string name = std::string(r.depth * 2, ' ') + r.path;
  if (r.kind == EntryRow::Kind::kDir) name += "/";
  if (r.kind == EntryRow::Kind::kSymlink) name += " -> " + r.link_target;
  std::string when = versions ? "  backup " + backup_name(r) : "";
  return fmt::format("{} {:>9}  {}  {}{}{}{}{}", mode_string(r), size_column(r), format_listing_sec(r.mtime_sec), name,
                     when, where, r.deleted_later ? "  (deleted since)" : "",
                     r.newer ? "  (newer than the point in time)" : "");
}

const char* kind_name(EntryRow::Kind k) {
  switch (k) {
    case EntryRow::Kind::kFile:
      return "file";
    case EntryRow::Kind::kDir:
      return "dir";
    case EntryRow::Kind::kSymlink:
      return "symlink";
    case EntryRow::Kind::kDeleted:
      return "deleted";
    case EntryRow::Kind::kFifo:
      return "fifo";
    case EntryRow::Kind::kCharDev:
      return "chardev";
    case EntryRow::Kind::kBlockDev:
      return "blockdev";
    case EntryRow::Kind::kSocket:
      return "socket";
  }
  return "file";
}

// One entry row as JSON (doc/json.md "entry").
Json entry_json(const EntryRow& r) {
  Json j;
  j["kind"] = kind_name(r.kind);
  log::put_text(j, "path", r.path);
  if (r.backup_number) {
    j["backup"] = r.backup_number;
    j["backup_time_ns"] = r.backup_ns;
  }
  if (!r.host.empty()) log::put_text(j, "host", r.host);
  if (r.kind != EntryRow::Kind::kDeleted) {
    j["mode"] = r.mode;
    j["mode_text"] = mode_string(r);
    j["size"] = r.size;
    j["mtime_sec"] = r.mtime_sec;
    int64_t nsec = r.mtime_ns - r.mtime_sec * 1'000'000'000;
    j["mtime_nsec"] = nsec >= 0 && nsec < 1'000'000'000 ? nsec : 0;
  }
  if (r.kind == EntryRow::Kind::kCharDev || r.kind == EntryRow::Kind::kBlockDev) {
    j["rdev_major"] = major(r.rdev);
    j["rdev_minor"] = minor(r.rdev);
  }
  if (r.kind == EntryRow::Kind::kSymlink) log::put_text(j, "target", r.link_target);
  if (r.depth) j["depth"] = r.depth;
  if (r.deleted_later) j["deleted_later"] = true;
  if (r.newer) j["newer"] = true;
  return j;
}

Action list_rows(std::function<std::vector<EntryRow>(Session&)> fn, bool versions, Listing l) {
  return [fn, versions, l](Context& c) {
    int limit = limit_of(c);
    numbered(
        c, fn(c.session), limit, l, [versions](const EntryRow& r) { return entry_line(r, versions); }, "entry",
        entry_json);
    return 0;
  };
}

int list_backups(Context& c) {
  int limit = limit_of(c);
  auto rows = c.session.backups();
  // Columns as wide as what they hold (a long folder path widens its column).
  size_t host_w = 4, folder_w = 6;
  for (const auto& r : rows) {
    host_w = std::max(host_w, printable(r.host).size());
    folder_w = std::max(folder_w, printable(r.folder).size());
  }
  host_w = std::min<size_t>(host_w, 30);
  folder_w = std::min<size_t>(folder_w, 60);
  if (!rows.empty() && !json_output(c))
    out(fmt::format("{:>4}  {:<20}  {:<{}}  {:<{}}  {:>8}  {:>9}  {:>9}", "#", "Time", "Host", host_w, "Folder",
                    folder_w, "Files", "New data", "Total"));
  numbered_as(
      c, rows, limit, {"BACKUPS", true}, [](const session::BackupRow& r, size_t) { return r.number; },
      [&](const session::BackupRow& r) {
        return fmt::format("{:<20}  {:<{}}  {:<{}}  {:>8}  {:>9}  {:>9}{}", format_listing(r.time_ns), r.host, host_w,
                           r.folder, folder_w, r.files_total, human_size(r.bytes_new), human_size(r.bytes_total),
                           r.complete ? "" : "  (incomplete)");
      },
      "backup",
      [](const session::BackupRow& r) {
        Json j;
        j["time_ns"] = r.time_ns;
        j["time"] = format_iso(r.time_ns);
        log::put_text(j, "host", r.host);
        log::put_text(j, "folder", r.folder);
        j["files"] = r.files_total;
        j["bytes_total"] = r.bytes_total;
        j["files_new"] = r.files_new;
        j["bytes_new"] = r.bytes_new;
        j["complete"] = r.complete;
        return j;
      });
  if (!rows.empty() && !json_output(c))
    out("  Files: files and symlinks in the backup; New data: what it stored that no earlier backup had; Total: the "
        "size of its files");
  return 0;
}

Json folder_json(const session::FolderRow& r) {
  Json j;
  log::put_text(j, "host", r.host);
  log::put_text(j, "path", r.path);
  j["backups"] = r.backups;
  j["last_backup"] = r.last_ns ? Json(r.last_number) : Json(nullptr);
  j["last_time_ns"] = r.last_ns ? Json(*r.last_ns) : Json(nullptr);
  j["automatic"] = r.automatic;
  return j;
}

int list_folders(Context& c) {
  int limit = limit_of(c);
  numbered(
      c, c.session.folders(), limit, {"FOLDERS"},
      [](const session::FolderRow& r) {
        return fmt::format("{:<12} {:<40} {:>11}  last {}{}", r.host, r.path, plural(r.backups, "backup", "backups"),
                           r.last_ns ? session::backup_label(r.last_number, *r.last_ns) : std::string("never"),
                           r.automatic ? "" : "  (not AUTOMATIC)");
      },
      "folder", folder_json);
  return 0;
}

int list_auto(Context& c) {
  int limit = limit_of(c);
  std::vector<session::FolderRow> mine;
  for (auto& r : c.session.folders())
    if (r.host == c.session.host() && r.automatic) mine.push_back(r);
  numbered(
      c, mine, limit, {"AUTO"}, [](const session::FolderRow& r) { return r.path; }, "auto", folder_json);
  return 0;
}

int list_hosts(Context& c) {
  int limit = limit_of(c);
  numbered(
      c, c.session.hosts(), limit, {"HOSTS"},
      [](const session::HostRow& r) {
        return fmt::format("{:<20} {}", r.name, plural(r.folders, "folder", "folders"));
      },
      "host",
      [](const session::HostRow& r) {
        Json j;
        log::put_text(j, "name", r.name);
        j["folders"] = r.folders;
        return j;
      });
  return 0;
}

int list_strings(Context& c, const std::vector<std::string>& rows, const char* name, const char* type) {
  int limit = limit_of(c);
  numbered(
      c, rows, limit, {name}, [](const std::string& r) { return r; }, type,
      [](const std::string& r) {
        Json j;
        log::put_text(j, "path", r);
        return j;
      });
  return 0;
}

// LIST [<limit>] CHANGES [<backup>]: number 0 is the newest backup in scope.
int list_changes(Context& c, int limit, int number) {
  std::string label;
  auto rows = c.session.list_changes(number, label);
  uint64_t added = 0, changed = 0, deleted = 0;
  for (const auto& r : rows) {
    added += r.change == EntryRow::Change::kAdded;
    changed += r.change == EntryRow::Change::kChanged;
    deleted += r.change == EntryRow::Change::kDeleted;
  }
  if (json_output(c)) {
    Json j;
    j["type"] = "changes";
    log::put_text(j, "label", label);
    j["added"] = added;
    j["changed"] = changed;
    j["deleted"] = deleted;
    log::json(j);
  } else {
    out(fmt::format("Changes in backup {}: {} added, {} changed, {} deleted", label, added, changed, deleted));
  }
  auto change_json = [](const EntryRow& r) {
    Json j = entry_json(r);
    j["change"] = r.change == EntryRow::Change::kAdded     ? "added"
                  : r.change == EntryRow::Change::kChanged ? "changed"
                                                           : "deleted";
    return j;
  };
  numbered(
      c, rows, limit, {"CHANGES"},
      [](const EntryRow& r) {
        const char* what = r.change == EntryRow::Change::kAdded     ? "added  "
                           : r.change == EntryRow::Change::kChanged ? "changed"
                                                                    : "deleted";
        std::string name = r.path + (r.kind == EntryRow::Kind::kDir ? "/" : "");
        if (r.kind == EntryRow::Kind::kSymlink) name += " -> " + r.link_target;
        if (r.change == EntryRow::Change::kDeleted)
          return fmt::format("{}  {}  (was {}{})", what, name,
                             r.kind == EntryRow::Kind::kDir ? "a folder" : human_size(r.size),
                             r.kind == EntryRow::Kind::kDir ? "" : ", RESTORE ADD FILE <n> brings it back");
        return fmt::format("{}  {} {:>9}  {}  {}", what, mode_string(r), size_column(r),
                           format_listing_sec(r.mtime_sec), name);
      },
      "change", change_json);
  return 0;
}

Node changes_node() {
  Action newest = [](Context& c) { return list_changes(c, limit_of(c), 0); };
  Action numbered_backup = [](Context& c) {
    int number = std::stoi(c.args.back());
    if (number < 1) throw Error(ErrorKind::kInvalidInput, "backups are numbered from #1 (LIST BACKUPS)");
    Context limited = c;
    limited.args.pop_back();
    return list_changes(c, limit_of(limited), number);
  };
  return kw({"CHANGES"}, "What a backup added, changed and deleted: the newest in scope, or backup <n>", newest,
            {arg(ArgType::kInteger, "The backup's number in LIST BACKUPS", numbered_backup)});
}

std::vector<Node> list_kinds() {
  return {
      kw({"AUTO"}, "Directories that will be backed up using AUTOMATIC", list_auto),
      kw({"BACKUPS"},
         "What backups have been performed: number, time, host, folder, files in it, bytes it stored, total size",
         list_backups),
      changes_node(),
      kw({"DIRECTORIES", "DIRS", "FOLDERS"}, "The directories backed up", list_folders),
      kw({"FILES"}, "Files in the current folder (CD) as of the point in time (SELECT BACKUP, RESTORE TIMESTAMP)",
         list_rows([](Session& s) { return s.list_files(); }, false, {"FILES"})),
      kw({"FOUND"}, "Files found to back up by the last walk of this session",
         [](Context& c) { return list_strings(c, c.session.found(), "FOUND", "found"); }),
      kw({"HOSTS"}, "Hosts in the DB", list_hosts),
      kw({"SELECTED"}, "What RESTORE ADD selected for restoring",
         [](Context& c) { return list_strings(c, c.session.restore_selected(), "SELECTED", "selected"); }),
      kw({"TREE"}, "The tree below the current folder as of the point in time, for restoring",
         list_rows([](Session& s) { return s.list_tree(); }, false, {"TREE"})),
      kw({"VERSIONS"},
         "The versions of the file picked by CD <n>, else of every file in the current folder; versions newer than "
         "the point in time are marked",
         list_rows([](Session& s) { return s.list_versions(); }, true, {"VERSIONS"})),
  };
}

// VmRSS and VmHWM (kB) from one read of /proc/self/status.
std::pair<long, long> rss_and_peak_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  long rss = 0, peak = 0;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) peak = std::stol(line.substr(6));
  }
  return {rss, peak};
}

int memstats(Context& c) {
  // Both from the same source; the peak is never below the current figure.
  auto [rss_kb, hwm_kb] = rss_and_peak_kb();
  long peak_kb = std::max(hwm_kb, rss_kb);
  auto s = c.session.db_size();
  if (json_output(c)) {
    log::json({{"type", "memstats"},
               {"rss_bytes", rss_kb * 1024},
               {"peak_rss_bytes", peak_kb * 1024},
               {"paths", s.entries},
               {"versions", s.versions},
               {"catalog_memory_bytes", s.memory_bytes}});
    return 0;
  }
  out(fmt::format("Resident memory: {}", human_size(static_cast<uint64_t>(rss_kb) * 1024)));
  out(fmt::format("Peak resident memory: {}", human_size(static_cast<uint64_t>(peak_kb) * 1024)));
  out(fmt::format("Catalog: {}, {}, {} in memory", plural(s.entries, "path", "paths"),
                  plural(s.versions, "version", "versions"), human_size(s.memory_bytes)));
  return 0;
}

Action search(bool regex) {
  return [regex](Context& c) {
    numbered(
        c, c.session.search(c.args.at(0), regex), -1, {"SEARCH"},
        [](const EntryRow& r) { return entry_line(r, true, true); }, "entry", entry_json);
    return 0;
  };
}

}  // namespace

std::vector<Node> list_commands() {
  std::vector<Node> kinds = list_kinds();
  kinds.push_back(kw({"ALL"}, "Every row (the default)", nullptr, list_kinds()));
  kinds.push_back(arg(ArgType::kInteger, "The most rows to print (the newest, where rows are in time order)", nullptr,
                      list_kinds()));
  return {
      kw({"LIST"}, "List parts of the DB; a number limits the rows", nullptr, std::move(kinds)),
      kw({"MEMSTATS"}, "Display memory statistics", memstats),
      kw({"SEARCH"},
         "Find files in every version in scope (the selected host or folder, else all) as of the point in time",
         nullptr,
         {kw({"CONTAINS"}, "Paths containing a word (case-insensitive)", nullptr,
             {arg(ArgType::kWord, "The word", search(false))}),
          kw({"REGEX"}, "Paths matching a regular expression (RE2)", nullptr,
             {arg(ArgType::kRegex, "The pattern", search(true))})}),
  };
}

}  // namespace seshat::shell
