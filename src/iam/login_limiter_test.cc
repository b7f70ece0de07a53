#include "iam/login_limiter.h"

#include <gtest/gtest.h>

namespace veil::iam {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LoginLimiterOptions Options() {
  LoginLimiterOptions o;
  o.burst = 3;
  o.refill_interval = seconds(10);
  o.max_clients = 100;
  return o;
}

TEST(LoginLimiterTest, RepeatedFailuresFromOneClientAreSlowedDownOthersAreNot) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(limiter.Check("10.0.0.1")) << i;
    limiter.RecordFailure("10.0.0.1");
  }
  auto wait = limiter.Check("10.0.0.1");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, seconds(10));
  EXPECT_FALSE(limiter.Check("10.0.0.2"));
  // One token back after the refill interval, and only one.
  clock.Advance(seconds(10));
  EXPECT_FALSE(limiter.Check("10.0.0.1"));
  limiter.RecordFailure("10.0.0.1");
  EXPECT_TRUE(limiter.Check("10.0.0.1"));
  clock.Advance(seconds(3));
  EXPECT_EQ(*limiter.Check("10.0.0.1"), seconds(7));
}

TEST(LoginLimiterTest, SuccessesCostNothingAndBucketsRefillToTheBurst) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(limiter.Check("10.0.0.1"));
  limiter.RecordFailure("10.0.0.1");
  clock.Advance(seconds(3600));
  for (int i = 0; i < 3; ++i) limiter.RecordFailure("10.0.0.1");
  EXPECT_TRUE(limiter.Check("10.0.0.1"));  // the burst never exceeds 3
}

TEST(LoginLimiterTest, MemoryIsBounded) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  for (int i = 0; i < 5000; ++i)
    limiter.RecordFailure("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  EXPECT_LE(limiter.tracked_clients(), 100u);
}

TEST(LoginLimiterTest, Ipv6ClientsAreGroupedBySlash64) {
  EXPECT_EQ(LoginRateLimiter::ClientKey("2001:db8:1:2:aaaa::1"), "v6:2001:db8:1:2::/64");
  EXPECT_EQ(LoginRateLimiter::ClientKey("2001:DB8:1:2:bbbb:cccc:dddd:eeee"),
            "v6:2001:db8:1:2::/64");
  EXPECT_EQ(LoginRateLimiter::ClientKey("2001:db8::1"), "v6:2001:db8:0:0::/64");
  EXPECT_EQ(LoginRateLimiter::ClientKey("::1"), "v6:0:0:0:0::/64");
  EXPECT_EQ(LoginRateLimiter::ClientKey("::ffff:10.0.0.1"), "10.0.0.1");
  EXPECT_EQ(LoginRateLimiter::ClientKey("10.0.0.1"), "10.0.0.1");
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  for (int i = 0; i < 3; ++i) limiter.RecordFailure("2001:db8:1:2::" + std::to_string(i + 1));
  EXPECT_TRUE(limiter.Check("2001:db8:1:2::99"));
  EXPECT_FALSE(limiter.Check("2001:db8:1:3::1"));
}

}  // namespace
}  // namespace veil::iam
