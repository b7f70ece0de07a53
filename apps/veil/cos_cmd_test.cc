#include "cos_cmd.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>
#include <string>

#include "cos_s3_cmd.h"

namespace veil::cli {
namespace {

TEST(WriteAwsProfile, WritesTheCredentialsFileFormat) {
  std::ostringstream out;
  ASSERT_TRUE(WriteAwsProfile(out, "veil-writer", "0123456789abcdef0123456789abcdef",
                              "00112233445566778899aabbccddeeff0011223344556677"));
  EXPECT_EQ(out.str(),
            "[veil-writer]\n"
            "aws_access_key_id = 0123456789abcdef0123456789abcdef\n"
            "aws_secret_access_key = 00112233445566778899aabbccddeeff0011223344556677\n");
}

TEST(WriteAwsProfile, RefusesProfileNamesThatWouldBreakTheFile) {
  for (const char* bad : {"", "a b", "a]", "[a", "a=b", "a\nb", "a\tb"}) {
    std::ostringstream out;
    auto st = WriteAwsProfile(out, bad, "id", "secret");
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(out.str().empty()) << bad;
  }
  std::ostringstream out;
  EXPECT_FALSE(WriteAwsProfile(out, "p", "id", "sec\nret"));
  EXPECT_FALSE(WriteAwsProfile(out, "p", "", "secret"));
  EXPECT_TRUE(out.str().empty());
}

TEST(CosRoleText, NormalizesTheCaseOfTheThreeRolesOnly) {
  EXPECT_EQ(CosRoleText("writer"), "Writer");
  EXPECT_EQ(CosRoleText("READER"), "Reader");
  EXPECT_EQ(CosRoleText("Manager"), "Manager");
  EXPECT_EQ(CosRoleText("viewer"), "viewer");
  EXPECT_EQ(CosRoleText("crn:v1:bluemix:public:iam::::serviceRole:Writer"),
            "crn:v1:bluemix:public:iam::::serviceRole:Writer");
}

TEST(InstanceOfKey, ReadsTheInstanceFromItsUrl) {
  EXPECT_EQ(InstanceOfKey(boost::json::parse(
                R"({"resource_instance_url":"/v2/resource_instances/8d7c6b5a-1"})")),
            "8d7c6b5a-1");
  EXPECT_EQ(InstanceOfKey(boost::json::parse(R"({"resource_instance_url":"/elsewhere/x"})")), "");
  EXPECT_EQ(InstanceOfKey(boost::json::parse("{}")), "");
  EXPECT_EQ(InstanceOfKey(boost::json::parse("[]")), "");
}

TEST(CosS3, S3UrlsAreSplitAndLocalPathsAreNot) {
  auto url = ParseS3Url("s3://bucket/dir/key.img");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->bucket, "bucket");
  EXPECT_EQ(url->key, "dir/key.img");
  url = ParseS3Url("s3://bucket");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->bucket, "bucket");
  EXPECT_EQ(url->key, "");
  EXPECT_FALSE(ParseS3Url("disk.img"));
  EXPECT_FALSE(ParseS3Url("/tmp/s3://x"));
}

TEST(CosS3, KeysAreEncodedKeepingTheirSlashes) {
  EXPECT_EQ(S3PathEncode("dir/a b+c.img"), "dir/a%20b%2Bc.img");
  EXPECT_EQ(S3PathEncode("/x//y/"), "/x//y/");
  EXPECT_EQ(S3PathEncode("caf\xc3\xa9"), "caf%C3%A9");
}

TEST(CosS3, S3ErrorsShowTheirCodeAndMessage) {
  Error e = S3ErrorOf(404,
                      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified "
                      "key does not exist.</Message></Error>");
  EXPECT_EQ(e.message, "error: NoSuchKey: The specified key does not exist.");
  EXPECT_EQ(ApiExitCode(e), ApiExit::kNotFound);
  EXPECT_EQ(ApiExitCode(S3ErrorOf(403, "")), ApiExit::kPermissionDenied);
  EXPECT_EQ(S3ErrorOf(404, "").message, "error: NotFound: not found");  // HEAD has no body
  EXPECT_EQ(S3ErrorOf(500, "not xml").message, "error: HTTP 500");
}

}  // namespace
}  // namespace veil::cli
