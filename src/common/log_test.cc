#include "common/log.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace veil::log {
namespace {

TEST(RedactTest, AuthorizationHeadersAndBearerTokens) {
  EXPECT_EQ(Redact("Authorization: Bearer abc.def-ghi"), "Authorization: [redacted]");
  EXPECT_EQ(Redact("authorization: Basic dXNlcjpwYXNz\nnext line"),
            "authorization: [redacted]\nnext line");
  EXPECT_EQ(Redact("Proxy-Authorization: Negotiate xyz"), "Proxy-Authorization: [redacted]");
  EXPECT_EQ(Redact("token was Bearer s3cr3t/t0k3n= ok"), "token was Bearer [redacted] ok");
  EXPECT_EQ(Redact("{\"Authorization\":\"Bearer abc\",\"x\":1}"),
            "{\"Authorization\":\"[redacted]\",\"x\":1}");
}

TEST(RedactTest, SigV4AuthorizationAndPresignedSignatures) {
  const std::string header =
      "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/"
      "aws4_request, SignedHeaders=host;x-amz-date, "
      "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
  EXPECT_EQ(Redact(header), "Authorization: [redacted]");
  EXPECT_EQ(Redact("SignedHeaders=host, Signature=5d672d79c15b13162d92"),
            "SignedHeaders=host, Signature=[redacted]");
  EXPECT_EQ(Redact("GET /b/o?X-Amz-Credential=AKID%2F1&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d8"
                   "6835f995330da4c265957d157751f604d404&X-Amz-Expires=86400"),
            "GET /b/o?X-Amz-Credential=AKID%2F1&X-Amz-Signature=[redacted]&X-Amz-Expires=86400");
}

TEST(RedactTest, JwtShapedStrings) {
  const std::string jwt =
      "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJpYW0tU2VydmljZUlkIn0.c2lnbmF0dXJlLWJ5dGVz_-";
  EXPECT_EQ(Redact("issued " + jwt + " to client"), "issued [redacted] to client");
  EXPECT_EQ(Redact("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."), "unsigned [redacted]");
  // Not a JWT: only two segments, or a word that merely contains eyJ.
  EXPECT_EQ(Redact("eyJhbGciOiJub25lIn0 alone"), "eyJhbGciOiJub25lIn0 alone");
  EXPECT_EQ(Redact("keyJar.x.y"), "keyJar.x.y");
}

TEST(RedactTest, SecretQueryParametersAndJsonFields) {
  EXPECT_EQ(Redact("POST /identity/token?grant_type=apikey&apikey=0vPk3-XYZ&x=1"),
            "POST /identity/token?grant_type=apikey&apikey=[redacted]&x=1");
  EXPECT_EQ(Redact("passphrase=correct horse"), "passphrase=[redacted] horse");
  EXPECT_EQ(Redact("password=hunter2;secret=s3;token=t0k;access_token=at"),
            "password=[redacted];secret=[redacted];token=[redacted];access_token=[redacted]");
  EXPECT_EQ(Redact(R"({"apikey":"0vPk3-XYZ","name":"ci"})"),
            R"({"apikey":"[redacted]","name":"ci"})");
  EXPECT_EQ(Redact(R"({"client_secret" : "a\"b", "refreshToken": "r1"})"),
            R"({"client_secret" : "[redacted]", "refreshToken": "[redacted]"})");
  EXPECT_EQ(Redact("X-Auth-Token: abc123"), "X-Auth-Token: [redacted]");
}

TEST(RedactTest, PemPrivateKeyBlocks) {
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----";
  EXPECT_EQ(Redact("key: " + pem + " done"), "key: [redacted] done");
  EXPECT_EQ(Redact("private_key=" + pem), "private_key=[redacted]");
  EXPECT_EQ(Redact("-----BEGIN RSA PRIVATE KEY-----\nMIIEow truncated"), "[redacted]");
  EXPECT_EQ(Redact("-----BEGIN EC PRIVATE KEY-----\\nMHcC\\n-----END EC PRIVATE KEY-----\\n"),
            "[redacted]\\n");
  // Public material is left alone.
  const std::string pub = "-----BEGIN PUBLIC KEY-----\nMFkwEwYH\n-----END PUBLIC KEY-----";
  EXPECT_EQ(Redact(pub), pub);
}

TEST(RedactTest, LeavesOrdinaryTextAlone) {
  for (std::string_view text : {
           "listening on 127.0.0.1:8442",
           "key 3c4b5a69-1111-4222-8333-444455556666 rotated",
           "action=kms.secrets.wrap outcome=success",
           "token_type=Bearer",
           "invalid token",
           "",
       }) {
    EXPECT_EQ(Redact(text), text);
  }
}

class LogFileTest : public testing::Test {
 protected:
  void SetUp() override {
    path_ = testing::TempDir() + "/veil_log_test_" +
            testing::UnitTest::GetInstance()->current_test_info()->name() + ".log";
    std::remove(path_.c_str());
    ASSERT_TRUE(SetFile(path_));
    previous_ = GetLevel();
  }
  void TearDown() override {
    SetFile("");
    SetLevel(previous_);
    std::remove(path_.c_str());
  }
  std::vector<std::string> Lines() {
    std::ifstream in(path_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

  std::string path_;
  Level previous_ = Level::kInfo;
};

TEST_F(LogFileTest, WritesRedactedSingleLinesAboveLevel) {
  SetLevel(Level::kInfo);
  Debug("test", "hidden");
  Info("veild", "listening; Authorization: Bearer abc");
  Warn("kms", "two\nlines");
  auto lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  // "2026-11-28T20:30:00.123Z INFO  veild: listening; Authorization: [redacted]"
  EXPECT_EQ(lines[0].size(),
            24 + std::string(" INFO  veild: listening; Authorization: [redacted]").size())
      << lines[0];
  EXPECT_EQ(lines[0].substr(24), " INFO  veild: listening; Authorization: [redacted]");
  EXPECT_EQ(lines[0][23], 'Z');
  EXPECT_EQ(lines[1].substr(24), " WARN  kms: two\\nlines");
  SetLevel(Level::kOff);
  Error("x", "nothing");
  EXPECT_EQ(Lines().size(), 2u);
}

TEST_F(LogFileTest, ConcurrentWritersNeverInterleaveLines) {
  SetLevel(Level::kDebug);
  constexpr int kThreads = 4;
  constexpr int kLines = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      const std::string body(300, static_cast<char>('a' + t));
      for (int i = 0; i < kLines; ++i) Info("t" + std::to_string(t), body);
    });
  }
  for (auto& th : threads) th.join();
  auto lines = Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kLines));
  for (const auto& line : lines) {
    const size_t colon = line.find(": ");
    ASSERT_NE(colon, std::string::npos);
    const std::string body = line.substr(colon + 2);
    ASSERT_EQ(body.size(), 300u);
    EXPECT_EQ(body, std::string(300, body[0]));
  }
}

TEST(LogTest, ParseLevel) {
  Level level = Level::kInfo;
  EXPECT_TRUE(ParseLevel("DEBUG", &level));
  EXPECT_EQ(level, Level::kDebug);
  EXPECT_TRUE(ParseLevel("off", &level));
  EXPECT_EQ(level, Level::kOff);
  EXPECT_FALSE(ParseLevel("verbose", &level));
  EXPECT_EQ(level, Level::kOff);
  EXPECT_FALSE(SetFile("/nonexistent-dir/veil.log"));
}

}  // namespace
}  // namespace veil::log
