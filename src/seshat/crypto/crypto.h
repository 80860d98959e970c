// Cryptographic primitives (OpenSSL 3 EVP, libsodium Argon2id). No I/O. Thread-safe.
//
// A sealed blob is AES-256-CBC (PKCS#7 padding) under a fresh random 16-byte IV, then
// HMAC-SHA256 over IV || ciphertext (encrypt-then-MAC) under a separate 32-byte key.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace seshat::crypto {

constexpr size_t kIvSize = 16;
constexpr size_t kMacSize = 32;
constexpr size_t kHashSize = 32;

using Iv = std::array<uint8_t, kIvSize>;
using Mac = std::array<uint8_t, kMacSize>;
using Hash = std::array<uint8_t, kHashSize>;

// The repository's master secret: an AES-256 key and an HMAC-SHA256 key.
struct Keys {
  std::array<uint8_t, 32> enc{};
  std::array<uint8_t, 32> mac{};
  static Keys from_bytes(std::string_view b);  // REQUIRES: b.size() == 64
  std::string to_bytes() const;
  static Keys random();
  ~Keys();  // wipes the key material
};

struct Sealed {
  Iv iv{};
  std::string ciphertext;
  Mac mac{};
};

std::string random_bytes(size_t n);
Hash sha256(std::string_view data);

// Incremental SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data);
  Hash finish();

 private:
  void* ctx_;
};

Sealed seal(const Keys& keys, std::string_view plaintext);
// The same into `out`, reusing the capacity of out.ciphertext (no allocation per blob).
void seal_into(const Keys& keys, std::string_view plaintext, Sealed& out);
// The same with the plaintext already in out.ciphertext[0, n): encrypted where it is, so
// that no second buffer is needed.
void seal_in_place(const Keys& keys, size_t n, Sealed& out);
// Checks the MAC first (constant time); throws Error(kCorruption, "authentication failed")
// if it does not match or the padding is bad.
std::string open(const Keys& keys, const Iv& iv, std::string_view ciphertext, const Mac& mac);
// The same into a buffer the caller keeps (grown, never shrunk); returns the plaintext length.
size_t open_into(const Keys& keys, const Iv& iv, std::string_view ciphertext, const Mac& mac, std::string& buf);

// IV || ciphertext || MAC in one string, for whole objects (catalog, container index).
std::string seal_packed(const Keys& keys, std::string_view plaintext);

// seal_packed() in pieces, for objects too big to hold twice: the plaintext goes in chunk by
// chunk and only the sealed result is kept.
class PackedSealer {
 public:
  explicit PackedSealer(const Keys& keys);
  // Hands the output to `sink` in pieces of about kChunk as it is made, instead of keeping
  // it; finish() then returns an empty string.
  PackedSealer(const Keys& keys, std::function<void(std::string_view)> sink);
  ~PackedSealer();
  PackedSealer(const PackedSealer&) = delete;
  PackedSealer& operator=(const PackedSealer&) = delete;
  // For a one-shot seal of a known size; without a sink the output is kept whole.
  void reserve(size_t plaintext_size) { out_.reserve(plaintext_size + 64); }
  void update(std::string_view plaintext);
  // IV || ciphertext || MAC.
  std::string finish();

 private:
  void mac_tail(size_t from);
  void* cipher_;
  void* mac_;
  void* mac_ctx_;
  static constexpr size_t kChunk = 4 << 20;
  std::function<void(std::string_view)> sink_;
  std::string out_;  // the piece being filled
};
std::string open_packed(const Keys& keys, std::string_view packed);
// The same, decrypting inside `packed` itself (no second buffer): returns the plaintext, a
// view into `packed`. Throws like open_packed (and leaves `packed` undefined).
std::string_view open_packed_in_place(const Keys& keys, std::string& packed);

// Argon2id (libsodium crypto_pwhash) to 64 bytes of key material.
// Throws Error(kPermanent) if the parameters are out of range or memory is short.
struct KdfParams {
  uint64_t ops = 3;
  uint64_t mem = 64ull << 20;
};
// What a key file may ask for (doc/format/keyfile.md): anyone who can write the store can
// write a key file, and must not be able to make every open cost minutes of CPU or gigabytes.
// libsodium's "sensitive" level (4 passes over 1 GiB) is the most.
constexpr uint64_t kKdfMinOps = 1, kKdfMaxOps = 10;
constexpr uint64_t kKdfMinMem = 8192, kKdfMaxMem = 1ull << 30;
constexpr uint64_t kKdfMaxCost = 4ull << 30;  // passes x bytes
// Throws Error(kCorruption) for parameters outside those bounds.
void check_kdf_params(const KdfParams& params);
// Interruptible: Ctrl-C or SIGTERM throws Error(kInterrupted) at once.
Keys derive_keys(std::string_view passphrase, std::string_view salt, const KdfParams& params);

}  // namespace seshat::crypto
