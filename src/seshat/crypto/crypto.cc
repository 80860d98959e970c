#include "seshat/crypto/crypto.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <thread>

#include "seshat/util/error.h"
#include "seshat/util/interrupt.h"

namespace seshat::crypto {
namespace {

[[noreturn]] void fail(const char* what) { throw Error(ErrorKind::kPermanent, std::string("crypto failure: ") + what); }

struct CipherCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  ~CipherCtx() { EVP_CIPHER_CTX_free(ctx); }
};

Mac hmac(const Keys& keys, const Iv& iv, std::string_view ct) {
  Mac out{};
  unsigned int len = 0;
  // HMAC over IV || ciphertext; HMAC_CTX is deprecated in OpenSSL 3, EVP_MAC is the way.
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) fail("HMAC unavailable");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>("SHA256"), 0),
                         OSSL_PARAM_construct_end()};
  size_t outl = 0;
  bool ok = ctx && EVP_MAC_init(ctx, keys.mac.data(), keys.mac.size(), params) == 1 &&
            EVP_MAC_update(ctx, iv.data(), iv.size()) == 1 &&
            EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(ct.data()), ct.size()) == 1 &&
            EVP_MAC_final(ctx, out.data(), &outl, out.size()) == 1;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  (void)len;
  if (!ok || outl != kMacSize) fail("HMAC");
  return out;
}

}  // namespace

Keys Keys::from_bytes(std::string_view b) {
  if (b.size() != 64) throw Error(ErrorKind::kCorruption, "bad key length");
  Keys k;
  std::memcpy(k.enc.data(), b.data(), 32);
  std::memcpy(k.mac.data(), b.data() + 32, 32);
  return k;
}
std::string Keys::to_bytes() const {
  std::string s(reinterpret_cast<const char*>(enc.data()), 32);
  s.append(reinterpret_cast<const char*>(mac.data()), 32);
  return s;
}
Keys Keys::random() { return from_bytes(random_bytes(64)); }
Keys::~Keys() {
  OPENSSL_cleanse(enc.data(), enc.size());
  OPENSSL_cleanse(mac.data(), mac.size());
}

std::string random_bytes(size_t n) {
  std::string out(n, '\0');
  if (n && RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) fail("RAND_bytes");
  return out;
}

Hash sha256(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1) fail("SHA-256 init");
}
Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }
void Sha256::update(std::string_view data) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) != 1) fail("SHA-256 update");
}
Hash Sha256::finish() {
  Hash h{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), h.data(), &len) != 1) fail("SHA-256 final");
  return h;
}

namespace {

// AES-256-CBC, the one place: n bytes from `in` to `out`, which may be the very same buffer
// (EVP allows out == in exactly, in one update call). Encryption adds PKCS#7 padding (out
// must have room for n + 16 bytes); decryption removes it. Returns the bytes written.
size_t cbc_encrypt(const Keys& keys, const Iv& iv, const unsigned char* in, size_t n, unsigned char* out) {
  CipherCtx c;
  int out1 = 0, out2 = 0;
  if (n > static_cast<size_t>(std::numeric_limits<int>::max() - 16)) fail("AES: block too large");
  if (!c.ctx || EVP_EncryptInit_ex(c.ctx, EVP_aes_256_cbc(), nullptr, keys.enc.data(), iv.data()) != 1 ||
      EVP_EncryptUpdate(c.ctx, out, &out1, in, static_cast<int>(n)) != 1 ||
      EVP_EncryptFinal_ex(c.ctx, out + out1, &out2) != 1)
    fail("AES encrypt");
  return static_cast<size_t>(out1 + out2);
}

// Checks the MAC first (constant time), then decrypts. Error(kCorruption) if either fails.
size_t cbc_open(const Keys& keys, const Iv& iv, std::string_view ct, const Mac& mac, unsigned char* out) {
  Mac expect = hmac(keys, iv, ct);
  if (CRYPTO_memcmp(expect.data(), mac.data(), kMacSize) != 0 || ct.size() % 16 != 0 || ct.empty())
    throw Error(ErrorKind::kCorruption, "authentication failed");
  if (ct.size() > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw Error(ErrorKind::kCorruption, "sealed object too large");
  CipherCtx c;
  if (!c.ctx || EVP_DecryptInit_ex(c.ctx, EVP_aes_256_cbc(), nullptr, keys.enc.data(), iv.data()) != 1)
    fail("AES init");
  int out1 = 0, out2 = 0;
  if (EVP_DecryptUpdate(c.ctx, out, &out1, reinterpret_cast<const unsigned char*>(ct.data()),
                        static_cast<int>(ct.size())) != 1 ||
      EVP_DecryptFinal_ex(c.ctx, out + out1, &out2) != 1)
    throw Error(ErrorKind::kCorruption, "authentication failed (bad padding)");
  return static_cast<size_t>(out1 + out2);
}

void random_iv(Iv& iv) {
  if (RAND_bytes(iv.data(), kIvSize) != 1) fail("RAND_bytes");
}

// IV || ciphertext || MAC split into its parts.
struct Packed {
  Iv iv;
  Mac mac;
  std::string_view ciphertext;
};
Packed split_packed(std::string_view packed) {
  if (packed.size() < kIvSize + kMacSize + 16) throw Error(ErrorKind::kCorruption, "sealed object too short");
  Packed p;
  std::memcpy(p.iv.data(), packed.data(), kIvSize);
  std::memcpy(p.mac.data(), packed.data() + packed.size() - kMacSize, kMacSize);
  p.ciphertext = packed.substr(kIvSize, packed.size() - kIvSize - kMacSize);
  return p;
}

}  // namespace

Sealed seal(const Keys& keys, std::string_view plaintext) {
  Sealed s;
  seal_into(keys, plaintext, s);
  return s;
}

void seal_into(const Keys& keys, std::string_view plaintext, Sealed& s) {
  random_iv(s.iv);
  s.ciphertext.resize(plaintext.size() + 16);
  auto* out = reinterpret_cast<unsigned char*>(s.ciphertext.data());
  s.ciphertext.resize(
      cbc_encrypt(keys, s.iv, reinterpret_cast<const unsigned char*>(plaintext.data()), plaintext.size(), out));
  s.mac = hmac(keys, s.iv, s.ciphertext);
}

void seal_in_place(const Keys& keys, size_t n, Sealed& s) {
  random_iv(s.iv);
  s.ciphertext.resize(n + 16);
  auto* buf = reinterpret_cast<unsigned char*>(s.ciphertext.data());
  s.ciphertext.resize(cbc_encrypt(keys, s.iv, buf, n, buf));
  s.mac = hmac(keys, s.iv, s.ciphertext);
}

std::string open(const Keys& keys, const Iv& iv, std::string_view ciphertext, const Mac& mac) {
  std::string out;
  out.resize(open_into(keys, iv, ciphertext, mac, out));
  return out;
}

size_t open_into(const Keys& keys, const Iv& iv, std::string_view ciphertext, const Mac& mac, std::string& out) {
  if (out.size() < ciphertext.size()) out.resize(ciphertext.size());
  return cbc_open(keys, iv, ciphertext, mac, reinterpret_cast<unsigned char*>(out.data()));
}

std::string seal_packed(const Keys& keys, std::string_view plaintext) {
  PackedSealer s(keys);
  s.reserve(plaintext.size());
  s.update(plaintext);
  return s.finish();
}

PackedSealer::PackedSealer(const Keys& keys)
    : cipher_(EVP_CIPHER_CTX_new()), mac_(EVP_MAC_fetch(nullptr, "HMAC", nullptr)), mac_ctx_(nullptr) {
  auto* c = static_cast<EVP_CIPHER_CTX*>(cipher_);
  auto* m = static_cast<EVP_MAC*>(mac_);
  if (m) mac_ctx_ = EVP_MAC_CTX_new(m);
  auto* mc = static_cast<EVP_MAC_CTX*>(mac_ctx_);
  Iv iv{};
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>("SHA256"), 0),
                         OSSL_PARAM_construct_end()};
  if (!c || !mc || RAND_bytes(iv.data(), kIvSize) != 1 ||
      EVP_EncryptInit_ex(c, EVP_aes_256_cbc(), nullptr, keys.enc.data(), iv.data()) != 1 ||
      EVP_MAC_init(mc, keys.mac.data(), keys.mac.size(), params) != 1) {
    EVP_CIPHER_CTX_free(c);
    EVP_MAC_CTX_free(mc);
    EVP_MAC_free(m);
    fail("sealer init");
  }
  out_.assign(reinterpret_cast<const char*>(iv.data()), kIvSize);
  mac_tail(0);
}

PackedSealer::PackedSealer(const Keys& keys, std::function<void(std::string_view)> sink) : PackedSealer(keys) {
  sink_ = std::move(sink);
  out_.reserve(kChunk + (64 << 10));  // handed on at kChunk: never grown past this
}

PackedSealer::~PackedSealer() {
  EVP_CIPHER_CTX_free(static_cast<EVP_CIPHER_CTX*>(cipher_));
  EVP_MAC_CTX_free(static_cast<EVP_MAC_CTX*>(mac_ctx_));
  EVP_MAC_free(static_cast<EVP_MAC*>(mac_));
}

// The MAC covers IV || ciphertext: every byte of out_ from `from` on.
void PackedSealer::mac_tail(size_t from) {
  if (EVP_MAC_update(static_cast<EVP_MAC_CTX*>(mac_ctx_), reinterpret_cast<const unsigned char*>(out_.data() + from),
                     out_.size() - from) != 1)
    fail("HMAC");
}

void PackedSealer::update(std::string_view plaintext) {
  constexpr size_t kStep = 1 << 30;  // EVP takes int lengths
  while (!plaintext.empty()) {
    size_t n = std::min(plaintext.size(), kStep);
    size_t at = out_.size();
    out_.resize(at + n + 16);
    int got = 0;
    if (EVP_EncryptUpdate(static_cast<EVP_CIPHER_CTX*>(cipher_), reinterpret_cast<unsigned char*>(out_.data() + at),
                          &got, reinterpret_cast<const unsigned char*>(plaintext.data()), static_cast<int>(n)) != 1)
      fail("AES encrypt");
    out_.resize(at + static_cast<size_t>(got));
    mac_tail(at);
    plaintext.remove_prefix(n);
    if (out_.size() >= kChunk && sink_) {
      sink_(out_);
      out_.clear();
    }
  }
}

std::string PackedSealer::finish() {
  size_t at = out_.size();
  out_.resize(at + 16);
  int got = 0;
  if (EVP_EncryptFinal_ex(static_cast<EVP_CIPHER_CTX*>(cipher_), reinterpret_cast<unsigned char*>(out_.data() + at),
                          &got) != 1)
    fail("AES encrypt");
  out_.resize(at + static_cast<size_t>(got));
  mac_tail(at);
  Mac m{};
  size_t outl = 0;
  if (EVP_MAC_final(static_cast<EVP_MAC_CTX*>(mac_ctx_), m.data(), &outl, m.size()) != 1 || outl != kMacSize)
    fail("HMAC");
  out_.append(reinterpret_cast<const char*>(m.data()), kMacSize);
  if (sink_) {
    sink_(out_);
    std::string().swap(out_);
    return {};
  }
  return std::move(out_);
}

std::string open_packed(const Keys& keys, std::string_view packed) {
  Packed p = split_packed(packed);
  return open(keys, p.iv, p.ciphertext, p.mac);
}

std::string_view open_packed_in_place(const Keys& keys, std::string& packed) {
  Packed p = split_packed(packed);
  auto* buf = reinterpret_cast<unsigned char*>(packed.data() + kIvSize);
  return std::string_view(packed.data() + kIvSize, cbc_open(keys, p.iv, p.ciphertext, p.mac, buf));
}

void check_kdf_params(const KdfParams& p) {
  if (p.ops < kKdfMinOps || p.ops > kKdfMaxOps || p.mem < kKdfMinMem || p.mem > kKdfMaxMem ||
      p.ops * p.mem > kKdfMaxCost)
    throw Error(ErrorKind::kCorruption,
                fmt::format("the key file asks for a key derivation of {} passes over {} bytes, more than Seshat ever "
                            "writes or accepts (at most {} passes, {} MiB, {} MiB over all passes); refused",
                            p.ops, p.mem, kKdfMaxOps, kKdfMaxMem >> 20, kKdfMaxCost >> 20));
}

Keys derive_keys(std::string_view passphrase, std::string_view salt, const KdfParams& params) {
  if (sodium_init() < 0) fail("libsodium init");
  if (salt.size() != crypto_pwhash_SALTBYTES) throw Error(ErrorKind::kCorruption, "bad KDF salt length");
  check_kdf_params(params);
  // crypto_pwhash cannot be stopped once started: it runs on its own thread, and Ctrl-C or
  // SIGTERM returns at once (the thread's work is thrown away; the process is ending).
  struct Job {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int rc = 0;
    unsigned char out[64];
    std::string pass, salt;
    ~Job() { sodium_memzero(out, sizeof out), sodium_memzero(pass.data(), pass.size()); }
  };
  auto job = std::make_shared<Job>();
  job->pass = std::string(passphrase);
  job->salt = std::string(salt);
  std::thread([job, params] {
    int rc = crypto_pwhash(job->out, sizeof job->out, job->pass.data(), job->pass.size(),
                           reinterpret_cast<const unsigned char*>(job->salt.data()), params.ops, params.mem,
                           crypto_pwhash_ALG_ARGON2ID13);
    std::lock_guard<std::mutex> lk(job->mu);
    job->rc = rc;
    job->done = true;
    job->cv.notify_all();
  }).detach();
  std::unique_lock<std::mutex> lk(job->mu);
  while (!job->cv.wait_for(lk, std::chrono::milliseconds(50), [&] { return job->done; }))
    if (interrupted()) throw Error(ErrorKind::kInterrupted, "interrupted while deriving the key from the passphrase");
  if (job->rc != 0) throw Error(ErrorKind::kPermanent, "not enough memory to derive the key from the passphrase");
  return Keys::from_bytes(std::string_view(reinterpret_cast<char*>(job->out), sizeof job->out));
}

}  // namespace seshat::crypto
