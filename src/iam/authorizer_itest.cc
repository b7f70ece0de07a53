// LocalAuthorizer over SQLite: its cache follows policy changes at once.
#include <gtest/gtest.h>

#include "iam/authorizer.h"
#include "iam/testing/iam_fixture.h"

namespace veil::iam {
namespace {

TEST(LocalAuthorizerTest, PolicyChangesReachTheCachedDecisionsAtOnce) {
  testing::IamFixture f;
  auto creds = f.ServiceIdWith({});
  Subject s{Subject::Type::kServiceId, creds.identity.iam_id, f.account_id, "", "", ""};
  ResourceAttributes key{f.account_id, "kms", "", "key", "k"};
  EXPECT_FALSE(f.authorizer->Authorize(s, "kms.secrets.wrap", key)->permitted);  // now cached
  f.Grant(creds.identity.iam_id, {"Reader"}, f.account_id);
  EXPECT_TRUE(f.authorizer->Authorize(s, "kms.secrets.wrap", key)->permitted);
  auto policies = f.service->ListPolicies(f.account_id);
  for (const Policy& p : *policies) {
    if (p.SubjectValue("iam_id") == creds.identity.iam_id) {
      ASSERT_TRUE(f.service->DeletePolicy(p.id));
    }
  }
  EXPECT_FALSE(f.authorizer->Authorize(s, "kms.secrets.wrap", key)->permitted);
}

TEST(LocalAuthorizerTest, AServiceActingForACustomerNeedsThatCustomersAuthorization) {
  testing::IamFixture f;
  auto customer_b = f.service->CreateAccount("customer b");
  ASSERT_TRUE(customer_b);
  auto instance = f.service->CreateInstance({f.account_id, "keys", "kms", ""}, "t");
  ResourceAttributes key{f.account_id, "kms", instance->guid, "key", "k"};
  const Subject block_storage = ServiceSubject("server-protect", f.account_id);
  EXPECT_FALSE(f.authorizer->Authorize(block_storage, "kms.secrets.unwrap", key)->permitted);

  // Customer B authorizes server-protect in B's account: nothing changes for A's key.
  PolicySpec s2s;
  s2s.type = PolicyType::kAuthorization;
  s2s.roles = {*Role::FromName("Reader", "")};
  s2s.subject = {{"serviceName", "server-protect"}};
  s2s.resource = {{"accountId", customer_b->id}, {"serviceName", "kms"}};
  ASSERT_TRUE(f.service->CreatePolicy(customer_b->id, s2s, "t"));
  EXPECT_FALSE(f.authorizer->Authorize(block_storage, "kms.secrets.unwrap", key)->permitted);

  // Customer A's own authorization does.
  s2s.resource = {{"accountId", f.account_id}, {"serviceName", "kms"}};
  ASSERT_TRUE(f.service->CreatePolicy(f.account_id, s2s, "t"));
  EXPECT_TRUE(f.authorizer->Authorize(block_storage, "kms.secrets.unwrap", key)->permitted);
  EXPECT_FALSE(
      f.authorizer->Authorize(ServiceSubject("is", f.account_id), "kms.secrets.unwrap", key)
          ->permitted);
}

}  // namespace
}  // namespace veil::iam
