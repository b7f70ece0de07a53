// TokenVerifier over a real SQLite database: the security invariants of issue 4 for tokens, each
// a named test, plus rotation, restart, caching and revocation.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "common/bytes.h"
#include "common/encoding.h"
#include "crypto/hash.h"
#include "iam/jwt.h"
#include "iam/testing/iam_fixture.h"
#include "iam/token_verifier.h"

namespace veil::iam {
namespace {

using std::chrono::seconds;
using testing::IamFixture;

std::string B64(std::string_view s) { return Base64UrlEncode(AsBytes(s)); }

struct Parts {
  std::string header, payload, signature;
};
Parts Split(const std::string& token) {
  size_t a = token.find('.'), b = token.find('.', a + 1);
  return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
}
std::string Decode(const std::string& segment) {
  auto bytes = Base64UrlDecode(segment);
  return bytes ? std::string(bytes->begin(), bytes->end()) : std::string();
}

// A token with `claims` and `header`, signed by `key` (RS256).
std::string Sign(const crypto::PrivateKey& key, const boost::json::object& header,
                 const boost::json::object& claims) {
  std::string input =
      B64(boost::json::serialize(header)) + "." + B64(boost::json::serialize(claims));
  auto sig = key.Sign(crypto::SignatureAlgorithm::kRs256, AsBytes(input));
  return input + "." + Base64UrlEncode(*sig);
}

class TokenVerifierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    creds_ = f_.ServiceIdWith({"Viewer"});
    token_ = f_.TokenFor(creds_.apikey);
    ASSERT_FALSE(token_.empty());
  }

  void ExpectRefused(const std::string& token, std::string_view reason) {
    auto v = f_.verifier->Verify(token);
    ASSERT_FALSE(v) << "accepted: " << reason;
    EXPECT_EQ(v.error().code, ErrorCode::kUnauthenticated) << v.error().ToString();
    EXPECT_NE(v.error().message.find(reason), std::string::npos) << v.error().message;
    EXPECT_EQ(v.error().message.find(token), std::string::npos);
  }

  boost::json::object Claims() {
    return boost::json::parse(Decode(Split(token_).payload)).as_object();
  }
  boost::json::object Header() {
    return boost::json::parse(Decode(Split(token_).header)).as_object();
  }

  IamFixture f_;
  testing::Credentials creds_;
  std::string token_;
};

TEST_F(TokenVerifierTest, AValidTokenNamesItsBearer) {
  auto v = f_.verifier->Verify(token_);
  ASSERT_TRUE(v) << v.error().ToString();
  EXPECT_EQ((*v)->iam_id, creds_.identity.iam_id);
  EXPECT_EQ((*v)->account_id, f_.account_id);
  EXPECT_EQ((*v)->sub_type, "ServiceId");
}

TEST_F(TokenVerifierTest, ClaimsFollowTheSpec) {
  boost::json::object c = Claims();
  const std::string& iam_id = creds_.identity.iam_id;
  EXPECT_EQ(c.at("iam_id").as_string(), iam_id);
  EXPECT_EQ(c.at("id").as_string(), iam_id);
  EXPECT_EQ(c.at("realmid").as_string(), "iam");
  EXPECT_EQ(c.at("identifier").as_string(), creds_.identity.id);
  EXPECT_EQ(c.at("sub").as_string(), creds_.identity.id);
  EXPECT_EQ(c.at("sub_type").as_string(), "ServiceId");
  EXPECT_EQ(c.at("authn").at("iam_id").as_string(), iam_id);
  EXPECT_TRUE(c.at("account").at("valid").as_bool());
  EXPECT_EQ(c.at("account").at("bss").as_string(), f_.account_id);
  EXPECT_EQ(c.at("exp").as_int64() - c.at("iat").as_int64(), 3600);
  EXPECT_EQ(c.at("iss").as_string(), testing::kIssuer);
  EXPECT_TRUE(std::string_view(c.at("iss").as_string()).starts_with("https://iam"));
  EXPECT_EQ(c.at("grant_type").as_string(), "urn:ibm:params:oauth:grant-type:apikey");
  EXPECT_EQ(c.at("scope").as_string(), "ibm openid");
  EXPECT_EQ(c.at("client_id").as_string(), "default");
  EXPECT_EQ(c.at("acr").as_int64(), 1);
  EXPECT_EQ(c.at("amr").as_array().at(0).as_string(), "pwd");
  EXPECT_FALSE(c.at("jti").as_string().empty());
  boost::json::object h = Header();
  EXPECT_EQ(h.at("alg").as_string(), "RS256");
  EXPECT_EQ(h.at("kid").as_string(), f_.keys->current_kid());
}

TEST_F(TokenVerifierTest, ATokenWithABadSignatureIsRefused) {
  Parts p = Split(token_);
  std::string sig = p.signature;
  sig[10] = sig[10] == 'A' ? 'B' : 'A';
  ExpectRefused(p.header + "." + p.payload + "." + sig, "signature does not verify");
  // A changed claim under the original signature.
  boost::json::object c = Claims();
  c["iam_id"] = f_.admin.iam_id;
  ExpectRefused(p.header + "." + B64(boost::json::serialize(c)) + "." + p.signature,
                "signature does not verify");
}

TEST_F(TokenVerifierTest, ATokenWithAlgNoneIsRefused) {
  boost::json::object h = Header();
  h["alg"] = "none";
  ExpectRefused(B64(boost::json::serialize(h)) + "." + Split(token_).payload + ".",
                "algorithm is not RS256");
  h["alg"] = "None";
  ExpectRefused(B64(boost::json::serialize(h)) + "." + Split(token_).payload + ".",
                "algorithm is not RS256");
}

TEST_F(TokenVerifierTest, AnHs256TokenKeyedWithThePublicKeyIsRefused) {
  // The classic confusion: HMAC-SHA256 with the published RSA public key as the secret.
  auto keys = f_.keys->PublishedKeys();
  ASSERT_TRUE(keys);
  auto pub = crypto::PublicKey::FromRsaJwk(keys->front().jwk);
  boost::json::object h = Header();
  h["alg"] = "HS256";
  std::string input = B64(boost::json::serialize(h)) + "." + Split(token_).payload;
  std::string pem = pub->ToPem();
  auto mac = crypto::HmacSha256(AsBytes(pem), AsBytes(input));
  ExpectRefused(input + "." + Base64UrlEncode(mac), "algorithm is not RS256");
}

TEST_F(TokenVerifierTest, ATokenSignedByAnotherKeyUnderAKnownKidIsRefused) {
  auto foreign = crypto::PrivateKey::GenerateRsa(2048);
  ASSERT_TRUE(foreign);
  ExpectRefused(Sign(*foreign, Header(), Claims()), "signature does not verify");
}

TEST_F(TokenVerifierTest, ATokenWithAnUnknownKidIsRefused) {
  boost::json::object h = Header();
  h["kid"] = "20260101-0000000000000000";
  auto foreign = crypto::PrivateKey::GenerateRsa(2048);
  ExpectRefused(Sign(*foreign, h, Claims()), "unknown or expired key");
}

TEST_F(TokenVerifierTest, AnExpiredTokenIsRefusedAfterTheLeeway) {
  f_.clock.Advance(seconds(3600 + 4));
  EXPECT_TRUE(f_.verifier->Verify(token_)) << "within the 5 s leeway";
  f_.clock.Advance(seconds(1));
  ExpectRefused(token_, "expired");
}

TEST_F(TokenVerifierTest, ATokenIssuedInTheFutureIsRefused) {
  f_.clock.Advance(seconds(10));
  std::string future = f_.TokenFor(creds_.apikey);
  f_.clock.Set(f_.clock.Now() - seconds(10));
  EXPECT_FALSE(f_.verifier->Verify(future));
  ExpectRefused(future, "issued in the future");
  f_.clock.Advance(seconds(5));  // within the leeway
  EXPECT_TRUE(f_.verifier->Verify(future));
}

TEST_F(TokenVerifierTest, ATokenFromAnotherIssuerIsRefused) {
  // Signed by our own current key, so only the issuer is wrong.
  boost::json::object c = Claims();
  c["iss"] = "https://iam.cloud.ibm.com/identity";
  JwtHeader header{"RS256", f_.keys->current_kid(), "JWT"};
  std::string input = JwtSigningInput(header, c);
  auto sig = f_.keys->Sign(AsBytes(input));
  ASSERT_TRUE(sig);
  ExpectRefused(input + "." + Base64UrlEncode(sig->bytes), "another issuer");
}

TEST_F(TokenVerifierTest, ATokenForAnotherAccountIsRefused) {
  auto other = f_.service->CreateAccount("other");
  ASSERT_TRUE(other);
  // Correctly signed, but claiming an account that is not the identity's.
  boost::json::object c = Claims();
  c["account"].as_object()["bss"] = other->id;
  std::string input = JwtSigningInput({"RS256", f_.keys->current_kid(), "JWT"}, c);
  auto sig = f_.keys->Sign(AsBytes(input));
  ExpectRefused(input + "." + Base64UrlEncode(sig->bytes), "another account");
  // And an account this installation has never heard of.
  c["account"].as_object()["bss"] = "ffffffffffffffffffffffffffffffff";
  input = JwtSigningInput({"RS256", f_.keys->current_kid(), "JWT"}, c);
  sig = f_.keys->Sign(AsBytes(input));
  ExpectRefused(input + "." + Base64UrlEncode(sig->bytes), "another account");
}

TEST_F(TokenVerifierTest, ATokenOfADisabledAccountIsRefused) {
  ASSERT_TRUE(f_.verifier->Verify(token_));
  ASSERT_TRUE(f_.service->SetAccountActive(f_.account_id, false));
  ExpectRefused(token_, "account is disabled");
}

TEST_F(TokenVerifierTest, ATokenWhoseLifetimeIsTooLongIsRefused) {
  boost::json::object c = Claims();
  c["exp"] = c.at("iat").as_int64() + 7200;
  std::string input = JwtSigningInput({"RS256", f_.keys->current_kid(), "JWT"}, c);
  auto sig = f_.keys->Sign(AsBytes(input));
  ExpectRefused(input + "." + Base64UrlEncode(sig->bytes), "lifetime too long");
}

TEST_F(TokenVerifierTest, ARevokedTokenIsRefused) {
  // Deleting the service ID revokes its tokens, cached or not.
  ASSERT_TRUE(f_.verifier->Verify(token_));
  ASSERT_EQ(f_.verifier->cached(), 1u);
  ASSERT_TRUE(f_.service->DeleteServiceId(creds_.identity.id));
  EXPECT_EQ(f_.verifier->cached(), 0u);
  ExpectRefused(token_, "no longer exists");
}

TEST_F(TokenVerifierTest, LockingOrDeletingTheApiKeyRevokesItsTokens) {
  auto key_id = f_.issuer->IssueForApiKey(creds_.apikey)->apikey_id;
  ASSERT_TRUE(f_.verifier->Verify(token_));
  ASSERT_TRUE(f_.service->SetApiKeyLocked(key_id, true));
  ExpectRefused(token_, "API key is locked");
  ASSERT_TRUE(f_.service->SetApiKeyLocked(key_id, false));
  ASSERT_TRUE(f_.verifier->Verify(token_));
  ASSERT_TRUE(f_.service->DeleteApiKey(key_id));
  ExpectRefused(token_, "API key was deleted");
}

TEST_F(TokenVerifierTest, ACachedTokenCostsNoSignatureCheckOrDatabaseRead) {
  ASSERT_TRUE(f_.verifier->Verify(token_));
  // Remove the identity behind the verifier's back (no notification): the cached answer stands,
  // which shows the second check read neither the keys nor the database...
  ASSERT_TRUE(f_.db->Exec("DELETE FROM iam_apikeys WHERE iam_id = ?", {creds_.identity.iam_id}));
  ASSERT_TRUE(f_.db->Exec("DELETE FROM iam_identities WHERE iam_id = ?", {creds_.identity.iam_id}));
  EXPECT_TRUE(f_.verifier->Verify(token_));
  // ...while a revocation notification, as IamService sends, drops it.
  f_.verifier->Revoke("identity " + creds_.identity.iam_id);
  ExpectRefused(token_, "no longer exists");
}

TEST_F(TokenVerifierTest, CachedTokensStillExpire) {
  ASSERT_TRUE(f_.verifier->Verify(token_));
  f_.clock.Advance(seconds(3605));
  ExpectRefused(token_, "expired");
  EXPECT_EQ(f_.verifier->cached(), 0u);
}

TEST_F(TokenVerifierTest, AfterRotationAnOldKidVerifiesUntilItsTokensExpire) {
  const std::string old_kid = f_.keys->current_kid();
  ASSERT_TRUE(f_.keys->Rotate());
  const std::string new_kid = f_.keys->current_kid();
  ASSERT_NE(new_kid, old_kid);
  std::string fresh = f_.TokenFor(creds_.apikey);
  EXPECT_EQ(boost::json::parse(Decode(Split(fresh).header)).at("kid").as_string(), new_kid);
  EXPECT_TRUE(f_.verifier->Verify(token_)) << "old kid, token still valid";
  EXPECT_TRUE(f_.verifier->Verify(fresh));
  // Both keys are published.
  auto published = f_.keys->PublishedKeys();
  ASSERT_TRUE(published);
  EXPECT_EQ(published->size(), 2u);
}

TEST_F(TokenVerifierTest, ScheduledRotationRetiresAKeyAndDropsItWhenItsTokensHaveExpired) {
  // Rotation every 24 h: the key made at start signs until then, then a new key signs.
  const std::string first_kid = f_.keys->current_kid();
  f_.clock.Advance(seconds(24 * 3600 - 60));
  std::string late = f_.TokenFor(creds_.apikey);  // signed by the first key, 1 min before retiring
  EXPECT_EQ(boost::json::parse(Decode(Split(late).header)).at("kid").as_string(), first_kid);
  f_.clock.Advance(seconds(120));
  std::string next = f_.TokenFor(creds_.apikey);  // rotated lazily
  EXPECT_NE(f_.keys->current_kid(), first_kid);
  EXPECT_TRUE(f_.verifier->Verify(late));
  EXPECT_TRUE(f_.verifier->Verify(next));
  // The first key's last token expires 1 h after its retirement (+ leeway): then the key goes.
  f_.clock.Advance(seconds(3600));
  auto published = f_.keys->PublishedKeys();
  ASSERT_TRUE(published);
  ASSERT_EQ(published->size(), 1u);
  EXPECT_NE(published->front().kid, first_kid);
  EXPECT_TRUE(f_.verifier->Verify(next));
}

TEST_F(TokenVerifierTest, ARestartKeepsOldTokensValid) {
  const std::string old_kid = f_.keys->current_kid();
  f_.Start();  // new keys, new verifier, same database: what a restart of veild does
  EXPECT_NE(f_.keys->current_kid(), old_kid);
  auto v = f_.verifier->Verify(token_);
  EXPECT_TRUE(v) << v.error().ToString();
}

TEST_F(TokenVerifierTest, ReplicasSharingADatabaseVerifyEachOthersTokens) {
  // A second ring and verifier on the same database, as a second veild would have.
  SigningKeyOptions options;
  options.generate = testing::PooledKey;
  auto other_keys = SigningKeyRing::Create(f_.service->store(), f_.clock, f_.random, options);
  ASSERT_TRUE(other_keys);
  TokenIssuer other_issuer(f_.service->store(), **other_keys, f_.clock, f_.random,
                           {std::string(testing::kIssuer), std::chrono::seconds(3600)});
  auto other_token = other_issuer.IssueForApiKey(creds_.apikey);
  ASSERT_TRUE(other_token);
  // Our verifier has never seen the other replica's kid: it reloads the key set once.
  auto v = f_.verifier->Verify(other_token->access_token);
  EXPECT_TRUE(v) << v.error().ToString();
}

TEST_F(TokenVerifierTest, ConcurrentIssuanceVerificationRotationAndRevocation) {
  // Threads issue and verify while another rotates keys and another revokes and re-creates
  // identities: every answer is right or a clean refusal, never a crash or a wrong principal.
  auto victim = f_.ServiceIdWith({});
  std::atomic<bool> stop{false};
  std::atomic<int> verified{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      while (!stop) {
        auto issued = f_.issuer->IssueForApiKey(creds_.apikey);
        ASSERT_TRUE(issued) << issued.error().ToString();
        for (int i = 0; i < 20; ++i) {
          auto v = f_.verifier->Verify(issued->access_token);
          ASSERT_TRUE(v) << v.error().ToString();
          ASSERT_EQ((*v)->iam_id, creds_.identity.iam_id);
          ++verified;
        }
        if (auto other = f_.issuer->IssueForApiKey(victim.apikey)) {
          auto v = f_.verifier->Verify(other->access_token);
          if (v) {
            ASSERT_EQ((*v)->iam_id, victim.identity.iam_id);
          } else {
            ASSERT_EQ(v.error().code, ErrorCode::kUnauthenticated);
          }
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 3 && !stop; ++i) ASSERT_TRUE(f_.keys->Rotate());
  });
  threads.emplace_back([&] {
    for (int i = 0; i < 50 && !stop; ++i) {
      auto key = f_.issuer->IssueForApiKey(victim.apikey);
      if (key) {
        ASSERT_TRUE(f_.service->SetApiKeyLocked(key->apikey_id, true));
        ASSERT_TRUE(f_.service->SetApiKeyLocked(key->apikey_id, false));
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GT(verified.load(), 0);
}

TEST(TokenVerifierOptionsTest, TheIssuerMustStartWithHttpsIam) {
  EXPECT_TRUE(IsValidIssuer("https://iam.veil.local/identity"));
  EXPECT_FALSE(IsValidIssuer("http://iam.veil.local/identity"));
  EXPECT_FALSE(IsValidIssuer("https://veil.local/identity"));
  EXPECT_FALSE(IsValidIssuer("https://iam"));
  EXPECT_FALSE(IsValidIssuer("https://iam.x/ y"));
}

}  // namespace
}  // namespace veil::iam
