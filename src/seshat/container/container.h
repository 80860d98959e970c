// The SEF container layout (doc/format/container.md): a header, the sealed blobs back to
// back, a sealed index of every blob, and a fixed-size footer. This module builds and parses
// container bytes; it does no I/O (the repo module moves the bytes).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "seshat/crypto/crypto.h"

namespace seshat::container {

constexpr uint32_t kVersion = 1;
constexpr size_t kHeaderSize = 16;
constexpr size_t kFooterSize = 32;

// Where a blob lives and how to open it. The same fields are kept in the catalog.
struct BlobLocation {
  uint64_t offset = 0;      // in the container
  uint64_t length = 0;      // stored (ciphertext) length
  uint64_t raw_size = 0;    // plaintext length
  bool compressed = false;  // zstd before encryption
  crypto::Iv iv{};
  crypto::Mac mac{};
};

// What the index records about the file a blob belongs to, so that a catalog can be rebuilt
// from containers alone.
struct FileInfo {
  std::string path;  // absolute path of the file at backup time
  uint32_t part = 0;
  uint32_t parts = 1;
  uint64_t file_size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0;
  uint32_t uid = 0, gid = 0;
  crypto::Hash hash{};  // SHA-256 of the whole file's plaintext
};

struct IndexEntry {
  BlobLocation blob;
  FileInfo file;
};

// Which backup wrote a container (index version 2), so that DB REBUILD can recreate hosts,
// folders and backups from containers alone.
struct Origin {
  std::string host;
  std::string folder;     // absolute path of the backed-up folder
  int64_t backup_ns = 0;  // the backup timestamp
};

struct Index {
  Origin origin;  // empty for version 1 indexes
  std::vector<IndexEntry> entries;
};

// A blob ready to be appended: compressed when that made it smaller, then sealed.
struct SealedBlob {
  std::string ciphertext;
  crypto::Iv iv{};
  crypto::Mac mac{};
  uint64_t raw_size = 0;
  bool compressed = false;
};

// zstd (kept only if smaller) then seal. Thread-safe.
SealedBlob seal_blob(const crypto::Keys& keys, std::string_view plaintext, int zstd_level = 1);
// The capacity a SealedBlob's buffer needs for blobs of up to `max_blob` bytes: reserved
// once, it is never grown (a string growing step by step ends up to twice its size).
size_t blob_buffer_size(size_t max_blob);
// The same into `out`, reusing its buffer: a worker sealing many blobs allocates once.
void seal_blob_into(const crypto::Keys& keys, std::string_view plaintext, SealedBlob& out, int zstd_level = 1);
// Authenticates, decrypts and decompresses; throws Error(kCorruption) on any mismatch.
std::string open_blob(const crypto::Keys& keys, const BlobLocation& loc, std::string_view stored);
// The same with buffers the caller keeps between blobs; the result views one of them.
struct OpenBuffers {
  std::string decrypted, plain;
};
std::string_view open_blob_into(const crypto::Keys& keys, const BlobLocation& loc, std::string_view stored,
                                OpenBuffers& bufs);

// Builds a container's bytes incrementally. Not thread-safe.
class Builder {
 public:
  Builder() = default;
  explicit Builder(Origin origin) : origin_(std::move(origin)) {}
  // The header bytes; the caller writes them first.
  std::string header() const;
  // Records a sealed blob of `length` bytes at the current end and returns its location; the
  // caller writes the blob's bytes next.
  BlobLocation add(uint64_t length, uint64_t raw_size, bool compressed, const crypto::Iv& iv, const crypto::Mac& mac,
                   const FileInfo& file);
  BlobLocation add(const SealedBlob& b, const FileInfo& file) {
    return add(b.ciphertext.size(), b.raw_size, b.compressed, b.iv, b.mac, file);
  }
  // Bytes written so far (header + blobs).
  uint64_t size() const { return offset_; }
  size_t count() const { return count_; }
  // Bytes of the index so far (encoded, before compression): what the builder holds.
  size_t index_size() const { return entries_.size(); }
  void reserve_index(size_t bytes) { entries_.reserve(bytes); }
  // The trailer (sealed index + footer); the caller writes it last.
  std::string finish(const crypto::Keys& keys) const;
  // The same handed to `sink` in pieces as it is made (the sealed index can be megabytes).
  void finish_to(const crypto::Keys& keys, const std::function<void(std::string_view)>& sink) const;

 private:
  Origin origin_;
  uint64_t offset_ = kHeaderSize;
  size_t count_ = 0;
  std::string entries_;  // the index entries, encoded as they are added
};

struct Footer {
  uint64_t index_offset = 0;
  uint64_t index_length = 0;
};

// Parses the last kFooterSize bytes of a container of total size object_size.
Footer parse_footer(std::string_view footer, uint64_t object_size);
// Authenticates and decodes the sealed index.
std::vector<IndexEntry> parse_index(const crypto::Keys& keys, std::string_view sealed_index);
// The same, with the origin (version 2 indexes; version 1 gives an empty origin).
Index parse_index_with_origin(const crypto::Keys& keys, std::string_view sealed_index);
void check_header(std::string_view header);

}  // namespace seshat::container
