// The repository lock (doc/format/lock.md), renewed by a background thread while held. A
// lock whose lease ran out, or whose process is gone on this host, is stale and taken over
// with a WARN.
//  - Stores with an atomic conditional create: one record at seshat/locks/lock.
//  - Others (many S3-compatible servers): each process writes seshat/locks/<id>, lists the
//    prefix, and goes on only when no other live record is there. When several start at once
//    the oldest keeps its record for a grace period while the younger ones withdraw theirs.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "seshat/storage/storage.h"

namespace seshat::repo {

inline constexpr const char* kLockName = "seshat/locks/lock";
inline constexpr const char* kLockPrefix = "seshat/locks/";
inline constexpr const char* kQueuePrefix = "seshat/queue/";  // waiters, in arrival order

struct LockRecord {
  std::string id;
  std::string host;
  int64_t pid = 0;
  std::string user;
  int64_t started_ns = 0;
  int64_t lease_until_ns = 0;

  std::string to_json() const;
  // Throws Error(kCorruption) if malformed.
  static LockRecord from_json(std::string_view text);
  std::string describe() const;  // "host bastet pid 123 user adrian since 26-Jul-2019 14:07"
};

class Lock {
 public:
  // Takes the lock. If another live process holds it: with wait, waits in a queue served in
  // arrival order (a message every minute naming the holder; Ctrl-C ends the wait with
  // Error(kInterrupted)); without, throws Error(kLocked) naming the holder.
  static std::unique_ptr<Lock> acquire(std::shared_ptr<storage::Storage> store, const std::string& host, bool wait);
  ~Lock();  // releases
  void release();
  const LockRecord& record() const { return record_; }

  // Removes whatever lock is in the store (DB UNLOCK). Returns the removed holder, if any.
  // Refuses (Error kLocked) while the holder is a live process of this host.
  static std::optional<LockRecord> force_unlock(storage::Storage& store, const std::string& my_host);

  // False once our record is gone or replaced (DB UNLOCK elsewhere, a takeover): the holder
  // must stop writing. Reads the record from the store.
  bool still_held();

  static int64_t lease_ns();

 private:
  Lock(std::shared_ptr<storage::Storage> store, LockRecord record, std::string name);
  // One attempt: the lock, or nullptr with the live holder in `holder`.
  static std::unique_ptr<Lock> try_acquire(const std::shared_ptr<storage::Storage>& store, LockRecord& mine,
                                           LockRecord& holder);
  static std::unique_ptr<Lock> try_acquire_by_listing(const std::shared_ptr<storage::Storage>& store, LockRecord& mine,
                                                      LockRecord& holder);
  void renew_loop();
  std::shared_ptr<storage::Storage> store_;
  LockRecord record_;
  std::string name_;  // the object holding our record
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool released_ = false;
  int64_t renewals_ = 0;       // successful renewals (guarded by mu_)
  int64_t min_margin_ns_ = 0;  // the least lease left when a renewal landed (guarded by mu_)
  std::atomic<bool> lost_{false};
  std::thread renewer_;
};

}  // namespace seshat::repo
