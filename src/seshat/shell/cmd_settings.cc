// SET, S3, STORE, SHOW CONFIG, EXCLUDE, INCLUDE: every value goes through the settings table
// (session/settings.h), which validates it the same way as when ~/.seshatrc is read.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "seshat/session/session.h"
#include "seshat/shell/commands.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::shell {
namespace {

using nlohmann::json;
using session::Session;

// SET <NAME> YES | NO.
Node yes_no(const std::string& name, const std::string& key, const std::string& help) {
  auto act = [name, key](bool on) {
    return [name, key, on](Context& c) {
      c.session.set(key, on);
      log::info("{} is {}", name, on ? "YES" : "NO");
      return 0;
    };
  };
  return kw({name}, help, nullptr, {kw({"YES"}, "turn it on", act(true)), kw({"NO"}, "turn it off", act(false))});
}

void set_max(Session& s, uint64_t bytes) {
  s.set("max_container", bytes);
  log::info("Max container size is {}", human_size(bytes));
}

Action max_in(uint64_t unit) {
  return [unit](Context& c) {
    uint64_t n = std::stoull(c.args.at(0));
    if (n == 0) throw Error(ErrorKind::kInvalidInput, "SET MAX needs a size above zero");
    set_max(c.session, n * unit);
    return 0;
  };
}

// SET LIMIT UPLOAD|DOWNLOAD <n> KB|MB (per second; 0 is none).
Action limit_in(const char* key, const char* what, uint64_t unit) {
  return [key, what, unit](Context& c) {
    uint64_t n = std::stoull(c.args.at(0));
    if (n > (1ull << 40) / unit) throw Error(ErrorKind::kInvalidInput, "SET LIMIT: that rate is too large");
    c.session.set(key, n * unit);
    if (n == 0)
      log::info("{} limit is off", what);
    else
      log::info("{} limit is {}/s", what, human_size(n * unit));
    return 0;
  };
}

Node limit_node(const char* word, const char* key, const char* what, const char* help) {
  return kw({word}, help, nullptr,
            {arg(ArgType::kInteger, "The rate per second, all threads together (0: no limit)", nullptr,
                 {kw({"KB"}, "Kilobytes per second", limit_in(key, what, 1ull << 10)),
                  kw({"MB"}, "Megabytes per second", limit_in(key, what, 1ull << 20))})});
}

// S3 <WHAT> <value>: the setting s3_<what>; S3 BUCKET also selects the S3 store.
void set_s3(Session& s, const std::string& what, const std::string& value) {
  std::string key = "s3_";
  for (char ch : what) key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  s.set(key, value);
  if (what == "BUCKET") s.set("store", "s3");
  std::string now = session::setting(key).get(s.settings()).get<std::string>();
  log::info("S3 {} is {}", what, now.empty() ? "(default)" : now);
}

Action s3_value(const std::string& what) {
  return run_arg([what](Session& s, const std::string& v) { set_s3(s, what, v); });
}
Action s3_fixed(const std::string& what, const std::string& v) {
  return run([what, v](Session& s) { set_s3(s, what, v); });
}

Action add_pattern(bool exclude) {
  return run_arg([exclude](Session& s, const std::string& re) {
    s.add_pattern(exclude, re);
    log::info("{} {}", exclude ? "Excluding" : "Including", re);
  });
}

Action reset_patterns(bool exclude) {
  return run([exclude](Session& s) {
    s.reset_patterns(exclude);
    log::info("{} list reset", exclude ? "Exclude" : "Include");
  });
}

// SET STAGING takes only a directory that is there and writable now (checked again when
// the staging area is used: a remembered one may be gone by then). By path: the user names
// Seshat's own directory here; the private one below it is made and checked through an
// O_NOFOLLOW descriptor when used.
void check_staging(const std::string& d) {
  struct stat st {};
  if (d.empty() || d[0] != '/') throw Error(ErrorKind::kInvalidInput, "SET STAGING needs an absolute directory");
  if (::stat(d.c_str(), &st) != 0)
    throw Error(ErrorKind::kInvalidInput, "SET STAGING " + d + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw Error(ErrorKind::kInvalidInput, "SET STAGING " + d + ": not a directory");
  if (::access(d.c_str(), W_OK | X_OK) != 0)
    throw Error(ErrorKind::kInvalidInput, "SET STAGING " + d + ": not writable (" + std::strerror(errno) + ")");
}

// "MAX, HIDDEN, ... are remembered": from the settings table, so that it stays true.
std::string remembered_settings() {
  static const std::pair<const char*, const char*> kNames[] = {
      {"CACHE", "cache"},       {"CONFIRM", "confirm"}, {"DELETIONS", "deletions"}, {"DELAY", "delay"},
      {"DETAIL", "detail"},     {"DRYRUN", "dry_run"},  {"HIDDEN", "hidden"},       {"LIMIT", "limit_upload"},
      {"MAX", "max_container"}, {"OUTPUT", "output"},   {"OVERWRITE", "overwrite"}, {"PROGRESS", "progress"},
      {"SPARSE", "sparse"},     {"STAGING", "staging"}, {"SYMLINKS", "symlinks"},   {"WAIT", "wait"}};
  std::vector<std::string> kept, run_only;
  for (auto [name, key] : kNames) (session::setting(key).remembered ? kept : run_only).push_back(name);
  return fmt::format("Change a setting ({} are remembered in ~/.seshatrc; {} last for this run)", fmt::join(kept, ", "),
                     fmt::join(run_only, ", "));
}

int show_config(Context& c) {
  if (json_output(c)) {
    nlohmann::json j, settings;
    j["type"] = "config";
    log::put_text(j, "host", c.session.host());
    log::put_text(j, "store", c.session.settings().store_description());
    for (const auto& d : session::setting_table()) settings[d.key] = d.get(c.session.settings());
    j["settings"] = settings;
    log::put_text(j, "selection", c.session.selection_description());
    log::put_text(j, "point_in_time", c.session.restore_point_description());
    log::put_text(j, "restore_target", c.session.restore_target());
    j["restore_selections"] = c.session.restore_selections();
    log::put_text(j, "settings_file", c.session.settings_file());
    log::json(j);
    return 0;
  }
  auto line = [](const std::string& label, const std::string& value) {
    out(fmt::format("{:<18}{}", label + ":", value));
  };
  line("Host", c.session.host());
  for (const auto& d : session::setting_table()) {
    if (!d.label || !d.show) continue;
    auto lines = d.show(c.session.settings());
    line(d.label, lines.front());
    for (size_t i = 1; i < lines.size(); ++i) out(lines[i]);
  }
  line("Selection", c.session.selection_description());
  line("Point in time", c.session.restore_point_description());
  line("Restore target", c.session.restore_target().empty() ? "ORIGINAL" : c.session.restore_target());
  size_t n = c.session.restore_selections();
  line("To restore", n == 0 ? std::string("nothing yet (RESTORE ADD)")
                            : plural(n, "selection", "selections") + " (LIST SELECTED shows them)");
  line("Settings file", c.session.settings_file());
  return 0;
}

Node output_node() {
  return kw({"OUTPUT"}, "How results are printed (this run only; seshat --json is SET OUTPUT JSON)", nullptr,
            {kw({"JSON"}, "One JSON document per command on stdout (rows as JSON Lines), logs on stderr (doc/json.md)",
                run([](Session& s) {
                  s.set("output", "json");
                  log::info("Output is JSON");
                })),
             kw({"TEXT"}, "Lines for people (the default)", run([](Session& s) {
                  s.set("output", "text");
                  log::info("Output is TEXT");
                }))});
}

Node s3_settings() {
  return kw(
      {"S3"}, "Amazon S3 or S3-compatible store settings (remembered in ~/.seshatrc; never a secret)", nullptr,
      {
          kw({"BUCKET"}, "Set the S3 bucket name (default osiris-seshat); selects the S3 store", nullptr,
             {arg(ArgType::kWord, "The bucket name", s3_value("BUCKET"))}),
          kw({"CLASS"},
             "Storage class of the containers: STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER or "
             "DEEP_ARCHIVE (the DB, keys and lock stay STANDARD)",
             nullptr, {arg(ArgType::kWord, "The storage class", s3_value("CLASS"))}),
          kw({"ENDPOINT"}, "URL of an S3-compatible service (MinIO, Ceph, B2, Wasabi...); DEFAULT for AWS", nullptr,
             {kw({"DEFAULT"}, "Amazon S3 itself", s3_fixed("ENDPOINT", "")),
              arg(ArgType::kWord, "e.g. http://127.0.0.1:9000", s3_value("ENDPOINT"))}),
          kw({"PROFILE"}, "The profile in ~/.aws/credentials (default: AWS_PROFILE, then default)", nullptr,
             {arg(ArgType::kWord, "The profile name", s3_value("PROFILE"))}),
          kw({"REGION"}, "Set the S3 region (default: AWS_REGION, ~/.aws/config, us-east-1)", nullptr,
             {arg(ArgType::kWord, "e.g. eu-west-2", s3_value("REGION"))}),
          kw({"STYLE"}, "Bucket addressing (path-style is used whenever an endpoint is set)", nullptr,
             {kw({"PATH"}, "https://host/bucket/key", s3_fixed("STYLE", "path")),
              kw({"VIRTUAL"}, "https://bucket.host/key", s3_fixed("STYLE", "virtual"))}),
      });
}

}  // namespace

std::vector<Node> settings_commands() {
  return {
      kw({"EXCLUDE"},
         "Don't back up paths that match a regex (RE2, matched anywhere in the path below the folder, e.g. /cache/)",
         nullptr,
         {kw({"RESET"}, "Reset the exclude list", reset_patterns(true)),
          arg(ArgType::kRegex, "The regex, e.g. \\.iso$ or /Dropbox$", add_pattern(true))}),
      kw({"INCLUDE"}, "Force the inclusion of paths matching a regex; overrides every exclusion", nullptr,
         {kw({"RESET"}, "Reset the include list", reset_patterns(false)),
          arg(ArgType::kRegex, "The regex", add_pattern(false))}),
      kw({"SET"}, remembered_settings(), nullptr,
         {
             yes_no("CONFIRM", "confirm",
                    "Ask before DB RESET and overwriting files; NO lets scripts do them (this run only)"),
             yes_no("DELETIONS", "deletions",
                    "Let the next backup record more than half of its folder's files as deleted (default NO: it "
                    "stops, as for an unmounted drive)"),
             yes_no("DELAY", "delay",
                    "Stage each whole container in the staging area, then upload it (default NO: stream)"),
             yes_no("DETAIL", "detail", "Log every file as it is backed up (this run only)"),
             yes_no("DRYRUN", "dry_run",
                    "Report what BACKUP or RESTORE GO would do and change nothing (this run only)"),
             yes_no("HIDDEN", "hidden", "Back up names starting with '.' (default YES)"),
             kw({"LIMIT"}, "Limit the bandwidth to the store (remembered; SHOW CONFIG shows it)", nullptr,
                {limit_node("UPLOAD", "limit_upload", "Upload", "What is sent to the store, per second"),
                 limit_node("DOWNLOAD", "limit_download", "Download", "What is read from the store, per second")}),
             kw({"MAX"}, "The size at which containers are split (default 8 GB)", nullptr,
                {kw({"MAX"},
                    "The largest allowed: 5 TB on a local store, 10,000 upload parts on S3 (156 GB with 16 MiB parts)",
                    run([](Session& s) {
                      set_max(s,
                              s.settings().store == session::StoreKind::kS3 ? 10000ull * (16ull << 20) : (5ull << 40));
                    })),
                 arg(ArgType::kInteger, "The size", nullptr,
                     {kw({"MB"}, "Megabytes", max_in(1ull << 20)), kw({"GB"}, "Gigabytes", max_in(1ull << 30))})}),
             kw({"STAGING"}, "The staging area for SET DELAY YES (default /tmp)", nullptr,
                {arg(ArgType::kDirectory, "An absolute directory that exists and is writable",
                     run_arg([](Session& s, const std::string& d) {
                       check_staging(d);
                       s.set("staging", d);
                       log::info("Staging area is: {}", s.settings().staging);
                     }))}),
             output_node(),
             yes_no("OVERWRITE", "overwrite",
                    "Let RESTORE GO replace existing files that differ from the backup (default NO: they are "
                    "kept and named; this run only)"),
             yes_no("PROGRESS", "progress",
                    "Show a live progress line (files, bytes, rate, time left) on a terminal during backups, "
                    "restores and VERIFY DATA (default YES; never in a log or a pipe)"),
             yes_no("SPARSE", "sparse",
                    "Let a restore write the all-zero blocks of every file as holes (default NO: only files that "
                    "had holes when backed up get them again; this run only)"),
             yes_no("SYMLINKS", "symlinks", "Follow symbolic links instead of storing them as links (default NO)"),
             yes_no("CACHE", "cache",
                    "Keep the catalog of an S3 store, still encrypted, in $XDG_CACHE_HOME/seshat (default ~/.cache): "
                    "a command on a store nobody else changed downloads only a listing (default YES; never needed "
                    "to restore)"),
             yes_no("WAIT", "wait", "Wait for a DB lock held by another process instead of failing (default NO)"),
         }),
      s3_settings(),
      kw({"SHOW"}, "Show settings", nullptr,
         {kw({"CONFIG"}, "The settings, the store and the selection", show_config)}),
      kw({"STORE"}, "Choose where backups are kept (remembered in ~/.seshatrc)", nullptr,
         {kw({"LOCAL"}, "A directory on this machine (default ~/.seshat/store)", nullptr,
             {arg(ArgType::kDirectory, "An absolute directory", run_arg([](Session& s, const std::string& d) {
                    s.set("local_dir", d);
                    s.set("store", "local");
                    log::info("Store is: {}", s.store_description());
                  }))}),
          kw({"S3"}, "The S3 bucket set by S3 BUCKET", run([](Session& s) {
               s.set("store", "s3");
               log::info("Store is: {}", s.store_description());
             }))}),
  };
}

}  // namespace seshat::shell
