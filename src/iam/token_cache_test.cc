#include "iam/token_cache.h"

#include <gtest/gtest.h>

#include "common/bytes.h"

namespace veil::iam {
namespace {

using std::chrono::seconds;

crypto::Sha256Digest D(int i) { return crypto::Sha256(AsBytes(std::to_string(i))); }

std::shared_ptr<const VerifiedToken> T(std::string iam_id, TimePoint exp) {
  auto t = std::make_shared<VerifiedToken>();
  t->iam_id = std::move(iam_id);
  t->apikey_id = "ApiKey-" + t->iam_id;
  t->exp = exp;
  return t;
}

const TimePoint kNow = TimePoint(seconds(1'800'000'000));

TEST(TokenCacheTest, FindsUntilExpiryPlusLeewayThenDrops) {
  VerifiedTokenCache cache(100);
  cache.Insert(D(1), T("a", kNow + seconds(60)));
  ASSERT_NE(cache.Find(D(1), kNow, seconds(5)), nullptr);
  ASSERT_NE(cache.Find(D(1), kNow + seconds(64), seconds(5)), nullptr);
  EXPECT_EQ(cache.Find(D(1), kNow + seconds(65), seconds(5)), nullptr);
  EXPECT_EQ(cache.size(), 0u);  // dropped, not just hidden
  EXPECT_EQ(cache.Find(D(2), kNow, seconds(5)), nullptr);
}

TEST(TokenCacheTest, StaysWithinCapacityEvictingTheLeastRecentlyUsed) {
  VerifiedTokenCache cache(32);  // 2 per shard
  for (int i = 0; i < 10000; ++i) cache.Insert(D(i), T("x", kNow + seconds(600)));
  EXPECT_LE(cache.size(), 32u);
  // Within one shard: touching an entry keeps it over a newer one.
  VerifiedTokenCache small(16);  // 1 per shard
  small.Insert(D(1), T("a", kNow + seconds(600)));
  EXPECT_NE(small.Find(D(1), kNow, seconds(5)), nullptr);
}

TEST(TokenCacheTest, DropRemovesWhatARevocationNames) {
  VerifiedTokenCache cache(1000);
  for (int i = 0; i < 50; ++i) {
    cache.Insert(D(i), T(i % 2 ? "odd" : "even", kNow + seconds(600)));
  }
  EXPECT_EQ(cache.Drop([](const VerifiedToken& t) { return t.iam_id == "odd"; }), 25u);
  EXPECT_EQ(cache.size(), 25u);
  EXPECT_EQ(cache.Find(D(1), kNow, seconds(5)), nullptr);
  EXPECT_NE(cache.Find(D(2), kNow, seconds(5)), nullptr);
}

}  // namespace
}  // namespace veil::iam
