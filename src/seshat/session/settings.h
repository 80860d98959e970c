// The user's settings: one table of keys drives loading ~/.seshatrc, saving it, SHOW CONFIG
// and the SET / S3 / STORE / EXCLUDE / INCLUDE commands, so that a value is validated the
// same way whichever path it comes by (a bad value in the file is an error naming the file
// and the key, as a bad SET is). Values are typed. The file is JSON, mode 0600, and never
// holds a secret.
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace seshat::session {

enum class StoreKind { kLocal, kS3 };

struct Settings {
  // Remembered in ~/.seshatrc.
  StoreKind store = StoreKind::kLocal;
  std::string local_dir;                // default $HOME/.seshat/store
  uint64_t max_container = 8ull << 30;  // SET MAX
  bool hidden = true;                   // SET HIDDEN
  bool symlinks = false;                // SET SYMLINKS
  bool wait = false;                    // SET WAIT
  bool delay = false;                   // SET DELAY: stage whole containers locally, then upload
  std::string staging = "/tmp";         // SET STAGING
  uint64_t limit_upload = 0;            // SET LIMIT UPLOAD: bytes per second, 0 = none
  uint64_t limit_download = 0;          // SET LIMIT DOWNLOAD
  bool cache = true;                    // SET CACHE: keep an S3 store's catalog in ~/.cache/seshat
  bool progress = true;                 // SET PROGRESS: the live status line on a terminal
  std::vector<std::string> excludes;    // EXCLUDE
  std::vector<std::string> includes;    // INCLUDE
  // S3. Credentials are never kept here (aws.h).
  std::string s3_bucket = "osiris-seshat";
  std::string s3_region;    // empty: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config, us-east-1
  std::string s3_endpoint;  // S3-compatible services; forces path-style
  std::string s3_profile;   // empty: AWS_PROFILE, then "default"
  std::string s3_class;     // storage class of containers; empty = STANDARD
  std::string s3_style;     // "", "path" or "virtual"
  // This run only.
  bool json = false;       // SET OUTPUT JSON (seshat --json)
  bool dry_run = false;    // SET DRYRUN
  bool detail = false;     // SET DETAIL
  bool confirm = true;     // SET CONFIRM
  bool overwrite = false;  // SET OVERWRITE: a restore replaces existing files that differ
  bool sparse = false;     // SET SPARSE: a restore writes every file's zero blocks as holes
  bool deletions = false;  // SET DELETIONS: the next backup may record more than half its files deleted

  std::string store_description() const;  // "LOCAL /dir" or "S3 bucket [at endpoint]"
};

// One setting: its key in ~/.seshatrc, how SHOW CONFIG labels it, and how a value is read
// (validated: Error(kInvalidInput) with a one-line reason) and shown.
struct SettingDef {
  const char* key;
  const char* label;  // SHOW CONFIG; nullptr: shown with another setting
  bool remembered;    // saved in ~/.seshatrc (else for this run only)
  std::function<void(Settings&, const nlohmann::json&)> set;
  std::function<nlohmann::json(const Settings&)> get;
  std::function<std::vector<std::string>(const Settings&)> show;  // SHOW CONFIG lines (first after the label)
};
const std::vector<SettingDef>& setting_table();
const SettingDef& setting(const std::string& key);

// Sets one setting by key from a value, validated. Throws Error(kInvalidInput).
void set_value(Settings& s, const std::string& key, const nlohmann::json& value);

// Loads `path` over the defaults ($HOME/.seshat/store as the local store); a missing file
// gives the defaults. A damaged file or a bad value throws Error(kInvalidInput) naming it.
Settings load_settings(const std::string& path, const std::string& home);
// Writes the remembered settings, atomically, mode 0600.
void save_settings(const Settings& s, const std::string& path);

std::string home_dir();
std::string settings_path();  // $HOME/.seshatrc

}  // namespace seshat::session
