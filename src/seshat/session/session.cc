#include "seshat/session/session.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include <re2/re2.h>
#include <sys/stat.h>

#include <algorithm>
#include <unordered_map>
#include <cstdlib>
#include <cstring>

#include "seshat/repo/rebuild.h"
#include "seshat/repo/verify.h"
#include "seshat/session/aws.h"
#include "seshat/storage/s3_storage.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::session {
namespace {

std::string this_host() {
  if (const char* h = std::getenv("SESHAT_HOSTNAME"); h && *h) return h;
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

std::string prompt_hidden(const char* prompt) {
  int fd = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0) throw Error(ErrorKind::kInvalidInput, "no passphrase: set SESHAT_PASSWORD or SESHAT_PASSWORD_FILE");
  ::write(fd, prompt, std::strlen(prompt));
  termios old{};
  bool restore = ::tcgetattr(fd, &old) == 0;
  if (restore) {
    termios t = old;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(fd, TCSAFLUSH, &t);
  }
  std::string line;
  char c;
  while (::read(fd, &c, 1) == 1 && c != '\n') line.push_back(c);
  if (restore) ::tcsetattr(fd, TCSAFLUSH, &old);
  ::write(fd, "\n", 1);
  ::close(fd);
  return line;
}

std::string absolute_dir(const std::string& dir) {
  char buf[PATH_MAX];
  if (!::realpath(dir.c_str(), buf)) throw_errno(kind_from_errno(errno), "cannot back up " + dir, errno);
  return buf;
}

bool dir_is_empty_or_missing(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return true;
  bool empty = true;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) empty = false;
  ::closedir(d);
  return empty;
}

crypto::KdfParams kdf_params() {
  crypto::KdfParams p;
  // Tests and benchmarks may ask for cheaper key derivation; the parameters are stored in the
  // key file, so a repository made this way stays readable either way.
  if (const char* m = std::getenv("SESHAT_KDF_MEMLIMIT")) p.mem = std::strtoull(m, nullptr, 10);
  if (const char* o = std::getenv("SESHAT_KDF_OPSLIMIT")) p.ops = std::strtoull(o, nullptr, 10);
  return p;
}

}  // namespace

std::string read_passphrase(bool confirm) {
  if (const char* p = std::getenv("SESHAT_PASSWORD"); p && *p) return p;
  if (const char* f = std::getenv("SESHAT_PASSWORD_FILE"); f && *f) {
    std::string text = read_file(f);
    size_t nl = text.find('\n');
    if (nl != std::string::npos) text.resize(nl);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.empty()) throw Error(ErrorKind::kInvalidInput, std::string("the passphrase file ") + f + " is empty");
    return text;
  }
  if (!::isatty(STDIN_FILENO)) throw Error(ErrorKind::kInvalidInput, "no passphrase: set SESHAT_PASSWORD or SESHAT_PASSWORD_FILE, or run on a terminal");
  std::string p = prompt_hidden(confirm ? "New passphrase: " : "Passphrase: ");
  if (p.empty()) throw Error(ErrorKind::kInvalidInput, "an empty passphrase is not allowed");
  if (confirm && prompt_hidden("Repeat the passphrase: ") != p) throw Error(ErrorKind::kInvalidInput, "the passphrases do not match; nothing was created");
  return p;
}

Session::Session() : config_path_(config_path()), host_(this_host()) {
  config_ = Config::load(config_path_, home_dir());
}

Session::~Session() = default;

void Session::save_config() { config_.save(config_path_); }

std::string Session::store_description() const {
  if (config_.store == "s3") return "S3 " + config_.s3_bucket + (config_.s3_endpoint.empty() ? "" : " at " + config_.s3_endpoint);
  return "LOCAL " + config_.local_dir;
}

void Session::close_store() {
  held_lock_.reset();
  repo_.reset();
  catalog_.reset();
  select_reset();
  restore_reset();
}

void Session::set_store_local(const std::string& dir) {
  if (dir.empty() || dir[0] != '/') throw Error(ErrorKind::kInvalidInput, "STORE LOCAL needs an absolute directory, not '" + dir + "'");
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  if (config_.store != "local" || config_.local_dir != d) close_store();
  config_.store = "local";
  config_.local_dir = d;
  save_config();
  log::info("Store is: {}", store_description());
}

void Session::set_store_s3() {
  if (config_.store != "s3") close_store();
  config_.store = "s3";
  save_config();
  log::info("Store is: {}", store_description());
}

void Session::set_s3(const std::string& what, const std::string& value) {
  std::string* field = nullptr;
  if (what == "BUCKET") field = &config_.s3_bucket;
  else if (what == "REGION") field = &config_.s3_region;
  else if (what == "ENDPOINT") field = &config_.s3_endpoint;
  else if (what == "PROFILE") field = &config_.s3_profile;
  else if (what == "CLASS") field = &config_.s3_class;
  else if (what == "STYLE") field = &config_.s3_style;
  else throw Error(ErrorKind::kInvalidInput, "unknown S3 setting " + what);
  std::string v = value;
  if (what == "CLASS") {
    for (char& ch : v) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    static const char* const kClasses[] = {"STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"};
    if (std::find(std::begin(kClasses), std::end(kClasses), v) == std::end(kClasses))
      throw Error(ErrorKind::kInvalidInput, "unknown storage class " + value + " (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE)");
    if (v == "STANDARD") v.clear();
  }
  if (what == "BUCKET" && value.empty()) throw Error(ErrorKind::kInvalidInput, "a bucket name cannot be empty");
  if (what == "ENDPOINT" && !value.empty() && value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0)
    throw Error(ErrorKind::kInvalidInput, "S3 ENDPOINT needs a URL starting with http:// or https://");
  if (*field != v) close_store();
  *field = v;
  if (what == "BUCKET") config_.store = "s3";
  save_config();
  log::info("S3 {} is {}", what, v.empty() ? "(default)" : v);
}

void Session::set_dry_run(bool on) {
  if (on != dry_run_) {
    held_lock_.reset();
    repo_.reset();  // reopened over (or without) the dry-run wrapper
    catalog_.reset();
  }
  dry_run_ = on;
}

void Session::set_detail(bool on) {
  detail_ = on;
  log::set_detail(on);
}

std::shared_ptr<storage::Storage> Session::make_storage() {
  std::shared_ptr<storage::Storage> s;
  if (config_.store == "s3") {
    auto s3 = std::make_shared<storage::S3Storage>(s3_options(config_));
    s3->check_access();  // a clear message for a missing bucket or bad credentials, before anything else
    s = s3;
  } else {
    s = std::make_shared<storage::LocalStorage>(config_.local_dir);
  }
  s = storage::FaultStorage::wrap_from_env(s);  // test hook; a no-op unless SESHAT_FAULTS is set
  if (config_.delay) s = std::make_shared<storage::StagingStorage>(s, config_.staging);
  if (dry_run_) s = std::make_shared<storage::DryRunStorage>(s);
  return s;
}

catalog::Catalog& Session::cat() {
  ensure_open();
  return *catalog_;
}

void Session::ensure_open() {
  if (repo_ && catalog_) return;
  log::info("Initializing SESHAT and reading DB from {}", store_description());
  auto store = make_storage();
  if (!repo::Repository::exists(*store)) {
    bool empty = config_.store == "s3" ? store->list("seshat/").empty() && store->list(repo::kContainerPrefix).empty()
                                       : dir_is_empty_or_missing(config_.local_dir);
    if (!empty) throw Error(ErrorKind::kInvalidInput, "the store " + store_description() + " is not empty and holds no Seshat repository");
    std::string pass = read_passphrase(true);
    if (dry_run_) throw Error(ErrorKind::kInvalidInput, "there is no repository in " + store_description() + " yet (dry run: nothing created)");
    if (config_.store != "s3") make_dirs(config_.local_dir);
    log::info("Creating a new repository in {}", store_description());
    repo::Repository::init(*store, pass, kdf_params());
    repo_ = repo::Repository::open(store, pass);
  } else {
    repo_ = repo::Repository::open(store, read_passphrase(false));
  }
  catalog_ = repo_->load_catalog();
  log::info("Database loaded from: {}", store_description());
  if (config_.delay) log::info("Staging area is: {}", config_.staging);
  log::info("Initialisation is complete");
}

void Session::initialize() {
  repo_.reset();
  catalog_.reset();
  ensure_open();
}

void Session::reload_if_changed() {
  auto gens = repo_->list_generations();
  uint64_t newest = 0;
  if (!gens.empty()) newest = std::stoull(gens.back().name.substr(std::string_view(repo::kDbPrefix).size()));
  if (newest != repo_->generation()) {
    catalog_ = repo_->load_catalog();
    log::info("Database loaded from: {}", store_description());
  }
}

std::unique_ptr<repo::Lock> Session::take_lock() {
  if (held_lock_ || dry_run_) return nullptr;  // DB LOCK holds it already; a dry run writes nothing
  auto lock = repo::Lock::acquire(repo_->store_ptr(), host_, config_.wait);
  log::info("DB Lock acquired");
  return lock;
}

constexpr const char* kLockLost =
    "the DB lock of this backup was removed by another process (DB UNLOCK) or taken over; stopped without writing more";

// Holding the lock: what a killed backup left (see repo::tidy_after_interrupted).
void Session::tidy() {
  repo::TidyResult t = repo::tidy_after_interrupted(*repo_, *catalog_);
  if (t.leftovers.objects > 0)
    log::info("Removed {} unfinished uploads of an interrupted backup{}", t.leftovers.objects,
              t.leftovers.bytes ? " (" + human_size(t.leftovers.bytes) + ")" : std::string());
  if (t.containers > 0)
    log::info("Adopted {} containers written by an interrupted backup: {} files in them are not sent again", t.containers, t.contents);
}

void Session::backup(const std::string& dir) {
  std::string folder = absolute_dir(dir);
  ensure_open();
  auto lock = take_lock();
  reload_if_changed();
  if (!dry_run_) tidy();
  backup::Options o;
  o.host = host_;
  o.folder = folder;
  o.max_container = config_.max_container;
  o.hidden = config_.hidden;
  o.follow_symlinks = config_.symlinks;
  o.dry_run = dry_run_;
  o.excludes = config_.excludes;
  o.includes = config_.includes;
  if (const char* t = std::getenv("SESHAT_THREADS")) o.threads = std::atoi(t);
  repo::Lock* held = lock ? lock.get() : held_lock_.get();
  o.lock_held = [held] { return !held || held->still_held(); };
  catalog::Catalog& c = *catalog_;
  backup::Result r;
  try {
    r = backup::run(*repo_, c, o, [&]() -> uint64_t {
      if (!o.lock_held()) throw Error(ErrorKind::kLocked, kLockLost);
      return repo_->save_catalog(c);
    });
  } catch (...) {
    // The in-memory catalog may hold half a backup; the store has the last checkpoint.
    catalog_.reset();
    throw;
  }
  if (dry_run_) catalog_.reset();  // the walk recorded versions that were never stored
  found_ = std::move(r.found_paths);
  if (r.not_backed_up > 0) incomplete_ = true;
}

void Session::automatic() {
  ensure_open();
  std::vector<std::string> paths;
  auto h = catalog_->find_host(host_);
  if (h)
    for (const auto& f : catalog_->folders)
      if (f.host == *h && f.automatic) paths.push_back(f.path);
  if (paths.empty())
    throw Error(ErrorKind::kInvalidInput, "no folder of host " + host_ + " is registered for AUTOMATIC; back one up with BACKUP <directory> first");
  for (const auto& p : paths) backup(p);
}

void Session::db_load() {
  ensure_open();
  catalog_ = repo_->load_catalog();
  log::info("Database loaded from: {}", store_description());
}

void Session::db_save() {
  ensure_open();
  auto lock = take_lock();
  uint64_t n = repo_->save_catalog(*catalog_);
  log::info("Database saved to: {} (generation {}, {})", store_description(), repo_->generation(), human_size(n));
}

void Session::db_lock() {
  ensure_open();
  if (held_lock_) {
    log::info("DB Lock is already held by this session");
    return;
  }
  held_lock_ = repo::Lock::acquire(repo_->store_ptr(), host_, config_.wait);
  log::info("DB Lock acquired");
}

void Session::db_unlock() {
  auto store = make_storage();
  if (held_lock_) {
    held_lock_.reset();
    log::info("DB Lock released");
    return;
  }
  auto holder = repo::Lock::force_unlock(*store, host_);
  if (!holder) log::info("The DB was not locked");
  else log::info("DB Lock removed ({})", holder->host.empty() ? "damaged record" : holder->describe());
}

void Session::db_rebuild() {
  // Open without loading the catalog: it may be exactly what is damaged.
  if (!repo_) {
    log::info("Initializing SESHAT for DB REBUILD from {}", store_description());
    auto store = make_storage();
    if (!repo::Repository::exists(*store)) throw Error(ErrorKind::kNotFound, "there is no repository in " + store_description());
    repo_ = repo::Repository::open(store, read_passphrase(false));
  }
  auto lock = take_lock();
  catalog::Catalog c;
  repo::RebuildResult r = repo::rebuild_catalog(*repo_, c);
  repo_->skip_to_newest_generation();
  repo_->save_catalog(c);
  catalog_ = std::move(c);
  select_reset();
  restore_reset();
  log::info("DB rebuilt from {} containers ({} unreadable, {} without backup records): {} backups, {} file versions; {} files with missing parts",
            r.containers, r.unreadable, r.without_origin, r.backups, r.files, r.incomplete_files);
  log::info("Not recoverable from containers: deletions between backups, symlinks, empty files and directories' own metadata");
}

bool Session::verify(bool data, double percent) {
  ensure_open();
  if (percent <= 0 || percent > 100) throw Error(ErrorKind::kInvalidInput, "VERIFY DATA takes a percentage from 1 to 100");
  log::info("Verifying {}{}", store_description(), data ? fmt::format(" (downloading {}% of the blobs)", percent) : std::string());
  repo::VerifyResult r = repo::verify(*repo_, *catalog_, {data, percent});
  log::info("Verified {} catalog generations, {} containers, {} blob references{}; {} problems, {} damaged file versions",
            r.generations, r.containers, r.blobs_checked, data ? fmt::format(", {} blobs downloaded and authenticated", r.blobs_read) : "",
            r.problems, r.damaged_files.size());
  if (r.unreferenced > 0)
    log::info("{} containers are not referenced by the catalog (left by interrupted backups; harmless)", r.unreferenced);
  return r.problems == 0;
}

DbSize Session::db_size() {
  ensure_open();
  DbSize s;
  auto gens = repo_->list_generations();
  s.generation = repo_->generation();
  s.generations = gens.size();
  if (!gens.empty()) s.stored_bytes = gens.back().size;
  const auto& c = *catalog_;
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

// ---------------------------------------------------------------- listings and selections

std::vector<BackupRow> Session::backups() {
  const auto& c = cat();
  std::vector<BackupRow> rows;
  for (uint32_t i = 0; i < c.backups.size(); ++i) {
    const auto& b = c.backups[i];
    const auto& f = c.folders[b.folder];
    if (sel_folder_ && b.folder != *sel_folder_) continue;
    if (sel_host_ && f.host != *sel_host_) continue;
    rows.push_back({i, c.hosts[f.host].name, f.path, b.time_ns, b.complete, b.files_stored, b.bytes_stored});
  }
  std::stable_sort(rows.begin(), rows.end(), [](const BackupRow& a, const BackupRow& b) { return a.time_ns < b.time_ns; });
  return rows;
}

std::vector<FolderRow> Session::folders() {
  const auto& c = cat();
  std::vector<FolderRow> rows;
  for (uint32_t i = 0; i < c.folders.size(); ++i) {
    const auto& f = c.folders[i];
    if (sel_host_ && f.host != *sel_host_) continue;
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

std::vector<HostRow> Session::hosts() {
  const auto& c = cat();
  std::vector<HostRow> rows;
  for (uint32_t i = 0; i < c.hosts.size(); ++i) {
    size_t n = 0;
    for (const auto& f : c.folders) n += f.host == i;
    rows.push_back({i, c.hosts[i].name, n});
  }
  return rows;
}

void Session::select_backup_number(int n) {
  auto rows = backups();
  if (n < 1 || static_cast<size_t>(n) > rows.size())
    throw Error(ErrorKind::kInvalidInput, fmt::format("there is no backup number {} (LIST BACKUPS shows {})", n, rows.size()));
  const auto& r = rows[static_cast<size_t>(n - 1)];
  sel_backup_ = r.backup;
  sel_folder_ = catalog_->backups[r.backup].folder;
  sel_host_ = catalog_->folders[*sel_folder_].host;
  log::info("Selected backup {} of {} on {} at {}", n, r.folder, r.host, format_listing(r.time_ns));
}

void Session::select_backup_date(const std::string& date) {
  auto t = parse_listing(date, true);
  if (!t) throw Error(ErrorKind::kInvalidInput, "'" + date + "' is not a date of the form dd-MMM-yyyy [HH:MM[:SS]]");
  auto rows = backups();
  const BackupRow* best = nullptr;
  for (const auto& r : rows)
    if (r.time_ns <= *t) best = &r;
  if (!best) throw Error(ErrorKind::kNotFound, "no backup at or before " + date);
  sel_backup_ = best->backup;
  sel_folder_ = catalog_->backups[best->backup].folder;
  sel_host_ = catalog_->folders[*sel_folder_].host;
  log::info("Selected the backup of {} on {} at {}", best->folder, best->host, format_listing(best->time_ns));
}

void Session::select_folder(const std::string& name) {
  const auto& c = cat();
  std::string want = name;
  while (want.size() > 1 && want.back() == '/') want.pop_back();
  std::vector<uint32_t> matches;
  for (uint32_t i = 0; i < c.folders.size(); ++i) {
    if (sel_host_ && c.folders[i].host != *sel_host_) continue;
    if (c.folders[i].path == want) matches.push_back(i);
  }
  if (matches.size() > 1) {
    // The same path on several hosts: prefer this host's.
    auto h = c.find_host(host_);
    std::vector<uint32_t> mine;
    for (uint32_t m : matches)
      if (h && c.folders[m].host == *h) mine.push_back(m);
    if (mine.size() == 1) matches = mine;
  }
  if (matches.empty()) throw Error(ErrorKind::kNotFound, "no backed-up folder " + name + " (LIST FOLDERS shows them)");
  if (matches.size() > 1) throw Error(ErrorKind::kInvalidInput, "folder " + name + " exists on several hosts; SELECT HOST first");
  sel_folder_ = matches[0];
  sel_host_ = c.folders[matches[0]].host;
  if (sel_backup_ && c.backups[*sel_backup_].folder != *sel_folder_) sel_backup_.reset();
  log::info("Selected folder {} of host {}", want, c.hosts[*sel_host_].name);
}

void Session::select_folder_number(int n) {
  auto rows = folders();
  if (n < 1 || static_cast<size_t>(n) > rows.size())
    throw Error(ErrorKind::kInvalidInput, fmt::format("there is no folder number {} (LIST FOLDERS shows {})", n, rows.size()));
  sel_folder_ = rows[static_cast<size_t>(n - 1)].folder;
  sel_host_ = catalog_->folders[*sel_folder_].host;
  if (sel_backup_ && catalog_->backups[*sel_backup_].folder != *sel_folder_) sel_backup_.reset();
  log::info("Selected folder {} of host {}", rows[static_cast<size_t>(n - 1)].path, rows[static_cast<size_t>(n - 1)].host);
}

void Session::select_host(const std::string& name) {
  auto h = cat().find_host(name);
  if (!h) throw Error(ErrorKind::kNotFound, "no host " + name + " in the DB (LIST HOSTS shows them)");
  if (sel_host_ != h) {
    sel_folder_.reset();
    sel_backup_.reset();
  }
  sel_host_ = *h;
  log::info("Selected host {}", name);
}

void Session::select_host_number(int n) {
  auto rows = hosts();
  if (n < 1 || static_cast<size_t>(n) > rows.size())
    throw Error(ErrorKind::kInvalidInput, fmt::format("there is no host number {} (LIST HOSTS shows {})", n, rows.size()));
  select_host(rows[static_cast<size_t>(n - 1)].name);
}

void Session::select_reset() {
  sel_host_.reset();
  sel_folder_.reset();
  sel_backup_.reset();
  cwd_.reset();
  picked_.reset();
}

std::string Session::selection_description() const {
  if (!catalog_) return "none";
  std::string s;
  if (sel_host_) s += "host " + catalog_->hosts[*sel_host_].name;
  if (sel_folder_) s += (s.empty() ? "" : ", ") + std::string("folder ") + catalog_->folders[*sel_folder_].path;
  if (sel_backup_) s += (s.empty() ? "" : ", ") + std::string("backup of ") + format_listing(catalog_->backups[*sel_backup_].time_ns);
  return s.empty() ? "none" : s;
}

// ---------------------------------------------------------------- restore

void Session::restore_reset() {
  restore_set_.clear();
  restore_target_.clear();
  restore_time_.reset();
}

void Session::restore_add_reset() {
  restore_set_.clear();
  log::info("Restore selections reset");
}

uint32_t Session::require_folder() {
  auto& c = cat();
  if (!c.child_index_current()) c.build_child_index();
  if (!sel_folder_) throw Error(ErrorKind::kInvalidInput, "select a folder first (SELECT FOLDER or SELECT BACKUP)");
  return *sel_folder_;
}

uint32_t Session::folder_of(uint32_t entry) const {
  const auto& c = *catalog_;
  uint32_t e = entry;
  while (c.entries[e].parent != catalog::kNone) e = c.entries[e].parent;
  for (uint32_t i = 0; i < c.folders.size(); ++i)
    if (c.folders[i].root == e) return i;
  throw Error(ErrorKind::kCorruption, "catalog entry without a folder");
}

uint32_t Session::cwd_entry() {
  uint32_t f = require_folder();
  if (!cwd_ || *cwd_ >= catalog_->entries.size() || folder_of(*cwd_) != f) cwd_ = catalog_->folders[f].root;
  return *cwd_;
}

std::string Session::cwd_path() { return catalog_ && sel_folder_ ? catalog_->path(cwd_entry()) : "(no folder selected)"; }

void Session::restore_add_tree() {
  uint32_t f = require_folder();
  uint32_t e = cwd_entry();
  restore_set_.push_back({Selection::kTree, f, e, catalog::kNone});
  log::info("Added the tree {} to the restore", catalog_->path(e));
}

void Session::restore_add_folder() {
  uint32_t f = require_folder();
  uint32_t e = cwd_entry();
  restore_set_.push_back({Selection::kFolderFiles, f, e, catalog::kNone});
  log::info("Added the files of {} to the restore", catalog_->path(e));
}

void Session::restore_add_file(int n) {
  if (n < 1 || static_cast<size_t>(n) > last_rows_.size())
    throw Error(ErrorKind::kInvalidInput, fmt::format("there is no row {} in the last listing ({} rows)", n, last_rows_.size()));
  const EntryRow& r = last_rows_[static_cast<size_t>(n - 1)];
  const auto& c = cat();
  if (r.version == catalog::kNone || c.versions[r.version].type == catalog::Type::kDeleted)
    throw Error(ErrorKind::kInvalidInput, "row " + std::to_string(n) + " is a deletion, not a version to restore");
  uint32_t f = folder_of(r.entry);
  if (c.versions[r.version].type == catalog::Type::kDir) {
    restore_set_.push_back({Selection::kTree, f, r.entry, catalog::kNone});
    log::info("Added the tree {} to the restore", r.path);
  } else {
    restore_set_.push_back({Selection::kVersion, f, r.entry, r.version});
    log::info("Added {} as of {} to the restore", c.path(r.entry), format_listing(r.backup_ns));
  }
}

void Session::restore_add_all() {
  if (last_rows_.empty()) throw Error(ErrorKind::kInvalidInput, "nothing listed: use LIST FILES, LIST VERSIONS or SEARCH first");
  size_t added = 0;
  for (size_t i = 0; i < last_rows_.size(); ++i) {
    const EntryRow& r = last_rows_[i];
    if (r.version == catalog::kNone || catalog_->versions[r.version].type == catalog::Type::kDeleted) continue;
    restore_add_file(static_cast<int>(i + 1));
    ++added;
  }
  log::info("Added {} rows to the restore", added);
}

void Session::restore_baremetal() {
  auto& c = cat();
  if (!c.child_index_current()) c.build_child_index();
  std::optional<uint32_t> h = sel_host_;
  if (!h) h = c.find_host(host_);
  if (!h) throw Error(ErrorKind::kNotFound, "host " + host_ + " has no backups; SELECT HOST first");
  size_t n = 0;
  for (uint32_t f = 0; f < c.folders.size(); ++f)
    if (c.folders[f].host == *h) {
      restore_set_.push_back({Selection::kTree, f, c.folders[f].root, catalog::kNone});
      ++n;
    }
  log::info("Added every folder of host {} to the restore ({} folders)", c.hosts[*h].name, n);
}

std::vector<std::string> Session::restore_selected() {
  const auto& c = cat();
  std::vector<std::string> out;
  for (const auto& s : restore_set_) {
    switch (s.kind) {
      case Selection::kTree: out.push_back("tree    " + c.path(s.entry)); break;
      case Selection::kFolderFiles: out.push_back("files   " + c.path(s.entry) + "/*"); break;
      case Selection::kVersion:
        out.push_back("file    " + c.path(s.entry) + "  (version of " + format_listing(c.backups[c.versions[s.version].backup].time_ns) + ")");
        break;
    }
  }
  return out;
}

void Session::restore_target(const std::string& dir) {
  if (!dir.empty() && dir[0] != '/') throw Error(ErrorKind::kInvalidInput, "RESTORE TARGET needs an absolute directory or ORIGINAL");
  restore_target_ = dir;
  log::info("Restore target is: {}", dir.empty() ? "ORIGINAL" : dir);
}

void Session::restore_timestamp(const std::string& when) {
  auto t = parse_listing(when, true);
  if (!t) throw Error(ErrorKind::kInvalidInput, "'" + when + "' is not a timestamp of the form dd-MMM-yyyy HH:MM[:SS]");
  restore_time_ = *t;
  log::info("Restore timestamp is: {}", when);
}

uint32_t Session::backup_for(uint32_t folder) const {
  const auto& c = *catalog_;
  std::optional<uint32_t> best;
  if (restore_time_) {
    for (uint32_t i = 0; i < c.backups.size(); ++i)
      if (c.backups[i].folder == folder && c.backups[i].time_ns <= *restore_time_ &&
          (!best || c.backups[i].time_ns >= c.backups[*best].time_ns))
        best = i;
    if (!best) throw Error(ErrorKind::kNotFound, "no backup of " + c.folders[folder].path + " at or before the restore timestamp");
    return *best;
  }
  if (sel_backup_ && c.backups[*sel_backup_].folder == folder) return *sel_backup_;
  for (uint32_t i = 0; i < c.backups.size(); ++i)
    if (c.backups[i].folder == folder && (!best || c.backups[i].time_ns >= c.backups[*best].time_ns)) best = i;
  if (!best) throw Error(ErrorKind::kNotFound, "no backup of " + c.folders[folder].path);
  return *best;
}

std::vector<restore::Item> Session::resolve_restore() {
  auto& c = cat();
  if (!c.child_index_current()) c.build_child_index();
  if (restore_set_.empty()) throw Error(ErrorKind::kInvalidInput, "nothing to restore: add files with RESTORE ADD first");
  std::vector<restore::Item> items;
  std::unordered_map<uint32_t, size_t> seen;  // entry -> index in items (a later selection wins)
  auto add = [&](uint32_t e, uint32_t v) {
    auto [it, inserted] = seen.emplace(e, items.size());
    if (inserted) items.push_back({e, v});
    else items[it->second].version = v;
  };
  for (const auto& s : restore_set_) {
    if (s.kind == Selection::kVersion) {
      add(s.entry, s.version);
      continue;
    }
    uint32_t b = backup_for(s.folder);
    if (s.kind == Selection::kTree) {
      log::info("Restoring {} as of the backup of {}", c.path(s.entry), format_listing(c.backups[b].time_ns));
      c.for_each_at(s.entry, b, [&](uint32_t e, uint32_t v) { add(e, v); });
    } else {
      auto [first, last] = c.children(s.entry);
      for (const uint32_t* it = first; it != last; ++it) {
        uint32_t v = c.version_at(*it, b);
        if (v != catalog::kNone && (c.versions[v].type == catalog::Type::kFile || c.versions[v].type == catalog::Type::kSymlink)) add(*it, v);
      }
    }
  }
  return items;
}

size_t Session::restore_conflicts() {
  auto items = resolve_restore();
  size_t n = 0;
  struct stat st;
  for (const auto& it : items) {
    if (catalog_->versions[it.version].type == catalog::Type::kDir) continue;
    if (::lstat(restore::destination(catalog_->path(it.entry), restore_target_).c_str(), &st) == 0) ++n;
  }
  return n;
}

bool Session::restore_go() {
  auto& c = cat();
  std::vector<restore::Item> items = resolve_restore();
  restore::Options o;
  o.target = restore_target_;
  o.dry_run = dry_run_;
  if (const char* t = std::getenv("SESHAT_THREADS")) o.threads = std::atoi(t);
  log::info("Restoring {} items to {}", items.size(), restore_target_.empty() ? "ORIGINAL" : restore_target_);
  restore::Result r = restore::run(*repo_, c, items, o);
  if (dry_run_) return true;
  log::info("Restore complete: {} files ({}), {} directories, {} symlinks restored, {} failed", r.files, human_size(r.bytes),
            r.dirs, r.symlinks, r.failed);
  return r.failed == 0;
}

// ---------------------------------------------------------------- browsing

std::vector<EntryRow> Session::list_files() {
  uint32_t f = require_folder();
  uint32_t cwd = cwd_entry();
  uint32_t b = backup_for(f);
  const auto& c = *catalog_;
  std::vector<EntryRow> rows;
  auto [first, last] = c.children(cwd);
  for (const uint32_t* it = first; it != last; ++it) {
    uint32_t v = c.version_at(*it, b);
    if (v == catalog::kNone || c.versions[v].type == catalog::Type::kDeleted) continue;
    rows.push_back({*it, v, std::string(c.name(*it)), 0, c.backups[c.versions[v].backup].time_ns, false});
  }
  last_rows_ = rows;
  return rows;
}

std::vector<EntryRow> Session::list_tree() {
  uint32_t f = require_folder();
  uint32_t cwd = cwd_entry();
  uint32_t b = backup_for(f);
  const auto& c = *catalog_;
  std::vector<EntryRow> rows;
  std::vector<std::pair<uint32_t, int>> stack{{cwd, 0}};
  while (!stack.empty()) {
    auto [e, depth] = stack.back();
    stack.pop_back();
    uint32_t v = c.version_at(e, b);
    if (v == catalog::kNone || c.versions[v].type == catalog::Type::kDeleted) continue;
    if (e != cwd) rows.push_back({e, v, std::string(c.name(e)), depth - 1, c.backups[c.versions[v].backup].time_ns, false});
    if (c.versions[v].type != catalog::Type::kDir) continue;
    auto [first, last] = c.children(e);
    for (const uint32_t* it = last; it != first;) stack.push_back({*--it, depth + 1});
  }
  last_rows_ = rows;
  return rows;
}

std::vector<EntryRow> Session::list_versions() {
  require_folder();
  const auto& c = *catalog_;
  std::vector<uint32_t> entries;
  if (picked_ && *picked_ < c.entries.size() && folder_of(*picked_) == *sel_folder_) {
    entries.push_back(*picked_);
  } else {
    auto [first, last] = c.children(cwd_entry());
    for (const uint32_t* it = first; it != last; ++it) {
      uint32_t l = c.entries[*it].latest;
      bool is_file = false;
      for (uint32_t v = l; v != catalog::kNone; v = c.versions[v].prev)
        if (c.versions[v].type == catalog::Type::kFile || c.versions[v].type == catalog::Type::kSymlink) is_file = true;
      if (is_file) entries.push_back(*it);
    }
  }
  std::vector<EntryRow> rows;
  for (uint32_t e : entries) {
    std::string path = c.path(e);
    for (uint32_t v = c.entries[e].latest; v != catalog::kNone; v = c.versions[v].prev)
      rows.push_back({e, v, path, 0, c.backups[c.versions[v].backup].time_ns, false});
  }
  last_rows_ = rows;
  return rows;
}

std::vector<EntryRow> Session::search(const std::string& pattern, bool regex) {
  auto& c = cat();
  if (!c.child_index_current()) c.build_child_index();
  std::unique_ptr<RE2> re;
  std::string needle;
  if (regex) {
    re = std::make_unique<RE2>(pattern, RE2::Quiet);
    if (!re->ok()) throw Error(ErrorKind::kInvalidInput, "bad regular expression '" + pattern + "': " + re->error());
  } else {
    for (char ch : pattern) needle.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  }
  std::vector<EntryRow> rows;
  std::string lowered;
  for (uint32_t f = 0; f < c.folders.size(); ++f) {
    if (sel_folder_ && f != *sel_folder_) continue;
    if (sel_host_ && c.folders[f].host != *sel_host_) continue;
    std::vector<std::pair<uint32_t, std::string>> stack{{c.folders[f].root, c.folders[f].path}};
    while (!stack.empty()) {
      auto [e, path] = std::move(stack.back());
      stack.pop_back();
      auto [first, last] = c.children(e);
      for (const uint32_t* it = last; it != first;) {
        --it;
        stack.push_back({*it, path == "/" ? "/" + std::string(c.name(*it)) : path + "/" + std::string(c.name(*it))});
      }
      uint32_t latest = c.entries[e].latest;
      bool match;
      if (regex) {
        match = RE2::PartialMatch(path, *re);
      } else {
        lowered.clear();
        for (char ch : path) lowered.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
        match = lowered.find(needle) != std::string::npos;
      }
      if (!match) continue;
      bool deleted = latest != catalog::kNone && c.versions[latest].type == catalog::Type::kDeleted;
      for (uint32_t v = latest; v != catalog::kNone; v = c.versions[v].prev) {
        auto t = c.versions[v].type;
        if (t != catalog::Type::kFile && t != catalog::Type::kSymlink) continue;
        rows.push_back({e, v, path, 0, c.backups[c.versions[v].backup].time_ns, deleted});
      }
    }
  }
  last_rows_ = rows;
  return rows;
}

std::string Session::cd(const std::string& where) {
  uint32_t f = require_folder();
  uint32_t cwd = cwd_entry();
  const auto& c = *catalog_;
  picked_.reset();
  if (where == "/") {
    cwd_ = c.folders[f].root;
  } else if (where == "..") {
    if (cwd != c.folders[f].root) cwd_ = c.entries[cwd].parent;
  } else {
    uint32_t b = backup_for(f);
    auto [first, last] = c.children(cwd);
    const uint32_t* it = std::lower_bound(first, last, where, [&](uint32_t e, const std::string& n) { return c.name(e) < n; });
    if (it == last || c.name(*it) != where) throw Error(ErrorKind::kNotFound, "no folder " + where + " in " + c.path(cwd));
    uint32_t v = c.version_at(*it, b);
    if (v == catalog::kNone || c.versions[v].type != catalog::Type::kDir)
      throw Error(ErrorKind::kInvalidInput, where + " is not a folder in this backup");
    cwd_ = *it;
  }
  return c.path(*cwd_);
}

std::string Session::cd_number(int n) {
  require_folder();
  if (n < 1 || static_cast<size_t>(n) > last_rows_.size())
    throw Error(ErrorKind::kInvalidInput, fmt::format("there is no row {} in the last listing ({} rows)", n, last_rows_.size()));
  const EntryRow r = last_rows_[static_cast<size_t>(n - 1)];
  const auto& c = *catalog_;
  uint32_t f = folder_of(r.entry);
  if (f != *sel_folder_) {
    sel_folder_ = f;
    sel_host_ = c.folders[f].host;
    sel_backup_.reset();
  }
  if (r.version != catalog::kNone && c.versions[r.version].type == catalog::Type::kDir) {
    cwd_ = r.entry;
    picked_.reset();
    return c.path(r.entry);
  }
  picked_ = r.entry;
  cwd_ = c.entries[r.entry].parent;
  return c.path(r.entry);
}

void Session::db_reset() {
  ensure_open();
  auto lock = take_lock();
  catalog::Catalog empty;
  repo_->save_catalog(empty);
  catalog_ = std::move(empty);
  select_reset();
  restore_reset();
  found_.clear();
  last_rows_.clear();
  cwd_.reset();
  picked_.reset();
  log::info("DB reset: generation {} is empty; the containers stay in the store until pruned", repo_->generation());
}

}  // namespace seshat::session
