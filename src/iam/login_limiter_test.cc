#include "iam/login_limiter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <optional>
#include <thread>
#include <vector>

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

// A refused key: begin an attempt and keep its token.
bool Refuse(LoginRateLimiter& limiter, std::string_view client) {
  auto attempt = limiter.Begin(client);
  if (!attempt) return false;
  attempt->Refused();
  return true;
}

// How long `client` must wait, or 0 s when it may try now (the probe's token is given back).
seconds WaitOf(LoginRateLimiter& limiter, std::string_view client) {
  auto attempt = limiter.Begin(client);
  return attempt ? seconds(0) : attempt.error();
}

TEST(LoginLimiterTest, RepeatedFailuresFromOneClientAreSlowedDownOthersAreNot) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Refuse(limiter, "10.0.0.1")) << i;
  EXPECT_EQ(WaitOf(limiter, "10.0.0.1"), seconds(10));
  EXPECT_EQ(WaitOf(limiter, "10.0.0.2"), seconds(0));
  // One token back after the refill interval, and only one.
  clock.Advance(seconds(10));
  EXPECT_TRUE(Refuse(limiter, "10.0.0.1"));
  EXPECT_FALSE(limiter.Begin("10.0.0.1"));
  clock.Advance(seconds(3));
  EXPECT_EQ(WaitOf(limiter, "10.0.0.1"), seconds(7));
}

TEST(LoginLimiterTest, SuccessesCostNothingAndBucketsRefillToTheBurst) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(limiter.Begin("10.0.0.1")) << i;  // given back
  EXPECT_EQ(limiter.tracked_clients(), 0u);  // a full bucket is not kept
  EXPECT_TRUE(Refuse(limiter, "10.0.0.1"));
  clock.Advance(seconds(3600));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Refuse(limiter, "10.0.0.1"));
  EXPECT_FALSE(limiter.Begin("10.0.0.1"));  // the burst never exceeds 3
}

// The attack of issue 11: N guesses sent at once all pass a check that only looks at the bucket
// (nothing is recorded until their keys are refused). Here every guess is in flight (begun, its
// key not yet judged) when the others start: only `burst` of them may go on, the rest are
// refused at once, and after the refusals the client waits.
TEST(LoginLimiterTest, ParallelLoginGuessesAreAllCounted) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  constexpr int kGuesses = 32;
  std::barrier all_begun(kGuesses);
  std::atomic<int> admitted = 0;
  std::atomic<int> turned_away = 0;
  std::vector<std::thread> guesses;
  for (int i = 0; i < kGuesses; ++i) {
    guesses.emplace_back([&] {
      auto attempt = limiter.Begin("10.0.0.7");
      (attempt ? admitted : turned_away).fetch_add(1);
      all_begun.arrive_and_wait();  // every guess is in flight before any key is judged
      if (attempt) attempt->Refused();
    });
  }
  for (std::thread& t : guesses) t.join();
  EXPECT_EQ(admitted.load(), 3);
  EXPECT_EQ(turned_away.load(), kGuesses - 3);
  EXPECT_EQ(WaitOf(limiter, "10.0.0.7"), seconds(10));
}

TEST(LoginLimiterTest, AnAttemptGivenBackIsNotCountedTwice) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  std::optional<LoginAttempt> a;
  a.emplace(*limiter.Begin("10.0.0.1"));
  LoginAttempt moved = std::move(*a);
  a.reset();  // the moved-from attempt gives nothing back
  EXPECT_TRUE(Refuse(limiter, "10.0.0.1"));
  EXPECT_TRUE(Refuse(limiter, "10.0.0.1"));
  EXPECT_FALSE(limiter.Begin("10.0.0.1"));  // 3 tokens: two refused, one still held
}

TEST(LoginLimiterTest, MemoryIsBounded) {
  FakeClock clock;
  LoginRateLimiter limiter(clock, Options());
  for (int i = 0; i < 5000; ++i)
    Refuse(limiter, "10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
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
  for (int i = 0; i < 3; ++i) Refuse(limiter, "2001:db8:1:2::" + std::to_string(i + 1));
  EXPECT_FALSE(limiter.Begin("2001:db8:1:2::99"));
  EXPECT_TRUE(limiter.Begin("2001:db8:1:3::1"));
}

}  // namespace
}  // namespace veil::iam
