#include "seshat/util/bytes.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../test_support.h"

namespace seshat {
namespace {

const std::vector<uint64_t> kEdgeU64 = {0,
                                        1,
                                        0x7f,
                                        0x80,
                                        0xff,
                                        0x3fff,
                                        0x4000,
                                        0x1fffff,
                                        0x200000,
                                        0xffffffffull,
                                        0x100000000ull,
                                        (1ull << 56) - 1,
                                        1ull << 56,
                                        (1ull << 63) - 1,
                                        1ull << 63,
                                        std::numeric_limits<uint64_t>::max() - 1,
                                        std::numeric_limits<uint64_t>::max()};

TEST(ByteWriter, U32IsLittleEndian) {
  ByteWriter w;
  w.u32(0x01020304u);
  EXPECT_EQ(w.data(), std::string("\x04\x03\x02\x01", 4));
}

TEST(ByteWriter, U64IsLittleEndian) {
  ByteWriter w;
  w.u64(0x0102030405060708ull);
  EXPECT_EQ(w.data(), std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8));
}

TEST(ByteWriter, VarintEncodedLengths) {
  auto len = [](uint64_t v) {
    ByteWriter w;
    w.varint(v);
    return w.data().size();
  };
  EXPECT_EQ(len(0), 1u);
  EXPECT_EQ(len(0x7f), 1u);
  EXPECT_EQ(len(0x80), 2u);
  EXPECT_EQ(len(0x3fff), 2u);
  EXPECT_EQ(len(0x4000), 3u);
  EXPECT_EQ(len(std::numeric_limits<uint64_t>::max()), 10u);
}

TEST(ByteWriter, VarintKnownEncoding) {
  ByteWriter w;
  w.varint(300);  // the LEB128 example: 0xAC 0x02
  EXPECT_EQ(w.data(), std::string("\xac\x02", 2));
}

TEST(Bytes, U32RoundTripEdges) {
  for (uint32_t v : {0u, 1u, 0x7fu, 0x80u, 0xffu, 0x100u, 0x7fffffffu, 0x80000000u, 0xfffffffeu, 0xffffffffu}) {
    ByteWriter w;
    w.u32(v);
    ByteReader r(w.data());
    EXPECT_EQ(r.u32(), v);
    EXPECT_TRUE(r.done());
  }
}

TEST(Bytes, U64RoundTripEdges) {
  for (uint64_t v : kEdgeU64) {
    ByteWriter w;
    w.u64(v);
    ASSERT_EQ(w.data().size(), 8u);
    ByteReader r(w.data());
    EXPECT_EQ(r.u64(), v);
    EXPECT_TRUE(r.done());
  }
}

TEST(Bytes, VarintRoundTripEdges) {
  ByteWriter w;
  for (uint64_t v : kEdgeU64) w.varint(v);
  ByteReader r(w.data());
  for (uint64_t v : kEdgeU64) EXPECT_EQ(r.varint(), v);
  EXPECT_TRUE(r.done());
}

TEST(Bytes, VarintRoundTripRandom) {
  std::mt19937_64 rng(42);
  std::vector<uint64_t> values;
  for (int i = 0; i < 2000; ++i) values.push_back(rng() >> (rng() % 64));
  ByteWriter w;
  for (uint64_t v : values) w.varint(v);
  ByteReader r(w.data());
  for (uint64_t v : values) ASSERT_EQ(r.varint(), v);
  EXPECT_TRUE(r.done());
}

TEST(Bytes, SvarintRoundTripIncludingNegatives) {
  const std::vector<int64_t> values = {0,
                                       1,
                                       -1,
                                       63,
                                       -64,
                                       64,
                                       -65,
                                       1000000,
                                       -1000000,
                                       std::numeric_limits<int64_t>::max(),
                                       std::numeric_limits<int64_t>::min(),
                                       std::numeric_limits<int64_t>::min() + 1};
  ByteWriter w;
  for (int64_t v : values) w.svarint(v);
  ByteReader r(w.data());
  for (int64_t v : values) EXPECT_EQ(r.svarint(), v);
  EXPECT_TRUE(r.done());
}

TEST(Bytes, SvarintSmallMagnitudesAreShort) {
  // Zigzag: small negatives must not take 10 bytes.
  for (int64_t v : {-1, -64, 63}) {
    ByteWriter w;
    w.svarint(v);
    EXPECT_EQ(w.data().size(), 1u) << v;
  }
  ByteWriter w;
  w.svarint(-1);
  EXPECT_EQ(w.data(), std::string("\x01", 1));
}

TEST(Bytes, StringsAndBytesRoundTrip) {
  std::string binary("a\0b\xff", 4);
  ByteWriter w;
  w.str("");
  w.str("hello");
  w.str(binary);
  w.bytes("raw");
  w.u8(0xfe);
  ByteReader r(w.data());
  EXPECT_EQ(r.str(), "");
  EXPECT_EQ(r.str(), "hello");
  EXPECT_EQ(r.str(), binary);
  EXPECT_EQ(r.bytes(3), "raw");
  EXPECT_EQ(r.remaining(), 1u);
  EXPECT_FALSE(r.done());
  EXPECT_EQ(r.u8(), 0xfe);
  EXPECT_TRUE(r.done());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ByteReader, TruncatedInputThrowsCorruption) {
  EXPECT_THROW_KIND(kCorruption, ByteReader(std::string_view()).u8());
  EXPECT_THROW_KIND(kCorruption, ByteReader(std::string_view("abc", 3)).u32());
  EXPECT_THROW_KIND(kCorruption, ByteReader(std::string_view("abcdefg", 7)).u64());
  EXPECT_THROW_KIND(kCorruption, ByteReader(std::string_view("\x80", 1)).varint());
  EXPECT_THROW_KIND(kCorruption, ByteReader(std::string_view("\xff\xff\xff", 3)).varint());
  EXPECT_THROW_KIND(kCorruption, ByteReader(std::string_view("ab", 2)).bytes(3));
  // A string whose length prefix says 5 but only 4 bytes follow.
  EXPECT_THROW_KIND(kCorruption, ByteReader(std::string_view("\x05"
                                                             "abcd",
                                                             5))
                                     .str());
}

TEST(ByteReader, TruncatedAtEveryPrefixOfAValidRecord) {
  ByteWriter w;
  w.u32(7);
  w.varint(1ull << 40);
  w.svarint(-123456789);
  w.str("name");
  w.u64(99);
  const std::string full = w.take();
  for (size_t n = 0; n < full.size(); ++n) {
    ByteReader r(std::string_view(full).substr(0, n));
    EXPECT_THROW_KIND(kCorruption,
                      {
                        r.u32();
                        r.varint();
                        r.svarint();
                        r.str();
                        r.u64();
                      })
        << "prefix length " << n;
  }
  ByteReader r(full);
  EXPECT_EQ(r.u32(), 7u);
  EXPECT_EQ(r.varint(), 1ull << 40);
  EXPECT_EQ(r.svarint(), -123456789);
  EXPECT_EQ(r.str(), "name");
  EXPECT_EQ(r.u64(), 99u);
  EXPECT_TRUE(r.done());
}

TEST(ByteReader, FailedReadDoesNotConsume) {
  ByteReader r(std::string_view("ab", 2));
  EXPECT_THROW_KIND(kCorruption, r.u32());
  EXPECT_EQ(r.remaining(), 2u);
  EXPECT_EQ(r.bytes(2), "ab");
}

TEST(ByteReader, OverlongVarintThrowsCorruption) {
  // Eleven continuation bytes: no valid 64-bit varint is that long.
  std::string s(11, '\x80');
  s.push_back('\x00');
  EXPECT_THROW_KIND(kCorruption, ByteReader(s).varint());
}

TEST(ByteReader, CountRejectsCountsTheInputCannotHold) {
  {
    ByteWriter w;
    w.varint(1000);
    w.bytes(std::string(10, 'x'));
    ByteReader r(w.data());
    EXPECT_THROW_KIND(kCorruption, r.count());
  }
  {
    ByteWriter w;
    w.varint(std::numeric_limits<uint64_t>::max());
    w.bytes(std::string(100, 'x'));
    ByteReader r(w.data());
    EXPECT_THROW_KIND(kCorruption, r.count(1));
  }
  {
    // 3 items of at least 4 bytes do not fit in 8 bytes; 2 do.
    ByteWriter w;
    w.varint(3);
    w.bytes(std::string(8, 'x'));
    ByteReader r(w.data());
    EXPECT_THROW_KIND(kCorruption, r.count(4));
  }
  {
    ByteWriter w;
    w.varint(2);
    w.bytes(std::string(8, 'x'));
    ByteReader r(w.data());
    EXPECT_EQ(r.count(4), 2u);
    EXPECT_EQ(r.remaining(), 8u);
  }
  {
    // Exactly as many one-byte items as bytes remain is fine; zero items with no input too.
    ByteWriter w;
    w.varint(5);
    w.bytes("abcde");
    ByteReader r(w.data());
    EXPECT_EQ(r.count(), 5u);
    ByteReader empty(std::string_view("\x00", 1));
    EXPECT_EQ(empty.count(100), 0u);
  }
  {
    // min_item_bytes == 0 is treated as 1 (no division by zero, still bounded).
    ByteWriter w;
    w.varint(4);
    w.bytes("abc");
    ByteReader r(w.data());
    EXPECT_THROW_KIND(kCorruption, r.count(0));
  }
}

TEST(Hex, KnownValues) {
  EXPECT_EQ(to_hex(std::string("\x00\xff\x10\xab", 4)), "00ff10ab");
  EXPECT_EQ(to_hex(""), "");
  auto d = from_hex("00FF10aB");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, std::string("\x00\xff\x10\xab", 4));
  auto e = from_hex("");
  ASSERT_TRUE(e.has_value());
  EXPECT_TRUE(e->empty());
}

TEST(Hex, RoundTripAllBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  std::string h = to_hex(all);
  EXPECT_EQ(h.size(), 512u);
  auto back = from_hex(h);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, all);
}

TEST(Hex, RejectsBadInput) {
  EXPECT_FALSE(from_hex("abc").has_value());  // odd length
  EXPECT_FALSE(from_hex("zz").has_value());   // not hex
  EXPECT_FALSE(from_hex("0g").has_value());
  EXPECT_FALSE(from_hex("g0").has_value());
  EXPECT_FALSE(from_hex(" 0").has_value());
  EXPECT_FALSE(from_hex("0x12").has_value());
  EXPECT_FALSE(from_hex(std::string("0\0", 2)).has_value());
}

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (auto [plain, enc] : vectors) {
    EXPECT_EQ(base64_encode(plain), enc);
    auto d = base64_decode(enc);
    ASSERT_TRUE(d.has_value()) << enc;
    EXPECT_EQ(*d, plain);
  }
}

TEST(Base64, RoundTripRandomBinaryOfEveryLength) {
  std::mt19937 rng(7);
  for (size_t n = 0; n <= 100; ++n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s.push_back(static_cast<char>(rng() & 0xff));
    std::string enc = base64_encode(s);
    EXPECT_EQ(enc.size(), (n + 2) / 3 * 4);
    auto d = base64_decode(enc);
    ASSERT_TRUE(d.has_value()) << n;
    EXPECT_EQ(*d, s) << n;
  }
}

TEST(Base64, UsesStandardAlphabet) {
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"), "+/+/");
  auto d = base64_decode("+/+/");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, "\xfb\xff\xbf");
}

TEST(Base64, RejectsBadInput) {
  for (std::string bad : {"Zg=", "Zg", "Z", "Zm9vY", "Zm9*", "Zm9v\n", "Z===", "====", "Zg=a", "Zm=v",
                          "Zg==Zg==", "=Zg=", "Zm9-", "Zm9_", " Zm9"}) {
    EXPECT_FALSE(base64_decode(bad).has_value()) << "'" << bad << "'";
  }
  EXPECT_FALSE(base64_decode(std::string("Zm\0v", 4)).has_value());
}

TEST(HumanSize, Formats) {
  EXPECT_EQ(human_size(0), "0 B");
  EXPECT_EQ(human_size(12), "12 B");
  EXPECT_EQ(human_size(1023), "1023 B");
  EXPECT_EQ(human_size(1024), "1 KB");
  EXPECT_EQ(human_size(1536), "1.5 KB");
  EXPECT_EQ(human_size(300 * 1024), "300 KB");
  EXPECT_EQ(human_size(1ull << 20), "1 MB");
  EXPECT_EQ(human_size(3ull << 29), "1.5 GB");
  EXPECT_EQ(human_size(7ull << 30), "7 GB");
  EXPECT_EQ(human_size(1ull << 40), "1 TB");
  EXPECT_EQ(human_size(1ull << 50), "1 PB");
  // Past PB the unit stays PB.
  EXPECT_EQ(human_size(1ull << 60), "1024 PB");
}

}  // namespace
}  // namespace seshat
