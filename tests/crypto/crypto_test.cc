#include "seshat/crypto/crypto.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>

#include "../test_support.h"
#include "seshat/util/bytes.h"

namespace seshat::crypto {
namespace {

std::string hex(const Hash& h) { return to_hex(std::string_view(reinterpret_cast<const char*>(h.data()), h.size())); }

Keys fixed_keys(char fill) {
  return Keys::from_bytes(std::string(32, fill) + std::string(32, static_cast<char>(fill + 1)));
}

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(hex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(hex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, MillionAs) {
  Sha256 h;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(chunk);
  EXPECT_EQ(hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>((i * 7919) & 0xff));
  Hash whole = sha256(data);
  // Split at awkward places, including empty updates.
  for (size_t step : {1u, 63u, 64u, 65u, 4096u, 99999u}) {
    Sha256 h;
    h.update("");
    for (size_t off = 0; off < data.size(); off += step) h.update(std::string_view(data).substr(off, step));
    EXPECT_EQ(h.finish(), whole) << "step " << step;
  }
}

TEST(Keys, BytesRoundTripAndLength) {
  Keys k = Keys::random();
  std::string b = k.to_bytes();
  ASSERT_EQ(b.size(), 64u);
  Keys k2 = Keys::from_bytes(b);
  EXPECT_EQ(k2.enc, k.enc);
  EXPECT_EQ(k2.mac, k.mac);
  EXPECT_NE(Keys::random().to_bytes(), b);
  EXPECT_NE(k.enc, k.mac);
  EXPECT_THROW(Keys::from_bytes(std::string(63, 'x')), Error);
  EXPECT_THROW(Keys::from_bytes(std::string(65, 'x')), Error);
}

TEST(RandomBytes, LengthAndVariety) {
  EXPECT_EQ(random_bytes(0), "");
  std::string a = random_bytes(32), b = random_bytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

class SealRoundTrip : public ::testing::TestWithParam<size_t> {};

TEST_P(SealRoundTrip, OpensToThePlaintext) {
  Keys k = Keys::random();
  std::string plain;
  for (size_t i = 0; i < GetParam(); ++i) plain.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  Sealed s = seal(k, plain);
  // CBC with PKCS#7: always at least one byte of padding, whole blocks.
  EXPECT_EQ(s.ciphertext.size(), (plain.size() / 16 + 1) * 16);
  if (plain.size() >= 16) {
    EXPECT_EQ(s.ciphertext.find(plain.substr(0, 16)), std::string::npos);  // really encrypted
  }
  EXPECT_EQ(open(k, s.iv, s.ciphertext, s.mac), plain);
}

TEST_P(SealRoundTrip, InPlaceOpensToThePlaintext) {
  Keys k = Keys::random();
  std::string plain;
  for (size_t i = 0; i < GetParam(); ++i) plain.push_back(static_cast<char>((i * 131 + 7) & 0xff));
  Sealed s;
  s.ciphertext = plain + std::string(40, '#');  // room for the padding, and bytes past it
  seal_in_place(k, plain.size(), s);
  EXPECT_EQ(s.ciphertext.size(), (plain.size() / 16 + 1) * 16);
  if (plain.size() >= 16) {
    EXPECT_EQ(s.ciphertext.find(plain.substr(0, 16)), std::string::npos);
  }
  EXPECT_EQ(open(k, s.iv, s.ciphertext, s.mac), plain);
}

INSTANTIATE_TEST_SUITE_P(Sizes, SealRoundTrip, ::testing::Values(0, 1, 15, 16, 17, 4096, 1u << 20));

TEST(PackedSealer, StreamToASinkEqualsTheOneShotLayout) {
  Keys k = Keys::random();
  std::string plain;
  for (size_t i = 0; i < (9u << 20) + 5; ++i) plain.push_back(static_cast<char>((i * 31) >> 3));
  // Kept in pieces and joined (over 4 MB), and handed to a sink in pieces: both open.
  PackedSealer kept(k);
  std::string sunk;
  size_t calls = 0;
  PackedSealer streamed(k, [&](std::string_view piece) {
    sunk.append(piece);
    ++calls;
  });
  for (size_t at = 0; at < plain.size(); at += 100000) {
    kept.update(std::string_view(plain).substr(at, 100000));
    streamed.update(std::string_view(plain).substr(at, 100000));
  }
  std::string whole = kept.finish();
  EXPECT_EQ(streamed.finish(), "");
  EXPECT_GT(calls, 2u);
  EXPECT_EQ(whole.size(), sunk.size());
  EXPECT_EQ(whole.size(), kIvSize + (plain.size() / 16 + 1) * 16 + kMacSize);
  EXPECT_EQ(open_packed(k, whole), plain);
  EXPECT_EQ(open_packed(k, sunk), plain);
}

TEST(Seal, FreshIvEachTime) {
  Keys k = Keys::random();
  Sealed a = seal(k, "same plaintext");
  Sealed b = seal(k, "same plaintext");
  EXPECT_NE(a.iv, b.iv);
  EXPECT_NE(a.ciphertext, b.ciphertext);
  EXPECT_NE(a.mac, b.mac);
  EXPECT_NE(seal_packed(k, "x"), seal_packed(k, "x"));
}

TEST(Seal, FlippedBitInCiphertextIsCorruption) {
  Keys k = Keys::random();
  Sealed s = seal(k, std::string(100, 'p'));
  for (size_t i = 0; i < s.ciphertext.size(); i += 7) {
    for (int bit : {0, 7}) {
      std::string ct = s.ciphertext;
      ct[i] = static_cast<char>(ct[i] ^ (1 << bit));
      EXPECT_THROW_KIND(kCorruption, open(k, s.iv, ct, s.mac)) << "byte " << i << " bit " << bit;
    }
  }
}

TEST(Seal, FlippedBitInIvIsCorruption) {
  Keys k = Keys::random();
  Sealed s = seal(k, "attack at dawn");
  for (size_t i = 0; i < kIvSize; ++i) {
    Iv iv = s.iv;
    iv[i] ^= 0x01;
    EXPECT_THROW_KIND(kCorruption, open(k, iv, s.ciphertext, s.mac)) << "byte " << i;
  }
}

TEST(Seal, FlippedBitInMacIsCorruption) {
  Keys k = Keys::random();
  Sealed s = seal(k, "attack at dawn");
  for (size_t i = 0; i < kMacSize; ++i) {
    Mac mac = s.mac;
    mac[i] ^= 0x80;
    EXPECT_THROW_KIND(kCorruption, open(k, s.iv, s.ciphertext, mac)) << "byte " << i;
  }
}

TEST(Seal, TruncatedOrExtendedCiphertextIsCorruption) {
  Keys k = Keys::random();
  Sealed s = seal(k, std::string(40, 'q'));
  EXPECT_THROW_KIND(kCorruption, open(k, s.iv, std::string_view(s.ciphertext).substr(0, 32), s.mac));
  EXPECT_THROW_KIND(kCorruption,
                    open(k, s.iv, std::string_view(s.ciphertext).substr(0, s.ciphertext.size() - 1), s.mac));
  EXPECT_THROW_KIND(kCorruption, open(k, s.iv, s.ciphertext + std::string(16, '\0'), s.mac));
  EXPECT_THROW_KIND(kCorruption, open(k, s.iv, "", s.mac));
}

TEST(Seal, WrongKeyIsCorruption) {
  Keys k = Keys::random();
  Keys other = Keys::random();
  Sealed s = seal(k, "secret");
  EXPECT_THROW_KIND(kCorruption, open(other, s.iv, s.ciphertext, s.mac));
  // Right MAC key, wrong encryption key: authentication passes, but the result must not be
  // the plaintext (and bad padding, if any, is corruption).
  Keys half = Keys::from_bytes(other.to_bytes().substr(0, 32) + k.to_bytes().substr(32));
  try {
    EXPECT_NE(open(half, s.iv, s.ciphertext, s.mac), "secret");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorruption);
  }
}

TEST(Seal, DeterministicUnderFixedKeysGivenIv) {
  // Same keys, same IV and ciphertext open identically from two Keys objects built from bytes.
  Keys a = fixed_keys('a');
  Keys b = fixed_keys('a');
  Sealed s = seal(a, "data");
  EXPECT_EQ(open(b, s.iv, s.ciphertext, s.mac), "data");
  EXPECT_THROW_KIND(kCorruption, open(fixed_keys('c'), s.iv, s.ciphertext, s.mac));
}

TEST(SealPacked, RoundTripAndLayout) {
  Keys k = Keys::random();
  for (size_t n : {0u, 1u, 16u, 1000u}) {
    std::string plain(n, 'z');
    std::string packed = seal_packed(k, plain);
    EXPECT_EQ(packed.size(), kIvSize + (n / 16 + 1) * 16 + kMacSize);
    EXPECT_EQ(open_packed(k, packed), plain);
  }
}

TEST(SealPacked, OpensInPlace) {
  Keys k = Keys::random();
  for (size_t n : {0u, 1u, 16u, 1000u, 70000u}) {
    std::string plain(n, 'q');
    for (size_t i = 0; i < n; ++i) plain[i] = static_cast<char>(i * 7);
    std::string packed = seal_packed(k, plain);
    EXPECT_EQ(open_packed_in_place(k, packed), plain);
    std::string bad = seal_packed(k, plain);
    bad[bad.size() / 2] ^= 1;
    EXPECT_THROW_KIND(kCorruption, open_packed_in_place(k, bad));
    std::string cut = seal_packed(k, plain).substr(0, 40);
    EXPECT_THROW_KIND(kCorruption, open_packed_in_place(k, cut));
  }
}

TEST(SealPacked, LayoutIsIvCiphertextMac) {
  Keys k = Keys::random();
  std::string packed = seal_packed(k, "layout");
  Iv iv;
  Mac mac;
  std::memcpy(iv.data(), packed.data(), kIvSize);
  std::memcpy(mac.data(), packed.data() + packed.size() - kMacSize, kMacSize);
  EXPECT_EQ(open(k, iv, packed.substr(kIvSize, packed.size() - kIvSize - kMacSize), mac), "layout");
}

TEST(SealPacked, DamageIsCorruption) {
  Keys k = Keys::random();
  std::string packed = seal_packed(k, "some object contents");
  for (size_t i = 0; i < packed.size(); ++i) {
    std::string bad = packed;
    bad[i] = static_cast<char>(bad[i] ^ 0x04);
    EXPECT_THROW_KIND(kCorruption, open_packed(k, bad)) << "byte " << i;
  }
  for (size_t n = 0; n < packed.size(); ++n)
    EXPECT_THROW_KIND(kCorruption, open_packed(k, packed.substr(0, n))) << "prefix " << n;
  EXPECT_THROW_KIND(kCorruption, open_packed(Keys::random(), packed));
}

TEST(DeriveKeys, DeterministicAndSensitiveToInputs) {
  KdfParams p{1, 8192 * 1024};
  std::string salt(16, 's');
  Keys a = derive_keys("passphrase", salt, p);
  Keys b = derive_keys("passphrase", salt, p);
  EXPECT_EQ(a.to_bytes(), b.to_bytes());
  EXPECT_NE(derive_keys("passphrasf", salt, p).to_bytes(), a.to_bytes());
  EXPECT_NE(derive_keys("passphrase", std::string(16, 't'), p).to_bytes(), a.to_bytes());
  EXPECT_NE(derive_keys("passphrase", salt, KdfParams{2, 8192 * 1024}).to_bytes(), a.to_bytes());
}

TEST(DeriveKeys, RejectsBadSaltAndParameters) {
  KdfParams p{1, 8192 * 1024};
  EXPECT_THROW(derive_keys("pw", std::string(15, 's'), p), Error);
  EXPECT_THROW(derive_keys("pw", std::string(17, 's'), p), Error);
  EXPECT_THROW(derive_keys("pw", std::string(16, 's'), KdfParams{0, 8192 * 1024}), Error);
  EXPECT_THROW(derive_keys("pw", std::string(16, 's'), KdfParams{1, 1024}), Error);
  EXPECT_THROW(derive_keys("pw", std::string(16, 's'), KdfParams{1000000, 8192 * 1024}), Error);
  EXPECT_THROW(derive_keys("pw", std::string(16, 's'), KdfParams{1, 1ull << 50}), Error);
}

}  // namespace
}  // namespace seshat::crypto
