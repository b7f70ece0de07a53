#include "iam/api/parse.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "common/bytes.h"
#include "common/encoding.h"

namespace veil::iam::api {
namespace {

TEST(ParseFormTest, DecodesPlusAndPercentEscapesInOrder) {
  auto form = ParseForm(
      "grant_type=urn%3Aibm%3Aparams%3Aoauth%3Agrant-type%3Aapikey&apikey=a+b%2B&"
      "&flag&empty=");
  ASSERT_TRUE(form);
  ASSERT_EQ(form->size(), 4u);
  EXPECT_EQ(FindField(*form, "grant_type"), "urn:ibm:params:oauth:grant-type:apikey");
  EXPECT_EQ(FindField(*form, "apikey"), "a b+");
  EXPECT_EQ(FindField(*form, "flag"), "");
  EXPECT_EQ(FindField(*form, "empty"), "");
  EXPECT_FALSE(FindField(*form, "missing"));
}

TEST(ParseFormTest, RefusesMalformedEscapesNulAndTooManyFields) {
  EXPECT_FALSE(ParseForm("apikey=%zz"));
  EXPECT_FALSE(ParseForm("apikey=%00"));
  EXPECT_FALSE(ParseForm("apikey=%4"));
  std::string many;
  for (int i = 0; i < 40; ++i) many += "a=b&";
  EXPECT_FALSE(ParseForm(many));
  // The error never quotes the input.
  auto bad = ParseForm("apikey=secret%zz");
  EXPECT_EQ(bad.error().message.find("secret"), std::string::npos);
}

TEST(ParsePageQueryTest, SizeAndToken) {
  auto page = ParsePageQuery({{"pagesize", "5"}, {"pagetoken", "10"}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->size, 5);
  EXPECT_EQ(page->token, "10");
  EXPECT_EQ(ParsePageQuery({})->size, 20);
  for (const char* bad : {"0", "101", "-1", "x", "5x", ""}) {
    EXPECT_FALSE(ParsePageQuery({{"pagesize", bad}})) << bad;
  }
}

TEST(ParseBodiesTest, ServiceIdAndApiKeyRequests) {
  auto s = ParseServiceIdCreate(boost::json::parse(R"({"name":"n","description":"d"})"), "acct");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->account_id, "acct");
  EXPECT_FALSE(ParseServiceIdCreate(boost::json::parse(R"({"description":"d"})"), "acct"));
  EXPECT_FALSE(ParseServiceIdCreate(boost::json::parse(R"({"name":7})"), "acct"));
  EXPECT_FALSE(ParseServiceIdCreate(boost::json::parse(R"([1])"), "acct"));

  auto k = ParseApiKeyCreate(boost::json::parse(R"({"name":"k","store_value":false})"), "me");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->spec.iam_id, "me");
  auto stored = ParseApiKeyCreate(boost::json::parse(R"({"name":"k","store_value":true})"), "me");
  ASSERT_FALSE(stored);
  EXPECT_NE(stored.error().message.find("store_value"), std::string::npos);

  EXPECT_FALSE(ParseUpdate(boost::json::parse("{}")));
  EXPECT_TRUE(ParseUpdate(boost::json::parse(R"({"description":""})")));
}

TEST(ParseBodiesTest, ResourceInstanceRequest) {
  auto r =
      ParseInstanceCreate(boost::json::parse(R"({"name":"kp","resource_id":"kms","target":"local",
                             "resource_plan_id":"ignored"})"),
                          "acct");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->resource_id, "kms");
  EXPECT_EQ(r->target, "local");
  EXPECT_FALSE(ParseInstanceCreate(boost::json::parse(R"({"name":"kp"})"), "acct"));
}

TEST(ParseBodiesTest, AccountRequest) {
  auto spec = ParseAccountCreate(boost::json::parse(R"({"name":"tenant","parent":"x"})"));
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->name, "tenant");
  EXPECT_EQ(spec->owner_name, "admin");
  EXPECT_EQ(spec->owner_email, "");
  spec = ParseAccountCreate(
      boost::json::parse(R"({"name":"t","owner_name":"bob","owner_email":"b@example.com"})"));
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->owner_name, "bob");
  EXPECT_EQ(spec->owner_email, "b@example.com");
  for (const char* bad :
       {R"({})", R"({"name":""})", R"({"name":1})", R"([])", R"({"name":"t","owner_email":false})",
        R"({"name":"t","owner_iam_id":"IBMid-1"})"}) {
    auto r = ParseAccountCreate(boost::json::parse(bad));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(ParseAuthzBatchTest, ItemsAndErrorsInTheirSlots) {
  auto batch = ParseAuthzBatch(boost::json::parse(R"([
    {"subject":{"attributes":{"id":"iam-ServiceId-x"}},"action":"kms.secrets.wrap",
     "resource":{"attributes":{"accountId":"a","serviceName":"kms","serviceInstance":"i"}}},
    {"subject":{"attributes":{"serviceName":"server-protect","accountId":"a"}},
     "action":"kms.secrets.unwrap","resource":{"attributes":{"accountId":"a"}}},
    {"subject":{"accessTokenBody":"e30"},"action":"x.y.z","resource":{"attributes":{"accountId":"a"}}},
    {"subject":{"attributes":{}},"action":"a.b.c","resource":{"attributes":{"accountId":"a"}}},
    {"subject":{"attributes":{"id":"x"}},"resource":{"attributes":{"accountId":"a"}}},
    {"subject":{"attributes":{"id":"x"}},"action":"a.b.c","resource":{}}
  ])"));
  ASSERT_TRUE(batch);
  ASSERT_EQ(batch->size(), 6u);
  ASSERT_TRUE((*batch)[0]);
  EXPECT_EQ((*batch)[0]->resource_instance, "i");
  ASSERT_TRUE((*batch)[1]);
  EXPECT_EQ((*batch)[1]->subject_service, "server-protect");
  ASSERT_TRUE((*batch)[2]);
  EXPECT_EQ((*batch)[2]->access_token_body, "e30");
  EXPECT_FALSE((*batch)[3]);
  EXPECT_FALSE((*batch)[4]);
  EXPECT_FALSE((*batch)[5]);
  EXPECT_FALSE(ParseAuthzBatch(boost::json::parse("[]")));
  EXPECT_FALSE(ParseAuthzBatch(boost::json::parse("{}")));
  std::string many = "[";
  for (int i = 0; i < 101; ++i) many += std::string(i ? "," : "") + "{}";
  EXPECT_FALSE(ParseAuthzBatch(boost::json::parse(many + "]")));
}

TEST(AccessTokenSubjectTest, ReadsTheIamIdOfAPayload) {
  EXPECT_EQ(AccessTokenSubject(Base64UrlEncode(AsBytes(R"({"iam_id":"iam-x","exp":1})"))).value(),
            "iam-x");
  for (std::string_view payload : {R"({"iam_id":1})", "[]", "{", R"({"iam_id":"x","n":1e400})"}) {
    EXPECT_FALSE(AccessTokenSubject(Base64UrlEncode(AsBytes(payload)))) << payload;
  }
  EXPECT_FALSE(AccessTokenSubject("e30="));  // padded: not base64url
}

// iam_id "" used to replace the caller's default and be looked up as an identity named "";
// account_id "" named an account that cannot exist. A given id must not be empty.
TEST(ParseIdsTest, EmptyIdsAreRefusedNotLookedUp) {
  EXPECT_FALSE(ParseApiKeyCreate(boost::json::parse(R"({"name":"k","iam_id":""})"), "iam-me"));
  EXPECT_FALSE(ParseApiKeyCreate(boost::json::parse(R"({"name":"k","account_id":""})"), "iam-me"));
  EXPECT_FALSE(ParseServiceIdCreate(boost::json::parse(R"({"name":"s","account_id":""})"), "a"));
  EXPECT_FALSE(ParseInstanceCreate(
      boost::json::parse(R"({"name":"i","resource_id":"kms","account_id":""})"), "a"));
  auto key = ParseApiKeyCreate(boost::json::parse(R"({"name":"k","iam_id":null})"), "iam-me");
  ASSERT_TRUE(key);
  EXPECT_EQ(key->spec.iam_id, "iam-me");
}

}  // namespace
}  // namespace veil::iam::api
