#include "common/clock.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock clock;
  EXPECT_EQ(FormatRfc3339(clock.Now(), TimePrecision::kSeconds), "2026-01-01T00:00:00Z");
  const TimePoint t0 = clock.Now();
  const MonotonicTime m0 = clock.Monotonic();
  EXPECT_EQ(clock.Now(), t0);

  clock.Advance(std::chrono::seconds(90));
  EXPECT_EQ(clock.Now() - t0, std::chrono::seconds(90));
  EXPECT_EQ(clock.Monotonic() - m0, std::chrono::seconds(90));

  // Setting wall time backwards leaves the monotonic clock alone.
  clock.Set(t0 - std::chrono::hours(1));
  EXPECT_EQ(clock.Now(), t0 - std::chrono::hours(1));
  EXPECT_EQ(clock.Monotonic() - m0, std::chrono::seconds(90));
}

TEST(ClockTest, SystemClockIsCloseToRealTime) {
  SystemClock clock;
  const auto before = std::chrono::system_clock::now();
  const TimePoint now = clock.Now();
  EXPECT_GE(now, before);
  EXPECT_LT(now - before, std::chrono::seconds(5));
  const MonotonicTime m1 = clock.Monotonic();
  EXPECT_GE(clock.Monotonic(), m1);
}

}  // namespace
}  // namespace veil
