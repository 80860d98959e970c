// What a backup needs to store file contents, and nothing below it: blobs sealed (compressed
// when that helps, then encrypted) and placed in containers (DESIGN.md §2, §6). The backup
// sees only this interface; the repository implements it over containers in the store, and
// the backup's unit tests over a fake.
//
// A blob is stored in three steps so that the costly ones run in parallel and outside the
// caller's lock:
//   seal()   on the caller's thread, any number at once (CPU only);
//   place()  under the caller's lock: the blob gets its place in the open container (which is
//            opened first, or closed and committed first when full) and a turn;
//   write()  without the lock: its bytes are written when every blob placed before it is.
// A container is committed only once every blob placed in it is written, and only inside
// place() or finish(), that is under the caller's lock: when the committed() hook runs,
// nothing placed refers to an uncommitted container, so the caller may checkpoint its
// catalog there.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "seshat/catalog/catalog.h"
#include "seshat/repo/content_hash.h"

namespace seshat::repo {

// A sealed blob. Each packing thread keeps one and reuses its buffer blob after blob.
struct SealedBuffer {
  std::string bytes;  // what is stored (the ciphertext)
  std::array<uint8_t, 16> iv{};
  std::array<uint8_t, 32> mac{};
  uint64_t raw_size = 0;
  bool compressed = false;
};

// What the container's own index records about the file a blob belongs to, so that DB
// REBUILD can recreate the catalog from containers alone.
struct BlobOrigin {
  std::string_view path;
  uint32_t part = 0, parts = 1;
  uint64_t file_size = 0;
  int64_t mtime_ns = 0;
  uint32_t mode = 0, uid = 0, gid = 0;
  catalog::Hash hash{};  // SHA-256 of the whole file (zero for the parts of a multi-part file)
};

// Which backup a container belongs to, for its name and its index.
struct ContainerOrigin {
  std::string host;
  std::string folder;  // absolute path
  int64_t backup_ns = 0;
};

// A placed blob: where it is and its turn to be written.
struct Placement {
  catalog::BlobRef ref;
  uint64_t turn = 0;
};

class BlobWriter {
 public:
  struct Hooks {
    // A container was opened: returns its id for BlobRef::container (e.g. its catalog index).
    std::function<uint32_t(const std::string& name)> opened;
    // Asked before each commit: false stops the backup with Error(kLocked) (the lock was lost).
    std::function<bool()> may_commit;
    // A container was committed with its final size and blob count; `full` when it was closed
    // to make room. Runs under the caller's lock (see above).
    std::function<void(uint32_t id, uint64_t size, size_t blobs, bool full)> committed;
  };
  virtual ~BlobWriter() = default;
  // The capacity a SealedBuffer needs for blobs of up to `max_blob` bytes: reserved once, it
  // is never grown.
  virtual size_t buffer_size(size_t max_blob) const = 0;
  // Thread-safe, CPU only.
  virtual void seal(std::string_view plain, SealedBuffer& out) = 0;
  // REQUIRES: the caller's lock (not thread-safe).
  virtual Placement place(const SealedBuffer& blob, const BlobOrigin& origin) = 0;
  // Thread-safe; waits for the placement's turn. After a failure of any write every later
  // one throws that failure.
  virtual void write(const Placement& p, std::string_view bytes) = 0;
  // A placement whose bytes will never be written (an exception came between place() and
  // write()): the writes after it fail instead of waiting for it forever. Thread-safe.
  virtual void abandon(const Placement& p) = 0;
  // Closes and commits the open container, if any. REQUIRES: the caller's lock; every
  // placement written or abandoned.
  virtual void finish() = 0;
};

}  // namespace seshat::repo
