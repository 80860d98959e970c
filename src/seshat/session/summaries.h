// The JSON documents of SET OUTPUT JSON for what a backup, a restore and VERIFY did
// (doc/json.md: backup_summary, restore_summary, verify).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "seshat/backup/backup.h"
#include "seshat/repo/verify.h"
#include "seshat/restore/restore.h"

namespace seshat::session {

nlohmann::json backup_summary(const backup::Result& r, const std::string& host, const std::string& folder,
                              bool dry_run);
nlohmann::json restore_summary(const restore::Result& r, size_t items, const std::string& target, bool dry_run);
nlohmann::json verify_summary(const repo::VerifyResult& r, bool data, double percent);

}  // namespace seshat::session
