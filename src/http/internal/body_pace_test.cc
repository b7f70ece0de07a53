#include "http/internal/body_pace.h"

#include <gtest/gtest.h>

namespace veil::http::internal {
namespace {

using namespace std::chrono_literals;
using Clock = BodyPace::Clock;

TEST(BodyPaceTest, StallLimitBindsWhileTheClientKeepsUp) {
  const Clock::time_point t0{};
  BodyPace pace(t0, 30s, 10s, 1000);
  EXPECT_EQ(pace.Deadline(t0), t0 + 10s);
  pace.Received(100000);  // 100 s of credit at 1000 B/s
  EXPECT_EQ(pace.Deadline(t0 + 50s), t0 + 60s);
  EXPECT_FALSE(pace.TooSlow(t0 + 60s));
}

TEST(BodyPaceTest, ATrickleRunsOutOfCreditAfterTheGrace) {
  const Clock::time_point t0{};
  BodyPace pace(t0, 30s, 10s, 1000);
  // One byte every 9 s never stalls 10 s, but earns only 1 ms of credit each time.
  Clock::time_point now = t0;
  for (int i = 0; i < 3; ++i) {
    now += 9s;
    pace.Received(1);
  }
  EXPECT_EQ(pace.Deadline(now), t0 + 30s + 3ms);
  EXPECT_TRUE(pace.TooSlow(t0 + 30s + 3ms));
  EXPECT_FALSE(pace.TooSlow(t0 + 30s));
}

TEST(BodyPaceTest, NoMinimumRateLeavesOnlyTheStallLimit) {
  const Clock::time_point t0{};
  BodyPace pace(t0, 1s, 10s, 0);
  EXPECT_EQ(pace.Deadline(t0 + 1h), t0 + 1h + 10s);
  EXPECT_FALSE(pace.TooSlow(t0 + 1h));
}

}  // namespace
}  // namespace veil::http::internal
