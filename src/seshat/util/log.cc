#include "seshat/util/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "seshat/util/bytes.h"
#include "seshat/util/env.h"
#include "seshat/util/printable.h"
#include "seshat/util/time.h"

namespace seshat::log {
namespace {
std::mutex g_mu;
std::atomic<bool> g_detail{env::flag(env::kDebug)};
std::atomic<long> g_warns{0};
std::atomic<long> g_errors{0};
std::atomic<bool> g_all_to_stderr{false};
std::string g_status;  // under g_mu
constexpr const char* kErase = "\r\033[K";
}  // namespace

void all_to_stderr(bool on) { g_all_to_stderr = on; }
bool all_on_stderr() { return g_all_to_stderr; }

void status(const std::string& text) {
  std::lock_guard<std::mutex> lock(g_mu);
  if (text.empty() && g_status.empty()) return;
  g_status = text;
  std::fputs(kErase, stdout);
  std::fwrite(g_status.data(), 1, g_status.size(), stdout);
  std::fflush(stdout);
}

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
  if (g_all_to_stderr) out = stderr;
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_status.empty()) std::fputs(kErase, stdout);
  if (out == stderr) std::fflush(stdout);
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
  if (!g_status.empty()) {
    std::fwrite(g_status.data(), 1, g_status.size(), stdout);
    std::fflush(stdout);
  }
}

void json(const nlohmann::json& doc) {
  std::string line = doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_status.empty()) std::fputs(kErase, stdout);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  if (!g_status.empty()) {
    std::fwrite(g_status.data(), 1, g_status.size(), stdout);
    std::fflush(stdout);
  }
}

void put_text(nlohmann::json& doc, const std::string& key, const std::string& text) {
  doc[key] = text;
  if (!valid_utf8(text)) doc[key + "_hex"] = to_hex(text);
}

}  // namespace seshat::log
