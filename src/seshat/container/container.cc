#include "seshat/container/container.h"

#include <cstring>
#include <memory>

#include "seshat/util/bytes.h"
#include "seshat/util/error.h"
#include "seshat/util/zstd.h"

namespace seshat::container {
namespace {

constexpr char kMagic[4] = {'S', 'E', 'F', 'C'};
constexpr uint32_t kIndexVersion = 2;
constexpr char kFooterMagic[4] = {'S', 'E', 'F', 'I'};
constexpr char kEndMagic[8] = {'S', 'E', 'S', 'H', 'A', 'T', 'F', 'T'};

[[noreturn]] void corrupt(const std::string& what) { throw Error(ErrorKind::kCorruption, what); }

// Data that does not compress (media, archives, encrypted files) is common in backups and
// costs a full zstd pass for nothing. Blobs over 256 KB are sampled first: three 16 KB pieces
// (start, middle, end) that do not shrink by 3% mean the whole is stored uncompressed.
bool worth_compressing(std::string_view plain, int level) {
  constexpr size_t kPiece = 16 << 10;
  if (plain.size() <= 256 << 10) return true;
  char out[kPiece + kPiece / 8 + 512];
  size_t in = 0, total = 0;
  for (size_t at : {size_t{0}, plain.size() / 2, plain.size() - kPiece}) {
    size_t n = zstd::compress(plain.substr(at, kPiece), out, sizeof out, level);
    if (n == 0) return true;
    in += kPiece;
    total += n;
  }
  return total < in - in / 32;
}

}  // namespace

SealedBlob seal_blob(const crypto::Keys& keys, std::string_view plaintext, int zstd_level) {
  SealedBlob b;
  seal_blob_into(keys, plaintext, b, zstd_level);
  return b;
}

size_t blob_buffer_size(size_t max_blob) { return zstd::bound(max_blob) + 32; }

void seal_blob_into(const crypto::Keys& keys, std::string_view plaintext, SealedBlob& b, int zstd_level) {
  b.raw_size = plaintext.size();
  b.compressed = false;
  crypto::Sealed s;
  s.ciphertext = std::move(b.ciphertext);
  if (plaintext.size() >= 64 && worth_compressing(plaintext, zstd_level)) {
    // Compressed straight into the output buffer, then encrypted where it is: one buffer
    // per worker instead of two.
    size_t bound = zstd::bound(plaintext.size());
    if (s.ciphertext.size() < bound + 16) s.ciphertext.resize(bound + 16);
    size_t n = zstd::compress(plaintext, s.ciphertext.data(), bound, zstd_level);
    if (n > 0 && n < plaintext.size()) {
      b.compressed = true;
      crypto::seal_in_place(keys, n, s);
    }
  }
  if (!b.compressed) crypto::seal_into(keys, plaintext, s);
  b.ciphertext = std::move(s.ciphertext);
  b.iv = s.iv;
  b.mac = s.mac;
}

std::string_view open_blob_into(const crypto::Keys& keys, const BlobLocation& loc, std::string_view stored,
                                OpenBuffers& bufs) {
  if (stored.size() != loc.length) corrupt("blob has the wrong length");
  size_t n = crypto::open_into(keys, loc.iv, stored, loc.mac, bufs.decrypted);
  std::string_view dec(bufs.decrypted.data(), n);
  if (!loc.compressed) {
    if (n != loc.raw_size) corrupt("blob has the wrong size");
    return dec;
  }
  if (Status st = zstd::decompress(dec, loc.raw_size, bufs.plain); !st) throw st.error();
  return std::string_view(bufs.plain.data(), loc.raw_size);
}

std::string open_blob(const crypto::Keys& keys, const BlobLocation& loc, std::string_view stored) {
  OpenBuffers bufs;
  return std::string(open_blob_into(keys, loc, stored, bufs));
}

std::string Builder::header() const {
  ByteWriter w;
  w.bytes(std::string_view(kMagic, 4));
  w.u32(kVersion);
  w.u64(0);
  return w.take();
}

BlobLocation Builder::add(uint64_t length, uint64_t raw_size, bool compressed, const crypto::Iv& iv,
                          const crypto::Mac& mac, const FileInfo& file) {
  BlobLocation loc;
  loc.offset = offset_;
  loc.length = length;
  loc.raw_size = raw_size;
  loc.compressed = compressed;
  loc.iv = iv;
  loc.mac = mac;
  offset_ += loc.length;
  // Encoded right away: ~110 bytes plus the path, instead of two structs and a string.
  ByteWriter w;
  std::swap(w.data(), entries_);
  w.varint(loc.offset);
  w.varint(loc.length);
  w.varint(loc.raw_size);
  w.u8(loc.compressed ? 1 : 0);
  w.bytes(std::string_view(reinterpret_cast<const char*>(loc.iv.data()), loc.iv.size()));
  w.bytes(std::string_view(reinterpret_cast<const char*>(loc.mac.data()), loc.mac.size()));
  w.str(file.path);
  w.varint(file.part);
  w.varint(file.parts);
  w.varint(file.file_size);
  w.svarint(file.mtime_ns);
  w.varint(file.mode);
  w.varint(file.uid);
  w.varint(file.gid);
  w.bytes(std::string_view(reinterpret_cast<const char*>(file.hash.data()), file.hash.size()));
  std::swap(w.data(), entries_);
  ++count_;
  return loc;
}

std::string Builder::finish(const crypto::Keys& keys) const {
  std::string out;
  finish_to(keys, [&](std::string_view piece) { out.append(piece); });
  return out;
}

void Builder::finish_to(const crypto::Keys& keys, const std::function<void(std::string_view)>& sink) const {
  // The index (up to 16 MB) is compressed and sealed as a stream, without a plain copy of it,
  // and handed on in pieces.
  ByteWriter w;
  w.u32(kIndexVersion);
  w.str(origin_.host);
  w.str(origin_.folder);
  w.svarint(origin_.backup_ns);
  w.varint(count_);
  const std::string& head = w.data();
  uint64_t sealed_size = 0;
  crypto::PackedSealer sealer(keys, [&](std::string_view piece) {
    sealed_size += piece.size();
    sink(piece);
  });
  zstd::Compressor z(3, head.size() + entries_.size(), [&](std::string_view piece) { sealer.update(piece); });
  z.update(head);
  z.update(entries_);
  z.finish();
  sealer.finish();
  ByteWriter f;
  f.bytes(std::string_view(kFooterMagic, 4));
  f.u32(kVersion);
  f.u64(offset_);
  f.u64(sealed_size);
  f.bytes(std::string_view(kEndMagic, 8));
  sink(f.data());
}

void check_header(std::string_view header) {
  if (header.size() < kHeaderSize || std::memcmp(header.data(), kMagic, 4) != 0) corrupt("not a Seshat container");
  ByteReader r(header.substr(4, 4));
  if (r.u32() != kVersion) corrupt("unsupported container version");
  // Bytes 8-15 are reserved and written as zeros: anything else is damage.
  for (size_t i = 8; i < kHeaderSize; ++i)
    if (header[i] != 0) corrupt("container header is damaged");
}

Footer parse_footer(std::string_view footer, uint64_t object_size) {
  if (footer.size() != kFooterSize || std::memcmp(footer.data(), kFooterMagic, 4) != 0 ||
      std::memcmp(footer.data() + 24, kEndMagic, 8) != 0)
    corrupt("container footer is damaged");
  ByteReader r(footer.substr(4));
  if (r.u32() != kVersion) corrupt("unsupported container version");
  Footer f;
  f.index_offset = r.u64();
  f.index_length = r.u64();
  // Written so that no sum can wrap around: the index lies exactly between the blobs and
  // the footer.
  if (object_size < kHeaderSize + kFooterSize || f.index_length > object_size - kHeaderSize - kFooterSize ||
      f.index_offset != object_size - kFooterSize - f.index_length)
    corrupt("container footer points outside the container");
  return f;
}

std::vector<IndexEntry> parse_index(const crypto::Keys& keys, std::string_view sealed_index) {
  return parse_index_with_origin(keys, sealed_index).entries;
}

Index parse_index_with_origin(const crypto::Keys& keys, std::string_view sealed_index) {
  std::string z = crypto::open_packed(keys, sealed_index);
  auto n = zstd::frame_size(z, 1ull << 32);
  if (!n) corrupt("container index is damaged");
  std::string plain;
  if (Status st = zstd::decompress(z, *n, plain); !st) throw st.error();
  ByteReader r(plain);
  uint32_t version = r.u32();
  if (version != 1 && version != kIndexVersion) corrupt("unsupported container index version");
  Index index;
  if (version >= 2) {
    index.origin.host = std::string(r.str());
    index.origin.folder = std::string(r.str());
    index.origin.backup_ns = r.svarint();
  }
  uint64_t count = r.count(60);
  std::vector<IndexEntry>& out = index.entries;
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    IndexEntry e;
    e.blob.offset = r.varint();
    e.blob.length = r.varint();
    e.blob.raw_size = r.varint();
    e.blob.compressed = r.u8() != 0;
    std::memcpy(e.blob.iv.data(), r.bytes(16).data(), 16);
    std::memcpy(e.blob.mac.data(), r.bytes(32).data(), 32);
    e.file.path = std::string(r.str());
    e.file.part = static_cast<uint32_t>(r.varint());
    e.file.parts = static_cast<uint32_t>(r.varint());
    e.file.file_size = r.varint();
    e.file.mtime_ns = r.svarint();
    e.file.mode = static_cast<uint32_t>(r.varint());
    e.file.uid = static_cast<uint32_t>(r.varint());
    e.file.gid = static_cast<uint32_t>(r.varint());
    std::memcpy(e.file.hash.data(), r.bytes(32).data(), 32);
    out.push_back(std::move(e));
  }
  if (!r.done()) corrupt("container index has trailing bytes");
  return index;
}

}  // namespace seshat::container
