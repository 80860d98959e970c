#include "seshat/util/time.h"

#include <fmt/format.h>
#include <strings.h>

#include <cctype>
#include <chrono>
#include <ctime>

namespace seshat {
namespace {
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

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
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_clock(int64_t ns) {
  std::tm tm = local(ns);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec, millis(ns));
}

std::string format_iso(int64_t ns) {
  std::tm tm = local(ns);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, millis(ns));
}

std::string format_compact(int64_t ns) {
  std::tm tm = local(ns);
  return fmt::format("{:04}{:02}{:02}{:02}{:02}{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string format_listing(int64_t ns) {
  int64_t sec = ns / 1000000000;
  if (ns < 0 && ns % 1000000000 != 0) --sec;
  return format_listing_sec(sec);
}

std::string format_listing_sec(int64_t sec) {
  time_t secs = static_cast<time_t>(sec);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:02}-{}-{:04} {:02}:{:02}:{:02}", tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string format_elapsed(int64_t ns) {
  if (ns < 0) ns = 0;
  int64_t ms = ns / 1000000;
  return fmt::format("{:02}:{:02}:{:02}.{:03}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

namespace {

// Reads exactly `width_min`..`width_max` digits at text[pos]; advances pos.
std::optional<int> digits(const std::string& text, size_t& pos, size_t width_min, size_t width_max) {
  size_t start = pos;
  int v = 0;
  while (pos < text.size() && pos - start < width_max && std::isdigit(static_cast<unsigned char>(text[pos])))
    v = v * 10 + (text[pos++] - '0');
  if (pos - start < width_min) return std::nullopt;
  return v;
}

}  // namespace

std::optional<int> parse_clock(const std::string& text, int& hour, int& minute, int& second) {
  size_t pos = 0;
  auto h = digits(text, pos, 1, 2);
  if (!h || pos >= text.size() || text[pos++] != ':') return std::nullopt;
  auto m = digits(text, pos, 2, 2);
  if (!m) return std::nullopt;
  int parts = 2;
  second = 0;
  if (pos < text.size()) {
    if (text[pos++] != ':') return std::nullopt;
    auto sec = digits(text, pos, 2, 2);
    if (!sec || pos != text.size()) return std::nullopt;
    second = *sec;
    parts = 3;
  }
  hour = *h;
  minute = *m;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  return parts;
}

std::optional<int64_t> parse_listing(const std::string& text, bool end_of_day) {
  // dd-MMM-yyyy, then optionally one blank and HH:MM or HH:MM:SS; nothing else.
  size_t pos = 0;
  auto day = digits(text, pos, 1, 2);
  if (!day || pos >= text.size() || text[pos++] != '-') return std::nullopt;
  if (pos + 4 > text.size() || text[pos + 3] != '-') return std::nullopt;
  std::string mon = text.substr(pos, 3);
  pos += 4;
  auto year = digits(text, pos, 4, 4);
  if (!year) return std::nullopt;
  int month = -1;
  for (int i = 0; i < 12; ++i)
    if (strcasecmp(mon.c_str(), kMonths[i]) == 0) month = i;
  int hour = 0, minute = 0, second = 0, parts = 0;
  if (pos < text.size()) {
    if (text[pos] != ' ') return std::nullopt;
    auto p = parse_clock(text.substr(pos + 1), hour, minute, second);
    if (!p) return std::nullopt;
    parts = *p;
  } else if (end_of_day) {
    hour = 23;
    minute = 59;
    second = 59;
  }
  if (month < 0 || *day < 1 || *day > 31 || *year < 1970 || *year > 2200) return std::nullopt;  // int64 ns ends in 2262
  std::tm tm{};
  tm.tm_mday = *day;
  tm.tm_mon = month;
  tm.tm_year = *year - 1900;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  tm.tm_isdst = -1;
  time_t t = mktime(&tm);
  if (t == static_cast<time_t>(-1)) return std::nullopt;
  if (tm.tm_mday != *day || tm.tm_mon != month) return std::nullopt;  // 31-Feb and the like
  int64_t ns = static_cast<int64_t>(t) * 1000000000;
  // A minute-precision timestamp covers the whole minute (so a backup at 14:07:50 is
  // selected by "14:07"), a second the whole second, a day (with end_of_day) the whole day.
  if (parts == 2) ns += 59999999999;
  if (parts == 3 || (parts == 0 && end_of_day)) ns += 999999999;
  return ns;
}

}  // namespace seshat
