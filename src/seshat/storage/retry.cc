#include "seshat/storage/retry.h"

#include <random>

#include "seshat/util/interrupt.h"

namespace seshat::storage {

Retry::Retry(RetryOptions o, Sleep sleep) : o_(o), sleep_(std::move(sleep)), seed_(std::random_device{}()) {
  // Ctrl-C or SIGTERM ends a wait between tries at once.
  if (!sleep_)
    sleep_ = [](int64_t ms) {
      auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
      while (std::chrono::steady_clock::now() < end) {
        if (interrupted()) throw Error(ErrorKind::kInterrupted, "interrupted");
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(50), end - std::chrono::steady_clock::now()));
      }
    };
  if (o_.attempts < 1) o_.attempts = 1;
}

int64_t Retry::delay_ms(int attempt) {
  int64_t step = std::min<int64_t>(o_.cap_ms, o_.backoff_ms << std::min(std::max(attempt - 2, 0), 20));
  // A splitmix64 step: cheap and thread-safe.
  uint64_t z = seed_.fetch_add(0x9e3779b97f4a7c15ull) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return step / 2 + static_cast<int64_t>(z % static_cast<uint64_t>(step / 2 + 1));
}

void RetryingStorage::check() {
  retry_.run("checking " + describe(), [&] { inner_->check(); });
}

void RetryingStorage::put(const std::string& n, std::string_view d) {
  retry_.run("PUT " + n, [&] { inner_->put(n, d); });
}

bool RetryingStorage::put_if_absent(const std::string& n, std::string_view d) {
  bool tried = false;
  return retry_.run("PUT " + n, [&] {
    if (tried) {
      // The failed try may have reached the store: our own bytes there mean it did.
      if (auto existing = inner_->try_get(n)) return *existing == d;
    }
    tried = true;
    return inner_->put_if_absent(n, d);
  });
}

bool RetryingStorage::put_if_absent_stream(const std::string& n, const std::function<void(const Sink&)>& p) {
  // A store that writes the stream as it comes cannot be given it again; others collect it
  // anyway (Storage::put_if_absent_stream), so collect it here and retry the whole.
  if (inner_->capabilities().streams_exclusively) return inner_->put_if_absent_stream(n, p);
  return Storage::put_if_absent_stream(n, p);
}

std::string RetryingStorage::get(const std::string& n) {
  return retry_.run("GET " + n, [&] { return inner_->get(n); });
}

std::string RetryingStorage::get_range(const std::string& n, uint64_t o, uint64_t l) {
  return retry_.run("GET " + n, [&] { return inner_->get_range(n, o, l); });
}

void RetryingStorage::read_range(const std::string& n, uint64_t o, uint64_t l, std::string& b) {
  retry_.run("GET " + n, [&] { inner_->read_range(n, o, l, b); });
}

std::optional<uint64_t> RetryingStorage::head(const std::string& n) {
  return retry_.run("HEAD " + n, [&] { return inner_->head(n); });
}

std::vector<ObjectInfo> RetryingStorage::list(const std::string& p) {
  return retry_.run("listing " + (p.empty() ? describe() : p), [&] { return inner_->list(p); });
}

void RetryingStorage::remove(const std::string& n) {
  retry_.run("DELETE " + n, [&] { inner_->remove(n); });
}

void RetryingStorage::remove_many(const std::vector<std::string>& n) {
  retry_.run("DELETE of " + std::to_string(n.size()) + " objects", [&] { inner_->remove_many(n); });
}

Leftovers RetryingStorage::remove_incomplete(const std::string& p) {
  return retry_.run("removing unfinished uploads under " + p, [&] { return inner_->remove_incomplete(p); });
}

}  // namespace seshat::storage
