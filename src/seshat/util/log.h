// Console log lines in the manual's shape: "14:03:28.745 INFO - Initializing SESHAT ...".
// Thread-safe. INFO/WARN go to stdout (the console the manual shows), ERROR to stderr.
// DEBUG lines appear only when SESHAT_DEBUG is set or set_detail(true) was called.
#pragma once
#include <fmt/format.h>

#include <string>

namespace seshat::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void write(Level level, const std::string& message);
void set_detail(bool on);
bool detail();
// Counts of WARN and ERROR lines since start (for summaries and exit status).
long warn_count();
long error_count();

template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kWarn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (detail()) write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace seshat::log
