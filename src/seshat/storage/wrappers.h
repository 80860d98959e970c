// The storage wrappers of SET DRYRUN, SET DELAY and SET LIMIT (the retry wrapper: retry.h; the fault
// injection of the test campaigns: fault_storage.h).
#pragma once
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "seshat/storage/rate_limiter.h"
#include "seshat/storage/storage.h"

namespace seshat::storage {

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
  std::unique_ptr<ObjectWriter> create(const std::string& name, ObjectClass cls) override;
  Leftovers remove_incomplete(const std::string&) override { return {}; }
};

// SET DELAY YES: each data object written through create() is first staged whole in a local
// directory, then uploaded to the inner store when committed (with progress lines).
// Metadata objects go straight through.
class StagingStorage : public StorageWrapper {
 public:
  StagingStorage(std::shared_ptr<Storage> inner, std::string staging_dir)
      : StorageWrapper(std::move(inner)), dir_(std::move(staging_dir)) {}
  ~StagingStorage() override;
  std::unique_ptr<ObjectWriter> create(const std::string& name, ObjectClass cls) override;
  // Also removes staging files of processes of this machine that are gone.
  Leftovers remove_incomplete(const std::string& prefix) override;

 private:
  const std::string& private_dir();
  bool fallback_ = false;  // private_ is a mkdtemp directory of this run

  std::string dir_;
  std::mutex mu_;
  std::string private_;  // our own directory inside dir_, once made
  std::atomic<bool> staging_tidied_{false};
};

// SET LIMIT UPLOAD / DOWNLOAD for the local store: every byte written to it and read from
// it (retries included: the wrapper is below the retries) passes the limiter of its
// direction, all threads together; writes before they go, reads as they arrive. (S3 takes
// from the limiters inside each transfer: S3Options.)
class ThrottledStorage : public StorageWrapper {
 public:
  ThrottledStorage(std::shared_ptr<Storage> inner, uint64_t upload_per_second, uint64_t download_per_second)
      : StorageWrapper(std::move(inner)),
        up_(std::make_shared<RateLimiter>(upload_per_second)),
        down_(std::make_shared<RateLimiter>(download_per_second)) {}
  void put(const std::string& n, std::string_view d) override;
  bool put_if_absent(const std::string& n, std::string_view d) override;
  bool put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) override;
  std::string get(const std::string& n) override;
  std::string get_range(const std::string& n, uint64_t o, uint64_t l) override;
  void read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) override;
  std::unique_ptr<ObjectWriter> create(const std::string& n, ObjectClass c) override;

 private:
  std::shared_ptr<RateLimiter> up_, down_;
};

}  // namespace seshat::storage
