// Time helpers. Times are int64 nanoseconds since the Unix epoch, UTC unless said otherwise;
// user-facing formats use local time like the manual ("26-Jul-2019 14:07").
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace seshat {

int64_t now_ns();
// "14:03:28.745" (local time).
std::string format_clock(int64_t ns);
// "2019-07-26T14:07:50.897" (local time), as in "Creating backup timestamp: ...".
std::string format_iso(int64_t ns);
// "20190726140750" (local time), for container names.
std::string format_compact(int64_t ns);
// "26-Jul-2019 14:07:50" (local time): listings name backups and times to the second, in
// the manual's listing and RESTORE TIMESTAMP form (which also reads "26-Jul-2019 14:07").
std::string format_listing(int64_t ns);
// The same for a time in seconds (any time_t: a file's mtime may be past 2262).
std::string format_listing_sec(int64_t sec);
// "00:04:03.425" from a duration.
std::string format_elapsed(int64_t ns);
// Parses "dd-MMM-yyyy", "dd-MMM-yyyy HH:MM" or "dd-MMM-yyyy HH:MM:SS" (local time, month
// name case-insensitive). Without a time, end_of_day picks 23:59:59 instead of 00:00:00.
std::optional<int64_t> parse_listing(const std::string& text, bool end_of_day = false);
// Parses "HH:MM" or "HH:MM:SS" strictly; returns the number of parts (2 or 3).
std::optional<int> parse_clock(const std::string& text, int& hour, int& minute, int& second);

}  // namespace seshat
