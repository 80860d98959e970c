// The repository a session works on, with its catalog and the lock DB LOCK holds: the part
// of the session that lives from the first command that needs the store until the store is
// changed (STORE, S3, SET DRYRUN) or the DB is reset.
#pragma once
#include <memory>
#include <string>

#include "seshat/catalog/catalog.h"
#include "seshat/repo/lock.h"
#include "seshat/repo/repository.h"
#include "seshat/session/settings.h"

namespace seshat::session {

class OpenRepository {
 public:
  // Opens the repository of the store the settings name and loads its catalog, with the
  // manual's log lines. An empty store gets a new repository (asking for a new passphrase);
  // a store that is neither empty nor a repository is refused.
  // create: make a repository if the store has none (INITIALIZE, BACKUP); otherwise an empty
  // store is Error(kNotFound) "no repository in ...".
  static std::unique_ptr<OpenRepository> open(const Settings& s, bool create);
  // Opens without loading the catalog (DB REBUILD: it may be exactly what is damaged).
  static std::unique_ptr<OpenRepository> open_for_rebuild(const Settings& s);

  repo::Repository& repo() { return *repo_; }
  repo::Generations& generations() { return repo_->generations(); }
  // The catalog (loaded at open), its child index current.
  catalog::Catalog& catalog();
  bool loaded() const { return catalog_.has_value(); }
  void set_catalog(catalog::Catalog c) {
    catalog_ = std::move(c);
    load_id_ = next_load_id();
  }
  // Which load the catalog in memory is (unique in the process): ids the session's browser
  // holds were made for one load and are checked when another replaces it.
  uint64_t load_id() const { return catalog_ ? load_id_ : 0; }
  void drop_catalog() { catalog_.reset(); }
  // Loads the newest generation again ("Database loaded from: ...").
  void reload(const std::string& store_description);
  // The same only if another process committed since.
  void reload_if_changed(const std::string& store_description);

  // The lock for a command that writes: nullptr if DB LOCK holds it already or in a dry run.
  std::unique_ptr<repo::Lock> lock_for_write(const std::string& host, bool wait, bool dry_run);
  // The lock a command writes under (DB LOCK's or the given one).
  repo::Lock* effective_lock(repo::Lock* taken) { return taken ? taken : held_.get(); }
  // DB LOCK / DB UNLOCK of this session.
  bool hold(const std::string& host, bool wait);
  bool release_held();
  // The lock DB LOCK holds, handed over when the same store is opened again with other
  // wrappers (SET DELAY, SET STAGING): a held lock is only let go by DB UNLOCK.
  std::unique_ptr<repo::Lock> take_held() { return std::move(held_); }
  void adopt_held(std::unique_ptr<repo::Lock> l) { held_ = std::move(l); }

 private:
  explicit OpenRepository(std::unique_ptr<repo::Repository> r) : repo_(std::move(r)) {}
  std::unique_ptr<repo::Repository> repo_;
  static uint64_t next_load_id();
  std::optional<catalog::Catalog> catalog_;
  uint64_t load_id_ = 0;
  std::unique_ptr<repo::Lock> held_;
};

}  // namespace seshat::session
