// Little-endian fixed-width numbers, LEB128 varints and length-prefixed strings, plus human
// byte sizes. ByteReader throws Error(kCorruption) on any read past the end, so decoders of
// untrusted data cannot overrun.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seshat {

class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void varint(uint64_t v);
  void svarint(int64_t v) { varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void bytes(std::string_view b) { out_.append(b); }
  void str(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }
  std::string& data() { return out_; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  uint8_t u8();
  uint32_t u32();
  uint64_t u64();
  uint64_t varint();
  int64_t svarint() {
    uint64_t v = varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }
  std::string_view bytes(size_t n);
  std::string_view str() { return bytes(varint()); }
  // A count of items that each take at least min_item_bytes: rejects counts the remaining
  // input cannot hold (so a corrupt count cannot make us allocate gigabytes).
  uint64_t count(size_t min_item_bytes = 1);
  size_t remaining() const { return in_.size() - pos_; }
  bool done() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

// "1.5 GB", "300 KB", "12 B" (powers of 1024, like the manual's "size 7 GB").
std::string human_size(uint64_t bytes);
// "1 file", "2 files": a count with the right form of its noun.
std::string plural(uint64_t n, const char* one, const char* many);
std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace seshat
