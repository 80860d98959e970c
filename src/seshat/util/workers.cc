#include "seshat/util/workers.h"

#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "seshat/util/env.h"
#include "seshat/util/log.h"

namespace seshat {

int worker_threads(int per_core, int at_least) {
  if (auto n = env::get_int(env::kThreads, 1, 256)) return static_cast<int>(*n);
  return std::max(at_least,
                  static_cast<int>(std::max(1u, std::thread::hardware_concurrency())) * std::max(1, per_core));
}

void run_on_threads(int threads, const std::function<void()>& work) {
  std::mutex mu;
  std::exception_ptr first;
  auto guarded = [&] {
    try {
      work();
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu);
      if (!first) first = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(guarded);
  guarded();
  for (auto& t : pool) t.join();
  if (first) std::rethrow_exception(first);
}

uint64_t Progress::add(uint64_t n) {
  uint64_t done = done_.fetch_add(n) + n;
  if (total_ == 0) return done;
  int decile = static_cast<int>(done * 10 / total_);
  int prev = decile_.load();
  while (decile > prev && !decile_.compare_exchange_weak(prev, decile)) {
  }
  if (decile > prev && decile < 10) log::info("Progress {} - {}%", done, decile * 10);
  return done;
}

}  // namespace seshat
