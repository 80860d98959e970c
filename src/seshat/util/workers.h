// Work on several threads, and its progress: the one pool and the one progress counter that
// backup, restore and VERIFY share.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace seshat {

// Threads for CPU-bound work: SESHAT_THREADS if set (1-256), else `per_core` per core and at
// least `at_least`.
int worker_threads(int per_core = 1, int at_least = 1);

// Runs `work` on `threads` threads, the calling thread being one of them, and returns when
// all have returned. If any throws, the first exception is rethrown after all have ended.
void run_on_threads(int threads, const std::function<void()>& work);

// Counts work done out of a known total and logs the manual's "Progress <n> - <p>%" line
// each time another tenth is passed. Thread-safe. With the live display on (a terminal,
// SET PROGRESS YES: set_live_progress), it also redraws one status line in place about four
// times a second while it exists: files and bytes done of the total, the rate, the time
// left, and the file a thread has been on for more than a second.
class Progress {
 public:
  // `what`: the work, for the status line ("Backup", "Restore", "Verify").
  explicit Progress(uint64_t total, uint64_t total_bytes = 0, std::string what = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Adds n done items; returns the new count.
  uint64_t add(uint64_t n = 1);
  // Bytes done, as they are read or written (inside a file too).
  void add_bytes(uint64_t n) { bytes_.fetch_add(n, std::memory_order_relaxed); }
  // Work on `name` (a path) began / ended, on any thread.
  void begin(const std::string& name);
  void end(const std::string& name);
  // More bytes to do than the total said (a file read twice: hashed, then stored).
  void add_total_bytes(uint64_t n) { total_bytes_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t done() const { return done_.load(); }
  uint64_t total() const { return total_; }

  // The status line for the state now (the live display draws it; public for tests).
  std::string status_line(double elapsed_s, double rate) const;

 private:
  struct Live;
  const uint64_t total_;
  std::atomic<uint64_t> total_bytes_;
  const std::string what_;
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<int> decile_{0};
  const uint64_t sent_at_start_;
  std::unique_ptr<Live> live_;
};

// Bytes sent to a remote store so far by this process (S3 counts them as they go): the
// status line of a backup shows what is sent beside what is read.
void count_sent(uint64_t n);
uint64_t bytes_sent();

// Whether Progress draws the live status line (the session: stdout is a terminal, SET
// PROGRESS is YES and the output is not JSON).
void set_live_progress(bool on);
bool live_progress();

}  // namespace seshat
