#include "seshat/util/time.h"

#include <fmt/format.h>
#include <strings.h>

#include <cctype>
#include <chrono>
#include <ctime>

namespace seshat {
namespace {
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::tm local(int64_t ns) {
  time_t secs = static_cast<time_t>(ns / 1000000000);
  if (ns < 0 && ns % 1000000000 != 0) --secs;
  std::tm tm{};
  localtime_r(&secs, &tm);
  return tm;
}
int millis(int64_t ns) { return static_cast<int>(((ns % 1000000000) + 1000000000) % 1000000000 / 1000000); }
}  // namespace

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_clock(int64_t ns) {
  std::tm tm = local(ns);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, millis(ns));
}

std::string format_iso(int64_t ns) {
  std::tm tm = local(ns);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis(ns));
}

std::string format_compact(int64_t ns) {
  std::tm tm = local(ns);
  return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string format_listing(int64_t ns) {
  std::tm tm = local(ns);
  return fmt::format("{:02}-{}-{:04} {:02}:{:02}", tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                     tm.tm_hour, tm.tm_min);
}

std::string format_elapsed(int64_t ns) {
  if (ns < 0) ns = 0;
  int64_t ms = ns / 1000000;
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

std::optional<int64_t> parse_listing(const std::string& text, bool end_of_day) {
  int day = 0, year = 0, hour = 0, minute = 0, second = 0;
  char mon[4] = {0};
  char tail = 0;
  int n = std::sscanf(text.c_str(), "%2d-%3[A-Za-z]-%4d %2d:%2d:%2d%c", &day, mon, &year, &hour,
                      &minute, &second, &tail);
  if (n != 3 && n != 5 && n != 6) return std::nullopt;
  int month = -1;
  for (int i = 0; i < 12; ++i)
    if (strcasecmp(mon, kMonths[i]) == 0) month = i;
  if (month < 0 || day < 1 || day > 31 || year < 1970 || hour > 23 || minute > 59 || second > 60)
    return std::nullopt;
  if (n == 3 && end_of_day) {
    hour = 23; minute = 59; second = 59;
  }
  std::tm tm{};
  tm.tm_mday = day; tm.tm_mon = month; tm.tm_year = year - 1900;
  tm.tm_hour = hour; tm.tm_min = minute; tm.tm_sec = second; tm.tm_isdst = -1;
  time_t t = mktime(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  int64_t ns = static_cast<int64_t>(t) * 1000000000;
  // A minute-precision timestamp covers the whole minute (so a backup at 14:07:50 is
  // selected by "14:07"), a day covers the whole day.
  if (n == 5) ns += 59999999999;
  if (n == 6 || (n == 3 && end_of_day)) ns += 999999999;
  return ns;
}

}  // namespace seshat
