#include "seshat/backup/backup.h"

#include <fmt/format.h>

#include <optional>

#include "seshat/backup/packer.h"
#include "seshat/backup/walker.h"
#include "seshat/catalog/query.h"
#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/fault.h"
#include "seshat/util/log.h"
#include "seshat/util/time.h"

namespace seshat::backup {
namespace {

constexpr size_t kFoundKept = 100000;

// An interrupted backup of this folder left a checkpoint: say what it saves us.
void announce_resume(const catalog::Catalog& cat, uint32_t folder) {
  for (size_t i = cat.backups.size(); i-- > 0;) {
    const catalog::Backup& b = cat.backups[i];
    if (b.folder != folder) continue;
    if (!b.complete && b.files_stored > 0)
      log::info("Resuming: {} files already stored by the interrupted backup of {}", b.files_stored,
                format_iso(b.time_ns));
    return;
  }
}

void report_dry_run(const catalog::Catalog& cat, const std::vector<WorkItem>& items, Result& r) {
  uint64_t bytes = 0;
  for (const auto& it : items) {
    std::string path = cat.path(it.entry);
    log::info("Would back up {} ({})", path, human_size(it.size));
    bytes += it.size;
    if (r.found_paths.size() < kFoundKept) r.found_paths.push_back(std::move(path));
  }
  log::info("Dry run: {} ({}) would be backed up and {} recorded as deleted; nothing was written",
            plural(r.found, "file", "files"), human_size(bytes), plural(r.deleted, "path", "paths"));
}

// Throws if the walk recorded more than half of the previous backup's files as deleted: the
// folder is most likely not what it was (a drive not mounted, an EXCLUDE too broad), and a
// backup recording it would make "the newest backup" an empty one.
void refuse_mass_deletion(const catalog::Catalog& cat, uint32_t folder, uint32_t previous, const Options& o,
                          const Result& r) {
  uint64_t before = 0;
  cat.for_each_at(cat.folders[folder].root, previous, [&](uint32_t, uint32_t v) {
    catalog::Type t = cat.versions[v].type;
    if (catalog::is_leaf(t)) ++before;
  });
  // A rename or a rotation deletes as much as it adds: only a folder that also shrank to less
  // than half is suspect.
  if (r.deleted_files * 2 <= before || r.files_scanned * 2 >= before) return;
  throw Error(ErrorKind::kInvalidInput,
              fmt::format("the backup of {} would record {} of the {} files of its last backup as deleted (is a drive "
                          "not mounted, or an EXCLUDE too broad?); nothing was stored. SET DELETIONS YES allows it "
                          "for one backup",
                          o.folder, r.deleted_files, before));
}

}  // namespace

Result run(catalog::Catalog& cat, const Options& o, const Services& services) {
  Result r;
  uint32_t host = cat.find_or_add_host(o.host);
  bool is_new = !cat.find_folder(host, o.folder).has_value();
  uint32_t folder = cat.find_or_add_folder(host, o.folder);
  if (is_new) log::info("{} top level folder {}", o.dry_run ? "Would create" : "Created", o.folder);
  cat.folders[folder].automatic = true;
  cat.build_child_index();

  announce_resume(cat, folder);
  const std::optional<uint32_t> previous = is_new ? std::nullopt : catalog::newest_backup(cat, folder);
  int64_t start = now_ns();
  uint32_t backup = cat.add_backup(folder, start);
  log::info("Starting File walk...{}", o.folder);
  Walker walker(cat, o, backup, r);
  walker.walk(cat.folders[folder].root);
  r.found = walker.items.size();
  log::info("Completed file walk. Scanned Dir={} File={}. Found: {} to backup. elapsed: {}", r.dirs_scanned,
            r.files_scanned, r.found, format_elapsed(now_ns() - start));
  if (previous && r.deleted_files > 0 && !o.allow_deletions) refuse_mass_deletion(cat, folder, *previous, o, r);

  if (o.dry_run) {
    report_dry_run(cat, walker.items, r);
    return r;
  }

  int64_t stamp = now_ns();
  cat.backups[backup].time_ns = stamp;
  log::info("Creating backup timestamp: {}", format_iso(stamp));
  if (walker.items.empty()) log::info("No changed files: no container written");
  Packer packer(cat, o, backup, stamp, services, r);
  packer.run(walker.items);
  cat.backups[backup].complete = true;
  // Kept for LIST FOUND; capped so that a huge first backup does not hold every path. Taken
  // before the save, which may renumber the entries this backup added (another writer's
  // commit placed before it).
  for (const auto& it : walker.items) {
    if (r.found_paths.size() >= kFoundKept) break;
    r.found_paths.push_back(cat.path(it.entry));
  }
  std::vector<WorkItem>().swap(walker.items);
  fault::point("backup.before_final_save");
  services.save(true);
  log::info(
      "Backup of {} complete: {} stored ({} read, {} new in {}), {} unchanged by content, {} deleted, {} not "
      "backed up",
      o.folder, plural(r.files_stored, "file", "files"), human_size(r.bytes_read), human_size(r.bytes_uploaded),
      plural(r.containers, "container", "containers"), r.deduplicated, r.deleted, r.not_backed_up);
  return r;
}

}  // namespace seshat::backup
