// The local store: a directory of files, one per object.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "seshat/storage/storage.h"

namespace seshat::storage {

// A directory on a local file system. Objects are files under root; writes go to a
// temporary file that is fsync'ed and renamed on commit.
class LocalStorage : public Storage {
 public:
  explicit LocalStorage(std::string root);
  std::string describe() const override { return "LOCAL " + root_; }
  Capabilities capabilities() const override { return {.conditional_create = true, .streams_exclusively = true}; }
  void put(const std::string& name, std::string_view data) override;
  bool put_if_absent(const std::string& name, std::string_view data) override;
  bool put_if_absent_stream(const std::string& name, const std::function<void(const Sink&)>& produce) override;
  std::string get(const std::string& name) override;
  std::string get_range(const std::string& name, uint64_t offset, uint64_t length) override;
  void read_range(const std::string& name, uint64_t offset, uint64_t length, std::string& buf) override;
  std::optional<uint64_t> head(const std::string& name) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void remove(const std::string& name) override;
  std::unique_ptr<ObjectWriter> create(const std::string& name, ObjectClass cls) override;
  Leftovers remove_incomplete(const std::string& prefix) override;

  const std::string& root() const { return root_; }

 private:
  std::string path_of(const std::string& name) const;
  std::string root_;
};

// Removes the regular files in `dir` whose names hold `marker` followed by the pid of a
// process of this machine that is gone (temporary and staging files of killed runs).
Leftovers remove_files_of_gone_processes(const std::string& dir, std::string_view marker, bool only_ours = false);

}  // namespace seshat::storage
