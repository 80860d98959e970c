#include "seshat/storage/rate_limiter.h"

#include <algorithm>
#include <thread>

#include "seshat/util/interrupt.h"

namespace seshat::storage {

void RateLimiter::take(uint64_t n) {
  if (rate_ == 0 || n == 0) return;
  using namespace std::chrono;
  steady_clock::time_point until;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto now = steady_clock::now();
    if (next_ < now) next_ = now;
    next_ +=
        duration_cast<steady_clock::duration>(duration<double>(static_cast<double>(n) / static_cast<double>(rate_)));
    until = next_;
  }
  while (!interrupted()) {
    auto now = steady_clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(std::min<steady_clock::duration>(until - now, milliseconds(100)));
  }
}

uint64_t RateLimiter::slice() const { return std::clamp<uint64_t>(rate_ / 10, 1024, 256 << 10); }

void RateLimiter::take_sliced(uint64_t n) {
  if (rate_ == 0) return;
  const uint64_t s = slice();
  while (n > 0) {
    uint64_t k = std::min(n, s);
    take(k);
    n -= k;
  }
}

bool exempt_from_limits(const std::string& key) {
  return key.starts_with("seshat/locks/") || key.starts_with("seshat/queue/");
}

}  // namespace seshat::storage
