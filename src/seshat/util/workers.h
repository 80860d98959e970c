// Work on several threads, and its progress: the one pool and the one progress counter that
// backup, restore and VERIFY share.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace seshat {

// Threads for CPU-bound work: SESHAT_THREADS if set (1-256), else `per_core` per core and at
// least `at_least`.
int worker_threads(int per_core = 1, int at_least = 1);

// Runs `work` on `threads` threads, the calling thread being one of them, and returns when
// all have returned. If any throws, the first exception is rethrown after all have ended.
void run_on_threads(int threads, const std::function<void()>& work);

// Counts work done out of a known total and logs the manual's "Progress <n> - <p>%" line
// each time another tenth is passed. Thread-safe.
class Progress {
 public:
  explicit Progress(uint64_t total) : total_(total) {}
  // Adds n done items; returns the new count.
  uint64_t add(uint64_t n = 1);
  uint64_t done() const { return done_.load(); }
  uint64_t total() const { return total_; }

 private:
  const uint64_t total_;
  std::atomic<uint64_t> done_{0};
  std::atomic<int> decile_{0};
};

}  // namespace seshat
