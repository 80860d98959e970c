#include "seshat/session/aws.h"

#include <cstdlib>
#include <fstream>
#include <map>

#include "seshat/util/env.h"
#include "seshat/util/error.h"

namespace seshat::session {
namespace {

std::string env_or_empty(const env::Var& v) { return env::get(v).value_or(""); }

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

storage::RetryOptions retry_options() {
  storage::RetryOptions r;
  if (auto a = env::get_int(env::kS3Attempts, 1, 100)) r.attempts = static_cast<int>(*a);
  if (auto b = env::get_int(env::kS3BackoffMs, 0, 600000)) r.backoff_ms = *b;
  return r;
}

storage::S3Options s3_options(const Settings& c) {
  storage::S3Options o;
  o.bucket = c.s3_bucket;
  o.endpoint = c.s3_endpoint;
  o.storage_class = c.s3_class;
  if (auto s = env::get_int(env::kS3IdleSeconds, 1, 3600)) o.idle_seconds = *s;
  o.path_style = c.s3_style == "path" || !c.s3_endpoint.empty();
  std::string home = home_dir();
  std::string profile = !c.s3_profile.empty()                     ? c.s3_profile
                        : !env_or_empty(env::kAwsProfile).empty() ? env_or_empty(env::kAwsProfile)
                                                                  : "default";
  std::string cred_file = !env_or_empty(env::kAwsSharedCredentialsFile).empty()
                              ? env_or_empty(env::kAwsSharedCredentialsFile)
                              : home + "/.aws/credentials";
  std::string config_file =
      !env_or_empty(env::kAwsConfigFile).empty() ? env_or_empty(env::kAwsConfigFile) : home + "/.aws/config";

  if (!env_or_empty(env::kAwsAccessKeyId).empty() && !env_or_empty(env::kAwsSecretAccessKey).empty() &&
      c.s3_profile.empty()) {
    o.credentials.access_key = env_or_empty(env::kAwsAccessKeyId);
    o.credentials.secret_key = env_or_empty(env::kAwsSecretAccessKey);
    o.credentials.session_token = env_or_empty(env::kAwsSessionToken);
  } else {
    auto sec = ini_section(cred_file, profile);
    o.credentials.access_key = sec["aws_access_key_id"];
    o.credentials.secret_key = sec["aws_secret_access_key"];
    o.credentials.session_token = sec["aws_session_token"];
  }
  if (o.credentials.access_key.empty() || o.credentials.secret_key.empty())
    throw Error(ErrorKind::kInvalidInput,
                "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add profile [" +
                    profile + "] to " + cred_file);

  auto cfg = ini_section(config_file, profile == "default" ? "default" : "profile " + profile);
  if (!c.s3_region.empty())
    o.region = c.s3_region;
  else if (!env_or_empty(env::kAwsRegion).empty())
    o.region = env_or_empty(env::kAwsRegion);
  else if (!env_or_empty(env::kAwsDefaultRegion).empty())
    o.region = env_or_empty(env::kAwsDefaultRegion);
  else if (!cfg["region"].empty())
    o.region = cfg["region"];
  else
    o.region = "us-east-1";

  if (auto p = env::get_int(env::kS3PartSize, 1 << 20, int64_t{5} << 30)) o.part_size = static_cast<uint64_t>(*p);
  o.retry = retry_options();
  return o;
}

}  // namespace seshat::session
