#include "seshat/shell/commands.h"

#include <fmt/format.h>
#include <re2/re2.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>

#include "seshat/catalog/catalog.h"
#include "seshat/session/session.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::shell {
namespace {

using session::Session;

Node kw(std::vector<std::string> words, std::string help, Action action = nullptr, std::vector<Node> children = {}) {
  Node n;
  n.keywords = std::move(words);
  n.help = std::move(help);
  n.action = std::move(action);
  n.children = std::move(children);
  return n;
}

Node arg(ArgType type, std::string help, Action action = nullptr, std::vector<Node> children = {}) {
  Node n;
  n.arg = type;
  n.help = std::move(help);
  n.action = std::move(action);
  n.children = std::move(children);
  return n;
}

void out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

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

std::string yes_no(bool b) { return b ? "YES" : "NO"; }

// SET <name> YES | NO: the YES/NO keywords pass their value as the argument.
Node yes_no_node(const std::string& name, const std::string& help, std::function<void(Session&, bool)> apply) {
  auto act = [name, apply](bool on) {
    return [name, apply, on](Context& c) {
      apply(c.session, on);
      log::info("{} is {}", name, yes_no(on));
      return 0;
    };
  };
  return kw({name}, help, nullptr, {kw({"YES"}, "turn it on", act(true)), kw({"NO"}, "turn it off", act(false))});
}

int list_backups(Context& c) {
  auto rows = c.session.backups();
  numbered(rows, limit_of(c), [](const session::BackupRow& r) {
    return fmt::format("{}  {:<12} {:<30} {:>8} files {:>9}{}", format_listing(r.time_ns), r.host, r.folder, r.files,
                       human_size(r.bytes), r.complete ? "" : "  (incomplete)");
  });
  return 0;
}

int list_folders(Context& c) {
  auto rows = c.session.folders();
  numbered(rows, limit_of(c), [](const session::FolderRow& r) {
    return fmt::format("{:<12} {:<40} {:>3} backups  last {}{}", r.host, r.path, r.backups,
                       r.last_ns ? format_listing(*r.last_ns) : std::string("never"), r.automatic ? "" : "  (not AUTOMATIC)");
  });
  return 0;
}

int list_auto(Context& c) {
  auto rows = c.session.folders();
  std::vector<session::FolderRow> mine;
  for (auto& r : rows)
    if (r.host == c.session.host() && r.automatic) mine.push_back(r);
  numbered(mine, limit_of(c), [](const session::FolderRow& r) { return r.path; });
  return 0;
}

int list_hosts(Context& c) {
  auto rows = c.session.hosts();
  numbered(rows, limit_of(c), [](const session::HostRow& r) { return fmt::format("{:<20} {} folders", r.name, r.folders); });
  return 0;
}

int list_found(Context& c) {
  numbered(c.session.found(), limit_of(c), [](const std::string& p) { return p; });
  return 0;
}

// Asks the user to type `expected` (on the terminal). In batch mode, refuses unless
// SET CONFIRM NO was given.
void require_confirmation(Context& c, const std::string& question, const std::string& expected) {
  if (!c.interactive) {
    if (!c.session.confirm()) return;
    throw Error(ErrorKind::kInvalidInput, question + ": refused in batch mode (SET CONFIRM NO allows it)");
  }
  std::fprintf(stdout, "%s\nType %s to go on: ", question.c_str(), expected.c_str());
  std::fflush(stdout);
  std::string answer;
  FILE* tty = std::fopen("/dev/tty", "r");
  if (tty) {
    char buf[1024];
    if (std::fgets(buf, sizeof buf, tty)) answer = buf;
    std::fclose(tty);
  }
  while (!answer.empty() && (answer.back() == '\n' || answer.back() == '\r')) answer.pop_back();
  if (answer != expected) throw Error(ErrorKind::kInvalidInput, "not confirmed; nothing was changed");
}

int db_reset(Context& c) {
  std::string name = c.session.store_description();
  require_confirmation(c, "DB RESET forgets every backup in " + name + " (DO NOT DO THIS unless you mean it)",
                       c.session.config().store == "s3" ? c.session.config().s3_bucket : c.session.config().local_dir);
  c.session.db_reset();
  return 0;
}

std::string type_char(const catalog::Version& v) {
  switch (v.type) {
    case catalog::Type::kDir: return "d";
    case catalog::Type::kSymlink: return "l";
    case catalog::Type::kDeleted: return "x";
    case catalog::Type::kFile: return "-";
  }
  return "?";
}

std::string mode_string(const catalog::Version& v) {
  std::string s = type_char(v);
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s.push_back((v.mode & (0400u >> i)) ? rwx[i] : '-');
  return s;
}

void print_rows(Context& c, const std::vector<session::EntryRow>& rows, bool versions, int limit) {
  const auto& cat = c.session.catalog_ref();
  numbered(rows, limit, [&](const session::EntryRow& r) {
    const auto& v = cat.versions[r.version];
    std::string name = std::string(r.depth * 2, ' ') + r.path;
    if (v.type == catalog::Type::kDir) name += "/";
    if (v.type == catalog::Type::kSymlink) name += " -> " + std::string(cat.symlink_target(v));
    if (v.type == catalog::Type::kDeleted) return fmt::format("{}  deleted in the backup of {}", r.path, format_listing(r.backup_ns));
    std::string when = versions ? "  backup " + format_listing(r.backup_ns) : "";
    return fmt::format("{} {:>9}  {}  {}{}{}", mode_string(v), v.type == catalog::Type::kDir ? "" : human_size(v.size),
                       format_listing(v.mtime_ns), name, when, r.deleted_later ? "  (deleted since)" : "");
  });
}

Action list_rows(std::function<std::vector<session::EntryRow>(Session&)> fn, bool versions) {
  return [fn, versions](Context& c) {
    print_rows(c, fn(c.session), versions, limit_of(c));
    return 0;
  };
}

std::vector<Node> list_kinds() {
  return {
      kw({"AUTO"}, "Directories that will be backed up using AUTOMATIC", list_auto),
      kw({"BACKUPS"}, "What backups have been performed", list_backups),
      kw({"DIRECTORIES", "DIRS", "FOLDERS"}, "The directories backed up", list_folders),
      kw({"FILES"}, "Files in the current folder (CD) of the selected backup",
         list_rows([](Session& s) { return s.list_files(); }, false)),
      kw({"FOUND"}, "Files found to back up by the last walk", list_found),
      kw({"HOSTS"}, "Hosts in the DB", list_hosts),
      kw({"SELECTED"}, "What RESTORE ADD selected for restoring",
         [](Context& c) {
           auto rows = c.session.restore_selected();
           numbered(rows, limit_of(c), [](const std::string& r) { return r; });
           return 0;
         }),
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

int show_config(Context& c) {
  const auto& cfg = c.session.config();
  out(fmt::format("Host:             {}", c.session.host()));
  out(fmt::format("Store:            {}", c.session.store_description()));
  out(fmt::format("S3 bucket:        {}", cfg.s3_bucket));
  out(fmt::format("S3 region:        {}", cfg.s3_region.empty() ? "(from the AWS settings)" : cfg.s3_region));
  out(fmt::format("S3 endpoint:      {}", cfg.s3_endpoint.empty() ? "(Amazon S3)" : cfg.s3_endpoint));
  out(fmt::format("S3 profile:       {}", cfg.s3_profile.empty() ? "(AWS_PROFILE or default)" : cfg.s3_profile));
  out(fmt::format("S3 class:         {}", cfg.s3_class.empty() ? "STANDARD" : cfg.s3_class));
  out(fmt::format("Max container:    {}", human_size(cfg.max_container)));
  out(fmt::format("Hidden files:     {}", yes_no(cfg.hidden)));
  out(fmt::format("Follow symlinks:  {}", yes_no(cfg.symlinks)));
  out(fmt::format("Wait for lock:    {}", yes_no(cfg.wait)));
  out(fmt::format("Delay (staging):  {}{}", yes_no(cfg.delay), cfg.delay ? " in " + cfg.staging : ""));
  out(fmt::format("Dry run:          {}", yes_no(c.session.dry_run())));
  out(fmt::format("Detail:           {}", yes_no(c.session.detail())));
  out(fmt::format("Excludes:         {}", cfg.excludes.empty() ? "(none)" : ""));
  for (const auto& e : cfg.excludes) out("  " + e);
  out(fmt::format("Includes:         {}", cfg.includes.empty() ? "(none)" : ""));
  for (const auto& e : cfg.includes) out("  " + e);
  out(fmt::format("Selection:        {}", c.session.selection_description()));
  out(fmt::format("Restore target:   {}", c.session.restore_target().empty() ? "ORIGINAL" : c.session.restore_target()));
  out(fmt::format("Settings file:    {}", session::config_path()));
  return 0;
}

Action set_max(uint64_t unit) {
  return [unit](Context& c) {
    uint64_t n = std::stoull(c.args.at(0));
    if (n == 0) throw Error(ErrorKind::kInvalidInput, "SET MAX needs a size above zero");
    uint64_t bytes = n * unit;
    if (bytes < (1ull << 20)) throw Error(ErrorKind::kInvalidInput, "the smallest container size is 1 MB");
    if (bytes > (5ull << 40)) throw Error(ErrorKind::kInvalidInput, "the largest container size is 5 TB");
    c.session.config().max_container = bytes;
    c.session.save_config();
    log::info("Max container size is {}", human_size(bytes));
    return 0;
  };
}

Action add_pattern(bool exclude) {
  return [exclude](Context& c) {
    RE2 re(c.args.at(0), RE2::Quiet);
    if (!re.ok()) throw Error(ErrorKind::kInvalidInput, "bad regular expression '" + c.args.at(0) + "': " + re.error());
    auto& list = exclude ? c.session.config().excludes : c.session.config().includes;
    list.push_back(c.args.at(0));
    c.session.save_config();
    log::info("{} {}", exclude ? "Excluding" : "Including", c.args.at(0));
    return 0;
  };
}

Action reset_patterns(bool exclude) {
  return [exclude](Context& c) {
    (exclude ? c.session.config().excludes : c.session.config().includes).clear();
    c.session.save_config();
    log::info("{} list reset", exclude ? "Exclude" : "Include");
    return 0;
  };
}

int db_size(Context& c) {
  auto s = c.session.db_size();
  out(fmt::format("DB generation {} ({} kept), stored size {}", s.generation, s.generations, human_size(s.stored_bytes)));
  out(fmt::format("{} hosts, {} folders, {} backups, {} containers", s.hosts, s.folders, s.backups, s.containers));
  out(fmt::format("{} paths, {} versions, {} distinct contents, {} in memory", s.entries, s.versions, s.contents,
                  human_size(s.memory_bytes)));
  return 0;
}

Action s3_setting(const std::string& what) {
  return [what](Context& c) {
    c.session.set_s3(what, c.args.at(0));
    return 0;
  };
}

Action s3_fixed(const std::string& what, const std::string& value) {
  return [what, value](Context& c) {
    c.session.set_s3(what, value);
    return 0;
  };
}

std::string join_args(const Context& c) {
  std::string s;
  for (const auto& a : c.args) s += (s.empty() ? "" : " ") + a;
  return s;
}

Node build() {
  Node root;
  root.help = "Seshat";
  Action exit_action = [](Context& c) {
    c.exit_requested = true;
    return 0;
  };
  Action help_action = [](Context&) {
    for (const auto& l : help_lines(command_table())) out(l);
    out("  Type a command, or a command followed by ? to see what may follow.");
    return 0;
  };
  Action restore_timestamp = [](Context& c) {
    c.session.restore_timestamp(join_args(c));
    return 0;
  };
  Action select_date = [](Context& c) {
    c.session.select_backup_date(join_args(c));
    return 0;
  };

  root.children = {
      kw({"AUTOMATIC"}, "Back up every folder of this host that was backed up before",
         [](Context& c) {
           c.session.automatic();
           return 0;
         }),
      kw({"BACKUP"}, "Back up a directory (initialises for you)", nullptr,
         {arg(ArgType::kDirectory, "The directory to back up", [](Context& c) {
           c.session.backup(c.args.at(0));
           return 0;
         })}),
      kw({"BYE", "EXIT", "QUIT"}, "Leave Seshat", exit_action),
      kw({"CD"}, "Move in the selected backup's tree; alone, print the current folder",
         [](Context& c) {
           out(c.session.cwd_path());
           return 0;
         },
         {arg(ArgType::kInteger, "Row n of the last listing: enter a folder, or pick a file for LIST VERSIONS",
              [](Context& c) {
                log::info("Now at {}", c.session.cd_number(std::stoi(c.args.at(0))));
                return 0;
              }),
          arg(ArgType::kWord, "A folder in the current one, .. (up) or / (the top)", [](Context& c) {
            log::info("Now at {}", c.session.cd(c.args.at(0)));
            return 0;
          })}),
      kw({"DB"}, "Work on the catalog (the DB) itself", nullptr,
         {
             kw({"REBUILD"}, "Recreate the DB from the containers' own indexes when every DB generation is lost",
                [](Context& c) {
                  c.session.db_rebuild();
                  return 0;
                }),
             kw({"RESET"}, "Reset the DB - DO NOT DO THIS AS YOU WILL FORGET ALL HISTORY! (asks to type the store name)", db_reset),
             kw({"LOAD"}, "Load the DB from the store",
                [](Context& c) {
                  c.session.db_load();
                  return 0;
                }),
             kw({"LOCK"}, "Manually lock the DB until DB UNLOCK or exit",
                [](Context& c) {
                  c.session.db_lock();
                  return 0;
                }),
             kw({"SAVE"}, "Save the DB as a new generation",
                [](Context& c) {
                  c.session.db_save();
                  return 0;
                }),
             kw({"SIZE"}, "Report the DB size", db_size),
             kw({"UNLOCK"}, "Manually unlock the DB. Useful in the case of a crash",
                [](Context& c) {
                  c.session.db_unlock();
                  return 0;
                }),
         }),
      kw({"EXCLUDE"}, "Don't back up paths that match a regex (RE2, matched anywhere in the full path)", nullptr,
         {kw({"RESET"}, "Reset the exclude list", reset_patterns(true)),
          arg(ArgType::kRegex, "The regex, e.g. \\.iso$ or /Dropbox$", add_pattern(true))}),
      kw({"GRAMMAR"}, "Internal commands for the command tables", nullptr,
         {kw({"CHECK"}, "Check the command parse tables",
             [](Context&) {
               auto problems = check_tree(command_table());
               for (const auto& p : problems) out("  " + p);
               if (!problems.empty()) throw Error(ErrorKind::kInvalidInput, fmt::format("the grammar has {} problems", problems.size()));
               log::info("Grammar check passed");
               return 0;
             }),
          kw({"PRINT"}, "Print the list of commands",
             [](Context&) {
               for (const auto& l : print_tree(command_table())) out(l);
               return 0;
             }),
          kw({"PRUNE"}, "Drop unusable nodes (dead ends, duplicates) from the loaded command tables", [](Context&) {
            auto removed = prune_tree(command_table());
            for (const auto& r : removed) out("  pruned " + r);
            log::info("Grammar prune removed {} nodes", removed.size());
            return 0;
          })}),
      kw({"HELP", "?"}, "Display what is expected at this point. Also ? after any word", help_action),
      kw({"INCLUDE"}, "Force the inclusion of paths matching a regex; overrides every exclusion", nullptr,
         {kw({"RESET"}, "Reset the include list", reset_patterns(false)),
          arg(ArgType::kRegex, "The regex", add_pattern(false))}),
      kw({"INITIALIZE"}, "Initialize Seshat: open the store's repository (create it if the store is empty) and read the DB",
         [](Context& c) {
           c.session.initialize();
           return 0;
         }),
      kw({"LIST"}, "List parts of the DB; a number limits the rows", nullptr,
         [] {
           auto kinds = list_kinds();
           kinds.push_back(arg(ArgType::kInteger, "The most rows to print", nullptr, list_kinds()));
           return kinds;
         }()),
      kw({"MEMSTATS"}, "Display memory statistics", memstats),
      kw({"RESTORE"}, "Reset the restore setup; with more words, set up and run a restore",
         [](Context& c) {
           c.session.restore_reset();
           log::info("Restore setup reset");
           return 0;
         },
         {
             kw({"ADD"}, "Add to what will be restored", nullptr,
                {kw({"FILE"}, "A row of the last listing (LIST FILES, LIST VERSIONS, SEARCH), ALL rows, or RESET", nullptr,
                    {kw({"ALL"}, "Every row of the last listing",
                        [](Context& c) {
                          c.session.restore_add_all();
                          return 0;
                        }),
                     kw({"RESET"}, "Forget what RESTORE ADD selected",
                        [](Context& c) {
                          c.session.restore_add_reset();
                          return 0;
                        }),
                     arg(ArgType::kInteger, "The row number", [](Context& c) {
                       c.session.restore_add_file(std::stoi(c.args.at(0)));
                       return 0;
                     })}),
                 kw({"FOLDER"}, "The files of the current folder (not its subfolders)",
                    [](Context& c) {
                      c.session.restore_add_folder();
                      return 0;
                    }),
                 kw({"TREE"}, "The current folder (CD; the selected folder at first) and everything below it",
                    [](Context& c) {
                      c.session.restore_add_tree();
                      return 0;
                    })}),
             kw({"BAREMETAL"}, "Everything of the selected host (or this one) as of the timestamp",
                [](Context& c) {
                  c.session.restore_baremetal();
                  return 0;
                }),
             kw({"GO"}, "Run the restore (asks before overwriting existing files, interactively)",
                [](Context& c) {
                  if (c.interactive && !c.session.dry_run()) {
                    size_t n = c.session.restore_conflicts();
                    if (n > 0) require_confirmation(c, fmt::format("{} files exist at the target and will be overwritten", n), "yes");
                  }
                  if (!c.session.restore_go()) throw Error(ErrorKind::kCorruption, "some files could not be restored (see above)");
                  return 0;
                }),
             kw({"TARGET"}, "Where to restore: a directory (original paths recreated beneath it) or ORIGINAL", nullptr,
                {kw({"ORIGINAL"}, "Restore over the original paths",
                    [](Context& c) {
                      c.session.restore_target("");
                      return 0;
                    }),
                 arg(ArgType::kDirectory, "An absolute directory", [](Context& c) {
                   c.session.restore_target(c.args.at(0));
                   return 0;
                 })}),
             kw({"TIMESTAMP"}, "Restore as of this time (the newest backup at or before it)", nullptr,
                {arg(ArgType::kDate, "dd-MMM-yyyy (the end of that day)", restore_timestamp,
                     {arg(ArgType::kTime, "HH:MM or HH:MM:SS", restore_timestamp)})}),
         }),
      kw({"RESET"}, "Reset things", nullptr,
         {kw({"DB"}, "Reset the database. DON'T DO THIS (asks to type the store name)", db_reset)}),
      kw({"SEARCH"}, "Find files in every version in scope (the selected host or folder, else all)", nullptr,
         {kw({"CONTAINS"}, "Paths containing a word (case-insensitive)", nullptr,
             {arg(ArgType::kWord, "The word", [](Context& c) {
               print_rows(c, c.session.search(c.args.at(0), false), true, -1);
               return 0;
             })}),
          kw({"REGEX"}, "Paths matching a regular expression (RE2)", nullptr,
             {arg(ArgType::kRegex, "The pattern", [](Context& c) {
               print_rows(c, c.session.search(c.args.at(0), true), true, -1);
               return 0;
             })})}),
      kw({"SELECT"}, "Select what LIST, CD and RESTORE work on", nullptr,
         {
             kw({"BACKUP"}, "Select a backup by its LIST BACKUPS number or by date", nullptr,
                {arg(ArgType::kInteger, "The number from LIST BACKUPS",
                     [](Context& c) {
                       c.session.select_backup_number(std::stoi(c.args.at(0)));
                       return 0;
                     }),
                 arg(ArgType::kDate, "The newest backup on or before this day", select_date,
                     {arg(ArgType::kTime, "HH:MM or HH:MM:SS", select_date)})}),
             kw({"FOLDER"}, "Select a backed-up folder by number or path", nullptr,
                {arg(ArgType::kInteger, "The number from LIST FOLDERS",
                     [](Context& c) {
                       c.session.select_folder_number(std::stoi(c.args.at(0)));
                       return 0;
                     }),
                 arg(ArgType::kWord, "The folder's path", [](Context& c) {
                   c.session.select_folder(c.args.at(0));
                   return 0;
                 })}),
             kw({"HOST"}, "Select a host by number or name", nullptr,
                {arg(ArgType::kInteger, "The number from LIST HOSTS",
                     [](Context& c) {
                       c.session.select_host_number(std::stoi(c.args.at(0)));
                       return 0;
                     }),
                 arg(ArgType::kWord, "The host name", [](Context& c) {
                   c.session.select_host(c.args.at(0));
                   return 0;
                 })}),
             kw({"RESET"}, "Reset the selections",
                [](Context& c) {
                  c.session.select_reset();
                  log::info("Selections reset");
                  return 0;
                }),
         }),
      kw({"SET"}, "Change a setting (MAX, HIDDEN, SYMLINKS and WAIT are remembered in ~/.seshatrc)", nullptr,
         {
             yes_no_node("CONFIRM", "Ask before DB RESET and overwriting files; NO lets scripts do them (this run only)",
                         [](Session& s, bool on) { s.set_confirm(on); }),
             yes_no_node("DELAY", "Stage each whole container in the staging area, then upload it (default NO: stream)",
                         [](Session& s, bool on) {
                           s.config().delay = on;
                           s.save_config();
                         }),
             yes_no_node("DETAIL", "Log every file as it is backed up (this run only)",
                         [](Session& s, bool on) { s.set_detail(on); }),
             yes_no_node("DRYRUN", "Report what BACKUP or RESTORE GO would do and change nothing (this run only)",
                         [](Session& s, bool on) { s.set_dry_run(on); }),
             yes_no_node("HIDDEN", "Back up names starting with '.' (default YES)",
                         [](Session& s, bool on) {
                           s.config().hidden = on;
                           s.save_config();
                         }),
             kw({"MAX"}, "The size at which containers are split (default 8 GB)", nullptr,
                {kw({"MAX"}, "The largest allowed: 5 TB on a local store, 10,000 upload parts on S3 (156 GB with 16 MiB parts)",
                    [](Context& c) {
                      uint64_t bytes = c.session.config().store == "s3" ? 10000ull * (16ull << 20) : (5ull << 40);
                      c.session.config().max_container = bytes;
                      c.session.save_config();
                      log::info("Max container size is {}", human_size(bytes));
                      return 0;
                    }),
                 arg(ArgType::kInteger, "The size", nullptr,
                     {kw({"MB"}, "Megabytes", set_max(1ull << 20)), kw({"GB"}, "Gigabytes", set_max(1ull << 30))})}),
             kw({"STAGING"}, "The staging area for SET DELAY YES (default /tmp)", nullptr,
                {arg(ArgType::kDirectory, "An absolute directory", [](Context& c) {
                   const std::string& d = c.args.at(0);
                   if (d.empty() || d[0] != '/') throw Error(ErrorKind::kInvalidInput, "SET STAGING needs an absolute directory");
                   c.session.config().staging = d;
                   c.session.save_config();
                   log::info("Staging area is: {}", d);
                   return 0;
                 })}),
             yes_no_node("SYMLINKS", "Follow symbolic links instead of storing them as links (default NO)",
                         [](Session& s, bool on) {
                           s.config().symlinks = on;
                           s.save_config();
                         }),
             yes_no_node("WAIT", "Wait for a DB lock held by another process instead of failing (default NO)",
                         [](Session& s, bool on) {
                           s.config().wait = on;
                           s.save_config();
                         }),
         }),
      kw({"S3"}, "Amazon S3 or S3-compatible store settings (remembered in ~/.seshatrc; never a secret)", nullptr,
         {
             kw({"BUCKET"}, "Set the S3 bucket name (default osiris-seshat); selects the S3 store", nullptr,
                {arg(ArgType::kWord, "The bucket name", s3_setting("BUCKET"))}),
             kw({"CLASS"}, "Storage class of the containers: STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or DEEP_ARCHIVE (the DB, keys and lock stay STANDARD)", nullptr,
                {arg(ArgType::kWord, "The storage class", s3_setting("CLASS"))}),
             kw({"ENDPOINT"}, "URL of an S3-compatible service (MinIO, Ceph, B2, Wasabi...); DEFAULT for AWS", nullptr,
                {kw({"DEFAULT"}, "Amazon S3 itself", s3_fixed("ENDPOINT", "")),
                 arg(ArgType::kWord, "e.g. http://127.0.0.1:9000", s3_setting("ENDPOINT"))}),
             kw({"PROFILE"}, "The profile in ~/.aws/credentials (default: AWS_PROFILE, then default)", nullptr,
                {arg(ArgType::kWord, "The profile name", s3_setting("PROFILE"))}),
             kw({"REGION"}, "Set the S3 region (default: AWS_REGION, ~/.aws/config, us-east-1)", nullptr,
                {arg(ArgType::kWord, "e.g. eu-west-2", s3_setting("REGION"))}),
             kw({"STYLE"}, "Bucket addressing (path-style is used whenever an endpoint is set)", nullptr,
                {kw({"PATH"}, "https://host/bucket/key", s3_fixed("STYLE", "path")),
                 kw({"VIRTUAL"}, "https://bucket.host/key", s3_fixed("STYLE", "virtual"))}),
         }),
      kw({"VERIFY"}, "Check that every container the DB refers to is in the store and lists the blobs; exit status 1 if not",
         [](Context& c) {
           if (!c.session.verify(false, 100)) throw Error(ErrorKind::kCorruption, "VERIFY found problems (see above)");
           return 0;
         },
         {kw({"DATA"}, "Also download and authenticate every blob; a number checks that share at random",
             [](Context& c) {
               double pct = c.args.empty() ? 100.0 : std::stod(c.args[0]);
               if (!c.session.verify(true, pct)) throw Error(ErrorKind::kCorruption, "VERIFY found problems (see above)");
               return 0;
             },
             {arg(ArgType::kInteger, "The percentage of blobs to check (1-100)", [](Context& c) {
               if (!c.session.verify(true, std::stod(c.args.at(0)))) throw Error(ErrorKind::kCorruption, "VERIFY found problems (see above)");
               return 0;
             })})}),
      kw({"SHOW"}, "Show settings", nullptr, {kw({"CONFIG"}, "The settings, the store and the selection", show_config)}),
      kw({"STORE"}, "Choose where backups are kept (remembered in ~/.seshatrc)", nullptr,
         {kw({"LOCAL"}, "A directory on this machine (default ~/.seshat/store)", nullptr,
             {arg(ArgType::kDirectory, "An absolute directory", [](Context& c) {
               c.session.set_store_local(c.args.at(0));
               return 0;
             })}),
          kw({"S3"}, "The S3 bucket set by S3 BUCKET", [](Context& c) {
            c.session.set_store_s3();
            return 0;
          })}),
  };
  return root;
}

}  // namespace

Node& command_table() {
  static Node root = build();
  return root;
}

}  // namespace seshat::shell
