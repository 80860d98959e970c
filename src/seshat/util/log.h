// Console log lines in the manual's shape: "14:03:28.745 INFO - Initializing SESHAT ...".
// Thread-safe. INFO/WARN go to stdout (the console the manual shows), ERROR to stderr.
// DEBUG lines appear only when SESHAT_DEBUG is set or set_detail(true) was called.
#pragma once
#include <fmt/format.h>

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace seshat::log {

enum class Level { kDebug, kInfo, kWarn, kError };

void write(Level level, const std::string& message);
// SET OUTPUT JSON: every line goes to stderr, so that stdout holds the JSON alone.
void all_to_stderr(bool on);
bool all_on_stderr();
// A status line drawn in place on stdout (a terminal: the caller checks) below the log
// lines: a log line written while it shows erases it, is written, and draws it again. ""
// erases it.
void status(const std::string& text);
// SET OUTPUT JSON: one JSON document as one line on stdout (doc/json.md). Strings that are
// not valid UTF-8 have each bad byte replaced by U+FFFD (put_text keeps the bytes too).
void json(const nlohmann::json& doc);
// doc[key] = text; when text is not valid UTF-8 (a file name may hold any byte), also
// doc[key + "_hex"] = its bytes in hex, so that nothing is lost.
void put_text(nlohmann::json& doc, const std::string& key, const std::string& text);
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
