#include "http/bearer_auth.h"

#include <gtest/gtest.h>

#include <string>

namespace veil::http {
namespace {

Request WithAuthorization(std::initializer_list<std::string_view> values) {
  Request r;
  r.method = "GET";
  for (std::string_view v : values) r.headers.Add("Authorization", v);
  return r;
}

// A verifier that accepts "good" and remembers what it saw.
struct FakeVerifier {
  std::string seen;
  int calls = 0;
  Result<Principal> operator()(std::string_view token) {
    ++calls;
    seen = std::string(token);
    if (token == "good") return Principal{"iam-ServiceId-1", "svc", "serviceid", "acct", "", {}};
    if (token == "down") return Unavailable("iam store unavailable");
    return Unauthenticated("token expired");
  }
};

TEST(BearerAuthTest, NoHeaderIsAnonymous) {
  FakeVerifier v;
  auto auth = MakeBearerAuthenticator(std::ref(v));
  auto who = auth(WithAuthorization({}));
  ASSERT_TRUE(who) << who.error().ToString();
  EXPECT_FALSE(who->has_value());
  EXPECT_EQ(v.calls, 0);
}

TEST(BearerAuthTest, ValidTokenGivesThePrincipalWithTokenCredential) {
  FakeVerifier v;
  auto auth = MakeBearerAuthenticator(std::ref(v));
  for (std::string_view header : {"Bearer good", "bearer good", "BEARER   good", "Bearer good "}) {
    auto who = auth(WithAuthorization({header}));
    ASSERT_TRUE(who) << header;
    ASSERT_TRUE(who->has_value());
    EXPECT_EQ((*who)->id, "iam-ServiceId-1");
    EXPECT_EQ((*who)->credential_type, "token");
    EXPECT_EQ(v.seen, "good");
  }
}

TEST(BearerAuthTest, MalformedHeadersAre401WithoutCallingTheVerifier) {
  FakeVerifier v;
  auto auth = MakeBearerAuthenticator(std::ref(v));
  const std::string too_long = "Bearer " + std::string(9000, 'a');
  for (std::string_view header : std::initializer_list<std::string_view>{
           "", "Bearer", "Bearer ", "Bearer    ", "Basic dXNlcjpwYXNz", "Bearerx abc",
           "AWS4-HMAC-SHA256 Credential=x", "Bearer a b", "Bearer a\"b", "Bearer ==abc",
           "Bearer abc=def", std::string_view(too_long)}) {
    auto who = auth(WithAuthorization({header}));
    ASSERT_FALSE(who) << header;
    EXPECT_EQ(who.error().code, ErrorCode::kUnauthenticated) << header;
    EXPECT_EQ(who.error().message.find("abc"), std::string::npos) << "never echo the token";
  }
  EXPECT_EQ(v.calls, 0);
}

TEST(BearerAuthTest, RepeatedAuthorizationHeaderIs401) {
  FakeVerifier v;
  auto auth = MakeBearerAuthenticator(std::ref(v));
  auto who = auth(WithAuthorization({"Bearer good", "Bearer good"}));
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code, ErrorCode::kUnauthenticated);
}

TEST(BearerAuthTest, VerifierRefusalIs401AndUnavailablePassesThrough) {
  FakeVerifier v;
  auto auth = MakeBearerAuthenticator(std::ref(v));
  auto refused = auth(WithAuthorization({"Bearer expired.token.here"}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnauthenticated);
  EXPECT_NE(refused.error().message.find("token expired"), std::string::npos);
  EXPECT_EQ(refused.error().message.find("expired.token.here"), std::string::npos);
  auto down = auth(WithAuthorization({"Bearer down"}));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable);
}

TEST(BearerAuthTest, ParseBearerAcceptsToken68Padding) {
  auto t = ParseBearer("Bearer abc.def-_~+/==");
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, "abc.def-_~+/==");
}

TEST(BearerAuthTest, RepeatedAuthorizationHeaderInAnyCaseIs401) {
  FakeVerifier v;
  auto auth = MakeBearerAuthenticator(std::ref(v));
  Request r;
  r.headers.Add("Host", "iam");
  r.headers.Add("authorization", "Bearer good");
  r.headers.Add("AUTHORIZATION", "Bearer good");
  auto who = auth(r);
  ASSERT_FALSE(who);
  EXPECT_EQ(who.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(v.calls, 0);
}

// Every byte value at every position of tokens of 1 to 40 characters (the check runs 16 bytes at
// a time, then byte by byte), bare and padded: exactly RFC 6750's b64token set passes. Spaces
// and tabs, which ParseBearer trims at the ends, are checked inside a token below.
TEST(BearerAuthTest, ParseBearerAcceptsExactlyTheB64TokenCharacters) {
  constexpr std::string_view kAllowed =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/";
  for (size_t length = 1; length <= 40; ++length) {
    for (size_t pos = 0; pos < length; ++pos) {
      for (int c = 0; c < 256; ++c) {
        if (c == ' ' || c == '\t') continue;
        std::string token(length, 'a');
        token[pos] = static_cast<char>(c);
        const bool b64 = kAllowed.find(static_cast<char>(c)) != std::string_view::npos;
        const bool padding = c == '=' && pos == length - 1 && length > 1;
        EXPECT_EQ(ParseBearer("Bearer " + token).has_value(), b64 || padding)
            << "byte " << c << " at " << pos << " of " << length;
        EXPECT_EQ(ParseBearer("Bearer " + token + "==").has_value(), b64 || padding)
            << "byte " << c << " at " << pos << " of " << length << ", padded";
      }
    }
  }
  for (std::string_view bad : {"Bearer =", "Bearer ===", "Bearer a=b=", "Bearer a=\x80",
                               "Bearer aaaaaaaaaaaaaaaaaaaa aaaaaaaaaaaaaaaaaaaa",
                               "Bearer aaaaaaaaaaaaaaaaaaaa\taaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_FALSE(ParseBearer(bad)) << bad;
  }
  for (std::string_view good : {"Bearer a", "Bearer a=", "Bearer Zz09-._~+/==="}) {
    EXPECT_TRUE(ParseBearer(good)) << good;
  }
}

}  // namespace
}  // namespace veil::http
