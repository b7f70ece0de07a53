#include "iam/jwt.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "common/bytes.h"
#include "common/encoding.h"

namespace veil::iam {
namespace {

std::string B64(std::string_view s) { return Base64UrlEncode(AsBytes(s)); }

TEST(JwtTest, SigningInputRoundTrips) {
  boost::json::object claims;
  claims["iam_id"] = "iam-ServiceId-x";
  claims["exp"] = 10;
  std::string input = JwtSigningInput({"RS256", "kid-1", "JWT"}, claims);
  const std::string token = input + "." + B64("sig");  // signing_input views into it
  auto jwt = ParseJwt(token);
  ASSERT_TRUE(jwt) << jwt.error().ToString();
  EXPECT_EQ(jwt->header.alg, "RS256");
  EXPECT_EQ(jwt->header.kid, "kid-1");
  EXPECT_EQ(jwt->header.typ, "JWT");
  EXPECT_EQ(jwt->claims.at("iam_id").as_string(), "iam-ServiceId-x");
  EXPECT_EQ(jwt->signing_input, input);
  EXPECT_EQ(std::string(jwt->signature.begin(), jwt->signature.end()), "sig");
}

TEST(JwtTest, HostileTokensAreRefusedAsUnauthenticated) {
  const std::string header = B64(R"({"alg":"RS256","kid":"k"})");
  const std::string body = B64(R"({"iam_id":"x"})");
  const std::string deep = B64(std::string(100, '[') + std::string(100, ']'));
  for (const std::string& t : std::vector<std::string>{
           "",
           ".",
           "..",
           "a.b",
           "a.b.c.d",
           header + "." + body,
           header + "." + body + ".sig=",                 // padding is not base64url
           B64("not json") + "." + body + ".",            // header not JSON
           B64("[1]") + "." + body + ".",                 // header not an object
           B64(R"({"alg":"RS256"})") + "." + body + ".",  // no kid
           B64(R"({"kid":"k"})") + "." + body + ".",      // no alg
           B64(R"({"alg":"RS256","kid":"k","crit":["x"]})") + "." + body + ".",
           header + "." + deep + ".",  // nesting bomb
           header + "." + B64("\"str\"") + ".",
           std::string(9000, 'a'),
       }) {
    auto jwt = ParseJwt(t);
    ASSERT_FALSE(jwt) << t;
    EXPECT_EQ(jwt.error().code, ErrorCode::kUnauthenticated);
  }
}

TEST(JwtTest, AlgorithmIsReportedNotJudged) {
  // ParseJwt takes any alg apart; TokenVerifier refuses all but RS256.
  auto jwt = ParseJwt(B64(R"({"alg":"none","kid":"k"})") + "." + B64("{}") + ".");
  ASSERT_TRUE(jwt);
  EXPECT_EQ(jwt->header.alg, "none");
  EXPECT_TRUE(jwt->signature.empty());
}

// A NumericDate past 2262 overflows a TimePoint (64-bit nanoseconds): the old bound of 1e11
// seconds (year 5138) let exp = 99999999999 through into signed overflow.
TEST(NumericDate, DateBeyondTimePointRangeIsRefused) {
  for (std::string_view json :
       {R"({"exp":99999999999})", R"({"exp":7258118401})", R"({"exp":9.3e18})",
        R"({"exp":18446744073709551615})", R"({"exp":-1})", R"({"exp":-0.5e1})"}) {
    auto t = NumericDateClaim(boost::json::parse(json).as_object(), "exp");
    ASSERT_FALSE(t) << json;
    EXPECT_EQ(t.error().code, ErrorCode::kUnauthenticated) << json;
  }
}

TEST(NumericDate, IntegersAndFractionsUpToTheBoundAreAccepted) {
  auto at = [](std::string_view json) {
    return NumericDateClaim(boost::json::parse(json).as_object(), "exp");
  };
  EXPECT_EQ(**at(R"({"exp":0})"), TimePoint());
  EXPECT_EQ(**at(R"({"exp":1700000000.9})"), TimePoint(std::chrono::seconds(1700000000)));
  EXPECT_EQ(**at(R"({"exp":7258118400})"), TimePoint(std::chrono::seconds(kMaxNumericDate)));
  EXPECT_FALSE(*at(R"({"iat":1})"));  // absent
  EXPECT_FALSE(at(R"({"exp":"1"})"));
}

// A payload with 1e400 would be read as an infinity, which Boost.JSON cannot write back.
TEST(JwtTest, NumberBeyondDoubleRangeInThePayloadIsRefused) {
  const std::string token = B64(R"({"alg":"RS256","kid":"k"})") + "." +
                            B64(R"({"iam_id":"x","exp":1e400})") + "." + B64("s");
  auto jwt = ParseJwt(token);
  ASSERT_FALSE(jwt);
  EXPECT_EQ(jwt.error().code, ErrorCode::kUnauthenticated);
}

// The one unverified decoder (the authz API's accessTokenBody, the CLI's own session token).
TEST(JwtTest, DecodePayloadUnverifiedReadsOneSegmentAsAnObject) {
  auto claims = DecodePayloadUnverified(B64(R"({"iam_id":"iam-x","exp":1})"));
  ASSERT_TRUE(claims);
  EXPECT_EQ(claims->at("iam_id").as_string(), "iam-x");
  for (std::string_view bad : {"[]", "{", R"({"n":1e400})"}) {
    auto r = DecodePayloadUnverified(B64(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  }
  EXPECT_FALSE(DecodePayloadUnverified("e30="));  // padded: not base64url
}

}  // namespace
}  // namespace veil::iam
