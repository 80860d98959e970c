#include "seshat/util/time.h"

#include <gtest/gtest.h>

#include <string>

#include "../test_support.h"

namespace seshat {
namespace {

using testing_support::ScopedTz;

constexpr int64_t kSec = 1000000000;
// 2019-07-26T14:07:00Z.
constexpr int64_t k20190726_1407 = 1564150020;

TEST(Time, NowIsPlausible) {
  int64_t a = now_ns();
  EXPECT_GT(a, int64_t{1577836800} * kSec);  // after 2020-01-01
  EXPECT_LT(a, int64_t{4102444800} * kSec);  // before 2100-01-01
}

TEST(Time, FormatsInUtc) {
  ScopedTz tz("UTC");
  int64_t ns = (k20190726_1407 + 50) * kSec + 897000000;
  EXPECT_EQ(format_clock(ns), "14:07:50.897");
  EXPECT_EQ(format_iso(ns), "2019-07-26T14:07:50.897");
  EXPECT_EQ(format_compact(ns), "20190726140750");
  EXPECT_EQ(format_listing(ns), "26-Jul-2019 14:07:50");
}

TEST(Time, FormatsBeforeTheEpoch) {
  ScopedTz tz("UTC");
  EXPECT_EQ(format_iso(-1), "1969-12-31T23:59:59.999");
  EXPECT_EQ(format_clock(-kSec), "23:59:59.000");
  EXPECT_EQ(format_iso(0), "1970-01-01T00:00:00.000");
}

TEST(Time, FormatsUseLocalTime) {
  ScopedTz tz("EST5EDT,M3.2.0,M11.1.0");
  // 14:07 UTC in July is 10:07 EDT.
  EXPECT_EQ(format_listing(k20190726_1407 * kSec), "26-Jul-2019 10:07:00");
}

TEST(FormatElapsed, Values) {
  EXPECT_EQ(format_elapsed(0), "00:00:00.000");
  EXPECT_EQ(format_elapsed(243425LL * 1000000), "00:04:03.425");
  EXPECT_EQ(format_elapsed(999999), "00:00:00.000");  // truncates below a millisecond
  EXPECT_EQ(format_elapsed(kSec), "00:00:01.000");
  EXPECT_EQ(format_elapsed((3600LL + 59 * 60 + 59) * kSec + 999000000), "01:59:59.999");
  EXPECT_EQ(format_elapsed(100LL * 3600 * kSec), "100:00:00.000");
  EXPECT_EQ(format_elapsed(-5 * kSec), "00:00:00.000");
}

TEST(ParseListing, MinutePrecisionCoversTheWholeMinute) {
  ScopedTz tz("UTC");
  auto t = parse_listing("26-Jul-2019 14:07");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, k20190726_1407 * kSec + 59 * kSec + 999999999);
}

TEST(ParseListing, WithSeconds) {
  ScopedTz tz("UTC");
  auto t = parse_listing("26-Jul-2019 14:07:50");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(*t, (k20190726_1407 + 50) * kSec + 999999999);
}

TEST(ParseListing, DateOnly) {
  ScopedTz tz("UTC");
  const int64_t midnight = (k20190726_1407 - 14 * 3600 - 7 * 60) * kSec;
  auto start = parse_listing("26-Jul-2019");
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(*start, midnight);
  auto end = parse_listing("26-Jul-2019", true);
  ASSERT_TRUE(end.has_value());
  EXPECT_EQ(*end, midnight + 86400 * kSec - 1);
  // end_of_day only matters when no time is given.
  EXPECT_EQ(parse_listing("26-Jul-2019 14:07", true), parse_listing("26-Jul-2019 14:07", false));
}

TEST(ParseListing, MonthIsCaseInsensitive) {
  ScopedTz tz("UTC");
  auto a = parse_listing("26-Jul-2019 14:07");
  EXPECT_EQ(parse_listing("26-jul-2019 14:07"), a);
  EXPECT_EQ(parse_listing("26-JUL-2019 14:07"), a);
  EXPECT_EQ(parse_listing("26-jUL-2019 14:07"), a);
}

TEST(ParseListing, EveryMonthName) {
  ScopedTz tz("UTC");
  const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  for (int i = 0; i < 12; ++i) {
    std::string text = std::string("15-") + months[i] + "-2021 12:30:15";
    auto t = parse_listing(text);
    ASSERT_TRUE(t.has_value()) << text;
    EXPECT_EQ(format_listing(*t), text);
  }
}

TEST(ParseListing, RejectsBadInput) {
  ScopedTz tz("UTC");
  for (const char* bad : {"", "garbage", "26-Jux-2019", "26-July-2019", "26/Jul/2019", "0-Jul-2019", "32-Jul-2019",
                          "26-Jul-1969", "26-Jul-19", "26-Jul-2019 24:00", "26-Jul-2019 14:60", "26-Jul-2019 14",
                          "26-Jul-2019 14:07:61", "26-Jul-2019 14:07:50x", "Jul-26-2019"}) {
    EXPECT_FALSE(parse_listing(bad).has_value()) << "'" << bad << "'";
    EXPECT_FALSE(parse_listing(bad, true).has_value()) << "'" << bad << "' (end_of_day)";
  }
}

// The header documents exactly three forms; text after them is not one of them.
TEST(ParseListing, RejectsTrailingGarbage) {
  ScopedTz tz("UTC");
  for (const char* bad : {"26-Jul-2019junk", "26-Jul-2019 junk", "26-Jul-2019 14:07junk", "26-Jul-2019 14:07 junk"}) {
    EXPECT_FALSE(parse_listing(bad).has_value()) << "'" << bad << "' was accepted";
  }
}

// A day that does not exist in the month must not be silently moved into the next month.
TEST(ParseListing, RejectsDaysPastTheEndOfTheMonth) {
  ScopedTz tz("UTC");
  for (const char* bad : {"31-Feb-2019", "30-Feb-2020", "29-Feb-2019", "31-Apr-2019", "31-Jun-2019 10:00"}) {
    auto t = parse_listing(bad);
    EXPECT_FALSE(t.has_value()) << "'" << bad << "' was accepted as " << (t ? format_listing(*t) : "");
  }
  EXPECT_TRUE(parse_listing("29-Feb-2020").has_value());  // a leap year
}

TEST(ParseListing, FormatOfParseRoundTrips) {
  for (const char* zone : {"UTC", "EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3"}) {
    ScopedTz tz(zone);
    for (const char* text : {"26-Jul-2019 14:07:00", "01-Jan-2000 00:00:59", "31-Dec-2030 23:59:01",
                             "29-Feb-2024 06:05:30", "15-Jan-1971 12:00:00"}) {
      auto t = parse_listing(text);
      ASSERT_TRUE(t.has_value()) << text << " in " << zone;
      EXPECT_EQ(format_listing(*t), text) << zone;
    }
  }
}

TEST(ParseListing, ParseOfFormatSelectsTheSameSecond) {
  ScopedTz tz("CET-1CEST,M3.5.0,M10.5.0/3");
  // A backup timestamp is selected by the listing text it is printed with.
  int64_t backup = (k20190726_1407 + 50) * kSec + 897000000;
  auto t = parse_listing(format_listing(backup));
  ASSERT_TRUE(t.has_value());
  EXPECT_GE(*t, backup);
  EXPECT_LT(*t, backup + kSec);
}

}  // namespace
}  // namespace seshat
