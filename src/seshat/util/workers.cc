#include "seshat/util/workers.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "seshat/util/bytes.h"
#include "seshat/util/env.h"
#include "seshat/util/log.h"
#include "seshat/util/printable.h"

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

namespace {
std::atomic<bool> g_live{false};

std::string clock_text(double s) {
  auto t = static_cast<uint64_t>(s + 0.5);
  if (t >= 3600) return fmt::format("{}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
  return fmt::format("{}:{:02}", t / 60, t % 60);
}
// At most n bytes of s from its start / its end, never cutting a UTF-8 sequence.
std::string utf8_head(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}
std::string utf8_tail(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t from = s.size() - n;
  while (from < s.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80) ++from;
  return s.substr(from);
}

}  // namespace

std::atomic<uint64_t> g_sent{0};
void count_sent(uint64_t n) { g_sent.fetch_add(n, std::memory_order_relaxed); }
uint64_t bytes_sent() { return g_sent.load(std::memory_order_relaxed); }

void set_live_progress(bool on) { g_live = on; }
bool live_progress() { return g_live; }

// The thread that redraws the status line, and what the workers are on.
struct Progress::Live {
  Progress& p;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::map<std::string, std::chrono::steady_clock::time_point> current;  // the work going on, under mu
  std::thread thread;

  explicit Live(Progress& owner) : p(owner), thread([this] { loop(); }) {}
  ~Live() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
    }
    cv.notify_all();
    thread.join();
    log::status("");
  }
  void loop() {
    using namespace std::chrono;
    auto start = steady_clock::now();
    auto last_t = start;
    uint64_t last_bytes = 0;
    double rate = 0;  // bytes per second, smoothed
    std::unique_lock<std::mutex> lk(mu);
    while (!cv.wait_for(lk, milliseconds(250), [this] { return stop; })) {
      auto now = steady_clock::now();
      uint64_t b = p.bytes_.load(std::memory_order_relaxed);
      double dt = duration<double>(now - last_t).count();
      if (dt > 0) {
        double r = static_cast<double>(b - last_bytes) / dt;
        rate = rate == 0 ? r : 0.8 * rate + 0.2 * r;
      }
      last_t = now;
      last_bytes = b;
      std::string line = p.status_line(duration<double>(now - start).count(), rate);
      // The file a thread has been on the longest, once that is more than a second.
      const std::string* slow = nullptr;
      steady_clock::time_point since = now;
      for (auto& [name, began] : current)
        if (began < since) {
          since = began;
          slow = &name;
        }
      // One row of the terminal, or erasing it would leave the rest behind; a long name
      // keeps its end (the file's own name).
      winsize ws{};
      size_t width = ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col - 1u : 79u;
      if (slow && now - since > seconds(1) && line.size() + 12 < width) {
        std::string name = printable(*slow);
        size_t room = width - line.size() - 2;
        if (name.size() > room) name = "..." + utf8_tail(name, room - 3);
        line += "  " + name;
      }
      lk.unlock();  // the workers' begin() and end() do not wait for the terminal
      // Too narrow to say anything useful: nothing is drawn (a wrapped line cannot be erased).
      if (width >= 30) log::status(line.size() > width ? utf8_head(line, width - 3) + "..." : line);
      lk.lock();
    }
  }
};

Progress::Progress(uint64_t total, uint64_t total_bytes, std::string what)
    : total_(total), total_bytes_(total_bytes), what_(std::move(what)), sent_at_start_(bytes_sent()) {
  if (g_live && !what_.empty()) live_ = std::make_unique<Live>(*this);
}

Progress::~Progress() = default;

void Progress::begin(const std::string& name) {
  if (!live_) return;
  std::lock_guard<std::mutex> lk(live_->mu);
  live_->current.emplace(name, std::chrono::steady_clock::now());
}

void Progress::end(const std::string& name) {
  if (!live_) return;
  std::lock_guard<std::mutex> lk(live_->mu);
  live_->current.erase(name);
}

std::string Progress::status_line(double elapsed_s, double rate) const {
  uint64_t files = done_.load(), bytes = bytes_.load(), total_bytes = total_bytes_.load();
  std::string line = fmt::format("{}: {}/{} files", what_, files, total_);
  if (total_bytes) line += fmt::format(", {} of {}", human_size(bytes), human_size(total_bytes));
  line += fmt::format(", {}/s", human_size(static_cast<uint64_t>(rate)));
  if (uint64_t sent = bytes_sent() - sent_at_start_; sent > 0 && what_ == "Backup")
    line += ", " + human_size(sent) + " sent";
  // The time left from the bytes when they are known (at the average rate so far: steadier
  // than the rate shown, which follows the blobs as they come), else from the files.
  double left = -1;
  if (total_bytes && bytes * 50 >= total_bytes && elapsed_s >= 1 && bytes <= total_bytes)  // 2 % done: enough to tell
    left = static_cast<double>(total_bytes - bytes) * elapsed_s / static_cast<double>(bytes);
  else if (!total_bytes && files > 0 && files <= total_)
    left = elapsed_s * static_cast<double>(total_ - files) / static_cast<double>(files);
  if (left >= 0) line += ", ETA " + clock_text(left);
  return line;
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
