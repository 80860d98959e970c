#include "seshat/session/settings.h"

#include <pwd.h>
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "seshat/util/atomic_file.h"
#include "seshat/util/bytes.h"
#include "seshat/util/env.h"
#include "seshat/util/error.h"

namespace seshat::session {
namespace {

using json = nlohmann::json;

[[noreturn]] void invalid(const std::string& why) { throw Error(ErrorKind::kInvalidInput, why); }

bool as_bool(const json& v, const char* key) {
  if (!v.is_boolean()) invalid(std::string(key) + " must be true or false");
  return v.get<bool>();
}

std::string as_string(const json& v, const char* key) {
  if (!v.is_string()) invalid(std::string(key) + " must be a string");
  return v.get<std::string>();
}

std::string absolute_dir(const json& v, const char* key, const char* what, bool quote) {
  std::string d = as_string(v, key);
  if (d.empty() || d[0] != '/')
    invalid(std::string(what) + " needs an absolute directory" + (quote ? ", not '" + d + "'" : ""));
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

std::vector<std::string> regex_list(const json& v, const char* key) {
  if (!v.is_array()) invalid(std::string(key) + " must be a list of regular expressions");
  std::vector<std::string> out;
  for (const auto& e : v) {
    std::string s = as_string(e, key);
    RE2 re(s, RE2::Quiet);
    if (!re.ok()) invalid("bad regular expression '" + s + "': " + re.error());
    out.push_back(std::move(s));
  }
  return out;
}

std::string yes_no(bool b) { return b ? "YES" : "NO"; }

const char* const kClasses[] = {"STANDARD",   "STANDARD_IA", "INTELLIGENT_TIERING",
                                "GLACIER_IR", "GLACIER",     "DEEP_ARCHIVE"};

SettingDef flag(const char* key, const char* label, bool remembered, bool Settings::*field) {
  return {key,
          label,
          remembered,
          [key, field](Settings& s, const json& v) { s.*field = as_bool(v, key); },
          [field](const Settings& s) { return json(s.*field); },
          [field](const Settings& s) { return std::vector<std::string>{yes_no(s.*field)}; }};
}

SettingDef text(const char* key, const char* label, std::string Settings::*field, std::string empty_shows) {
  return {key,
          label,
          true,
          [key, field](Settings& s, const json& v) { s.*field = as_string(v, key); },
          [field](const Settings& s) { return json(s.*field); },
          [field, empty_shows](const Settings& s) {
            return std::vector<std::string>{(s.*field).empty() ? empty_shows : s.*field};
          }};
}

SettingDef patterns(const char* key, const char* label, std::vector<std::string> Settings::*field) {
  return {key,
          label,
          true,
          [key, field](Settings& s, const json& v) { s.*field = regex_list(v, key); },
          [field](const Settings& s) { return json(s.*field); },
          [field](const Settings& s) {
            std::vector<std::string> lines{(s.*field).empty() ? "(none)" : ""};
            for (const auto& p : s.*field) lines.push_back("  " + p);
            return lines;
          }};
}

// Where the backups go: the store and its S3 settings.
void store_settings(std::vector<SettingDef>& t) {
  t.push_back({"store", "Store", true,
               [](Settings& s, const json& v) {
                 std::string k = as_string(v, "store");
                 if (k == "local")
                   s.store = StoreKind::kLocal;
                 else if (k == "s3")
                   s.store = StoreKind::kS3;
                 else
                   invalid("store must be \"local\" or \"s3\", not \"" + k + "\"");
               },
               [](const Settings& s) { return json(s.store == StoreKind::kS3 ? "s3" : "local"); },
               [](const Settings& s) { return std::vector<std::string>{s.store_description()}; }});
  t.push_back({"local_dir", nullptr, true,
               [](Settings& s, const json& v) { s.local_dir = absolute_dir(v, "local_dir", "STORE LOCAL", true); },
               [](const Settings& s) { return json(s.local_dir); }, nullptr});
  t.push_back({"s3_bucket", "S3 bucket", true,
               [](Settings& s, const json& v) {
                 std::string b = as_string(v, "s3_bucket");
                 if (b.empty()) invalid("a bucket name cannot be empty");
                 s.s3_bucket = b;
               },
               [](const Settings& s) { return json(s.s3_bucket); },
               [](const Settings& s) { return std::vector<std::string>{s.s3_bucket}; }});
  t.push_back(text("s3_region", "S3 region", &Settings::s3_region, "(from the AWS settings)"));
  t.push_back({"s3_endpoint", "S3 endpoint", true,
               [](Settings& s, const json& v) {
                 std::string e = as_string(v, "s3_endpoint");
                 if (!e.empty() && !e.starts_with("http://") && !e.starts_with("https://"))
                   invalid("S3 ENDPOINT needs a URL starting with http:// or https://");
                 s.s3_endpoint = e;
               },
               [](const Settings& s) { return json(s.s3_endpoint); },
               [](const Settings& s) {
                 return std::vector<std::string>{s.s3_endpoint.empty() ? "(Amazon S3)" : s.s3_endpoint};
               }});
  t.push_back(text("s3_profile", "S3 profile", &Settings::s3_profile, "(AWS_PROFILE or default)"));
  t.push_back(
      {"s3_class", "S3 class", true,
       [](Settings& s, const json& v) {
         std::string c = as_string(v, "s3_class");
         for (char& ch : c) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
         if (!c.empty() && std::find(std::begin(kClasses), std::end(kClasses), c) == std::end(kClasses))
           invalid("unknown storage class " + as_string(v, "s3_class") +
                   " (STANDARD, STANDARD_IA, INTELLIGENT_TIERING, GLACIER_IR, GLACIER, DEEP_ARCHIVE)");
         s.s3_class = c == "STANDARD" ? "" : c;
       },
       [](const Settings& s) { return json(s.s3_class); },
       [](const Settings& s) { return std::vector<std::string>{s.s3_class.empty() ? "STANDARD" : s.s3_class}; }});
  t.push_back({"s3_style", nullptr, true,
               [](Settings& s, const json& v) {
                 std::string st = as_string(v, "s3_style");
                 if (st != "" && st != "path" && st != "virtual") invalid("s3_style must be \"path\" or \"virtual\"");
                 s.s3_style = st;
               },
               [](const Settings& s) { return json(s.s3_style); }, nullptr});
}

// SET LIMIT UPLOAD/DOWNLOAD: bytes per second, all threads together; 0 is none.
SettingDef limit(const char* key, const char* label, uint64_t Settings::*field) {
  return {key,
          label,
          true,
          [key, field](Settings& s, const json& v) {
            if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
              invalid(std::string(key) + " must be a rate in bytes per second (0: no limit)");
            uint64_t rate = v.get<uint64_t>();
            if (rate != 0 && rate < 1024) invalid("the smallest limit is 1 KB per second");
            s.*field = rate;
          },
          [field](const Settings& s) { return json(s.*field); },
          [field](const Settings& s) {
            return std::vector<std::string>{s.*field == 0 ? std::string("none") : human_size(s.*field) + "/s"};
          }};
}

// How backups are made, and this run's switches.
void backup_settings(std::vector<SettingDef>& t) {
  t.push_back({"max_container", "Max container", true,
               [](Settings& s, const json& v) {
                 if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
                   invalid("max_container must be a size in bytes");
                 uint64_t bytes = v.get<uint64_t>();
                 if (bytes < (1ull << 20)) invalid("the smallest container size is 1 MB");
                 if (bytes > (5ull << 40)) invalid("the largest container size is 5 TB");
                 s.max_container = bytes;
               },
               [](const Settings& s) { return json(s.max_container); },
               [](const Settings& s) { return std::vector<std::string>{human_size(s.max_container)}; }});
  t.push_back(flag("hidden", "Hidden files", true, &Settings::hidden));
  t.push_back(flag("symlinks", "Follow symlinks", true, &Settings::symlinks));
  t.push_back(flag("wait", "Wait for lock", true, &Settings::wait));
  t.push_back({"delay", "Delay (staging)", true, [](Settings& s, const json& v) { s.delay = as_bool(v, "delay"); },
               [](const Settings& s) { return json(s.delay); },
               [](const Settings& s) {
                 return std::vector<std::string>{yes_no(s.delay) + (s.delay ? " in " + s.staging : "")};
               }});
  t.push_back({"staging", nullptr, true,
               [](Settings& s, const json& v) { s.staging = absolute_dir(v, "staging", "SET STAGING", false); },
               [](const Settings& s) { return json(s.staging); }, nullptr});
  t.push_back(limit("limit_upload", "Upload limit", &Settings::limit_upload));
  t.push_back(limit("limit_download", "Download limit", &Settings::limit_download));
  t.push_back(flag("progress", "Progress line", true, &Settings::progress));
  t.push_back(flag("cache", "Catalog cache", true, &Settings::cache));
  t.push_back({"output", "Output", false,
               [](Settings& s, const json& v) {
                 std::string o = as_string(v, "output");
                 if (o != "text" && o != "json") invalid("output must be \"text\" or \"json\"");
                 s.json = o == "json";
               },
               [](const Settings& s) { return json(s.json ? "json" : "text"); },
               [](const Settings& s) { return std::vector<std::string>{s.json ? "JSON" : "TEXT"}; }});
  t.push_back(flag("dry_run", "Dry run", false, &Settings::dry_run));
  t.push_back(flag("detail", "Detail", false, &Settings::detail));
  t.push_back(flag("confirm", nullptr, false, &Settings::confirm));
  t.push_back(flag("overwrite", "Overwrite", false, &Settings::overwrite));
  t.push_back(flag("sparse", "Sparse restore", false, &Settings::sparse));
  t.push_back(flag("deletions", "Mass deletions", false, &Settings::deletions));
  t.push_back(patterns("excludes", "Excludes", &Settings::excludes));
  t.push_back(patterns("includes", "Includes", &Settings::includes));
}

std::vector<SettingDef> build() {
  std::vector<SettingDef> t;
  store_settings(t);
  backup_settings(t);
  return t;
}

}  // namespace

std::string Settings::store_description() const {
  if (store == StoreKind::kS3) return "S3 " + s3_bucket + (s3_endpoint.empty() ? "" : " at " + s3_endpoint);
  return "LOCAL " + local_dir;
}

const std::vector<SettingDef>& setting_table() {
  static const std::vector<SettingDef> table = build();
  return table;
}

const SettingDef& setting(const std::string& key) {
  for (const auto& d : setting_table())
    if (key == d.key) return d;
  throw Error(ErrorKind::kInvalidInput, "unknown setting " + key);
}

void set_value(Settings& s, const std::string& key, const json& value) { setting(key).set(s, value); }

std::string home_dir() {
  if (auto h = env::get(env::kHome)) return *h;
  if (passwd* pw = getpwuid(getuid())) return pw->pw_dir;
  return "/";
}

std::string settings_path() { return home_dir() + "/.seshatrc"; }

Settings load_settings(const std::string& path, const std::string& home) {
  Settings s;
  s.local_dir = home + "/.seshat/store";
  auto text = read_file(path);
  if (!text) {
    if (text.error().kind() == ErrorKind::kNotFound) return s;
    throw text.error();
  }
  json j;
  try {
    j = json::parse(*text);
  } catch (const json::exception&) {
    throw Error(ErrorKind::kInvalidInput, "the settings file " + path + " is damaged; fix or delete it");
  }
  if (!j.is_object())
    throw Error(ErrorKind::kInvalidInput, "the settings file " + path + " is damaged; fix or delete it");
  for (const auto& d : setting_table()) {
    if (!d.remembered || !j.contains(d.key)) continue;
    try {
      d.set(s, j.at(d.key));
    } catch (const Error& e) {
      throw Error(ErrorKind::kInvalidInput, "the settings file " + path + " has a bad " + d.key + ": " + e.what());
    }
  }
  return s;
}

void save_settings(const Settings& s, const std::string& path) {
  json j = json::object();
  for (const auto& d : setting_table())
    if (d.remembered) j[d.key] = d.get(s);
  write_file_atomic(path, j.dump(2) + "\n", 0600).throw_if_failed();
}

}  // namespace seshat::session
