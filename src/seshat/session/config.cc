#include "seshat/session/config.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "seshat/util/atomic_file.h"
#include "seshat/util/error.h"
#include "seshat/util/json_int.h"

namespace seshat::session {

std::string home_dir() {
  if (const char* h = std::getenv("HOME"); h && *h) return h;
  if (passwd* pw = getpwuid(getuid())) return pw->pw_dir;
  return "/";
}

std::string config_path() { return home_dir() + "/.seshatrc"; }

Config Config::load(const std::string& path, const std::string& home) {
  Config c;
  c.local_dir = home + "/.seshat/store";
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    if (e.kind() == ErrorKind::kNotFound) return c;
    throw;
  }
  try {
    auto j = nlohmann::json::parse(text);
    c.store = j.value("store", c.store);
    c.local_dir = j.value("local_dir", c.local_dir);
    if (j.contains("max_container")) c.max_container = json_int<uint64_t>(j, "max_container", path.c_str());
    c.hidden = j.value("hidden", c.hidden);
    c.symlinks = j.value("symlinks", c.symlinks);
    c.wait = j.value("wait", c.wait);
    c.delay = j.value("delay", c.delay);
    c.staging = j.value("staging", c.staging);
    c.excludes = j.value("excludes", c.excludes);
    c.includes = j.value("includes", c.includes);
    c.s3_bucket = j.value("s3_bucket", c.s3_bucket);
    c.s3_region = j.value("s3_region", c.s3_region);
    c.s3_endpoint = j.value("s3_endpoint", c.s3_endpoint);
    c.s3_profile = j.value("s3_profile", c.s3_profile);
    c.s3_class = j.value("s3_class", c.s3_class);
    c.s3_style = j.value("s3_style", c.s3_style);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorKind::kInvalidInput, "the settings file " + path + " is damaged; fix or delete it");
  }
  return c;
}

void Config::save(const std::string& path) const {
  nlohmann::json j;
  j["store"] = store;
  j["local_dir"] = local_dir;
  j["max_container"] = max_container;
  j["hidden"] = hidden;
  j["symlinks"] = symlinks;
  j["wait"] = wait;
  j["delay"] = delay;
  j["staging"] = staging;
  j["excludes"] = excludes;
  j["includes"] = includes;
  j["s3_bucket"] = s3_bucket;
  j["s3_region"] = s3_region;
  j["s3_endpoint"] = s3_endpoint;
  j["s3_profile"] = s3_profile;
  j["s3_class"] = s3_class;
  j["s3_style"] = s3_style;
  write_file_atomic(path, j.dump(2) + "\n", 0600);
}

}  // namespace seshat::session
