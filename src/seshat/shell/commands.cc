#include "seshat/shell/commands.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cstdio>
#include <fstream>

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

std::vector<Node> list_kinds() {
  return {
      kw({"AUTO"}, "Directories that will be backed up using AUTOMATIC", list_auto),
      kw({"BACKUPS"}, "What backups have been performed", list_backups),
      kw({"DIRECTORIES", "DIRS", "FOLDERS"}, "The directories backed up", list_folders),
      kw({"FOUND"}, "Files found to back up by the last walk", list_found),
      kw({"HOSTS"}, "Hosts in the DB", list_hosts),
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
      kw({"DB"}, "Work on the catalog (the DB) itself", nullptr,
         {
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
          kw({"PRINT"}, "Print the list of commands", [](Context&) {
            for (const auto& l : print_tree(command_table())) out(l);
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
                {kw({"TREE"}, "The selected folder and everything below it", [](Context& c) {
                  c.session.restore_add_tree();
                  return 0;
                })}),
             kw({"GO"}, "Run the restore",
                [](Context& c) {
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
                {arg(ArgType::kInteger, "The size", nullptr,
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

const Node& command_table() {
  static const Node root = build();
  return root;
}

}  // namespace seshat::shell
