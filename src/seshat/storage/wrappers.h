// The storage wrappers of SET DRYRUN and SET DELAY (the retry wrapper: retry.h; the fault
// injection of the test campaigns: fault_storage.h).
#pragma once
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

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

}  // namespace seshat::storage
