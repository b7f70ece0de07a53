#include "common/time.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// 2026-11-28T20:30:05Z is 1795897805 seconds after the epoch.
constexpr int64_t kEpochSeconds = 1795897805;

TimePoint At(int64_t secs, int64_t nanos = 0) {
  return TimePoint(
      std::chrono::duration_cast<TimePoint::duration>(seconds(secs) + nanoseconds(nanos)));
}

TEST(TimeTest, FormatsRfc3339AtEachPrecision) {
  TimePoint t = At(kEpochSeconds, 123456789);
  EXPECT_EQ(FormatRfc3339(t, TimePrecision::kSeconds), "2026-11-28T20:30:05Z");
  EXPECT_EQ(FormatRfc3339(t), "2026-11-28T20:30:05.123Z");
  EXPECT_EQ(FormatRfc3339(t, TimePrecision::kMicros), "2026-11-28T20:30:05.123456Z");
  EXPECT_EQ(FormatRfc3339(t, TimePrecision::kNanos), "2026-11-28T20:30:05.123456789Z");
  EXPECT_EQ(FormatRfc3339(At(0), TimePrecision::kSeconds), "1970-01-01T00:00:00Z");
  // Truncation, never rounding up into the next second.
  EXPECT_EQ(FormatRfc3339(At(kEpochSeconds, 999999999)), "2026-11-28T20:30:05.999Z");
  // Before the epoch.
  EXPECT_EQ(FormatRfc3339(At(-1, 500000000)), "1969-12-31T23:59:59.500Z");
}

TEST(TimeTest, ParsesRfc3339WithOffsetsAndFractions) {
  EXPECT_EQ(ParseRfc3339("2026-11-28T20:30:05Z").value(), At(kEpochSeconds));
  EXPECT_EQ(ParseRfc3339("2026-11-28t20:30:05z").value(), At(kEpochSeconds));
  EXPECT_EQ(ParseRfc3339("2026-11-28T21:30:05+01:00").value(), At(kEpochSeconds));
  EXPECT_EQ(ParseRfc3339("2026-11-28T15:00:05-05:30").value(), At(kEpochSeconds));
  EXPECT_EQ(ParseRfc3339("2026-11-28T20:30:05-00:00").value(), At(kEpochSeconds));
  EXPECT_EQ(ParseRfc3339("2026-11-28T20:30:05.5Z").value(), At(kEpochSeconds, 500000000));
  EXPECT_EQ(ParseRfc3339("2026-11-28T20:30:05.123456789Z").value(), At(kEpochSeconds, 123456789));
  EXPECT_EQ(ParseRfc3339("2024-02-29T00:00:00Z").value(), At(1709164800));  // leap day
}

TEST(TimeTest, Rfc3339RoundTrips) {
  for (int64_t ns : {int64_t{0}, int64_t{1}, int64_t{999999999}, int64_t{120000000}}) {
    TimePoint t = At(kEpochSeconds, ns);
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(t, TimePrecision::kNanos)).value(), t);
  }
}

TEST(TimeTest, RejectsMalformedRfc3339) {
  for (std::string_view bad : {
           "",
           "2026-11-28",                       // date only
           "2026-11-28T20:30Z",                // no seconds
           "2026-11-28 20:30:05Z",             // space separator
           "2026-11-28T20:30:05",              // no offset
           "2026-11-28T20:30:05+0100",         // offset without colon
           "2026-11-28T20:30:05.Z",            // empty fraction
           "2026-11-28T20:30:05.1234567890Z",  // 10 fraction digits
           "2026-13-01T00:00:00Z",             // month 13
           "2026-04-31T00:00:00Z",             // April 31
           "2025-02-29T00:00:00Z",             // not a leap year
           "2026-11-28T24:00:00Z",             // hour 24
           "2026-11-28T23:59:60Z",             // leap second
           "2026-11-28T20:30:05+24:00",        // offset hour
           "2026-11-28T20:30:05Z ",            // trailing space
           "+2026-11-28T20:30:05Z",            // sign
       }) {
    auto r = ParseRfc3339(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

// A TimePoint is 64-bit nanoseconds (1677-09-21 to 2262-04-11): year 9999, which the grammar
// allows, used to overflow it (signed overflow, undefined) instead of being refused.
TEST(TimeTest, Rfc3339OutsideTimePointRangeIsRefused) {
  for (std::string_view bad :
       {"9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z", "0000-01-01T00:00:00Z",
        "1677-09-21T00:00:00Z", "9999-12-31T23:59:59.999999999-23:59"}) {
    auto t = ParseRfc3339(bad);
    ASSERT_FALSE(t) << bad;
    EXPECT_EQ(t.error().code, ErrorCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseAuditTime("9999-12-31T23:59:59.99+0000"));
  // The edges that fit still parse, and round-trip.
  for (std::string_view good : {"2262-04-10T23:59:59.999999999Z", "1677-09-22T00:00:00Z"}) {
    auto t = ParseRfc3339(good);
    ASSERT_TRUE(t) << good;
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(*t, TimePrecision::kNanos)).value(), *t) << good;
  }
}

TEST(TimeTest, AuditTimeFormat) {
  TimePoint t = At(kEpochSeconds, 519999999);
  EXPECT_EQ(FormatAuditTime(t), "2026-11-28T20:30:05.51+0000");
  EXPECT_EQ(ParseAuditTime("2026-11-28T20:30:05.51+0000").value(), At(kEpochSeconds, 510000000));
  EXPECT_EQ(ParseAuditTime("2026-11-28T21:30:05.00+0100").value(), At(kEpochSeconds));
  for (std::string_view bad : {"2026-11-28T20:30:05.5+0000", "2026-11-28T20:30:05.51Z",
                               "2026-11-28T20:30:05.51+00:00", "2026-11-28T20:30:05+0000"}) {
    EXPECT_FALSE(ParseAuditTime(bad).has_value()) << bad;
  }
}

TEST(TimeTest, FormatRfc3339SecondsDropsTheFraction) {
  EXPECT_EQ(FormatRfc3339Seconds(At(kEpochSeconds, 999999999)), "2026-11-28T20:30:05Z");
  EXPECT_EQ(FormatRfc3339Seconds(At(kEpochSeconds)),
            FormatRfc3339(At(kEpochSeconds), TimePrecision::kSeconds));
}

TEST(TimeTest, FormatsHttpDate) {
  // RFC 9110 §5.6.7's example of an IMF-fixdate.
  EXPECT_EQ(FormatHttpDate(At(784111777)), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(At(784111777, 999999999)), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(FormatHttpDate(At(kEpochSeconds)), "Sat, 28 Nov 2026 20:30:05 GMT");
  EXPECT_EQ(FormatHttpDate(At(0)), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(FormatHttpDate(At(-1)), "Wed, 31 Dec 1969 23:59:59 GMT");
}

TEST(TimeTest, CurrentHttpDateIsNow) {
  const std::string before = FormatHttpDate(std::chrono::system_clock::now());
  const std::string current = CurrentHttpDate();
  const std::string after = FormatHttpDate(std::chrono::system_clock::now());
  EXPECT_TRUE(current == before || current == after) << current;
  EXPECT_EQ(CurrentHttpDate().size(), 29u);
}

TEST(TimeTest, ParseHttpDateInvertsFormatAndRefusesOtherForms) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT").value(), At(784111777));
  EXPECT_EQ(ParseHttpDate(FormatHttpDate(At(kEpochSeconds))).value(), At(kEpochSeconds));
  EXPECT_FALSE(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"));  // RFC 850
  EXPECT_FALSE(ParseHttpDate("Sun Nov  6 08:49:37 1994"));        // asctime
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 UTC"));
  EXPECT_FALSE(ParseHttpDate("Sun, 31 Feb 1994 08:49:37 GMT"));
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Foo 1994 08:49:37 GMT"));
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Nov 1994 25:49:37 GMT"));
  EXPECT_FALSE(ParseHttpDate("Xyz, 06 Nov 1994 08:49:37 GMT"));
}

}  // namespace
}  // namespace veil
