// The browsing state of the shell: what is selected (host, folder, backup), the point in
// time (RESTORE TIMESTAMP), the current folder (CD), the file CD <n> picked, and the rows of
// the last numbered listing (what CD <n> and RESTORE ADD FILE <n> refer to). It depends on
// nothing but a catalog, given to each call (ids stay valid while a catalog only grows; DB
// RESET and REBUILD call reset()). Not thread-safe. Unit-tested on catalog fixtures.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "seshat/catalog/catalog.h"
#include "seshat/session/rows.h"

namespace seshat::session {

// "#3 01-Dec-2026 17:53:12": how every row and log line names a backup.
std::string backup_label(int number, int64_t time_ns);
std::string backup_label(const catalog::Catalog& c, uint32_t backup);

class Browser {
 public:
  explicit Browser(std::string this_host) : host_(std::move(this_host)) {}

  // ---- rows of the whole catalog, within the selection (numbers are 1-based, as printed)
  std::vector<BackupRow> backups(const catalog::Catalog& c) const;
  std::vector<FolderRow> folders(const catalog::Catalog& c) const;
  std::vector<HostRow> hosts(const catalog::Catalog& c) const;

  // ---- selecting; each logs what it selected and throws Error(kInvalidInput/kNotFound)
  // SELECT BACKUP and RESTORE TIMESTAMP are one setting, the point in time: whichever came
  // last wins (the other is cleared with an INFO line).
  void select_backup_number(const catalog::Catalog& c, int n);
  void select_backup_date(const catalog::Catalog& c, const std::string& date);
  void select_folder(const catalog::Catalog& c, const std::string& path);
  void select_folder_number(const catalog::Catalog& c, int n);
  void select_host(const catalog::Catalog& c, const std::string& name);
  void select_host_number(const catalog::Catalog& c, int n);
  void reset();  // selections, the point in time, current folder and pick
  std::string describe(const catalog::Catalog* c) const;
  // The point in time as SHOW CONFIG says it.
  std::string describe_point(const catalog::Catalog* c) const;
  // The same for a message: "the restore timestamp 01-Dec-2026 17:53:12", "the selected
  // backup #3 ...", "the newest backup".
  std::string point_phrase(const catalog::Catalog& c) const;
  void set_time(std::optional<int64_t> t);
  std::optional<int64_t> time() const { return time_; }
  std::optional<uint32_t> selected_host() const { return host_sel_; }
  std::optional<uint32_t> selected_folder() const { return folder_; }
  std::optional<uint32_t> selected_backup() const { return backup_; }

  // The backup a folder is seen at: the newest at or before the timestamp, else the selected
  // backup (if it is of that folder), else the newest. Error(kNotFound) if there is none.
  uint32_t backup_for(const catalog::Catalog& c, uint32_t folder) const;
  // The same, kNone instead of an error.
  uint32_t backup_or_none(const catalog::Catalog& c, uint32_t folder) const;
  // The selected folder. With none selected, the only folder of the selected host (else of
  // this host) is selected for the user with an INFO line; when there are several or none,
  // Error(kInvalidInput) lists the candidates.
  uint32_t folder(const catalog::Catalog& c);
  // The current folder's entry (the selected folder's root at first).
  uint32_t cwd(const catalog::Catalog& c);
  std::string cwd_path(const catalog::Catalog* c);

  // ---- listings (they become the last rows)
  std::vector<EntryRow> list_files(const catalog::Catalog& c);
  std::vector<EntryRow> list_tree(const catalog::Catalog& c);
  std::vector<EntryRow> list_versions(const catalog::Catalog& c);
  std::vector<EntryRow> search(const catalog::Catalog& c, const std::string& pattern, bool regex);
  // What backup `number` (LIST BACKUPS; 0: the selected backup, else the newest in scope)
  // added, changed and deleted. `backup` is set to the backup's index.
  std::vector<EntryRow> list_changes(const catalog::Catalog& c, int number, uint32_t& backup);
  // CD: a path relative to the current folder (names, "..", "."), or absolute: "/" is the
  // top of the selected folder, a path inside the folder's own path goes there. Files are
  // refused. Returns the new current path.
  std::string cd(const catalog::Catalog& c, const std::string& where);
  // CD <n>: a folder of the last listing is entered; a file is picked for LIST VERSIONS.
  std::string cd_number(const catalog::Catalog& c, int n);
  // The folders CD may enter from the current one ("name/"), for completion; empty when no
  // folder is selected. Logs nothing.
  std::vector<std::string> cd_names(const catalog::Catalog& c) const;
  // Row n of the last listing; Error(kInvalidInput) if there is none.
  const EntryRow& row(int n) const;
  const std::vector<EntryRow>& last_rows() const { return last_rows_; }

 private:
  EntryRow entry_row(const catalog::Catalog& c, uint32_t entry, uint32_t version, std::string path, int depth = 0,
                     bool deleted_later = false) const;
  std::vector<EntryRow> keep(std::vector<EntryRow> rows);
  std::optional<uint32_t> scope_host(const catalog::Catalog& c) const;  // selected, else this host
  void clear_time_for_backup();

  std::string host_;  // this host
  std::optional<uint32_t> host_sel_, folder_, backup_;
  std::optional<int64_t> time_;
  std::optional<uint32_t> cwd_;     // entry of the current folder in the catalog tree
  std::optional<uint32_t> picked_;  // the file CD <n> picked, for LIST VERSIONS
  std::vector<EntryRow> last_rows_;
};

}  // namespace seshat::session
