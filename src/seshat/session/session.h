// The application API the shell drives (DESIGN.md §2): a thin facade over parts split by
// lifetime and owner:
//   Settings        (settings.h)     what the user set; remembered in ~/.seshatrc
//   OpenRepository  (open_repo.h)    the repository, its catalog and DB LOCK's lock
//   Browser         (browse.h)       selections, current folder, last listing
//   RestorePlan     (restore_plan.h) what RESTORE ADD selected and where it goes
// One Session per process. Not thread-safe. Methods throw seshat::Error for anything that
// makes the command fail; the shell prints the message as one line.
#pragma once
#include <cstdint>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "seshat/session/browse.h"
#include "seshat/session/open_repo.h"
#include "seshat/session/restore_plan.h"
#include "seshat/session/rows.h"
#include "seshat/session/settings.h"

namespace seshat::session {

class Session {
 public:
  Session();
  ~Session();

  // ---- settings
  const Settings& settings() const { return settings_; }
  // Sets one setting (settings.h keys), validated; remembered ones are saved. Changing the
  // store (or SET DRYRUN) closes the open repository.
  void set(const std::string& key, const nlohmann::json& value);
  void add_pattern(bool exclude, const std::string& regex);
  void reset_patterns(bool exclude);
  const std::string& host() const { return host_; }
  std::string store_description() const { return settings_.store_description(); }
  std::string settings_file() const { return settings_path_; }

  // ---- the repository
  void initialize();  // opens it (creating one in an empty store) and loads the catalog
  void backup(const std::string& dir);
  void automatic();
  // AUTOMATIC ADD: registers a directory of this host for AUTOMATIC without backing it up.
  void automatic_add(const std::string& dir);
  // AUTOMATIC REMOVE: unregisters a folder of this host, by its LIST AUTO number, else by
  // path; its backups stay.
  void automatic_remove(std::optional<int> number, const std::string& path = "");
  // Before each command of a long-running shell: if another process committed since the
  // catalog was loaded, loads it again (keeping the selections if they still mean the same).
  void refresh();
  void db_load();
  void db_save();
  void db_lock();
  void db_unlock();
  DbSize db_size();
  void db_rebuild();  // a new catalog generation made from the containers' indexes
  // Backups in the catalog if it loads, nullopt if every generation is damaged or there is
  // no repository (what DB REBUILD asks about before replacing a working catalog).
  std::optional<size_t> loadable_backups();
  std::vector<GenerationRow> db_generations();
  // Makes generation n (also a kept one) the newest again: saved as a new generation.
  void db_load_generation(uint64_t n);
  void db_reset();  // forgets all history: an empty catalog as the newest generation
  // VERIFY [DATA [percent]]: false if anything is wrong (each problem was reported).
  bool verify(bool data, double percent);
  // True once some file or directory could not be backed up (exit status 3).
  bool incomplete() const { return incomplete_; }

  // ---- listings and selections (numbers are 1-based, as printed)
  std::vector<BackupRow> backups() { return browser_.backups(cat()); }
  std::vector<FolderRow> folders() { return browser_.folders(cat()); }
  std::vector<HostRow> hosts() { return browser_.hosts(cat()); }
  const std::vector<std::string>& found() const { return found_; }
  void select_backup_number(int n) { browser_.select_backup_number(cat(), n); }
  void select_backup_date(const std::string& date) { browser_.select_backup_date(cat(), date); }
  void select_folder(const std::string& path) { browser_.select_folder(cat(), path); }
  void select_folder_number(int n) { browser_.select_folder_number(cat(), n); }
  void select_host(const std::string& name) { browser_.select_host(cat(), name); }
  void select_host_number(int n) { browser_.select_host_number(cat(), n); }
  void select_reset() { browser_.reset(); }
  std::string selection_description() { return browser_.describe(checked_catalog()); }
  std::string restore_point_description() { return browser_.describe_point(checked_catalog()); }
  size_t restore_selections() const { return plan_.size(); }

  // ---- browsing (a folder must be selected; the point in time is the restore timestamp,
  // else the selected backup, else the newest backup)
  std::vector<EntryRow> list_files() { return browser_.list_files(cat()); }
  std::vector<EntryRow> list_tree() { return browser_.list_tree(cat()); }
  std::vector<EntryRow> list_versions() { return browser_.list_versions(cat()); }
  std::vector<EntryRow> search(const std::string& pattern, bool regex) {
    return browser_.search(cat(), pattern, regex);
  }
  std::string cd(const std::string& where) { return browser_.cd(cat(), where); }
  // LIST CHANGES [<n>]: label is set to how the backup is named ("#3 ... of /src on host").
  std::vector<EntryRow> list_changes(int number, std::string& label);
  std::string cd_number(int n) { return browser_.cd_number(cat(), n); }
  // For TAB after CD: the folders below the current one; empty if nothing is loaded.
  std::vector<std::string> cd_names() {
    const catalog::Catalog* c = checked_catalog();
    return c ? browser_.cd_names(*c) : std::vector<std::string>{};
  }
  std::string cwd_path() { return browser_.cwd_path(checked_catalog()); }

  // ---- restore
  void restore_reset();
  void restore_add_tree() { plan_.add_tree(cat(), browser_); }
  void restore_add_folder() { plan_.add_folder(cat(), browser_); }
  void restore_add_file(int n) { plan_.add_row(cat(), browser_, n); }
  void restore_add_all() { plan_.add_all_rows(cat(), browser_); }
  void restore_add_reset() { plan_.reset_selections(); }
  void restore_baremetal() { plan_.add_baremetal(cat(), browser_, host_); }
  std::vector<std::string> restore_selected() { return plan_.describe(cat()); }
  void restore_target(const std::string& dir) { plan_.set_target(dir); }
  const std::string& restore_target() const { return plan_.target(); }
  void restore_timestamp(const std::string& when);
  // Files and symlinks whose destination holds something different (what RESTORE GO keeps
  // unless SET OVERWRITE YES, or the terminal user agrees, lets it replace them).
  size_t restore_conflicts();
  // Runs the restore; overwrite replaces differing files for this run even under SET
  // OVERWRITE NO. Every file not restored was reported by name.
  RestoreOutcome restore_go(bool overwrite);

 private:
  // The catalog, loading it if needed. When another load replaced the one the selections
  // and the restore plan were made on, they are checked against it (validate()).
  catalog::Catalog& cat();
  // The loaded catalog, checked the same way, or nullptr if none is loaded (loads nothing).
  catalog::Catalog* checked_catalog();
  // True if the catalog is not the base with more added: the selections were reset (said so).
  bool validate(catalog::Catalog& c);
  // The browser and the plan were reset on purpose: the catalog now loaded is their base.
  void rebased();
  // create: INITIALIZE and BACKUP may make a repository in an empty store; nothing else does.
  OpenRepository& open_repo(bool create = false);
  void close_store();
  void apply_output();  // SET OUTPUT, SET PROGRESS: where log lines go, whether the live progress line shows
  void tidy();

  Settings settings_;
  std::string settings_path_;
  std::string host_;
  bool incomplete_ = false;
  std::unique_ptr<OpenRepository> open_;
  std::unique_ptr<repo::Lock> held_over_;  // DB LOCK's lock while the store is reopened
  Browser browser_;
  RestorePlan plan_;
  std::vector<std::string> found_;
  // What the browser's and the plan's ids were made on: the load and its shape.
  uint64_t base_load_ = 0;
  std::shared_ptr<const struct CatalogShape> base_shape_;
};

}  // namespace seshat::session
