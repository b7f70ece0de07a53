#include "iam/api_key.h"

#include <gtest/gtest.h>

#include <string>

#include "common/bytes.h"
#include "common/encoding.h"

namespace veil::iam {
namespace {

std::string Text(const SecretBytes& s) { return std::string(AsStringView(s.Reveal())); }

TEST(ApiKeyTest, GeneratedValuesParseBackToTheirIdAndSecret) {
  OsRandom random;
  GeneratedApiKey key = GenerateApiKey(random);
  EXPECT_TRUE(key.id.starts_with("ApiKey-"));
  ASSERT_EQ(key.value.size(), kApiKeyTextSize);
  auto parsed = ParseApiKey(Text(key.value));
  ASSERT_TRUE(parsed) << parsed.error().ToString();
  EXPECT_EQ(parsed->id, key.id);
  EXPECT_TRUE(parsed->secret.Equals(key.secret));
  // The value is base64url of version 1 || uuid || secret.
  auto raw = Base64UrlDecode(Text(key.value));
  ASSERT_TRUE(raw);
  ASSERT_EQ(raw->size(), 49u);
  EXPECT_EQ((*raw)[0], kApiKeyFormatVersion);
  EXPECT_NE(GenerateApiKey(random).id, key.id);
}

TEST(ApiKeyTest, MalformedValuesAreRefusedWithoutQuotingThem) {
  OsRandom random;
  std::string good = Text(GenerateApiKey(random).value);
  std::string wrong_version = good;
  wrong_version[0] = 'B';  // version byte 0x04..0x07
  std::string bad_char = good;
  bad_char[10] = '*';
  for (const std::string& bad : {std::string(), std::string("secret-looking-value"), good.substr(1),
                                 good + "A", wrong_version, bad_char, std::string(66, '=')}) {
    auto parsed = ParseApiKey(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_EQ(parsed.error().message, "malformed API key");
  }
}

TEST(ApiKeyTest, SecretsMatchOnlyTheirSaltedHashAndEveryByteCounts) {
  // The comparison is crypto::ConstantTimeEquals over SHA-256 digests (its timing is tested in
  // crypto/compare_test.cc); here: a difference anywhere, and a different salt, refuse.
  OsRandom random;
  GeneratedApiKey key = GenerateApiKey(random);
  std::vector<uint8_t> salt = random.Bytes(kApiKeySaltSize);
  ApiKeyHash stored = HashApiKeySecret(salt, key.secret.Reveal());
  EXPECT_TRUE(ApiKeySecretMatches(salt, stored, key.secret.Reveal()));
  for (size_t i : {size_t{0}, size_t{15}, size_t{31}}) {
    SecretBytes other = key.secret.Clone();
    other.RevealMutable()[i] ^= 1;
    EXPECT_FALSE(ApiKeySecretMatches(salt, stored, other.Reveal())) << i;
  }
  std::vector<uint8_t> other_salt = random.Bytes(kApiKeySaltSize);
  EXPECT_FALSE(ApiKeySecretMatches(other_salt, stored, key.secret.Reveal()));
  // The stored hash is not the secret and does not contain it.
  EXPECT_EQ(std::string(AsStringView(stored)).find(AsStringView(key.secret.Reveal())),
            std::string::npos);
}

TEST(ApiKeyTest, WipeStringOverwritesAndEmpties) {
  std::string s = "apikey=something";
  WipeString(s);
  EXPECT_TRUE(s.empty());
}

}  // namespace
}  // namespace veil::iam
