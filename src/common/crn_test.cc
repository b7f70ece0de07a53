#include "common/crn.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

TEST(CrnTest, ParsesAllFields) {
  auto crn = Crn::Parse(
      "crn:v1:veil:private:kms:local:a/acct1:3c4b5a69-1111-4222-8333-444455556666:key:"
      "7d8e9f00-aaaa-4bbb-8ccc-dddd00001111");
  ASSERT_TRUE(crn.has_value()) << crn.error().ToString();
  EXPECT_EQ(crn->cname, "veil");
  EXPECT_EQ(crn->ctype, "private");
  EXPECT_EQ(crn->service, "kms");
  EXPECT_EQ(crn->region, "local");
  EXPECT_EQ(crn->account, "acct1");
  EXPECT_EQ(crn->service_instance, "3c4b5a69-1111-4222-8333-444455556666");
  EXPECT_EQ(crn->resource_type, "key");
  EXPECT_EQ(crn->resource, "7d8e9f00-aaaa-4bbb-8ccc-dddd00001111");
}

TEST(CrnTest, FormatRoundTrips) {
  for (std::string_view text : {
           "crn:v1:veil:private:kms:local:a/acct:inst:key:k1",
           "crn:v1:veil:private:kms:local:a/acct:inst::",  // service instance, no resource
           "crn:v1:veil:private:iam::a/acct::serviceid:ServiceId-1234",
           "crn:v1:veil:private:cos:local:::bucket:my.bucket",  // no scope
       }) {
    auto crn = Crn::Parse(text);
    ASSERT_TRUE(crn.has_value()) << text << ": " << crn.error().ToString();
    EXPECT_EQ(crn->ToString(), text);
  }
  Crn built;
  built.service = "kms";
  built.account = "a1";
  built.service_instance = "i1";
  built.resource_type = "key";
  built.resource = "k1";
  EXPECT_EQ(built.ToString(), "crn:v1:veil:private:kms:local:a/a1:i1:key:k1");
  EXPECT_TRUE(built.Validate().has_value());
  EXPECT_EQ(Crn::Parse(built.ToString()).value(), built);
}

TEST(CrnTest, RejectsMalformed) {
  for (std::string_view bad : {
           "",
           "crn:v1:veil:private:kms:local:a/acct:inst:key",       // 9 fields
           "crn:v1:veil:private:kms:local:a/acct:inst:key:id:x",  // 11 fields
           "urn:v1:veil:private:kms:local:a/acct:inst:key:id",    // not crn
           "crn:v2:veil:private:kms:local:a/acct:inst:key:id",    // version
           "crn:v1::private:kms:local:a/acct:inst:key:id",        // empty cname
           "crn:v1:veil:private::local:a/acct:inst:key:id",       // empty service
           "crn:v1:veil:private:kms:local:acct:inst:key:id",      // scope without a/
           "crn:v1:veil:private:kms:local:a/:inst:key:id",        // empty account
           "crn:v1:veil:private:kms:local:o/org:inst:key:id",     // unsupported scope
           "crn:v1:veil:private:kms:local:a/acct:inst:key:i d",   // space
           "crn:v1:veil:private:kms:local:a/acct:inst:key:a/b",   // slash in resource
           "crn:v1:veil:private:kms:local:a/ac/ct:inst:key:id",   // slash in account
           "crn:v1:veil:private:kms:local:a/acct:inst:key:id\n",  // control character
       }) {
    auto crn = Crn::Parse(bad);
    EXPECT_FALSE(crn.has_value()) << bad;
    if (!crn) {
      EXPECT_EQ(crn.error().code, ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(Crn::Parse("crn:v1:veil:private:kms:local:a/acct:inst:key:" + std::string(600, 'x'))
                   .has_value());
}

TEST(ObjectUrlTest, ParsesAndFormats) {
  auto url = ObjectUrl::Parse("cos://local/images/dir/disk.luks");
  ASSERT_TRUE(url.has_value()) << url.error().ToString();
  EXPECT_EQ(url->region, "local");
  EXPECT_EQ(url->bucket, "images");
  EXPECT_EQ(url->object, "dir/disk.luks");
  EXPECT_EQ(url->ToString(), "cos://local/images/dir/disk.luks");
}

TEST(ObjectUrlTest, RejectsMalformed) {
  for (std::string_view bad : {
           "s3://local/images/disk",       // scheme
           "cos://local/images",           // no object
           "cos://local/images/",          // empty object
           "cos:///images/disk",           // empty region
           "cos://Local/images/disk",      // region case
           "cos://local/Images/disk",      // bucket case
           "cos://local/im/disk",          // bucket too short
           "cos://local/-images/disk",     // bucket start
           "cos://local/a..b/disk",        // bucket ".."
           "cos://local/10.0.0.1/disk",    // IP-shaped bucket
           "cos://local/images/di\x01sk",  // control character
       }) {
    EXPECT_FALSE(ObjectUrl::Parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ObjectUrl::Parse("cos://local/images/" + std::string(1025, 'o')).has_value());
}

}  // namespace
}  // namespace veil
