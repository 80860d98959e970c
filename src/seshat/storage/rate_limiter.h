// SET LIMIT UPLOAD / DOWNLOAD: bytes per second shared by every thread that takes from it.
#pragma once
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace seshat::storage {

// take(n) returns when n more bytes fit the rate since the first take (a virtual clock: each
// caller reserves the next slot and sleeps until its end, in slices that a Ctrl-C ends).
// 0 is no limit. Callers take in slices of at most slice() bytes (about 100 ms of the
// rate), so that a small request never waits behind a long queue of big ones.
class RateLimiter {
 public:
  explicit RateLimiter(uint64_t bytes_per_second) : rate_(bytes_per_second) {}
  void take(uint64_t n);
  // take(n) in slices.
  void take_sliced(uint64_t n);
  uint64_t rate() const { return rate_; }
  uint64_t slice() const;

 private:
  const uint64_t rate_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point next_{};
};

// The lock records and the waiting queue are never throttled: their renewals must land
// within the lease whatever the limit (a few hundred bytes each).
bool exempt_from_limits(const std::string& key);

}  // namespace seshat::storage
