#include "seshat/session/summaries.h"

#include "seshat/util/log.h"

namespace seshat::session {

nlohmann::json backup_summary(const backup::Result& r, const std::string& host, const std::string& folder,
                              bool dry_run) {
  nlohmann::json j{{"type", "backup_summary"},
                   {"dry_run", dry_run},
                   {"dirs_scanned", r.dirs_scanned},
                   {"files_scanned", r.files_scanned},
                   {"found", r.found},
                   {"files_stored", r.files_stored},
                   {"bytes_read", r.bytes_read},
                   {"bytes_uploaded", r.bytes_uploaded},
                   {"deduplicated", r.deduplicated},
                   {"deleted", r.deleted},
                   {"not_backed_up", r.not_backed_up},
                   {"metadata_lost", r.metadata_lost},
                   {"containers", r.containers}};
  log::put_text(j, "host", host);
  log::put_text(j, "folder", folder);
  return j;
}

nlohmann::json restore_summary(const restore::Result& r, size_t items, const std::string& target, bool dry_run) {
  nlohmann::json j{{"type", "restore_summary"}, {"dry_run", dry_run},       {"items", items}, {"files", r.files},
                   {"bytes", r.bytes},          {"hard_links", r.links},    {"dirs", r.dirs}, {"symlinks", r.symlinks},
                   {"specials", r.specials},    {"identical", r.identical}, {"kept", r.kept}, {"failed", r.failed},
                   {"incomplete", r.incomplete}};
  log::put_text(j, "target", target.empty() ? std::string("ORIGINAL") : target);
  return j;
}

nlohmann::json verify_summary(const repo::VerifyResult& r, bool data, double percent) {
  nlohmann::json damaged = nlohmann::json::array();
  for (const auto& f : r.damaged_files) {
    nlohmann::json one;
    log::put_text(one, "file", f);
    damaged.push_back(one.size() == 1 ? one["file"] : one);
  }
  return {{"type", "verify"},
          {"data", data},
          {"percent", data ? percent : 0.0},
          {"generations", r.generations},
          {"containers", r.containers},
          {"blobs_checked", r.blobs_checked},
          {"blobs_read", r.blobs_read},
          {"problems", r.problems},
          {"unreferenced_containers", r.unreferenced},
          {"damaged_files", damaged},
          {"ok", r.problems == 0}};
}

}  // namespace seshat::session
