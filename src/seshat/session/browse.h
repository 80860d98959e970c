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

class Browser {
 public:
  explicit Browser(std::string this_host) : host_(std::move(this_host)) {}

  // ---- rows of the whole catalog, within the selection (numbers are 1-based, as printed)
  std::vector<BackupRow> backups(const catalog::Catalog& c) const;
  std::vector<FolderRow> folders(const catalog::Catalog& c) const;
  std::vector<HostRow> hosts(const catalog::Catalog& c) const;

  // ---- selecting; each logs what it selected and throws Error(kInvalidInput/kNotFound)
  void select_backup_number(const catalog::Catalog& c, int n);
  void select_backup_date(const catalog::Catalog& c, const std::string& date);
  void select_folder(const catalog::Catalog& c, const std::string& path);
  void select_folder_number(const catalog::Catalog& c, int n);
  void select_host(const catalog::Catalog& c, const std::string& name);
  void select_host_number(const catalog::Catalog& c, int n);
  void reset();  // selections, current folder and pick (not the timestamp)
  std::string describe(const catalog::Catalog* c) const;
  void set_time(std::optional<int64_t> t) { time_ = t; }
  std::optional<int64_t> time() const { return time_; }
  std::optional<uint32_t> selected_host() const { return host_sel_; }
  std::optional<uint32_t> selected_folder() const { return folder_; }

  // The backup a folder is seen at: the newest at or before the timestamp, else the selected
  // backup (if it is of that folder), else the newest. Error(kNotFound) if there is none.
  uint32_t backup_for(const catalog::Catalog& c, uint32_t folder) const;
  // The selected folder; Error(kInvalidInput) if none.
  uint32_t require_folder() const;
  // The current folder's entry (the selected folder's root at first).
  uint32_t cwd(const catalog::Catalog& c);
  std::string cwd_path(const catalog::Catalog* c);

  // ---- listings (they become the last rows)
  std::vector<EntryRow> list_files(const catalog::Catalog& c);
  std::vector<EntryRow> list_tree(const catalog::Catalog& c);
  std::vector<EntryRow> list_versions(const catalog::Catalog& c);
  std::vector<EntryRow> search(const catalog::Catalog& c, const std::string& pattern, bool regex);
  // CD: "..", "/", a name in the current folder. Returns the new current path.
  std::string cd(const catalog::Catalog& c, const std::string& where);
  // CD <n>: a folder of the last listing is entered; a file is picked for LIST VERSIONS.
  std::string cd_number(const catalog::Catalog& c, int n);
  // Row n of the last listing; Error(kInvalidInput) if there is none.
  const EntryRow& row(int n) const;
  const std::vector<EntryRow>& last_rows() const { return last_rows_; }

 private:
  EntryRow entry_row(const catalog::Catalog& c, uint32_t entry, uint32_t version, std::string path, int depth = 0,
                     bool deleted_later = false) const;
  std::vector<EntryRow> keep(std::vector<EntryRow> rows);

  std::string host_;  // this host
  std::optional<uint32_t> host_sel_, folder_, backup_;
  std::optional<int64_t> time_;
  std::optional<uint32_t> cwd_;     // entry of the current folder in the catalog tree
  std::optional<uint32_t> picked_;  // the file CD <n> picked, for LIST VERSIONS
  std::vector<EntryRow> last_rows_;
};

}  // namespace seshat::session
