#include "iam/policy.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace veil::iam {
namespace {

constexpr const char* kAccount = "0123456789abcdef0123456789abcdef";

Result<PolicySpec> Parse(const std::string& json) {
  return ParsePolicySpec(boost::json::parse(json));
}

std::string Access(const std::string& roles, const std::string& resource_attrs) {
  return R"({"type":"access","subjects":[{"attributes":[{"name":"iam_id","value":"iam-ServiceId-x"}]}],
             "roles":[)" +
         roles + R"(],"resources":[{"attributes":[)" + resource_attrs + "]}]}";
}

const std::string kAccountAttr =
    std::string(R"({"name":"accountId","value":")") + kAccount + R"("})";

TEST(PolicyTest, ParsesTheIbmAccessPolicyShape) {
  auto spec = Parse(Access(R"({"role_id":"crn:v1:bluemix:public:iam::::role:Editor"})",
                           kAccountAttr + R"(,{"name":"serviceName","value":"kms",
                                              "operator":"stringEquals"})"));
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->type, PolicyType::kAccess);
  EXPECT_EQ(spec->SubjectValue("iam_id"), "iam-ServiceId-x");
  EXPECT_EQ(spec->ResourceValue("serviceName"), "kms");
  ASSERT_EQ(spec->roles.size(), 1u);
  EXPECT_EQ(spec->roles[0].name, "Editor");
  // Round trip through the stored form.
  auto again = ParsePolicySpec(PolicySpecToJson(*spec));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->subject, spec->subject);
  EXPECT_EQ(again->resource, spec->resource);
  EXPECT_EQ(again->roles, spec->roles);
}

TEST(PolicyTest, ParsesAnAuthorizationPolicy) {
  auto spec = Parse(std::string(R"({"type":"authorization",
      "subjects":[{"attributes":[{"name":"serviceName","value":"server-protect"},
                                 {"name":"accountId","value":")") +
                    kAccount + R"("}]}],
      "roles":[{"role_id":"crn:v1:bluemix:public:iam::::serviceRole:Reader"}],
      "resources":[{"attributes":[{"name":"accountId","value":")" +
                    kAccount + R"("},{"name":"serviceName","value":"kms"}]}]})");
  ASSERT_TRUE(spec) << spec.error().ToString();
  EXPECT_EQ(spec->type, PolicyType::kAuthorization);
  EXPECT_EQ(spec->SubjectValue("serviceName"), "server-protect");
}

TEST(PolicyTest, RefusesMalformedPolicies) {
  const std::string reader = R"({"role_id":"crn:v1:veil:public:iam::::serviceRole:Reader"})";
  const std::vector<std::string> bad = {
      "[]",
      R"({"type":"deny"})",
      Access("", kAccountAttr),  // no roles
      Access(R"({"role_id":"crn:v1:veil:public:iam::::role:Owner"})", kAccountAttr),
      Access(reader, R"({"name":"serviceName","value":"kms"})"),           // no accountId
      Access(reader, kAccountAttr + R"(,{"name":"region","value":"x"})"),  // unknown attribute
      Access(reader, kAccountAttr + "," + kAccountAttr),                   // repeated
      Access(reader, kAccountAttr + R"(,{"name":"serviceName","value":"k m s"})"),
      Access(reader, kAccountAttr + R"(,{"name":"serviceName","value":""})"),
      Access(reader,
             kAccountAttr + R"(,{"name":"serviceName","value":"kms","operator":"stringMatch"})"),
      // ReaderPlus belongs to kms: the resource must say so.
      Access(R"({"role_id":"crn:v1:veil:public:kms::::serviceRole:ReaderPlus"})", kAccountAttr),
      // Two subjects.
      R"({"type":"access","subjects":[{"attributes":[{"name":"iam_id","value":"a"}]},
          {"attributes":[{"name":"iam_id","value":"b"}]}],"roles":[)" +
          reader + R"(],"resources":[{"attributes":[)" + kAccountAttr + "]}]}",
      // A platform role in an authorization policy.
      std::string(R"({"type":"authorization","subjects":[{"attributes":[{"name":"serviceName",
          "value":"is"}]}],"roles":[{"role_id":"crn:v1:veil:public:iam::::role:Viewer"}],
          "resources":[{"attributes":[)") +
          kAccountAttr + R"(,{"name":"serviceName","value":"kms"}]}]})",
  };
  for (const std::string& json : bad) {
    auto spec = Parse(json);
    EXPECT_FALSE(spec) << json;
    if (!spec) {
      EXPECT_EQ(spec.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace veil::iam
