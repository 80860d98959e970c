#include "seshat/crypto/keyfile.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "../test_support.h"
#include "seshat/util/bytes.h"

namespace seshat::crypto {
namespace {

const KdfParams kCheap{1, 8192 * 1024};

class KeyfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    master = Keys::random();
    text = make_keyfile(master, "correct horse", kCheap);
  }
  std::string edited(const std::function<void(nlohmann::json&)>& edit) const {
    auto j = nlohmann::json::parse(text);
    edit(j);
    return j.dump();
  }
  Keys master;
  std::string text;
};

TEST_F(KeyfileTest, RoundTrip) {
  Keys k = open_keyfile(text, "correct horse");
  EXPECT_EQ(k.to_bytes(), master.to_bytes());
}

TEST_F(KeyfileTest, IsJsonWithTheDocumentedFields) {
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.at("version").get<int>(), 1);
  EXPECT_EQ(j.at("kdf").get<std::string>(), "argon2id");
  EXPECT_EQ(j.at("ops").get<uint64_t>(), kCheap.ops);
  EXPECT_EQ(j.at("mem").get<uint64_t>(), kCheap.mem);
  auto salt = base64_decode(j.at("salt").get<std::string>());
  ASSERT_TRUE(salt.has_value());
  EXPECT_EQ(salt->size(), 16u);
  // The master keys must not appear in the file in any plain form.
  EXPECT_EQ(text.find(base64_encode(master.to_bytes())), std::string::npos);
  EXPECT_EQ(text.find(to_hex(master.to_bytes())), std::string::npos);
}

TEST_F(KeyfileTest, FreshSaltEachTime) {
  std::string again = make_keyfile(master, "correct horse", kCheap);
  EXPECT_NE(nlohmann::json::parse(again)["salt"], nlohmann::json::parse(text)["salt"]);
  EXPECT_EQ(open_keyfile(again, "correct horse").to_bytes(), master.to_bytes());
}

TEST_F(KeyfileTest, WrongPassphraseIsInvalidInput) {
  EXPECT_THROW_KIND(kInvalidInput, open_keyfile(text, "wrong horse"));
  EXPECT_THROW_KIND(kInvalidInput, open_keyfile(text, ""));
  EXPECT_THROW_KIND(kInvalidInput, open_keyfile(text, "correct horse "));
}

TEST_F(KeyfileTest, DamagedJsonIsCorruption) {
  EXPECT_THROW_KIND(kCorruption, open_keyfile("", "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile("not json", "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile(text.substr(0, text.size() / 2), "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile("[]", "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile("{}", "correct horse"));
}

TEST_F(KeyfileTest, MissingOrMistypedFieldsAreCorruption) {
  for (const char* field : {"version", "kdf", "ops", "mem", "salt", "data"}) {
    EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([&](auto& j) { j.erase(field); }), "correct horse"))
        << "without " << field;
  }
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["ops"] = "one"; }), "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["salt"] = 5; }), "correct horse"));
}

TEST_F(KeyfileTest, UnknownVersionOrKdfIsCorruption) {
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["version"] = 2; }), "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["kdf"] = "scrypt"; }), "correct horse"));
}

TEST_F(KeyfileTest, BadBase64IsCorruption) {
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["salt"] = "!!!!"; }), "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["data"] = "abc"; }), "correct horse"));
}

TEST_F(KeyfileTest, WrongSaltLengthIsCorruption) {
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["salt"] = base64_encode(std::string(8, 's')); }),
                                              "correct horse"));
}

TEST_F(KeyfileTest, OutOfRangeKdfParametersAreCorruption) {
  // A damaged file must not make us allocate terabytes or spin forever.
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["mem"] = uint64_t{1} << 50; }), "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["ops"] = 0; }), "correct horse"));
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["ops"] = 1000000000; }), "correct horse"));
}

TEST_F(KeyfileTest, DamagedWrappedDataIsRejected) {
  // A damaged "data" field cannot be told apart from a wrong passphrase; it must still fail.
  auto j = nlohmann::json::parse(text);
  std::string data = *base64_decode(j["data"].get<std::string>());
  data[20] = static_cast<char>(data[20] ^ 1);
  j["data"] = base64_encode(data);
  EXPECT_THROW(open_keyfile(j.dump(), "correct horse"), Error);
}

TEST_F(KeyfileTest, ChangedKdfParametersDoNotOpen) {
  // The parameters are part of the derivation: tampering with them must not yield other keys.
  // The checksum names it as damage; without a checksum (files of 0.7) it cannot be told
  // from a wrong passphrase.
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited([](auto& j) { j["ops"] = 2; }), "correct horse"));
  EXPECT_THROW_KIND(kInvalidInput, open_keyfile(edited([](auto& j) {
                                                  j["ops"] = 2;
                                                  j.erase("check");
                                                }),
                                                "correct horse"));
}

TEST_F(KeyfileTest, DamagedDataIsToldFromAWrongPassphrase) {
  auto flip_data = [](auto& j) {
    std::string d = j["data"].template get<std::string>();
    d[d.size() / 2] = d[d.size() / 2] == 'A' ? 'B' : 'A';
    j["data"] = d;
  };
  EXPECT_THROW_KIND(kCorruption, open_keyfile(edited(flip_data), "correct horse"));
  EXPECT_THROW_KIND(kCorruption,
                    open_keyfile(edited([](auto& j) { j["check"] = std::string(64, '0'); }), "correct horse"));
  // Intact file, wrong passphrase: still that.
  EXPECT_THROW_KIND(kInvalidInput, open_keyfile(edited([](auto&) {}), "wrong horse"));
  // A file without a checksum opens as before.
  Keys k = open_keyfile(edited([](auto& j) { j.erase("check"); }), "correct horse");
  EXPECT_EQ(k.to_bytes().size(), 64u);
}

}  // namespace
}  // namespace seshat::crypto
