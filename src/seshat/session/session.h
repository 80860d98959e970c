// The application API the shell drives: settings, the store and repository, backups,
// selections and restores. One Session per process. Not thread-safe.
//
// Methods throw seshat::Error for anything that makes the command fail; the shell prints
// the message as one line.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "seshat/backup/backup.h"
#include "seshat/catalog/catalog.h"
#include "seshat/repo/lock.h"
#include "seshat/repo/repository.h"
#include "seshat/restore/restore.h"
#include "seshat/session/config.h"

namespace seshat::session {

struct BackupRow {
  uint32_t backup;
  std::string host, folder;
  int64_t time_ns;
  bool complete;
  uint64_t files, bytes;
};

struct FolderRow {
  uint32_t folder;
  std::string host, path;
  size_t backups;
  std::optional<int64_t> last_ns;
  bool automatic;
};

struct HostRow {
  uint32_t host;
  std::string name;
  size_t folders;
};

// One row of a numbered listing (LIST FILES, LIST TREE, LIST VERSIONS, SEARCH): what
// CD <n> and RESTORE ADD FILE <n> refer to.
struct EntryRow {
  uint32_t entry;
  uint32_t version;  // the version shown (catalog::kNone if the path is absent)
  std::string path;  // full path
  int depth = 0;     // LIST TREE indentation
  int64_t backup_ns = 0;
  bool deleted_later = false;  // SEARCH: gone in the newest backup
};

struct DbSize {
  uint64_t generation = 0;
  uint64_t stored_bytes = 0;
  size_t generations = 0;
  size_t hosts = 0, folders = 0, backups = 0, containers = 0, entries = 0, versions = 0, contents = 0;
  size_t memory_bytes = 0;
};

class Session {
 public:
  Session();
  ~Session();

  // ---- settings
  Config& config() { return config_; }
  void save_config();
  void set_store_local(const std::string& dir);
  void set_store_s3();
  // S3 settings (remembered); setting the bucket also selects the S3 store.
  void set_s3(const std::string& what, const std::string& value);
  void set_dry_run(bool on);
  bool dry_run() const { return dry_run_; }
  void set_detail(bool on);
  // SET CONFIRM NO lets a script run commands that ask for confirmation (this run only).
  void set_confirm(bool on) { confirm_ = on; }
  bool confirm() const { return confirm_; }
  bool detail() const { return detail_; }
  const std::string& host() const { return host_; }
  std::string store_description() const;

  // ---- repository
  // Opens the repository (creating it in an empty store) and loads the catalog.
  void initialize();
  void backup(const std::string& dir);
  void automatic();
  void db_load();
  void db_save();
  void db_lock();
  void db_unlock();
  DbSize db_size();
  // DB REBUILD: a new catalog generation made from the containers' indexes.
  void db_rebuild();
  // VERIFY [DATA [percent]]: returns false if anything is wrong (each problem was reported).
  bool verify(bool data, double percent);

  // ---- listings and selections (numbers are 1-based, as printed)
  std::vector<BackupRow> backups();
  std::vector<FolderRow> folders();
  std::vector<HostRow> hosts();
  const std::vector<std::string>& found() const { return found_; }
  void select_backup_number(int n);
  void select_backup_date(const std::string& date);
  void select_folder(const std::string& name);
  void select_folder_number(int n);
  void select_host(const std::string& name);
  void select_host_number(int n);
  void select_reset();
  std::string selection_description() const;

  // ---- browsing the catalog (a folder must be selected; the point in time is the restore
  // timestamp, else the selected backup, else the newest backup)
  std::vector<EntryRow> list_files();
  std::vector<EntryRow> list_tree();
  std::vector<EntryRow> list_versions();
  std::vector<EntryRow> search(const std::string& pattern, bool regex);
  // CD: "..", "/", a name in the current folder; or a number from the last listing (a folder
  // is entered; a file is picked for LIST VERSIONS). Returns the new current path.
  std::string cd(const std::string& where);
  std::string cd_number(int n);
  std::string cwd_path();
  const catalog::Catalog& catalog_ref() { return cat(); }

  // ---- restore
  void restore_reset();
  void restore_add_tree();
  void restore_add_folder();
  void restore_add_file(int n);  // from the last numbered listing
  void restore_add_all();        // every row of the last numbered listing
  void restore_add_reset();      // forget the RESTORE ADD selections only
  void restore_baremetal();      // every folder of the selected host (or this one)
  std::vector<std::string> restore_selected();
  // Destination paths that exist already (checked before RESTORE GO overwrites them).
  size_t restore_conflicts();
  // Forgets all history: saves an empty catalog as the newest generation.
  void db_reset();
  void restore_target(const std::string& dir);  // "" = ORIGINAL
  void restore_timestamp(const std::string& when);
  // Returns false if some file could not be restored (each was reported).
  bool restore_go();
  const std::string& restore_target() const { return restore_target_; }

  // True once some file or directory could not be backed up (exit status 3).
  bool incomplete() const { return incomplete_; }

 private:
  struct Selection {
    enum Kind { kTree, kFolderFiles, kVersion } kind;
    uint32_t folder;
    uint32_t entry;    // subtree root, folder, or file
    uint32_t version;  // kVersion only
  };
  uint32_t require_folder();
  uint32_t cwd_entry();
  uint32_t folder_of(uint32_t entry) const;
  std::vector<restore::Item> resolve_restore();
  std::shared_ptr<storage::Storage> make_storage();
  void close_store();
  void ensure_open();
  void reload_if_changed();
  std::unique_ptr<repo::Lock> take_lock();
  void tidy();
  uint32_t backup_for(uint32_t folder) const;
  catalog::Catalog& cat();

  Config config_;
  std::string config_path_;
  std::string host_;
  bool dry_run_ = false;
  bool detail_ = false;
  bool incomplete_ = false;
  bool confirm_ = true;

  std::unique_ptr<repo::Repository> repo_;
  std::optional<catalog::Catalog> catalog_;
  std::unique_ptr<repo::Lock> held_lock_;  // DB LOCK

  std::optional<uint32_t> sel_host_, sel_folder_, sel_backup_;
  std::vector<std::string> found_;
  std::optional<uint32_t> cwd_;     // entry of the current folder in the catalog tree
  std::optional<uint32_t> picked_;  // the file CD <n> picked, for LIST VERSIONS
  std::vector<EntryRow> last_rows_;

  std::vector<Selection> restore_set_;
  std::string restore_target_;
  std::optional<int64_t> restore_time_;
};

// Reads the passphrase: SESHAT_PASSWORD, then SESHAT_PASSWORD_FILE, then a no-echo prompt
// on the terminal (asked twice when `confirm`). Throws Error(kInvalidInput) if none.
std::string read_passphrase(bool confirm);

}  // namespace seshat::session
