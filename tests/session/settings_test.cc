// The settings table: one validation for SET and ~/.seshatrc, and the file round trip.
#include "seshat/session/settings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "../test_support.h"

namespace seshat::session {
namespace {

using nlohmann::json;
using testing_support::TempDir;

TEST(Settings, SaveAndLoadKeepTheRememberedOnes) {
  TempDir t;
  Settings s = load_settings(t / "rc", "/home/x");
  EXPECT_EQ(s.local_dir, "/home/x/.seshat/store");
  set_value(s, "max_container", 64ull << 20);
  set_value(s, "hidden", false);
  set_value(s, "s3_class", "glacier_ir");
  set_value(s, "excludes", json::array({"\\.iso$"}));
  set_value(s, "dry_run", true);  // this run only
  save_settings(s, t / "rc");
  Settings back = load_settings(t / "rc", "/home/x");
  EXPECT_EQ(back.max_container, 64ull << 20);
  EXPECT_FALSE(back.hidden);
  EXPECT_EQ(back.s3_class, "GLACIER_IR");
  EXPECT_EQ(back.excludes, std::vector<std::string>{"\\.iso$"});
  EXPECT_FALSE(back.dry_run);
  EXPECT_EQ(json::parse(testing_support::slurp(t / "rc")).count("dry_run"), 0u);
}

// Regression (hardening issue 9): the file is validated as SET is.
TEST(Settings, BadValuesAreRefusedFromEitherPath) {
  Settings s;
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "max_container", 0));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "max_container", -1));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "store", "ftp"));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "staging", "relative"));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "s3_endpoint", "ftp://x"));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "s3_class", "COLD"));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "excludes", json::array({"("})));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "hidden", "yes"));
  EXPECT_THROW_KIND(kInvalidInput, set_value(s, "no_such_setting", 1));
  TempDir t;
  for (const char* bad : {R"({"max_container": 0})", R"({"store": "tape"})", R"({"staging": "rel"})", "[1]", "{"}) {
    testing_support::spit(t / "rc", bad);
    try {
      load_settings(t / "rc", "/h");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kInvalidInput);
      EXPECT_NE(std::string(e.what()).find(t / "rc"), std::string::npos) << e.what();  // names the file
    }
  }
}

TEST(Settings, EveryKeyIsInTheTableOnce) {
  std::set<std::string> keys;
  for (const auto& d : setting_table()) EXPECT_TRUE(keys.insert(d.key).second) << d.key;
  Settings s;
  s.local_dir = "/srv/store";
  for (const auto& d : setting_table()) {
    json v = d.get(s);
    Settings copy = s;
    d.set(copy, v);  // a value read back is a valid value
    EXPECT_EQ(d.get(copy), v) << d.key;
  }
}

TEST(Settings, StoreDescription) {
  Settings s;
  s.local_dir = "/srv/b";
  EXPECT_EQ(s.store_description(), "LOCAL /srv/b");
  s.store = StoreKind::kS3;
  s.s3_bucket = "bk";
  EXPECT_EQ(s.store_description(), "S3 bk");
  s.s3_endpoint = "http://127.0.0.1:9000";
  EXPECT_EQ(s.store_description(), "S3 bk at http://127.0.0.1:9000");
}

}  // namespace
}  // namespace seshat::session
