#include "seshat/session/session.h"

#include <fmt/format.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "seshat/backup/backup.h"
#include "seshat/fs/fs.h"
#include "seshat/repo/rebuild.h"
#include "seshat/repo/verify.h"
#include "seshat/restore/restore.h"
#include "seshat/session/store.h"
#include "seshat/session/summaries.h"
#include "seshat/util/bytes.h"
#include "seshat/util/env.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"
#include "seshat/util/workers.h"

namespace seshat::session {
namespace {

std::string this_host() {
  if (auto h = env::get(env::kHostname)) return *h;
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::string absolute_dir(const std::string& dir) {
  char buf[PATH_MAX];
  if (!::realpath(dir.c_str(), buf)) throw_errno(kind_from_errno(errno), "cannot back up " + dir, errno);
  return buf;
}

constexpr const char* kLockLost =
    "the DB lock of this backup was removed by another process (DB UNLOCK) or taken over; stopped without writing more";

// Settings whose change means another store.
bool other_store(const std::string& key) { return key == "store" || key == "local_dir" || key.starts_with("s3_"); }
// Settings whose change means the same store opened with other wrappers.
bool other_wrappers(const std::string& key) {
  return key == "dry_run" || key == "delay" || key == "staging" || key.starts_with("limit_") || key == "cache";
}

}  // namespace

Session::Session() : settings_path_(settings_path()), host_(this_host()), browser_(host_) {
  settings_ = load_settings(settings_path_, home_dir());
  apply_output();
}

void Session::apply_output() {
  log::all_to_stderr(settings_.json);
  set_live_progress(settings_.progress && !settings_.json && ::isatty(STDOUT_FILENO));
}

Session::~Session() = default;

// ---------------------------------------------------------------- settings

void Session::set(const std::string& key, const nlohmann::json& value) {
  Settings next = settings_;
  set_value(next, key, value);
  const SettingDef& d = setting(key);
  bool changed = d.get(next) != d.get(settings_);
  if (changed && other_store(key)) close_store();
  if (changed && other_wrappers(key)) {
    // Reopened with them by the next command; a lock DB LOCK holds stays held (a dry run
    // writes nothing, so it lets go of it, as a change of store does).
    if (open_ && key != "dry_run") held_over_ = open_->take_held();
    open_.reset();
  }
  settings_ = std::move(next);
  if (key == "detail") log::set_detail(settings_.detail);
  if (key == "progress" || key == "output") apply_output();
  if (d.remembered) save_settings(settings_, settings_path_);
}

void Session::add_pattern(bool exclude, const std::string& regex) {
  auto list = exclude ? settings_.excludes : settings_.includes;
  list.push_back(regex);
  set(exclude ? "excludes" : "includes", list);
}

void Session::reset_patterns(bool exclude) { set(exclude ? "excludes" : "includes", nlohmann::json::array()); }

void Session::close_store() {
  open_.reset();
  held_over_.reset();
  browser_.reset();
  restore_reset();
  rebased();
}

// ---------------------------------------------------------------- the repository

OpenRepository& Session::open_repo(bool create) {
  if (open_ && !open_->loaded()) {
    // Dropped after a failed or dry-run backup: the store has the last commit.
    open_->reload(store_description());
  } else if (!open_) {
    open_ = OpenRepository::open(settings_, create);
    if (held_over_) open_->adopt_held(std::move(held_over_));
  }
  return *open_;
}

catalog::Catalog& Session::cat() {
  open_repo();
  return *checked_catalog();
}

void Session::initialize() {
  if (open_) held_over_ = open_->take_held();
  open_.reset();
  open_repo(true);
}

// Holding the lock: what a killed backup left (see repo::tidy_after_interrupted).
void Session::tidy() {
  repo::TidyResult t = repo::tidy_after_interrupted(open_->repo(), open_->catalog());
  if (t.leftovers.objects > 0)
    log::info("Removed {} unfinished uploads of an interrupted backup{}", t.leftovers.objects,
              t.leftovers.bytes ? " (" + human_size(t.leftovers.bytes) + ")" : std::string());
  if (t.containers > 0)
    log::info("Adopted {} containers written by an interrupted backup: {} files in them are not sent again",
              t.containers, t.contents);
}

void Session::backup(const std::string& dir) {
  std::string folder = absolute_dir(dir);
  OpenRepository& o = open_repo(true);
  auto lock = o.lock_for_write(host_, settings_.wait, settings_.dry_run);
  o.reload_if_changed(store_description());
  if (!settings_.dry_run) tidy();
  backup::Options opt;
  opt.host = host_;
  opt.folder = folder;
  opt.max_container = settings_.max_container;
  opt.hidden = settings_.hidden;
  opt.follow_symlinks = settings_.symlinks;
  opt.dry_run = settings_.dry_run;
  opt.excludes = settings_.excludes;
  opt.includes = settings_.includes;
  opt.threads = worker_threads(1);
  opt.allow_deletions = settings_.deletions;
  if (settings_.store == StoreKind::kLocal) opt.own_dirs.emplace_back("store", settings_.local_dir);
  opt.own_dirs.emplace_back("staging area", settings_.staging + "/seshat-" + std::to_string(::geteuid()));
  repo::Lock* held = o.effective_lock(lock.get());
  opt.lock_held = [held] { return !held || held->still_held(); };
  catalog::Catalog& c = o.catalog();
  backup::Services services;
  services.writer = [&](const repo::ContainerOrigin& origin, repo::BlobWriter::Hooks hooks) {
    return o.repo().blob_writer(origin, opt.max_container, std::move(hooks));
  };
  services.save = [&](bool final) -> uint64_t {
    if (!opt.lock_held()) throw Error(ErrorKind::kLocked, kLockLost);
    // Only the final save may place this backup after another writer's commit: that
    // renumbers what it added, which a checkpoint's packer still refers to.
    o.generations().save(c, final);
    return o.generations().stored_bytes();  // what a reader loads: paces the checkpoints
  };
  backup::Result r;
  try {
    r = backup::run(c, opt, services);
  } catch (...) {
    // The in-memory catalog may hold half a backup; the store has the last checkpoint.
    o.drop_catalog();
    throw;
  }
  if (settings_.dry_run) o.drop_catalog();              // the walk recorded versions that were never stored
  if (!settings_.dry_run) settings_.deletions = false;  // SET DELETIONS YES allows one backup
  found_ = std::move(r.found_paths);
  if (r.not_backed_up > 0 || r.metadata_lost > 0) incomplete_ = true;
  if (settings_.json) log::json(backup_summary(r, host_, opt.folder, settings_.dry_run));
}

void Session::automatic() {
  const catalog::Catalog& c = cat();
  std::vector<std::string> paths;
  if (auto h = c.find_host(host_))
    for (const auto& f : c.folders)
      if (f.host == *h && f.automatic) paths.push_back(f.path);
  if (paths.empty())
    throw Error(
        ErrorKind::kInvalidInput,
        "no folder of host " + host_ + " is registered for AUTOMATIC; back one up with BACKUP <directory> first");
  // Every folder gets its turn: one that is missing, refused or failing is named in a WARN
  // and the others go on; the command fails at the end if any did. SET DELETIONS YES counts
  // for each folder of this AUTOMATIC.
  const bool deletions = settings_.deletions;
  std::vector<std::string> failed;
  for (const auto& p : paths) {
    settings_.deletions = deletions;
    try {
      backup(p);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kInterrupted) throw;
      log::warn("AUTOMATIC: the backup of {} failed: {}", p, e.what());
      failed.push_back(p);
    }
  }
  settings_.deletions = false;
  if (!failed.empty())
    throw Error(ErrorKind::kPermanent, fmt::format("AUTOMATIC: {} of {} folders were not backed up ({})", failed.size(),
                                                   paths.size(), fmt::join(failed, ", ")));
  log::info("AUTOMATIC: all {} folders backed up", paths.size());
}

void Session::automatic_add(const std::string& dir) {
  std::string folder = absolute_dir(dir);
  if (auto d = fs::Dir::open(folder); !d)  // opened as BACKUP will open it
    throw Error(ErrorKind::kInvalidInput,
                "cannot register " + dir + ": " + std::strerror(d.error().sys_errno() ? d.error().sys_errno() : EIO));
  OpenRepository& o = open_repo(true);
  auto lock = o.lock_for_write(host_, settings_.wait, settings_.dry_run);
  o.reload_if_changed(store_description());
  catalog::Catalog& c = o.catalog();
  uint32_t h = c.find_or_add_host(host_);
  auto existing = c.find_folder(h, folder);
  if (existing && c.folders[*existing].automatic) {
    log::info("{} is already registered for AUTOMATIC", folder);
    return;
  }
  if (settings_.dry_run) {
    log::info("Would register {} for AUTOMATIC (dry run)", folder);
    o.drop_catalog();
    return;
  }
  uint32_t f = existing ? *existing : c.find_or_add_folder(h, folder);
  c.folders[f].automatic = true;
  o.generations().save(c, true);
  log::info("Registered {} for AUTOMATIC (backed up by the next AUTOMATIC)", folder);
}

void Session::automatic_remove(std::optional<int> number, const std::string& path) {
  OpenRepository& o = open_repo();
  auto lock = o.lock_for_write(host_, settings_.wait, settings_.dry_run);
  o.reload_if_changed(store_description());
  catalog::Catalog& c = o.catalog();
  auto h = c.find_host(host_);
  std::vector<uint32_t> mine;  // LIST AUTO's rows, in its order
  for (uint32_t i = 0; h && i < c.folders.size(); ++i)
    if (c.folders[i].host == *h && c.folders[i].automatic) mine.push_back(i);
  std::optional<uint32_t> f;
  if (number) {
    if (*number < 1 || static_cast<size_t>(*number) > mine.size())
      throw Error(ErrorKind::kInvalidInput,
                  fmt::format("there is no AUTOMATIC folder number {} (LIST AUTO shows {})", *number, mine.size()));
    f = mine[static_cast<size_t>(*number - 1)];
  } else {
    std::string want = path;
    while (want.size() > 1 && want.back() == '/') want.pop_back();
    for (uint32_t i : mine)
      if (c.folders[i].path == want) f = i;
    if (!f)
      throw Error(ErrorKind::kNotFound,
                  "no folder " + path + " of host " + host_ + " is registered for AUTOMATIC (LIST AUTO shows them)");
  }
  if (settings_.dry_run) {
    log::info("Would unregister {} from AUTOMATIC (dry run)", c.folders[*f].path);
    return;
  }
  c.folders[*f].automatic = false;
  o.generations().save(c, true);
  log::info("Unregistered {} from AUTOMATIC; its backups stay (BACKUP {} registers it again)", c.folders[*f].path,
            c.folders[*f].path);
}

// What the browser and the restore plan's ids mean, to tell whether a reloaded catalog is
// the old one with more added (ids keep their meaning) or another one.
struct CatalogShape {
  std::vector<std::string> hosts;
  std::vector<std::pair<std::string, uint32_t>> folders;  // path, root
  std::vector<uint32_t> folder_hosts;
  std::vector<std::pair<uint32_t, int64_t>> backups;  // folder, time
  size_t entries = 0, versions = 0;
  uint64_t entries_hash = 0;   // over the first `entries` entries' parents and names
  uint64_t versions_hash = 0;  // over the first `versions` versions' backups, entries' chains and types
};

namespace {

// FNV-1a over 64-bit words.
struct Fnv {
  uint64_t h = 1469598103934665603ull;
  void mix(uint64_t v) { h = (h ^ v) * 1099511628211ull; }
};

uint64_t versions_hash(const catalog::Catalog& c, size_t n) {
  Fnv f;
  for (size_t i = 0; i < n; ++i) {
    const auto& v = c.versions[i];
    f.mix(v.backup);
    f.mix(v.prev);
    f.mix(static_cast<uint64_t>(v.type));
    f.mix(v.content);
  }
  return f.h;
}

uint64_t entries_hash(const catalog::Catalog& c, size_t n) {
  Fnv f;
  for (size_t i = 0; i < n; ++i) {
    f.mix(c.entries[i].parent);
    for (char ch : c.name(static_cast<uint32_t>(i))) f.mix(static_cast<unsigned char>(ch));
  }
  return f.h;
}

CatalogShape shape_of(const catalog::Catalog& c) {
  CatalogShape s;
  for (const auto& h : c.hosts) s.hosts.push_back(h.name);
  for (const auto& f : c.folders) {
    s.folders.emplace_back(f.path, f.root);
    s.folder_hosts.push_back(f.host);
  }
  for (const auto& b : c.backups) s.backups.emplace_back(b.folder, b.time_ns);
  s.entries = c.entries.size();
  s.versions = c.versions.size();
  s.entries_hash = entries_hash(c, s.entries);
  s.versions_hash = versions_hash(c, s.versions);
  return s;
}

bool extends(const CatalogShape& before, const catalog::Catalog& now) {
  if (now.hosts.size() < before.hosts.size() || now.folders.size() < before.folders.size() ||
      now.backups.size() < before.backups.size() || now.entries.size() < before.entries ||
      now.versions.size() < before.versions)
    return false;
  for (size_t i = 0; i < before.hosts.size(); ++i)
    if (now.hosts[i].name != before.hosts[i]) return false;
  for (size_t i = 0; i < before.folders.size(); ++i)
    if (now.folders[i].path != before.folders[i].first || now.folders[i].root != before.folders[i].second ||
        now.folders[i].host != before.folder_hosts[i])
      return false;
  for (size_t i = 0; i < before.backups.size(); ++i)
    if (now.backups[i].folder != before.backups[i].first || now.backups[i].time_ns != before.backups[i].second)
      return false;
  return entries_hash(now, before.entries) == before.entries_hash &&
         versions_hash(now, before.versions) == before.versions_hash;
}

}  // namespace

void Session::refresh() {
  if (!open_ || !open_->loaded()) return;
  try {
    if (!open_->generations().changed()) return;
    checked_catalog();  // the selections' base is the catalog in memory
    size_t before = open_->catalog().backups.size();
    open_->reload(store_description());
    catalog::Catalog& now = open_->catalog();
    if (validate(now)) return;  // replaced: said so
    if (now.backups.size() > before) {
      size_t n = now.backups.size() - before;
      log::info("{} by another process since the DB was loaded",
                n == 1 ? std::string("1 new backup was made") : fmt::format("{} new backups were made", n));
    }
  } catch (const Error& e) {
    // The command itself reports a store that cannot be read, if it needs it.
    log::debug("Could not check the store for newer DB generations: {}", e.what());
  }
}

bool Session::validate(catalog::Catalog& c) {
  bool replaced = base_shape_ && !extends(*base_shape_, c);
  if (replaced) {
    browser_ = Browser(host_);
    plan_.reset();
    log::info(
        "The DB was replaced by another process (DB REBUILD, RESET or LOAD): selections and the restore setup were "
        "reset");
  }
  base_shape_ = std::make_shared<const CatalogShape>(shape_of(c));
  base_load_ = open_->load_id();
  return replaced;
}

void Session::rebased() {
  base_shape_.reset();
  base_load_ = 0;
}

catalog::Catalog* Session::checked_catalog() {
  if (!open_ || !open_->loaded()) return nullptr;
  catalog::Catalog& c = open_->catalog();
  if (open_->load_id() != base_load_) validate(c);
  return &c;
}

void Session::db_load() { open_repo().reload(store_description()); }

void Session::db_save() {
  OpenRepository& o = open_repo();
  auto lock = o.lock_for_write(host_, settings_.wait, false);
  uint64_t n = o.generations().save(o.catalog(), true);
  log::info("Database saved to: {} (generation {}, {})", store_description(), o.generations().current(), human_size(n));
}

void Session::db_lock() {
  if (!open_repo().hold(host_, settings_.wait)) {
    log::info("DB Lock is already held by this session");
    return;
  }
  log::info("DB Lock acquired");
}

void Session::db_unlock() {
  if (held_over_ || (open_ && open_->release_held())) {
    held_over_.reset();
    log::info("DB Lock released");
    return;
  }
  auto store = open_store(settings_);
  auto holder = repo::Lock::force_unlock(*store, host_);
  if (!holder)
    log::info("The DB was not locked");
  else
    log::info("DB Lock removed ({})", holder->host.empty() ? "damaged record" : holder->describe());
}

std::optional<size_t> Session::loadable_backups() {
  try {
    return cat().backups.size();
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kCorruption) return std::nullopt;
    throw;
  }
}

std::vector<GenerationRow> Session::db_generations() {
  OpenRepository& o = open_repo();
  std::vector<GenerationRow> rows;
  for (const auto& g : o.generations().list())
    rows.push_back({g.number, g.size, false, g.number == o.generations().current()});
  for (const auto& g : o.generations().kept()) rows.push_back({g.number, g.size, true, false});
  return rows;
}

void Session::db_load_generation(uint64_t n) {
  OpenRepository& o = open_repo();
  auto lock = o.lock_for_write(host_, settings_.wait, settings_.dry_run);
  catalog::Catalog c = o.generations().read(n);
  o.generations().skip_to_newest();
  o.generations().save_whole(c);
  log::info("DB generation {} loaded ({} backups) and saved as generation {}", n, c.backups.size(),
            o.generations().current());
  o.set_catalog(std::move(c));
  browser_ = Browser(host_);
  restore_reset();
  rebased();
}

void Session::db_rebuild() {
  if (!open_) open_ = OpenRepository::open_for_rebuild(settings_);
  auto lock = open_->lock_for_write(host_, settings_.wait, settings_.dry_run);
  // The generation being replaced is set aside first, never pruned: DB LOAD <n> goes back.
  if (uint64_t kept = open_->generations().keep_newest())
    log::info("DB generation {} is kept (DB GENERATIONS lists it; DB LOAD {} goes back to it)", kept, kept);
  catalog::Catalog c;
  repo::RebuildResult r = repo::rebuild_catalog(open_->repo(), c);
  open_->generations().skip_to_newest();
  open_->generations().save_whole(c);
  open_->set_catalog(std::move(c));
  browser_.reset();
  restore_reset();
  rebased();
  log::info(
      "DB rebuilt from {} containers ({} unreadable, {} without backup records): {} backups, {} file versions; {} "
      "files with missing parts",
      r.containers, r.unreadable, r.without_origin, r.backups, r.files, r.incomplete_files);
  log::info(
      "Not recoverable from containers: deletions between backups, symlinks, empty files and directories' own "
      "metadata");
}

void Session::db_reset() {
  OpenRepository& o = open_repo();
  auto lock = o.lock_for_write(host_, settings_.wait, settings_.dry_run);
  catalog::Catalog empty;
  o.generations().save_whole(empty);
  o.set_catalog(std::move(empty));
  browser_ = Browser(host_);
  restore_reset();
  rebased();
  found_.clear();
  log::info("DB reset: generation {} is empty; the containers stay in the store until pruned",
            o.generations().current());
}

bool Session::verify(bool data, double percent) {
  OpenRepository& o = open_repo();
  if (percent <= 0 || percent > 100)
    throw Error(ErrorKind::kInvalidInput, "VERIFY DATA takes a percentage from 1 to 100");
  log::info("Verifying {}{}", store_description(),
            data ? fmt::format(" (downloading {}% of the blobs)", percent) : std::string());
  repo::VerifyResult r = repo::verify(o.repo(), o.catalog(), {data, percent});
  log::info(
      "Verified {} catalog generations, {} containers, {} blob references{}; {} problems, {} damaged file versions",
      r.generations, r.containers, r.blobs_checked,
      data ? fmt::format(", {} blobs downloaded and authenticated", r.blobs_read) : "", r.problems,
      r.damaged_files.size());
  if (r.unreferenced > 0)
    log::info("{} containers are not referenced by the catalog (left by interrupted backups; harmless)",
              r.unreferenced);
  if (settings_.json) log::json(verify_summary(r, data, percent));
  return r.problems == 0;
}

DbSize Session::db_size() {
  OpenRepository& o = open_repo();
  DbSize s;
  auto gens = o.generations().list();
  s.generation = o.generations().current();
  s.generations = gens.size();
  s.stored_bytes = o.generations().stored_bytes();
  s.deltas = o.generations().deltas();
  const auto& c = o.catalog();
  s.hosts = c.hosts.size();
  s.folders = c.folders.size();
  s.backups = c.backups.size();
  s.containers = c.containers.size();
  s.entries = c.entries.size();
  s.versions = c.versions.size();
  s.contents = c.contents.size();
  s.memory_bytes = c.memory_bytes();
  return s;
}

// ---------------------------------------------------------------- restore

std::vector<EntryRow> Session::list_changes(int number, std::string& label) {
  const catalog::Catalog& c = cat();
  uint32_t b = 0;
  auto rows = browser_.list_changes(c, number, b);
  const auto& f = c.folders[c.backups[b].folder];
  label = backup_label(c, b) + " of " + f.path + " on host " + c.hosts[f.host].name;
  return rows;
}

void Session::restore_reset() {
  plan_.reset();
  browser_.set_time(std::nullopt);
}

void Session::restore_timestamp(const std::string& when) {
  auto t = parse_listing(when, true);
  if (!t) throw Error(ErrorKind::kInvalidInput, "'" + when + "' is not a timestamp of the form dd-MMM-yyyy HH:MM[:SS]");
  browser_.set_time(*t);
  log::info("Restore timestamp is: {}", when);
}

size_t Session::restore_conflicts() {
  const catalog::Catalog& c = cat();
  return restore::count_differing(c, plan_.resolve(c, browser_, false), plan_.target());
}

RestoreOutcome Session::restore_go(bool overwrite) {
  const catalog::Catalog& c = cat();
  OpenRepository& o = *open_;
  std::vector<restore::Item> items = plan_.resolve(c, browser_);
  restore::Options opt;
  opt.target = plan_.target();
  opt.dry_run = settings_.dry_run;
  opt.overwrite = overwrite || settings_.overwrite;
  opt.sparse = settings_.sparse;
  opt.threads = worker_threads(2, 4);  // reads in flight: a few even on one core
  log::info("{} {} to {}", settings_.dry_run ? "Would restore" : "Restoring", plural(items.size(), "item", "items"),
            opt.target.empty() ? "ORIGINAL" : opt.target);
  auto reader = o.repo().blob_reader(c);
  restore::Result r = restore::run(c, items, opt, *reader);
  RestoreOutcome out{r.files + r.symlinks + r.specials, r.identical, r.kept, r.failed};
  if (settings_.json) log::json(restore_summary(r, items.size(), opt.target, settings_.dry_run));
  if (settings_.dry_run) return out;
  if (r.incomplete > 0) incomplete_ = true;
  log::info("Restore complete: {} ({}{}), {}, {}{} restored, {} already identical, {} kept, {} failed{}",
            plural(r.files, "file", "files"), human_size(r.bytes),
            r.links ? fmt::format("; {} of them as hard links", r.links) : "",
            plural(r.dirs, "directory", "directories"), plural(r.symlinks, "symlink", "symlinks"),
            r.specials ? ", " + plural(r.specials, "special file", "special files") : "", r.identical, r.kept, r.failed,
            r.incomplete ? fmt::format(", {} without all their metadata", r.incomplete) : "");
  return out;
}

}  // namespace seshat::session
