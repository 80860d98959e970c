// LIST ..., SEARCH, MEMSTATS: the rows the session gives, numbered.
#include <fmt/format.h>
#include <sys/resource.h>

#include <fstream>

#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/util/bytes.h"
#include "seshat/util/time.h"

namespace seshat::shell {
namespace {

using session::EntryRow;
using session::Session;

int limit_of(const Context& c) { return c.args.empty() ? -1 : std::stoi(c.args[0]); }

// Rows are printed numbered; `limit` < 0 prints all.
template <typename Rows, typename Fn>
void numbered(const Rows& rows, int limit, Fn line) {
  int n = 0;
  for (const auto& r : rows) {
    if (limit >= 0 && n >= limit) break;
    ++n;
    out(fmt::format("{:>4}  {}", n, line(r)));
  }
  if (rows.empty()) out("  (none)");
}

std::string mode_string(const EntryRow& r) {
  std::string s = r.kind == EntryRow::Kind::kDir       ? "d"
                  : r.kind == EntryRow::Kind::kSymlink ? "l"
                  : r.kind == EntryRow::Kind::kDeleted ? "x"
                                                       : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s.push_back((r.mode & (0400u >> i)) ? rwx[i] : '-');
  return s;
}

std::string entry_line(const EntryRow& r, bool versions) {
  if (r.kind == EntryRow::Kind::kDeleted)
    return fmt::format("{}  deleted in the backup of {}", r.path, format_listing(r.backup_ns));
  std::string name = std::string(r.depth * 2, ' ') + r.path;
  if (r.kind == EntryRow::Kind::kDir) name += "/";
  if (r.kind == EntryRow::Kind::kSymlink) name += " -> " + r.link_target;
  std::string when = versions ? "  backup " + format_listing(r.backup_ns) : "";
  return fmt::format("{} {:>9}  {}  {}{}{}", mode_string(r), r.kind == EntryRow::Kind::kDir ? "" : human_size(r.size),
                     format_listing(r.mtime_ns), name, when, r.deleted_later ? "  (deleted since)" : "");
}

Action list_rows(std::function<std::vector<EntryRow>(Session&)> fn, bool versions) {
  return [fn, versions](Context& c) {
    numbered(fn(c.session), limit_of(c), [versions](const EntryRow& r) { return entry_line(r, versions); });
    return 0;
  };
}

int list_backups(Context& c) {
  numbered(c.session.backups(), limit_of(c), [](const session::BackupRow& r) {
    return fmt::format("{}  {:<12} {:<30} {:>8} files {:>9}{}", format_listing(r.time_ns), r.host, r.folder, r.files,
                       human_size(r.bytes), r.complete ? "" : "  (incomplete)");
  });
  return 0;
}

int list_folders(Context& c) {
  numbered(c.session.folders(), limit_of(c), [](const session::FolderRow& r) {
    return fmt::format("{:<12} {:<40} {:>3} backups  last {}{}", r.host, r.path, r.backups,
                       r.last_ns ? format_listing(*r.last_ns) : std::string("never"),
                       r.automatic ? "" : "  (not AUTOMATIC)");
  });
  return 0;
}

int list_auto(Context& c) {
  std::vector<session::FolderRow> mine;
  for (auto& r : c.session.folders())
    if (r.host == c.session.host() && r.automatic) mine.push_back(r);
  numbered(mine, limit_of(c), [](const session::FolderRow& r) { return r.path; });
  return 0;
}

int list_hosts(Context& c) {
  numbered(c.session.hosts(), limit_of(c),
           [](const session::HostRow& r) { return fmt::format("{:<20} {} folders", r.name, r.folders); });
  return 0;
}

int list_strings(Context& c, const std::vector<std::string>& rows) {
  numbered(rows, limit_of(c), [](const std::string& r) { return r; });
  return 0;
}

std::vector<Node> list_kinds() {
  return {
      kw({"AUTO"}, "Directories that will be backed up using AUTOMATIC", list_auto),
      kw({"BACKUPS"}, "What backups have been performed", list_backups),
      kw({"DIRECTORIES", "DIRS", "FOLDERS"}, "The directories backed up", list_folders),
      kw({"FILES"}, "Files in the current folder (CD) of the selected backup",
         list_rows([](Session& s) { return s.list_files(); }, false)),
      kw({"FOUND"}, "Files found to back up by the last walk",
         [](Context& c) { return list_strings(c, c.session.found()); }),
      kw({"HOSTS"}, "Hosts in the DB", list_hosts),
      kw({"SELECTED"}, "What RESTORE ADD selected for restoring",
         [](Context& c) { return list_strings(c, c.session.restore_selected()); }),
      kw({"TREE"}, "The tree of files below the current folder, for restoring",
         list_rows([](Session& s) { return s.list_tree(); }, false)),
      kw({"VERSIONS"}, "The versions of the file picked by CD <n>, else of every file in the current folder",
         list_rows([](Session& s) { return s.list_versions(); }, true)),
  };
}

int memstats(Context& c) {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  long rss_kb = 0;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) rss_kb = std::stol(line.substr(6));
  out(fmt::format("Resident memory: {}", human_size(static_cast<uint64_t>(rss_kb) * 1024)));
  out(fmt::format("Peak resident memory: {}", human_size(static_cast<uint64_t>(ru.ru_maxrss) * 1024)));
  auto s = c.session.db_size();
  out(fmt::format("Catalog: {} paths, {} versions, {} in memory", s.entries, s.versions, human_size(s.memory_bytes)));
  return 0;
}

Action search(bool regex) {
  return [regex](Context& c) {
    numbered(c.session.search(c.args.at(0), regex), -1, [](const EntryRow& r) { return entry_line(r, true); });
    return 0;
  };
}

}  // namespace

std::vector<Node> list_commands() {
  std::vector<Node> kinds = list_kinds();
  kinds.push_back(arg(ArgType::kInteger, "The most rows to print", nullptr, list_kinds()));
  return {
      kw({"LIST"}, "List parts of the DB; a number limits the rows", nullptr, std::move(kinds)),
      kw({"MEMSTATS"}, "Display memory statistics", memstats),
      kw({"SEARCH"}, "Find files in every version in scope (the selected host or folder, else all)", nullptr,
         {kw({"CONTAINS"}, "Paths containing a word (case-insensitive)", nullptr,
             {arg(ArgType::kWord, "The word", search(false))}),
          kw({"REGEX"}, "Paths matching a regular expression (RE2)", nullptr,
             {arg(ArgType::kRegex, "The pattern", search(true))})}),
  };
}

}  // namespace seshat::shell
