#include "iam/hmac_credentials.h"

#include <gtest/gtest.h>

#include <set>

#include "common/bytes.h"

namespace veil::iam {
namespace {

using std::chrono::seconds;

const TimePoint kNow = TimePoint(seconds(1'800'000'000));

bool LowerHex(std::span<const uint8_t> text) {
  for (uint8_t c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

HmacCredential Credential(const std::string& access_key_id, const std::string& iam_id,
                          const std::string& account = "acct") {
  HmacCredential c;
  c.access_key_id = access_key_id;
  c.secret_access_key = SecretBytes(AsBytes("secret-of-" + access_key_id));
  c.iam_id = iam_id;
  c.account_id = account;
  c.resource_key_id = "key-" + access_key_id;
  return c;
}

std::string Id(int i) {
  std::string id = std::to_string(i);
  return std::string(kAccessKeyIdSize - id.size(), '0') + id;
}

TEST(HmacCredentialsTest, KeysHaveIbmsShapeAndAreFresh) {
  OsRandom random;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    HmacKeys keys = GenerateHmacKeys(random);
    EXPECT_TRUE(IsAccessKeyId(keys.access_key_id)) << keys.access_key_id;
    ASSERT_EQ(keys.secret_access_key.size(), kSecretAccessKeySize);
    EXPECT_TRUE(LowerHex(keys.secret_access_key.Reveal()));
    EXPECT_TRUE(seen.insert(keys.access_key_id).second);
    EXPECT_TRUE(seen.insert(std::string(AsStringView(keys.secret_access_key.Reveal()))).second);
  }
  EXPECT_FALSE(IsAccessKeyId("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(IsAccessKeyId("0123456789abcdef0123456789abcde"));
  EXPECT_FALSE(IsAccessKeyId("0123456789abcdef0123456789abcdeg"));
}

TEST(HmacCredentialsTest, PayloadRoundTripsAndIsBoundToItsAccessKeyId) {
  OsRandom random;
  HmacKeys keys = GenerateHmacKeys(random);
  SecretBytes payload = HmacPayload(keys);
  ASSERT_EQ(payload.size(), kHmacPayloadSize);
  EXPECT_EQ(payload.Reveal()[0], kHmacPayloadVersion);
  auto secret = SecretOfHmacPayload(payload, keys.access_key_id);
  ASSERT_TRUE(secret) << secret.error().ToString();
  EXPECT_TRUE(secret->Equals(keys.secret_access_key));

  // A secret sealed for another access key id (a blob moved to another row) is refused.
  HmacKeys other = GenerateHmacKeys(random);
  EXPECT_EQ(SecretOfHmacPayload(payload, other.access_key_id).error().code, ErrorCode::kDataLoss);
  SecretBytes versioned = payload.Clone();
  versioned.RevealMutable()[0] = 2;
  EXPECT_EQ(SecretOfHmacPayload(versioned, keys.access_key_id).error().code, ErrorCode::kDataLoss);
  SecretBytes shorter(payload.Reveal().first(kHmacPayloadSize - 1));
  EXPECT_EQ(SecretOfHmacPayload(shorter, keys.access_key_id).error().code, ErrorCode::kDataLoss);
  // Messages never carry the secret.
  auto refused = SecretOfHmacPayload(payload, other.access_key_id);
  EXPECT_EQ(refused.error().message.find(AsStringView(keys.secret_access_key.Reveal())),
            std::string::npos);
}

TEST(HmacCacheTest, KeepsAnEntryForItsTtlThenReadsAgain) {
  HmacCredentialCache cache({.capacity = 8, .ttl = seconds(60)});
  cache.Insert(Credential(Id(1), "iam-a"), kNow, cache.generation());
  auto hit = cache.Find(Id(1), kNow + seconds(59));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->iam_id, "iam-a");
  EXPECT_TRUE(hit->secret_access_key.Equals(AsBytes("secret-of-" + Id(1))));
  EXPECT_FALSE(cache.Find(Id(1), kNow + seconds(60)));
  EXPECT_EQ(cache.size(), 0u);  // dropped, not just hidden
  // A clock set back does not make an old entry young.
  cache.Insert(Credential(Id(2), "iam-b"), kNow, cache.generation());
  EXPECT_FALSE(cache.Find(Id(2), kNow - seconds(1)));
}

TEST(HmacCacheTest, StaysWithinCapacityEvictingTheLeastRecentlyUsed) {
  HmacCredentialCache cache({.capacity = 3, .ttl = seconds(60)});
  for (int i = 1; i <= 3; ++i) cache.Insert(Credential(Id(i), "iam"), kNow, cache.generation());
  ASSERT_TRUE(cache.Find(Id(1), kNow));  // 1 is now the most recently used
  cache.Insert(Credential(Id(4), "iam"), kNow, cache.generation());
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.Find(Id(1), kNow));
  EXPECT_FALSE(cache.Find(Id(2), kNow));
  EXPECT_TRUE(cache.Find(Id(3), kNow));
  EXPECT_TRUE(cache.Find(Id(4), kNow));
  for (int i = 0; i < 1000; ++i) cache.Insert(Credential(Id(i), "iam"), kNow, cache.generation());
  EXPECT_EQ(cache.size(), 3u);
}

TEST(HmacCacheTest, RevocationsDropWhatTheyNameAndStaleReadsAreNotKept) {
  HmacCredentialCache cache;
  cache.Insert(Credential(Id(1), "iam-a", "acct-1"), kNow, cache.generation());
  cache.Insert(Credential(Id(2), "iam-b", "acct-1"), kNow, cache.generation());
  cache.Insert(Credential(Id(3), "iam-c", "acct-2"), kNow, cache.generation());
  cache.Revoke("apikey ApiKey-x");  // names no credential
  EXPECT_EQ(cache.size(), 3u);
  cache.Revoke("identity iam-a");
  EXPECT_FALSE(cache.Find(Id(1), kNow));
  EXPECT_TRUE(cache.Find(Id(2), kNow));
  cache.Revoke("account acct-1");
  EXPECT_FALSE(cache.Find(Id(2), kNow));
  EXPECT_TRUE(cache.Find(Id(3), kNow));
  // A lookup that read the store before a revocation does not put its result in.
  const uint64_t before = cache.generation();
  cache.Revoke("identity iam-d");
  cache.Insert(Credential(Id(4), "iam-d"), kNow, before);
  EXPECT_FALSE(cache.Find(Id(4), kNow));
}

}  // namespace
}  // namespace veil::iam
