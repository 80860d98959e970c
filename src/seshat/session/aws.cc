#include "seshat/session/aws.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include "seshat/util/error.h"

namespace seshat::session {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Reads one section of an INI file: [name] (credentials) or [profile name] (config).
std::map<std::string, std::string> ini_section(const std::string& path, const std::string& section) {
  std::map<std::string, std::string> out;
  std::ifstream in(path);
  std::string line, current;
  bool inside = false;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      current = trim(line.substr(1, line.size() - 2));
      inside = current == section;
      continue;
    }
    if (!inside) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    out[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return out;
}

}  // namespace

storage::S3Options s3_options(const Config& c) {
  storage::S3Options o;
  o.bucket = c.s3_bucket;
  o.endpoint = c.s3_endpoint;
  o.storage_class = c.s3_class;
  o.path_style = c.s3_style == "path" || !c.s3_endpoint.empty();
  std::string home = home_dir();
  std::string profile = !c.s3_profile.empty() ? c.s3_profile : !env("AWS_PROFILE").empty() ? env("AWS_PROFILE") : "default";
  std::string cred_file = !env("AWS_SHARED_CREDENTIALS_FILE").empty() ? env("AWS_SHARED_CREDENTIALS_FILE") : home + "/.aws/credentials";
  std::string config_file = !env("AWS_CONFIG_FILE").empty() ? env("AWS_CONFIG_FILE") : home + "/.aws/config";

  if (!env("AWS_ACCESS_KEY_ID").empty() && !env("AWS_SECRET_ACCESS_KEY").empty() && c.s3_profile.empty()) {
    o.credentials.access_key = env("AWS_ACCESS_KEY_ID");
    o.credentials.secret_key = env("AWS_SECRET_ACCESS_KEY");
    o.credentials.session_token = env("AWS_SESSION_TOKEN");
  } else {
    auto sec = ini_section(cred_file, profile);
    o.credentials.access_key = sec["aws_access_key_id"];
    o.credentials.secret_key = sec["aws_secret_access_key"];
    o.credentials.session_token = sec["aws_session_token"];
  }
  if (o.credentials.access_key.empty() || o.credentials.secret_key.empty())
    throw Error(ErrorKind::kInvalidInput, "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile [" +
                                              profile + "] to " + cred_file);

  auto cfg = ini_section(config_file, profile == "default" ? "default" : "profile " + profile);
  if (!c.s3_region.empty()) o.region = c.s3_region;
  else if (!env("AWS_REGION").empty()) o.region = env("AWS_REGION");
  else if (!env("AWS_DEFAULT_REGION").empty()) o.region = env("AWS_DEFAULT_REGION");
  else if (!cfg["region"].empty()) o.region = cfg["region"];
  else o.region = "us-east-1";

  if (const char* p = std::getenv("SESHAT_S3_PART_SIZE")) o.part_size = std::strtoull(p, nullptr, 10);
  if (const char* a = std::getenv("SESHAT_S3_ATTEMPTS")) o.max_attempts = std::atoi(a);
  if (const char* b = std::getenv("SESHAT_S3_BACKOFF_MS")) o.backoff_ms = std::atoll(b);
  return o;
}

}  // namespace seshat::session
