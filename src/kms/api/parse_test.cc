#include "kms/api/parse.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "http/json_body.h"
#include "kms/errors.h"
#include "kms/instance_policy.h"

namespace veil::kms::api {
namespace {

OptionalBody Body(std::string_view json) { return OptionalBody(boost::json::parse(json)); }

std::string Reason(const Error& e) { return std::string(KmsReasonName(ReasonOf(e))); }

TEST(KmsParse, CreateKeyReadsTheSingleResource) {
  auto spec = ParseCreateKey(Body(
      R"({"metadata":{"collectionType":"application/vnd.ibm.kms.key+json","collectionTotal":1},)"
      R"("resources":[{"name":"k","aliases":["a1"],"extractable":false,)"
      R"("expirationDate":"2030-01-01T00:00:00Z"}]})"));
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->name, "k");
  EXPECT_EQ(spec->aliases, std::vector<std::string>{"a1"});
  EXPECT_TRUE(spec->expires_at);
  EXPECT_FALSE(spec->material);
  EXPECT_EQ(Reason(ParseCreateKey(std::nullopt).error()), "NO_BODY_ERR");
  EXPECT_EQ(Reason(ParseCreateKey(Body(R"({"resources":[{},{}]})")).error()),
            "NUM_COLLECTION_RESOURCE_ERR");
  EXPECT_EQ(Reason(ParseCreateKey(
                       Body(R"({"metadata":{"collectionTotal":2},"resources":[{"name":"k"}]})"))
                       .error()),
            "COLLECTION_TOTAL_MISMATCH_ERR");
  // An expiration a TimePoint cannot hold is a malformed date, not an overflow.
  EXPECT_EQ(
      Reason(ParseCreateKey(
                 Body(R"({"resources":[{"name":"k","expirationDate":"9999-12-31T23:59:59Z"}]})"))
                 .error()),
      "BAD_BODY_ERR");
}

// interval_month was read as int64 and cast to int: 4294967297 became 1, a valid interval.
TEST(KmsParse, RotationIntervalBeyondIntIsRefusedNotNarrowed) {
  for (std::string_view json :
       {R"({"resources":[{"rotation":{"enabled":true,"interval_month":4294967297}}]})",
        R"({"resources":[{"rotation":{"enabled":true,"interval_month":-4294967295}}]})",
        R"({"resources":[{"rotation":{"enabled":false,"interval_month":4294967296}}]})",
        R"({"resources":[{"rotation":{"enabled":true,"interval_month":13}}]})",
        R"({"resources":[{"rotation":{"enabled":true,"interval_month":1.5}}]})",
        R"({"resources":[{"rotation":{"enabled":true}}]})"}) {
    auto updates = ParseKeyPolicies(Body(json), "");
    ASSERT_FALSE(updates) << json;
    EXPECT_EQ(Reason(updates.error()), "BAD_BODY_ERR") << json;
  }
  auto ok = ParseKeyPolicies(
      Body(
          R"({"resources":[{"rotation":{"interval_month":12}},{"dualAuthDelete":{"enabled":false}}]})"),
      "");
  ASSERT_TRUE(ok) << ok.error().message;
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ((*ok)[0].interval_month, 12);
  EXPECT_EQ((*ok)[1].type, KeyPolicyUpdate::Type::kDualAuthDelete);
  auto off = ParseKeyPolicies(Body(R"({"resources":[{"rotation":{"enabled":false}}]})"), "");
  ASSERT_TRUE(off);
  EXPECT_FALSE((*off)[0].interval_month);
  EXPECT_EQ(Reason(ParseKeyPolicies(Body(R"({"resources":[{"rotation":{"interval_month":1}}]})"),
                                    "dualAuthDelete")
                       .error()),
            "BODY_QUERY_PARAM_MISMATCH_ERR");
}

TEST(KmsParse, InstancePoliciesAreValidatedAndReadBack) {
  auto updates = ParseInstancePolicies(
      Body(
          R"({"resources":[{"policy_type":"allowedIP","policy_data":{"enabled":true,)"
          R"("attributes":{"allowed_ip":["10.0.0.0/8","2001:db8::/32"]}}},)"
          R"({"policy_type":"rotation","policy_data":{"enabled":true,"attributes":{"interval_month":3}}}]})"),
      "");
  ASSERT_TRUE(updates) << updates.error().message;
  ASSERT_EQ(updates->size(), 2u);
  EXPECT_EQ((*updates)[0].data.allowed_ip,
            (std::vector<std::string>{"10.0.0.0/8", "2001:db8::/32"}));
  EXPECT_TRUE((*updates)[0].data.enabled);
  EXPECT_EQ((*updates)[1].data.interval_month, 3);
  for (const InstancePolicyUpdate& u : *updates) {
    const std::string text = InstancePolicyDataText(u.data);
    auto again = ParseInstancePolicyData(u.type, text);
    ASSERT_TRUE(again) << text;
    EXPECT_EQ(*again, u.data) << text;
  }
  for (
      std::string_view bad :
      {R"({"resources":[{"policy_type":"allowedIP","policy_data":{"enabled":true,"attributes":{"allowed_ip":["10.0.0.0/-0"]}}}]})",
       R"({"resources":[{"policy_type":"allowedIP","policy_data":{"enabled":true,"attributes":{"allowed_ip":[]}}}]})",
       R"({"resources":[{"policy_type":"rotation","policy_data":{"enabled":true,"attributes":{"interval_month":4294967297}}}]})",
       R"({"resources":[{"policy_type":"nope","policy_data":{"enabled":true}}]})",
       R"({"resources":[{"policy_type":"allowedNetwork","policy_data":{"enabled":true,"attributes":{"allowed_network":"anywhere"}}}]})",
       R"({"resources":[{"policy_type":"keyCreateImportAccess","policy_data":{"enabled":true,"attributes":{"x":true}}}]})"}) {
    auto r = ParseInstancePolicies(Body(bad), "");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(Reason(r.error()), "BAD_BODY_ERR") << bad;
  }
}

TEST(KmsParse, WrapAadIsBounded) {
  boost::json::array aad;
  for (int i = 0; i < 256; ++i) aad.emplace_back("a");
  boost::json::object o{{"aad", aad}};
  EXPECT_EQ(Reason(ParseWrap(OptionalBody(o)).error()), "BAD_BODY_ERR");
  o["aad"] = boost::json::array{boost::json::string(std::string(256, 'a'))};
  EXPECT_EQ(Reason(ParseWrap(OptionalBody(o)).error()), "BAD_BODY_ERR");
  auto wrap = ParseWrap(Body(R"({"plaintext":"AAEC","aad":["x"]})"));
  ASSERT_TRUE(wrap);
  EXPECT_EQ(wrap->plaintext->size(), 3u);
  EXPECT_EQ(Reason(ParseWrap(Body(R"({"plaintext":"AAE"})")).error()), "BAD_BODY_ERR");
  EXPECT_EQ(Reason(ParseCiphertextRequest(std::nullopt).error()), "BAD_BODY_ERR");
  EXPECT_EQ(ParseCiphertextRequest(Body(R"({"ciphertext":"x"})"))->ciphertext, "x");
}

TEST(KmsParse, QueriesAreBounded) {
  EXPECT_EQ(ParseListKeysQuery({})->limit, 200);
  EXPECT_FALSE(ParseListKeysQuery({{"limit", "5001"}}));
  EXPECT_FALSE(ParseListKeysQuery({{"limit", "+5"}}));
  EXPECT_FALSE(ParseListKeysQuery({{"offset", "-1"}}));
  EXPECT_FALSE(ParseListKeysQuery({{"state", "4"}}));
  EXPECT_EQ(ParseListKeysQuery({{"state", "0,5"}})->states.size(), 2u);
  EXPECT_EQ(ParseRegistrationQuery({{"limit", "0"}})->limit, 0);
  EXPECT_FALSE(ParseRegistrationQuery({{"preventKeyDeletion", "yes"}}));
  EXPECT_FALSE(ParseConfirmOutsideAllowedIp({{"confirmOutsideAllowedIP", "1"}}));
  EXPECT_TRUE(*ParseConfirmOutsideAllowedIp({{"confirmOutsideAllowedIP", "true"}}));
}

TEST(KmsParse, RegistrationAndImportTokenBodies) {
  auto r = ParseRegistration(
      Body(R"({"resources":[{"keyVersion":{"id":"v"},"preventKeyDeletion":true}]})"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->key_version_id, "v");
  EXPECT_EQ(r->prevent_key_deletion, true);
  EXPECT_FALSE(ParseRegistration(Body(R"({"resources":[]})")));
  EXPECT_EQ(ParseImportTokenCreate(std::nullopt)->expiration, 600);
  EXPECT_FALSE(ParseImportTokenCreate(Body(R"({"expiration":1e3})")));
  EXPECT_FALSE(ParseImportTokenCreate(Body(R"({"maxAllowedRetrievals":18446744073709551615})")));
}

}  // namespace
}  // namespace veil::kms::api
