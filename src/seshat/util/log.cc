#include "seshat/util/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "seshat/util/env.h"
#include "seshat/util/printable.h"
#include "seshat/util/time.h"

namespace seshat::log {
namespace {
std::mutex g_mu;
std::atomic<bool> g_detail{env::flag(env::kDebug)};
std::atomic<long> g_warns{0};
std::atomic<long> g_errors{0};
}  // namespace

void set_detail(bool on) { g_detail = on || env::flag(env::kDebug); }
bool detail() { return g_detail; }
long warn_count() { return g_warns; }
long error_count() { return g_errors; }

void write(Level level, const std::string& message) {
  const char* name = "INFO";
  FILE* out = stdout;
  switch (level) {
    case Level::kDebug:
      name = "DEBUG";
      break;
    case Level::kInfo:
      break;
    case Level::kWarn:
      name = "WARN";
      ++g_warns;
      break;
    case Level::kError:
      name = "ERROR";
      out = stderr;
      ++g_errors;
      break;
  }
  // Messages carry file names and server answers: escaped, so one line stays one line.
  std::string line = format_clock(now_ns()) + " " + name + " - " + printable(message) + "\n";
  std::lock_guard<std::mutex> lock(g_mu);
  if (out == stderr) std::fflush(stdout);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace seshat::log
