#include "seshat/container/container.h"

#include <zstd.h>

#include <memory>

#include <cstring>

#include "seshat/util/bytes.h"
#include "seshat/util/error.h"

namespace seshat::container {
namespace {

constexpr char kMagic[4] = {'S', 'E', 'F', 'C'};
constexpr uint32_t kIndexVersion = 2;
constexpr char kFooterMagic[4] = {'S', 'E', 'F', 'I'};
constexpr char kEndMagic[8] = {'S', 'E', 'S', 'H', 'A', 'T', 'F', 'T'};

[[noreturn]] void corrupt(const std::string& what) { throw Error(ErrorKind::kCorruption, what); }

// One zstd context per thread, reused blob after blob: a fresh context per call costs an
// allocation of up to a few MB, its page faults, and the heap trims after it is freed.
ZSTD_CCtx* cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> c(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (!c) throw Error(ErrorKind::kPermanent, "out of memory (zstd context)");
  return c.get();
}

ZSTD_DCtx* dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!d) throw Error(ErrorKind::kPermanent, "out of memory (zstd context)");
  return d.get();
}

std::string decompress(std::string_view in, uint64_t expect) {
  unsigned long long n = ZSTD_getFrameContentSize(in.data(), in.size());
  // zstd cannot expand more than 128 KiB per 4-byte block: a larger claim is a lie, refused
  // before anything is allocated.
  if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n != expect || n > in.size() * 32768ull)
    corrupt("bad compressed frame");
  std::string out(n, '\0');
  size_t r = ZSTD_decompressDCtx(dctx(), out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(r) || r != n) corrupt("bad compressed data");
  return out;
}

}  // namespace

namespace {

// Data that does not compress (media, archives, encrypted files) is common in backups and
// costs a full zstd pass for nothing. Blobs over 256 KB are sampled first: three 16 KB pieces
// (start, middle, end) that do not shrink by 3% mean the whole is stored uncompressed.
bool worth_compressing(std::string_view plain, int level) {
  constexpr size_t kPiece = 16 << 10;
  if (plain.size() <= 256 << 10) return true;
  char out[ZSTD_COMPRESSBOUND(kPiece)];
  size_t in = 0, total = 0;
  for (size_t at : {size_t{0}, plain.size() / 2, plain.size() - kPiece}) {
    size_t n = ZSTD_compressCCtx(cctx(), out, sizeof out, plain.data() + at, kPiece, level);
    if (ZSTD_isError(n)) return true;
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

size_t blob_buffer_size(size_t max_blob) { return ZSTD_compressBound(max_blob) + 32; }

void seal_blob_into(const crypto::Keys& keys, std::string_view plaintext, SealedBlob& b, int zstd_level) {
  b.raw_size = plaintext.size();
  b.compressed = false;
  crypto::Sealed s;
  s.ciphertext = std::move(b.ciphertext);
  if (plaintext.size() >= 64 && worth_compressing(plaintext, zstd_level)) {
    // Compressed straight into the output buffer, then encrypted where it is: one buffer
    // per worker instead of two.
    size_t bound = ZSTD_compressBound(plaintext.size());
    if (s.ciphertext.size() < bound + 16) s.ciphertext.resize(bound + 16);
    size_t n = ZSTD_compressCCtx(cctx(), s.ciphertext.data(), bound, plaintext.data(), plaintext.size(), zstd_level);
    if (!ZSTD_isError(n) && n < plaintext.size()) {
      b.compressed = true;
      crypto::seal_in_place(keys, n, s);
    }
  }
  if (!b.compressed) crypto::seal_into(keys, plaintext, s);
  b.ciphertext = std::move(s.ciphertext);
  b.iv = s.iv;
  b.mac = s.mac;
}

std::string_view open_blob_into(const crypto::Keys& keys, const BlobLocation& loc, std::string_view stored, OpenBuffers& bufs) {
  if (stored.size() != loc.length) corrupt("blob has the wrong length");
  size_t n = crypto::open_into(keys, loc.iv, stored, loc.mac, bufs.decrypted);
  std::string_view dec(bufs.decrypted.data(), n);
  if (!loc.compressed) {
    if (n != loc.raw_size) corrupt("blob has the wrong size");
    return dec;
  }
  unsigned long long size = ZSTD_getFrameContentSize(dec.data(), dec.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size != loc.raw_size || size > dec.size() * 32768ull)
    corrupt("bad compressed frame");
  if (bufs.plain.size() < size) bufs.plain.resize(size);
  size_t r = ZSTD_decompressDCtx(dctx(), bufs.plain.data(), size, dec.data(), dec.size());
  if (ZSTD_isError(r) || r != size) corrupt("bad compressed data");
  return std::string_view(bufs.plain.data(), size);
}

std::string open_blob(const crypto::Keys& keys, const BlobLocation& loc, std::string_view stored) {
  if (stored.size() != loc.length) corrupt("blob has the wrong length");
  std::string plain = crypto::open(keys, loc.iv, stored, loc.mac);
  if (loc.compressed) return decompress(plain, loc.raw_size);
  if (plain.size() != loc.raw_size) corrupt("blob has the wrong size");
  return plain;
}

std::string Builder::header() const {
  ByteWriter w;
  w.bytes(std::string_view(kMagic, 4));
  w.u32(kVersion);
  w.u64(0);
  return w.take();
}

BlobLocation Builder::add(const SealedBlob& blob, const FileInfo& file) {
  BlobLocation loc;
  loc.offset = offset_;
  loc.length = blob.ciphertext.size();
  loc.raw_size = blob.raw_size;
  loc.compressed = blob.compressed;
  loc.iv = blob.iv;
  loc.mac = blob.mac;
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
  ZSTD_CCtx* z = cctx();
  ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 3)) ||
      ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(z, head.size() + entries_.size())))
    throw Error(ErrorKind::kPermanent, "cannot compress container index");
  uint64_t sealed_size = 0;
  crypto::PackedSealer sealer(keys, [&](std::string_view piece) {
    sealed_size += piece.size();
    sink(piece);
  });
  char out[64 << 10];
  auto pump = [&](std::string_view piece, ZSTD_EndDirective mode) {
    ZSTD_inBuffer in{piece.data(), piece.size(), 0};
    for (;;) {
      ZSTD_outBuffer o{out, sizeof out, 0};
      size_t left = ZSTD_compressStream2(z, &o, &in, mode);
      if (ZSTD_isError(left)) throw Error(ErrorKind::kPermanent, "cannot compress container index");
      sealer.update(std::string_view(out, o.pos));
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
  };
  pump(head, ZSTD_e_continue);
  pump(entries_, ZSTD_e_end);
  // The thread's context goes back to one-shot use with its own parameters.
  ZSTD_CCtx_reset(z, ZSTD_reset_session_and_parameters);
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
  unsigned long long n = ZSTD_getFrameContentSize(z.data(), z.size());
  if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (1ull << 32)) corrupt("container index is damaged");
  std::string plain = decompress(z, n);
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
