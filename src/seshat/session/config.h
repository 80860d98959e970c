// User settings remembered in ~/.seshatrc (JSON, mode 0600, never a secret).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace seshat::session {

struct Config {
  std::string store = "local";      // "local" or "s3"
  std::string local_dir;             // default $HOME/.seshat/store
  uint64_t max_container = 8ull << 30;
  bool hidden = true;
  bool symlinks = false;
  bool wait = false;
  bool delay = false;                 // stage whole containers locally, then upload
  std::string staging = "/tmp";
  std::vector<std::string> excludes;
  std::vector<std::string> includes;
  // S3 (store == "s3"). Credentials are never kept here: see aws.h.
  std::string s3_bucket = "osiris-seshat";
  std::string s3_region;             // empty: AWS_REGION, AWS_DEFAULT_REGION, ~/.aws/config, us-east-1
  std::string s3_endpoint;           // S3-compatible services; forces path-style
  std::string s3_profile;            // empty: AWS_PROFILE, then "default"
  std::string s3_class;              // storage class of containers; empty = STANDARD
  std::string s3_style;              // "", "path" or "virtual"

  // Loads `path`; a missing file gives the defaults. A damaged file throws Error(kInvalidInput)
  // naming it.
  static Config load(const std::string& path, const std::string& home);
  void save(const std::string& path) const;
};

std::string home_dir();
std::string config_path();  // $HOME/.seshatrc

}  // namespace seshat::session
