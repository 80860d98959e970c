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
};

class Storage {
 public:
  virtual ~Storage() = default;
  // For messages: "LOCAL /srv/store", "S3 bucket".
  virtual std::string describe() const = 0;
  virtual Capabilities capabilities() const = 0;
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
  // Bytes [offset, offset+length); throws kCorruption if the object is shorter.
  virtual std::string get_range(const std::string& name, uint64_t offset, uint64_t length) = 0;
  virtual std::optional<uint64_t> head(const std::string& name) = 0;
  // get_range() into a buffer the caller keeps: buf grows to at least `length` bytes (it never
  // shrinks, so a reused buffer costs no allocation and no zero-fill); the bytes are
  // buf[0, length). Same errors as get_range().
  virtual void read_range(const std::string& name, uint64_t offset, uint64_t length, std::string& buf) {
    std::string got = get_range(name, offset, length);
    if (got.size() != length) throw Error(ErrorKind::kCorruption, "object " + name + " is shorter than expected");
    if (buf.size() < got.size()) buf = std::move(got);
    else std::copy(got.begin(), got.end(), buf.begin());
  }
  // Every object whose name starts with prefix, sorted by name.
  virtual std::vector<ObjectInfo> list(const std::string& prefix) = 0;
  // Removing a missing object is not an error.
  virtual void remove(const std::string& name) = 0;
  // Removes several objects (in batches where the store has a batch call).
  virtual void remove_many(const std::vector<std::string>& names) {
    for (const auto& n : names) remove(n);
  }
  virtual std::unique_ptr<ObjectWriter> create(const std::string& name) = 0;
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
  void put(const std::string& n, std::string_view d) override { inner_->put(n, d); }
  bool put_if_absent(const std::string& n, std::string_view d) override { return inner_->put_if_absent(n, d); }
  bool put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) override {
    return inner_->put_if_absent_stream(n, p);
  }
  std::string get(const std::string& n) override { return inner_->get(n); }
  std::string get_range(const std::string& n, uint64_t o, uint64_t l) override { return inner_->get_range(n, o, l); }
  void read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) override { inner_->read_range(n, o, l, b); }
  std::optional<uint64_t> head(const std::string& n) override { return inner_->head(n); }
  std::vector<ObjectInfo> list(const std::string& p) override { return inner_->list(p); }
  void remove(const std::string& n) override { inner_->remove(n); }
  void remove_many(const std::vector<std::string>& n) override { inner_->remove_many(n); }
  std::unique_ptr<ObjectWriter> create(const std::string& n) override { return inner_->create(n); }
  Leftovers remove_incomplete(const std::string& p) override { return inner_->remove_incomplete(p); }

 protected:
  std::shared_ptr<Storage> inner_;
};

// Reads pass through; every write is discarded (SET DRYRUN YES).
class DryRunStorage : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  void put(const std::string&, std::string_view) override {}
  bool put_if_absent(const std::string& n, std::string_view) override { return !inner_->head(n).has_value(); }
  bool put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) override {
    p([](std::string_view) {});
    return !inner_->head(n).has_value();
  }
  void remove(const std::string&) override {}
  void remove_many(const std::vector<std::string>&) override {}
  std::unique_ptr<ObjectWriter> create(const std::string& name) override;
  Leftovers remove_incomplete(const std::string&) override { return {}; }
};

// SET DELAY YES: each object written through create() is first staged whole in a local
// directory, then uploaded to the inner store when committed (with progress lines). Small
// objects (put) go straight through.
class StagingStorage : public StorageWrapper {
 public:
  StagingStorage(std::shared_ptr<Storage> inner, std::string staging_dir)
      : StorageWrapper(std::move(inner)), dir_(std::move(staging_dir)) {}
  std::unique_ptr<ObjectWriter> create(const std::string& name) override;
  // Also removes staging files of processes of this machine that are gone.
  Leftovers remove_incomplete(const std::string& prefix) override;

 private:
  std::string dir_;
};

// Test hook of the fault campaigns (tests/integration/test_faults.py, doc/testing.md): fails,
// damages, slows or kills chosen operations. Configured by SESHAT_FAULTS, a comma-separated
// list of rules <op>[:<name part>]@<n>[+]=<action>[:<arg>]:
//   op      put (put, put_if_absent), get (a whole object), range (a ranged read), head, list,
//           remove, create (open a streaming upload), write (a chunk of one), commit (of one),
//           any
//   n       the n-th matching call (counted from 1); "n+" that one and every later one; "*" all
//   action  fail, transient, enospc, erofs (throw), short, corrupt (damage what a get
//           returns), slow:<ms> (delay), kill (SIGKILL the process)
// SESHAT_IO_LOG=<file> appends "<op> <name> <bytes>" for every put and upload chunk: the
// bytes sent to the store, kept even when the process is killed.
class FaultStorage : public StorageWrapper {
 public:
  struct Rule {
    std::string op, name_part, action;
    long nth = 1, arg = 0, seen = 0;
    bool and_after = false;
  };
  static std::optional<std::vector<Rule>> parse(const std::string& spec);
  // Returns s itself unless SESHAT_FAULTS or SESHAT_IO_LOG is set.
  static std::shared_ptr<Storage> wrap_from_env(std::shared_ptr<Storage> s);

  FaultStorage(std::shared_ptr<Storage> inner, std::vector<Rule> rules, const std::string& io_log);
  ~FaultStorage() override;
  void put(const std::string& n, std::string_view d) override;
  bool put_if_absent(const std::string& n, std::string_view d) override;
  bool put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) override;
  std::string get(const std::string& n) override;
  std::string get_range(const std::string& n, uint64_t o, uint64_t l) override;
  // Through get_range(), so that its faults apply.
  void read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) override { Storage::read_range(n, o, l, b); }
  std::optional<uint64_t> head(const std::string& n) override;
  std::vector<ObjectInfo> list(const std::string& p) override;
  void remove(const std::string& n) override;
  void remove_many(const std::vector<std::string>& n) override;
  std::unique_ptr<ObjectWriter> create(const std::string& n) override;

  // For FaultWriter: applies the rules to one call; returns "short"/"corrupt" for reads.
  std::string before(const char* op, const std::string& name);
  void log_io(const char* op, const std::string& name, uint64_t bytes);

 private:
  static std::string damage(std::string data, const std::string& action);
  std::mutex mu_;
  std::vector<Rule> rules_;
  int log_fd_ = -1;
};

// A directory on a local file system. Objects are files under root; writes go to a
// temporary file that is fsync'ed and renamed on commit.
class LocalStorage : public Storage {
 public:
  explicit LocalStorage(std::string root);
  std::string describe() const override { return "LOCAL " + root_; }
  Capabilities capabilities() const override { return {.conditional_create = true}; }
  void put(const std::string& name, std::string_view data) override;
  bool put_if_absent(const std::string& name, std::string_view data) override;
  bool put_if_absent_stream(const std::string& name, const std::function<void(const Sink&)>& produce) override;
  std::string get(const std::string& name) override;
  std::string get_range(const std::string& name, uint64_t offset, uint64_t length) override;
  void read_range(const std::string& name, uint64_t offset, uint64_t length, std::string& buf) override;
  std::optional<uint64_t> head(const std::string& name) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& name) override;
  std::unique_ptr<ObjectWriter> create(const std::string& name) override;
  Leftovers remove_incomplete(const std::string& prefix) override;

  const std::string& root() const { return root_; }

 private:
  std::string path_of(const std::string& name) const;
  std::string root_;
};

// Removes the regular files in `dir` whose names hold `marker` followed by the pid of a
// process of this machine that is gone (temporary and staging files of killed runs).
Leftovers remove_files_of_gone_processes(const std::string& dir, std::string_view marker);

// Throws Error(kInvalidInput) unless name is a valid object name.
void check_object_name(const std::string& name);

}  // namespace seshat::storage
