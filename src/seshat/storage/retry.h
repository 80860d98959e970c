// Retrying what may succeed when tried again (an Error of kind kTransient: a dropped
// connection, a 5xx, SlowDown), with exponential backoff and jitter. One policy object,
// used by RetryingStorage for every whole operation of any store, and by the S3 multipart
// writer for its parts (a streaming upload cannot be replayed by a wrapper: the writer keeps
// each part until it is acknowledged and re-sends it).
#pragma once
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "seshat/storage/storage.h"
#include "seshat/util/error.h"
#include "seshat/util/log.h"

namespace seshat::storage {

struct RetryOptions {
  int attempts = 8;          // tries in all, the first one included (spanning 8-24 s)
  int64_t backoff_ms = 250;  // delay before the second try; doubled each time, with jitter
  int64_t cap_ms = 8000;     // the longest delay
};

class Retry {
 public:
  using Sleep = std::function<void(int64_t ms)>;
  explicit Retry(RetryOptions o = {}, Sleep sleep = nullptr);

  // The delay before try number `attempt` (2, 3, ...), between half the step and the step.
  int64_t delay_ms(int attempt);

  // Calls f() until it returns or throws anything but a kTransient Error; after the last try
  // the transient error is thrown as "<what> failed after <n> attempts: <error>".
  template <typename F>
  auto run(const std::string& what, F&& f) -> decltype(f()) {
    for (int attempt = 1;; ++attempt) {
      try {
        return f();
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::kTransient) throw;
        if (attempt >= o_.attempts) {
          if (o_.attempts <= 1) throw;
          throw Error(ErrorKind::kTransient,
                      what + " failed after " + std::to_string(o_.attempts) + " attempts: " + e.what());
        }
        int64_t d = delay_ms(attempt + 1);
        log::debug("Retrying {} in {} ms (attempt {}): {}", what, d, attempt + 1, e.what());
        sleep_(d);
      }
    }
  }

  const RetryOptions& options() const { return o_; }

 private:
  RetryOptions o_;
  Sleep sleep_;
  std::atomic<uint64_t> seed_;
};

// Every operation of the inner store through a Retry. A conditional create that failed in a
// way that may have reached the store is not blindly repeated: if the object exists
// afterwards with exactly our bytes, it was our write. A writer from create() is the inner
// store's own (see above).
class RetryingStorage : public StorageWrapper {
 public:
  RetryingStorage(std::shared_ptr<Storage> inner, RetryOptions o = {}, Retry::Sleep sleep = nullptr)
      : StorageWrapper(std::move(inner)), retry_(o, std::move(sleep)) {}
  void check() override;
  void put(const std::string& n, std::string_view d) override;
  bool put_if_absent(const std::string& n, std::string_view d) override;
  bool put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) override;
  std::string get(const std::string& n) override;
  std::string get_range(const std::string& n, uint64_t o, uint64_t l) override;
  void read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) override;
  std::optional<uint64_t> head(const std::string& n) override;
  std::vector<ObjectInfo> list(const std::string& p) override;
  void remove(const std::string& n) override;
  void remove_many(const std::vector<std::string>& n) override;
  Leftovers remove_incomplete(const std::string& p) override;

 private:
  Retry retry_;
};

}  // namespace seshat::storage
