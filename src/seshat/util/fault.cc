#include "seshat/util/fault.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "seshat/util/env.h"

namespace seshat::fault {
namespace detail {
std::atomic<bool> g_enabled{false};

namespace {
std::mutex g_mu;
std::map<std::string, long, std::less<>> g_counts;
std::map<std::string, std::pair<long, bool>, std::less<>> g_kill_at;  // point -> (n, stop instead of kill)
int g_log_fd = -1;
}  // namespace

void passed(std::string_view point) {
  std::lock_guard<std::mutex> lk(g_mu);
  auto it = g_counts.find(point);
  if (it == g_counts.end()) it = g_counts.emplace(std::string(point), 0).first;
  long n = ++it->second;
  if (g_log_fd >= 0) {
    std::string line = fmt::format("{} {}\n", point, n);
    (void)!::write(g_log_fd, line.data(), line.size());
  }
  auto k = g_kill_at.find(point);
  if (k != g_kill_at.end() && k->second.first == n) {
    if (k->second.second) {
      std::raise(SIGSTOP);  // the test changes the world, then sends SIGCONT
      return;
    }
    std::raise(SIGKILL);
    ::_exit(137);  // not reached
  }
}
}  // namespace detail

void init_from_env() {
  using namespace detail;
  auto spec_var = env::get(env::kCrashAt);
  auto log_var = env::get(env::kCrashLog);
  const char* spec = spec_var ? spec_var->c_str() : nullptr;
  const char* log = log_var ? log_var->c_str() : nullptr;
  std::lock_guard<std::mutex> lk(g_mu);
  if (spec) {
    std::string s(spec);
    size_t pos = 0;
    while (pos <= s.size()) {
      size_t end = s.find(',', pos);
      if (end == std::string::npos) end = s.size();
      std::string item = s.substr(pos, end - pos);
      bool stop = item.ends_with("=stop");
      if (stop) item.resize(item.size() - 5);
      size_t colon = item.rfind(':');
      if (colon != std::string::npos && colon > 0) {
        long n = std::strtol(item.c_str() + colon + 1, nullptr, 10);
        if (n > 0) g_kill_at[item.substr(0, colon)] = {n, stop};
      }
      pos = end + 1;
    }
  }
  if (log && *log) g_log_fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  g_enabled.store(!g_kill_at.empty() || g_log_fd >= 0);
}

}  // namespace seshat::fault
