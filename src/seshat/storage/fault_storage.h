// FaultStorage: the fault-injection wrapper of the reliability campaigns.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "seshat/storage/storage.h"

namespace seshat::storage {

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
  void read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) override {
    Storage::read_range(n, o, l, b);
  }
  std::optional<uint64_t> head(const std::string& n) override;
  std::vector<ObjectInfo> list(const std::string& p) override;
  void remove(const std::string& n) override;
  void remove_many(const std::vector<std::string>& n) override;
  std::unique_ptr<ObjectWriter> create(const std::string& n, ObjectClass c) override;

  // For FaultWriter: applies the rules to one call; returns "short"/"corrupt" for reads.
  std::string before(const char* op, const std::string& name);
  void log_io(const char* op, const std::string& name, uint64_t bytes);

 private:
  static std::string damage(std::string data, const std::string& action);
  std::mutex mu_;
  std::vector<Rule> rules_;
  int log_fd_ = -1;
};

}  // namespace seshat::storage
