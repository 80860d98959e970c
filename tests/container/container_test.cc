#include "seshat/container/container.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../test_support.h"
#include "seshat/crypto/crypto.h"
#include "seshat/util/bytes.h"

namespace seshat::container {
namespace {

using testing_support::OnlySeshatErrors;

std::string random_data(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

std::string text_data(size_t n) {
  std::string s;
  while (s.size() < n) s += "The quick brown fox jumps over the lazy dog. " + std::to_string(s.size() % 7) + "\n";
  s.resize(n);
  return s;
}

std::string footer_bytes(uint64_t offset, uint64_t length, uint32_t version = kVersion, const char* magic = "SEFI",
                         const char* end = "SESHATFT") {
  ByteWriter w;
  w.bytes(std::string_view(magic, 4));
  w.u32(version);
  w.u64(offset);
  w.u64(length);
  w.bytes(std::string_view(end, 8));
  return w.take();
}

FileInfo file_info(int i) {
  FileInfo f;
  f.path = "/home/user/file" + std::to_string(i) + (i % 2 ? " with spaces/\xc3\xa9" : "");
  f.part = static_cast<uint32_t>(i % 3);
  f.parts = 3;
  f.file_size = 1000000ull * i + 7;
  f.mtime_ns = i % 2 ? -1234567890123LL : 1564150070897000000LL + i;
  f.mode = 0644 + i;
  f.uid = 1000 + i;
  f.gid = 0xfffffffeu;
  f.hash = crypto::sha256("content " + std::to_string(i));
  return f;
}

void expect_same(const FileInfo& a, const FileInfo& b) {
  EXPECT_EQ(a.path, b.path);
  EXPECT_EQ(a.part, b.part);
  EXPECT_EQ(a.parts, b.parts);
  EXPECT_EQ(a.file_size, b.file_size);
  EXPECT_EQ(a.mtime_ns, b.mtime_ns);
  EXPECT_EQ(a.mode, b.mode);
  EXPECT_EQ(a.uid, b.uid);
  EXPECT_EQ(a.gid, b.gid);
  EXPECT_EQ(a.hash, b.hash);
}

void expect_same(const BlobLocation& a, const BlobLocation& b) {
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.length, b.length);
  EXPECT_EQ(a.raw_size, b.raw_size);
  EXPECT_EQ(a.compressed, b.compressed);
  EXPECT_EQ(a.iv, b.iv);
  EXPECT_EQ(a.mac, b.mac);
}

// A whole container built in memory the way the repo module writes one.
struct Built {
  std::string bytes;
  std::vector<std::string> plaintexts;
  std::vector<BlobLocation> locations;
  std::vector<FileInfo> files;
  uint64_t index_offset = 0;
};

Built build(const crypto::Keys& keys, const std::vector<std::string>& plaintexts) {
  Built b;
  Builder builder;
  b.bytes = builder.header();
  for (size_t i = 0; i < plaintexts.size(); ++i) {
    SealedBlob sb = seal_blob(keys, plaintexts[i]);
    FileInfo f = file_info(static_cast<int>(i));
    BlobLocation loc = builder.add(sb, f);
    EXPECT_EQ(loc.offset, b.bytes.size());
    b.bytes += sb.ciphertext;
    EXPECT_EQ(builder.size(), b.bytes.size());
    b.locations.push_back(loc);
    b.files.push_back(f);
  }
  EXPECT_EQ(builder.count(), plaintexts.size());
  b.index_offset = builder.size();
  b.bytes += builder.finish(keys);
  b.plaintexts = plaintexts;
  return b;
}

std::string_view footer_of(const std::string& container) {
  return std::string_view(container).substr(container.size() - kFooterSize);
}

class ContainerTest : public ::testing::Test {
 protected:
  crypto::Keys keys = crypto::Keys::random();
};

TEST_F(ContainerTest, HeaderShape) {
  std::string h = Builder().header();
  ASSERT_EQ(h.size(), kHeaderSize);
  EXPECT_EQ(h.substr(0, 4), "SEFC");
  EXPECT_NO_THROW(check_header(h));
  EXPECT_EQ(Builder().size(), kHeaderSize);
}

TEST_F(ContainerTest, CheckHeaderRejectsDamage) {
  std::string h = Builder().header();
  EXPECT_THROW_KIND(kCorruption, check_header(h.substr(0, 15)));
  EXPECT_THROW_KIND(kCorruption, check_header(""));
  std::string bad = h;
  bad[0] = 'X';
  EXPECT_THROW_KIND(kCorruption, check_header(bad));
  bad = h;
  bad[4] = 2;  // version 2
  EXPECT_THROW_KIND(kCorruption, check_header(bad));
  for (size_t i = 8; i < kHeaderSize; ++i) {  // the reserved bytes are zeros
    bad = h;
    bad[i] = 1;
    EXPECT_THROW_KIND(kCorruption, check_header(bad)) << i;
  }
}

TEST_F(ContainerTest, BuildParseAndOpenEveryBlob) {
  std::vector<std::string> plains = {text_data(100000),    random_data(50000, 1), "", "x", text_data(63), text_data(64),
                                     random_data(4096, 2), text_data(1 << 20)};
  Built b = build(keys, plains);
  check_header(b.bytes.substr(0, kHeaderSize));
  Footer f = parse_footer(footer_of(b.bytes), b.bytes.size());
  EXPECT_EQ(f.index_offset, b.index_offset);
  EXPECT_EQ(f.index_offset + f.index_length + kFooterSize, b.bytes.size());
  auto index = parse_index(keys, std::string_view(b.bytes).substr(f.index_offset, f.index_length));
  ASSERT_EQ(index.size(), plains.size());
  for (size_t i = 0; i < index.size(); ++i) {
    SCOPED_TRACE("blob " + std::to_string(i));
    expect_same(index[i].blob, b.locations[i]);
    expect_same(index[i].file, b.files[i]);
    EXPECT_EQ(index[i].blob.raw_size, plains[i].size());
    std::string_view stored = std::string_view(b.bytes).substr(index[i].blob.offset, index[i].blob.length);
    EXPECT_EQ(open_blob(keys, index[i].blob, stored), plains[i]);
  }
}

TEST_F(ContainerTest, EmptyContainer) {
  Built b = build(keys, {});
  Footer f = parse_footer(footer_of(b.bytes), b.bytes.size());
  EXPECT_EQ(f.index_offset, kHeaderSize);
  EXPECT_TRUE(parse_index(keys, std::string_view(b.bytes).substr(f.index_offset, f.index_length)).empty());
}

TEST_F(ContainerTest, CompressibleBlobIsCompressed) {
  std::string plain = text_data(100000);
  SealedBlob sb = seal_blob(keys, plain);
  EXPECT_TRUE(sb.compressed);
  EXPECT_EQ(sb.raw_size, plain.size());
  EXPECT_LT(sb.ciphertext.size(), plain.size() / 4);
  BlobLocation loc;
  loc.length = sb.ciphertext.size();
  loc.raw_size = sb.raw_size;
  loc.compressed = sb.compressed;
  loc.iv = sb.iv;
  loc.mac = sb.mac;
  EXPECT_EQ(open_blob(keys, loc, sb.ciphertext), plain);
}

TEST_F(ContainerTest, IncompressibleAndTinyBlobsAreStoredRaw) {
  for (const std::string& plain : {random_data(100000, 9), text_data(10), std::string()}) {
    SealedBlob sb = seal_blob(keys, plain);
    EXPECT_FALSE(sb.compressed) << plain.size();
    EXPECT_EQ(sb.raw_size, plain.size());
    EXPECT_EQ(sb.ciphertext.size(), (plain.size() / 16 + 1) * 16);  // just the CBC padding
  }
}

TEST_F(ContainerTest, SealedBlobsAreEncrypted) {
  std::string plain = random_data(1000, 4);
  SealedBlob a = seal_blob(keys, plain);
  SealedBlob b = seal_blob(keys, plain);
  EXPECT_NE(a.ciphertext, b.ciphertext);
  EXPECT_EQ(a.ciphertext.find(plain.substr(0, 32)), std::string::npos);
}

TEST_F(ContainerTest, FlippedByteInABlobIsCorruption) {
  Built b = build(keys, {text_data(5000), random_data(5000, 3)});
  for (size_t i = 0; i < b.locations.size(); ++i) {
    const BlobLocation& loc = b.locations[i];
    for (uint64_t at : {loc.offset, loc.offset + loc.length / 2, loc.offset + loc.length - 1}) {
      std::string damaged = b.bytes;
      damaged[at] = static_cast<char>(damaged[at] ^ 0x10);
      EXPECT_THROW_KIND(kCorruption, open_blob(keys, loc, std::string_view(damaged).substr(loc.offset, loc.length)))
          << "blob " << i << " byte " << at;
    }
  }
}

TEST_F(ContainerTest, OpenBlobChecksLocationFields) {
  std::string plain = random_data(1000, 5);
  Built b = build(keys, {plain, text_data(4000)});
  BlobLocation loc = b.locations[0];
  std::string_view stored = std::string_view(b.bytes).substr(loc.offset, loc.length);
  // Wrong stored length.
  EXPECT_THROW_KIND(kCorruption, open_blob(keys, loc, stored.substr(0, stored.size() - 16)));
  // Wrong plaintext size.
  BlobLocation bad = loc;
  bad.raw_size += 1;
  EXPECT_THROW_KIND(kCorruption, open_blob(keys, bad, stored));
  // Claims to be compressed but is not a zstd frame.
  bad = loc;
  bad.compressed = true;
  EXPECT_THROW_KIND(kCorruption, open_blob(keys, bad, stored));
  // A compressed blob whose raw size is wrong.
  BlobLocation zloc = b.locations[1];
  ASSERT_TRUE(zloc.compressed);
  std::string_view zstored = std::string_view(b.bytes).substr(zloc.offset, zloc.length);
  bad = zloc;
  bad.raw_size -= 1;
  EXPECT_THROW_KIND(kCorruption, open_blob(keys, bad, zstored));
  bad = zloc;
  bad.compressed = false;
  EXPECT_THROW_KIND(kCorruption, open_blob(keys, bad, zstored));
  // Another blob's IV/MAC.
  bad = loc;
  bad.iv = zloc.iv;
  EXPECT_THROW_KIND(kCorruption, open_blob(keys, bad, stored));
  // Wrong keys.
  EXPECT_THROW_KIND(kCorruption, open_blob(crypto::Keys::random(), loc, stored));
}

TEST_F(ContainerTest, FlippedByteInTheIndexIsCorruption) {
  Built b = build(keys, {text_data(3000), random_data(3000, 6)});
  Footer f = parse_footer(footer_of(b.bytes), b.bytes.size());
  std::string index(std::string_view(b.bytes).substr(f.index_offset, f.index_length));
  for (size_t i = 0; i < index.size(); ++i) {
    std::string bad = index;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_THROW_KIND(kCorruption, parse_index(keys, bad)) << "byte " << i;
  }
  for (size_t n = 0; n < index.size(); n += 5)
    EXPECT_THROW_KIND(kCorruption, parse_index(keys, index.substr(0, n))) << "prefix " << n;
  EXPECT_THROW_KIND(kCorruption, parse_index(crypto::Keys::random(), index));
}

TEST_F(ContainerTest, FooterRejectsDamage) {
  Built b = build(keys, {text_data(1000)});
  std::string footer(footer_of(b.bytes));
  uint64_t size = b.bytes.size();
  EXPECT_NO_THROW(parse_footer(footer, size));
  for (size_t n : {0u, 1u, 31u}) EXPECT_THROW_KIND(kCorruption, parse_footer(footer.substr(0, n), size)) << n;
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer + "x", size));
  // Any single flipped byte in the magics or version.
  for (size_t i : {0u, 3u, 4u, 7u, 24u, 31u}) {
    std::string bad = footer;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    EXPECT_THROW_KIND(kCorruption, parse_footer(bad, size)) << "byte " << i;
  }
  // The object size must agree with offset + length + footer.
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer, size + 1));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer, size - 1));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer, 0));
}

TEST_F(ContainerTest, FooterRejectsOffsetsOutsideTheContainer) {
  EXPECT_NO_THROW(parse_footer(footer_bytes(16, 100, kVersion), 148));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(15, 101, kVersion), 148));  // inside the header
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(0, 116, kVersion), 148));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(16, 101, kVersion), 148));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(16, 100, 2), 148));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(16, 100, kVersion, "SEFX"), 148));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(16, 100, kVersion, "SEFI", "SESHATFX"), 148));
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(max, max, kVersion), 148));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(16, max, kVersion), 148));
  EXPECT_THROW_KIND(kCorruption, parse_footer(footer_bytes(max, 100, kVersion), 148));
}

// offset + length + 32 wraps around 2^64 to the object size: the footer points outside the
// container and must be rejected, not returned.
TEST_F(ContainerTest, FooterRejectsOffsetsThatWrapAround) {
  const uint64_t size = 40;
  const uint64_t length = 39;                           // <= size, but more than size - kFooterSize
  const uint64_t offset = size - kFooterSize - length;  // wraps: 2^64 - 31
  ASSERT_EQ(offset + length + kFooterSize, size);       // (mod 2^64)
  try {
    Footer f = parse_footer(footer_bytes(offset, length, kVersion), size);
    ADD_FAILURE() << "accepted index_offset " << f.index_offset << " length " << f.index_length << " in a " << size
                  << "-byte container";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorruption);
  }
  // An object smaller than a footer cannot hold one.
  try {
    Footer f = parse_footer(footer_bytes(uint64_t{0} - kFooterSize, 0, kVersion), 0);
    ADD_FAILURE() << "accepted index_offset " << f.index_offset << " in a 0-byte container";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kCorruption);
  }
}

TEST_F(ContainerTest, RandomGarbageNeverCrashesParsers) {
  std::mt19937 rng(12345);
  for (size_t n = 0; n < 600; ++n) {
    size_t len = n < 200 ? n : rng() % 5000;
    std::string g = random_data(len, static_cast<uint32_t>(n));
    uint64_t size = n % 3 == 0 ? len : (n % 3 == 1 ? rng() : static_cast<uint64_t>(rng()) << 32 | rng());
    EXPECT_TRUE(OnlySeshatErrors([&] { parse_footer(g, size); })) << n;
    EXPECT_THROW_KIND(kCorruption, parse_index(keys, g)) << n;
    EXPECT_TRUE(OnlySeshatErrors([&] { check_header(g); })) << n;
  }
  // Garbage with the right magics in place.
  for (int n = 0; n < 300; ++n) {
    std::string g = random_data(32, 1000 + n);
    std::memcpy(g.data(), "SEFI\x01\0\0\0", 8);
    std::memcpy(g.data() + 24, "SESHATFT", 8);
    uint64_t size = n % 2 ? rng() % 100000 : static_cast<uint64_t>(rng()) << 32 | rng();
    try {
      Footer f = parse_footer(g, size);
      // Whatever is accepted must lie inside the object, after the header.
      EXPECT_GE(f.index_offset, kHeaderSize);
      EXPECT_LE(f.index_length, size);
      EXPECT_LE(f.index_offset, size);
      EXPECT_EQ(f.index_offset + f.index_length + kFooterSize, size);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kCorruption);
    }
  }
}

// The index decoder behind the MAC: authentic but malformed plaintext (as a bug in a writer
// could produce) must be rejected with an Error, never crash or over-allocate.
std::string seal_index_plaintext(const crypto::Keys& keys, const std::string& plain) {
  std::string z(ZSTD_compressBound(plain.size()), '\0');
  size_t n = ZSTD_compress(z.data(), z.size(), plain.data(), plain.size(), 1);
  z.resize(n);
  return crypto::seal_packed(keys, z);
}

std::string index_plaintext(const crypto::Keys& keys, const Built& b) {
  Footer f = parse_footer(footer_of(b.bytes), b.bytes.size());
  std::string z = crypto::open_packed(keys, std::string_view(b.bytes).substr(f.index_offset, f.index_length));
  std::string plain(ZSTD_getFrameContentSize(z.data(), z.size()), '\0');
  size_t r = ZSTD_decompress(plain.data(), plain.size(), z.data(), z.size());
  EXPECT_FALSE(ZSTD_isError(r));
  return plain;
}

TEST_F(ContainerTest, AuthenticIndexWithBadContentIsRejected) {
  Built b = build(keys, {text_data(100), random_data(100, 8), text_data(2000)});
  std::string plain = index_plaintext(keys, b);
  ASSERT_EQ(parse_index(keys, seal_index_plaintext(keys, plain)).size(), 3u);
  // Every truncation.
  for (size_t n = 0; n < plain.size(); ++n)
    EXPECT_THROW_KIND(kCorruption, parse_index(keys, seal_index_plaintext(keys, plain.substr(0, n)))) << n;
  // Trailing bytes.
  EXPECT_THROW_KIND(kCorruption, parse_index(keys, seal_index_plaintext(keys, plain + "x")));
  // Unknown version (1 and 2 are known).
  std::string v3 = plain;
  v3[0] = 3;
  EXPECT_THROW_KIND(kCorruption, parse_index(keys, seal_index_plaintext(keys, v3)));
  // A huge entry count (version 1 layout: the count follows the version).
  ByteWriter w;
  w.u32(1);
  w.varint(1ull << 60);
  w.bytes(plain.substr(5));
  EXPECT_THROW_KIND(kCorruption, parse_index(keys, seal_index_plaintext(keys, w.data())));
  // Authentic data that is not a zstd frame at all.
  EXPECT_THROW_KIND(kCorruption, parse_index(keys, crypto::seal_packed(keys, "not zstd")));
  EXPECT_THROW_KIND(kCorruption, parse_index(keys, crypto::seal_packed(keys, "")));
  // Random byte mutations: only seshat::Error (or a successful parse).
  std::mt19937 rng(99);
  for (int i = 0; i < 400; ++i) {
    std::string m = plain;
    for (int k = 0; k < 1 + i % 4; ++k) m[rng() % m.size()] = static_cast<char>(rng() & 0xff);
    EXPECT_TRUE(OnlySeshatErrors([&] { parse_index(keys, seal_index_plaintext(keys, m)); })) << i;
  }
}

}  // namespace
}  // namespace seshat::container

namespace seshat::container {
namespace {

TEST(ContainerOrigin, RoundTrip) {
  crypto::Keys keys = crypto::Keys::random();
  Origin origin{"laptop", "/home/u with space", -1564150070897000000LL};
  Builder builder(origin);
  std::string bytes = builder.header();
  SealedBlob sb = seal_blob(keys, "hello");
  builder.add(sb, file_info(1));
  bytes += sb.ciphertext;
  bytes += builder.finish(keys);
  Footer f = parse_footer(footer_of(bytes), bytes.size());
  std::string_view sealed = std::string_view(bytes).substr(f.index_offset, f.index_length);
  Index index = parse_index_with_origin(keys, sealed);
  EXPECT_EQ(index.origin.host, origin.host);
  EXPECT_EQ(index.origin.folder, origin.folder);
  EXPECT_EQ(index.origin.backup_ns, origin.backup_ns);
  ASSERT_EQ(index.entries.size(), 1u);
  expect_same(index.entries[0].file, file_info(1));
  auto plain_entries = parse_index(keys, sealed);
  ASSERT_EQ(plain_entries.size(), 1u);
  expect_same(plain_entries[0].blob, index.entries[0].blob);
}

TEST(ContainerOrigin, DefaultBuilderHasAnEmptyOrigin) {
  crypto::Keys keys = crypto::Keys::random();
  Built b = build(keys, {"abc"});
  Footer f = parse_footer(footer_of(b.bytes), b.bytes.size());
  Index index = parse_index_with_origin(keys, std::string_view(b.bytes).substr(f.index_offset, f.index_length));
  EXPECT_TRUE(index.origin.host.empty());
  EXPECT_TRUE(index.origin.folder.empty());
  EXPECT_EQ(index.origin.backup_ns, 0);
  EXPECT_EQ(index.entries.size(), 1u);
}

// Containers written before the origin existed (index version 1) must stay readable.
TEST(ContainerOrigin, Version1IndexStillParses) {
  crypto::Keys keys = crypto::Keys::random();
  Built b = build(keys, {text_data(3000), "x"});
  std::string plain = index_plaintext(keys, b);
  // A default builder's origin is three bytes: two empty strings and svarint 0.
  ASSERT_EQ(plain.substr(4, 3), std::string(3, '\0'));
  ByteWriter v1;
  v1.u32(1);
  v1.bytes(plain.substr(7));
  Index index = parse_index_with_origin(keys, seal_index_plaintext(keys, v1.data()));
  EXPECT_TRUE(index.origin.host.empty());
  ASSERT_EQ(index.entries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    expect_same(index.entries[i].blob, b.locations[i]);
    expect_same(index.entries[i].file, b.files[i]);
  }
}

}  // namespace
}  // namespace seshat::container
