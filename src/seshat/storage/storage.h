// Storage moves opaque bytes by name; it never sees plaintext. Object names are
// '/'-separated, relative, without "." or ".." components.
//
// Implementations are thread-safe: any method may be called from several threads at once.
// Errors are thrown as seshat::Error: kNotFound for a missing object, kTransient for what a
// retry may cure, kPermanent otherwise.
#pragma once
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "seshat/util/error.h"

namespace seshat::storage {

struct ObjectInfo {
  std::string name;
  uint64_t size = 0;
  std::string etag;  // S3: the object's ETag as listed (changes with its bytes); else empty
};

// A streaming upload. Nothing is visible under the name until commit() returns; a writer
// destroyed without commit() is aborted (its bytes are discarded).
class ObjectWriter {
 public:
  virtual ~ObjectWriter() = default;
  virtual void write(std::string_view data) = 0;
  virtual uint64_t size() const = 0;
  virtual void commit() = 0;
  virtual void abort() = 0;
};

// What remove_incomplete() found and removed.
struct Leftovers {
  size_t objects = 0;
  uint64_t bytes = 0;  // where the store tells (0 for unfinished multipart uploads)
};

struct Capabilities {
  bool conditional_create = false;  // put_if_absent is atomic (no two callers both succeed)
  // put_if_absent_stream writes the stream as it comes (never holds it whole); the producer
  // then cannot be replayed, so a failed call is not retried.
  bool streams_exclusively = false;
};

// What an object is for, as the store may treat the two differently: bulk data (containers)
// gets the configured S3 storage class (it may go to Glacier) and is staged whole with SET
// DELAY; metadata (config, keys, catalog, locks) always stays in the standard class. The
// transport never looks at names to decide.
enum class ObjectClass { kMetadata, kData };

class Storage {
 public:
  virtual ~Storage() = default;
  // For messages: "LOCAL /srv/store", "S3 bucket".
  virtual std::string describe() const = 0;
  virtual Capabilities capabilities() const = 0;
  // Checks that the store can be reached and the credentials work; a clear Error if not.
  virtual void check() {}
  // Creates or replaces the object atomically.
  virtual void put(const std::string& name, std::string_view data) = 0;
  // Creates the object only if no object of that name exists; returns false if one did.
  virtual bool put_if_absent(const std::string& name, std::string_view data) = 0;
  // put_if_absent() of an object made in pieces: `produce` is called once and feeds the sink
  // it is given the object's bytes in order. A store that can write a stream exclusively (a
  // local one) never holds the whole object; by default it is collected, then put.
  using Sink = std::function<void(std::string_view)>;
  virtual bool put_if_absent_stream(const std::string& name, const std::function<void(const Sink&)>& produce) {
    // Kept in pieces and joined once: a string doubling as it grows would hold up to twice it.
    std::vector<std::string> pieces;
    size_t total = 0;
    produce([&](std::string_view piece) {
      pieces.emplace_back(piece);
      total += piece.size();
    });
    std::string whole;
    whole.reserve(total);
    for (auto& p : pieces) {
      whole.append(p);
      std::string().swap(p);
    }
    return put_if_absent(name, whole);
  }
  virtual std::string get(const std::string& name) = 0;
  // get() for an object that may be missing: nullopt instead of Error(kNotFound).
  std::optional<std::string> try_get(const std::string& name) {
    try {
      return get(name);
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::kNotFound) return std::nullopt;
      throw;
    }
  }
  // Bytes [offset, offset+length); throws kCorruption if the object is shorter.
  virtual std::string get_range(const std::string& name, uint64_t offset, uint64_t length) = 0;
  virtual std::optional<uint64_t> head(const std::string& name) = 0;
  // get_range() into a buffer the caller keeps: buf grows to at least `length` bytes (it never
  // shrinks, so a reused buffer costs no allocation and no zero-fill); the bytes are
  // buf[0, length). Same errors as get_range().
  virtual void read_range(const std::string& name, uint64_t offset, uint64_t length, std::string& buf) {
    std::string got = get_range(name, offset, length);
    if (got.size() != length) throw Error(ErrorKind::kCorruption, "object " + name + " is shorter than expected");
    if (buf.size() < got.size())
      buf = std::move(got);
    else
      std::copy(got.begin(), got.end(), buf.begin());
  }
  // Every object whose name starts with prefix, sorted by name.
  virtual std::vector<ObjectInfo> list(const std::string& prefix) = 0;
  // Removing a missing object is not an error.
  virtual void remove(const std::string& name) = 0;
  // Removes several objects (in batches where the store has a batch call).
  virtual void remove_many(const std::vector<std::string>& names) {
    for (const auto& n : names) remove(n);
  }
  virtual std::unique_ptr<ObjectWriter> create(const std::string& name, ObjectClass cls) = 0;
  // Removes what uploads under `prefix` (a directory: "containers/") left when their process
  // died: temporary files of a local store, unfinished multipart uploads on S3. Call it only
  // while holding the DB lock, when no other writer can be uploading there.
  virtual Leftovers remove_incomplete(const std::string& prefix) { return {}; }
};

// Forwards every call to an inner storage; wrappers override just what they change.
class StorageWrapper : public Storage {
 public:
  explicit StorageWrapper(std::shared_ptr<Storage> inner) : inner_(std::move(inner)) {}
  std::string describe() const override { return inner_->describe(); }
  Capabilities capabilities() const override { return inner_->capabilities(); }
  void check() override { inner_->check(); }
  void put(const std::string& n, std::string_view d) override { inner_->put(n, d); }
  bool put_if_absent(const std::string& n, std::string_view d) override { return inner_->put_if_absent(n, d); }
  bool put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) override {
    return inner_->put_if_absent_stream(n, p);
  }
  std::string get(const std::string& n) override { return inner_->get(n); }
  std::string get_range(const std::string& n, uint64_t o, uint64_t l) override { return inner_->get_range(n, o, l); }
  void read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) override {
    inner_->read_range(n, o, l, b);
  }
  std::optional<uint64_t> head(const std::string& n) override { return inner_->head(n); }
  std::vector<ObjectInfo> list(const std::string& p) override { return inner_->list(p); }
  void remove(const std::string& n) override { inner_->remove(n); }
  void remove_many(const std::vector<std::string>& n) override { inner_->remove_many(n); }
  std::unique_ptr<ObjectWriter> create(const std::string& n, ObjectClass c) override { return inner_->create(n, c); }
  Leftovers remove_incomplete(const std::string& p) override { return inner_->remove_incomplete(p); }

 protected:
  std::shared_ptr<Storage> inner_;
};

// Throws Error(kInvalidInput) unless name is a valid object name.
void check_object_name(const std::string& name);

}  // namespace seshat::storage
