#include "cos_cmd.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>
#include <string>

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

}  // namespace
}  // namespace veil::cli
