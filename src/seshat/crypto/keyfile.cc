#include "seshat/crypto/keyfile.h"

#include <sodium.h>

#include <nlohmann/json.hpp>

#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/json_int.h"

namespace seshat::crypto {
namespace {

// A plain checksum of the stored fields: it tells a damaged key file from a wrong
// passphrase (both make the authenticated unwrap fail). It reveals nothing that the file
// does not already show.
std::string checksum(uint64_t ops, uint64_t mem, const std::string& salt_b64, const std::string& data_b64) {
  Hash h =
      sha256("seshat-keyfile\n" + std::to_string(ops) + "\n" + std::to_string(mem) + "\n" + salt_b64 + "\n" + data_b64);
  return to_hex(std::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

}  // namespace

std::string make_keyfile(const Keys& master, std::string_view passphrase, const KdfParams& params) {
  std::string salt = random_bytes(crypto_pwhash_SALTBYTES);
  Keys wrap = derive_keys(passphrase, salt, params);
  std::string sealed = seal_packed(wrap, master.to_bytes());
  nlohmann::json j;
  j["version"] = 1;
  j["kdf"] = "argon2id";
  j["ops"] = params.ops;
  j["mem"] = params.mem;
  j["salt"] = base64_encode(salt);
  j["data"] = base64_encode(sealed);
  j["check"] = checksum(params.ops, params.mem, j["salt"].get<std::string>(), j["data"].get<std::string>());
  return j.dump(2) + "\n";
}

Keys open_keyfile(std::string_view keyfile, std::string_view passphrase) {
  KdfParams params;
  std::optional<std::string> salt, data;
  try {
    auto j = nlohmann::json::parse(keyfile);
    if (json_int<int>(j, "version", "key file") != 1)
      throw Error(ErrorKind::kCorruption, "key file: unsupported version");
    if (j.at("kdf").get<std::string>() != "argon2id") throw Error(ErrorKind::kCorruption, "key file: unknown KDF");
    params.ops = json_int<uint64_t>(j, "ops", "key file");
    params.mem = json_int<uint64_t>(j, "mem", "key file");
    std::string salt_b64 = j.at("salt").get<std::string>(), data_b64 = j.at("data").get<std::string>();
    if (j.contains("check") && j.at("check").get<std::string>() != checksum(params.ops, params.mem, salt_b64, data_b64))
      throw Error(ErrorKind::kCorruption, "key file is damaged (its checksum does not match)");
    salt = base64_decode(salt_b64);
    data = base64_decode(data_b64);
  } catch (const nlohmann::json::exception&) {
    throw Error(ErrorKind::kCorruption, "key file is damaged (not valid JSON)");
  }
  if (!salt || !data) throw Error(ErrorKind::kCorruption, "key file is damaged (bad base64)");
  Keys wrap = derive_keys(passphrase, *salt, params);
  std::string master;
  try {
    master = open_packed(wrap, *data);
  } catch (const Error& e) {
    throw Error(ErrorKind::kInvalidInput, "wrong passphrase (or damaged key file)");
  }
  return Keys::from_bytes(master);
}

}  // namespace seshat::crypto
