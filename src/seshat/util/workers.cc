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
}  // namespace

void set_live_progress(bool on) { g_live = on; }
bool live_progress() { return g_live; }

// The thread that redraws the status line, and what the workers are on.
struct Progress::Live {
  Progress& p;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::map<std::thread::id, std::pair<std::string, std::chrono::steady_clock::time_point>> current;  // under mu
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
      for (auto& [id, c] : current)
        if (c.second < since) {
          since = c.second;
          slow = &c.first;
        }
      // One row of the terminal, or erasing it would leave the rest behind; a long name
      // keeps its end (the file's own name).
      winsize ws{};
      size_t width = ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col - 1u : 79u;
      if (slow && now - since > seconds(1) && line.size() + 12 < width) {
        std::string name = printable(*slow);
        size_t room = width - line.size() - 2;
        if (name.size() > room) name = "..." + name.substr(name.size() - (room - 3));
        line += "  " + name;
      }
      lk.unlock();  // the workers' begin() and end() do not wait for the terminal
      log::status(line.size() > width ? line.substr(0, width - 3) + "..." : line);
      lk.lock();
    }
  }
};

Progress::Progress(uint64_t total, uint64_t total_bytes, std::string what)
    : total_(total), total_bytes_(total_bytes), what_(std::move(what)) {
  if (g_live && !what_.empty()) live_ = std::make_unique<Live>(*this);
}

Progress::~Progress() = default;

void Progress::begin(const std::string& name) {
  if (!live_) return;
  std::lock_guard<std::mutex> lk(live_->mu);
  live_->current[std::this_thread::get_id()] = {name, std::chrono::steady_clock::now()};
}

void Progress::end() {
  if (!live_) return;
  std::lock_guard<std::mutex> lk(live_->mu);
  live_->current.erase(std::this_thread::get_id());
}

std::string Progress::status_line(double elapsed_s, double rate) const {
  uint64_t files = done_.load(), bytes = bytes_.load();
  std::string line = fmt::format("{}: {}/{} files", what_, files, total_);
  if (total_bytes_) line += fmt::format(", {} of {}", human_size(bytes), human_size(total_bytes_));
  line += fmt::format(", {}/s", human_size(static_cast<uint64_t>(rate)));
  // The time left from the bytes when they are known, else from the files.
  double left = -1;
  if (total_bytes_ && rate > 0 && bytes <= total_bytes_)
    left = static_cast<double>(total_bytes_ - bytes) / rate;
  else if (!total_bytes_ && files > 0 && files <= total_)
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
