#include "seshat/session/open_repo.h"

#include <algorithm>
#include <atomic>
#include <cctype>

#include "seshat/session/passphrase.h"
#include "seshat/session/store.h"
#include "seshat/util/atomic_file.h"
#include "seshat/util/env.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::session {
namespace {

// The catalog cache of an S3 store (SET CACHE): $XDG_CACHE_HOME/seshat/<repository id>, the
// variable taken only if absolute (as the XDG spec says), else ~/.cache/seshat/<id>.
void use_cache(repo::Repository& r, const Settings& s) {
  if (s.store != StoreKind::kS3 || !s.cache) return;
  // The id comes from the store's unauthenticated config: only hex digits become a path.
  const std::string& id = r.id();
  if (id.empty() || id.size() > 64 || !std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(c); }))
    return;
  std::string root;
  if (auto x = env::get(env::kXdgCacheHome); x && !x->empty() && x->front() == '/')
    root = *x;
  else
    root = home_dir() + "/.cache";
  r.generations().set_cache_dir(root + "/seshat/" + id);
}

}  // namespace

std::unique_ptr<OpenRepository> OpenRepository::open(const Settings& s, bool create) {
  log::info("Initializing SESHAT and reading DB from {}", s.store_description());
  auto store = open_store(s);
  std::unique_ptr<repo::Repository> r;
  if (!repo::Repository::exists(*store)) {
    if (!store_is_empty(*store, s))
      throw Error(ErrorKind::kInvalidInput,
                  "the store " + s.store_description() + " is not empty and holds no Seshat repository");
    if (!create)
      throw Error(ErrorKind::kNotFound,
                  "there is no repository in " + s.store_description() + "; INITIALIZE (or a BACKUP) creates one");
    std::string pass = read_passphrase(true);
    check_new_passphrase(pass);
    if (s.dry_run)
      throw Error(ErrorKind::kInvalidInput,
                  "there is no repository in " + s.store_description() + " yet (dry run: nothing created)");
    if (s.store == StoreKind::kLocal) make_dirs(s.local_dir).throw_if_failed();
    log::info("Creating a new repository in {}", s.store_description());
    repo::Repository::init(*store, pass, new_repository_kdf());
    r = repo::Repository::open(store, pass);
  } else {
    r = repo::Repository::open(store, read_passphrase(false));
  }
  use_cache(*r, s);
  std::unique_ptr<OpenRepository> o(new OpenRepository(std::move(r)));
  o->catalog_ = o->generations().load();
  o->load_id_ = next_load_id();
  log::info("Database loaded from: {}", s.store_description());
  if (s.delay) log::info("Staging area is: {}", s.staging);
  log::info("Initialisation is complete");
  return o;
}

std::unique_ptr<OpenRepository> OpenRepository::open_for_rebuild(const Settings& s) {
  log::info("Initializing SESHAT for DB REBUILD from {}", s.store_description());
  auto store = open_store(s);
  if (!repo::Repository::exists(*store))
    throw Error(ErrorKind::kNotFound, "there is no repository in " + s.store_description());
  auto r = repo::Repository::open(store, read_passphrase(false));
  use_cache(*r, s);
  return std::unique_ptr<OpenRepository>(new OpenRepository(std::move(r)));
}

uint64_t OpenRepository::next_load_id() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

catalog::Catalog& OpenRepository::catalog() {
  if (!catalog_) throw Error(ErrorKind::kPermanent, "the catalog is not loaded");
  if (!catalog_->child_index_current()) catalog_->build_child_index();
  return *catalog_;
}

void OpenRepository::reload(const std::string& store_description) {
  catalog_ = generations().load();
  load_id_ = next_load_id();
  log::info("Database loaded from: {}", store_description);
}

void OpenRepository::reload_if_changed(const std::string& store_description) {
  if (!catalog_ || generations().changed()) reload(store_description);
}

std::unique_ptr<repo::Lock> OpenRepository::lock_for_write(const std::string& host, bool wait, bool dry_run) {
  if (held_ || dry_run) return nullptr;  // DB LOCK holds it already; a dry run writes nothing
  auto lock = repo::Lock::acquire(repo_->store_ptr(), host, wait);
  log::info("DB Lock acquired");
  return lock;
}

bool OpenRepository::hold(const std::string& host, bool wait) {
  if (held_) return false;
  held_ = repo::Lock::acquire(repo_->store_ptr(), host, wait);
  return true;
}

bool OpenRepository::release_held() {
  if (!held_) return false;
  held_.reset();
  return true;
}

}  // namespace seshat::session
