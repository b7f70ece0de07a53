// EvaluatePolicies, the pure rules of authorization (the LocalAuthorizer over SQLite is tested in
// authorizer_itest.cc and through the API).
#include "iam/authorizer.h"

#include <gtest/gtest.h>

namespace veil::iam {
namespace {

constexpr const char* kCustomer = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr const char* kOther = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr const char* kUser = "iam-ServiceId-11111111-1111-4111-8111-111111111111";

Policy AccessPolicy(std::string account, std::string iam_id, std::vector<const char*> roles,
                    std::vector<PolicyAttribute> resource) {
  Policy p;
  p.id = "p-" + iam_id;
  p.type = PolicyType::kAccess;
  p.account_id = std::move(account);
  p.subject = {{"iam_id", std::move(iam_id)}};
  for (const char* r : roles) p.roles.push_back(*Role::FromName(r, "kms"));
  p.resource = std::move(resource);
  return p;
}

Policy Authorization(std::string account, std::string source, std::string target,
                     std::vector<PolicyAttribute> extra_target = {}) {
  Policy p;
  p.id = "auth-" + source;
  p.type = PolicyType::kAuthorization;
  p.account_id = account;
  p.subject = {{"accountId", account}, {"serviceName", std::move(source)}};
  p.roles = {*Role::FromName("Reader", "")};
  p.resource = {{"accountId", account}, {"serviceName", std::move(target)}};
  for (auto& a : extra_target) p.resource.push_back(std::move(a));
  return p;
}

Subject User(std::string account = kCustomer) {
  Subject s;
  s.type = Subject::Type::kServiceId;
  s.iam_id = kUser;
  s.account_id = std::move(account);
  return s;
}

ResourceAttributes Key(std::string account, std::string instance = "inst-1") {
  return {std::move(account), "kms", std::move(instance), "key", "key-1"};
}

const ActionRegistry& Reg() { return DefaultActionRegistry(); }

TEST(AuthorizerTest, DenyByDefault) {
  EXPECT_FALSE(EvaluatePolicies({}, Reg(), User(), "kms.secrets.wrap", Key(kCustomer)).permitted);
}

TEST(AuthorizerTest, AMatchingPolicyWithASufficientRoleAllows) {
  std::vector<Policy> ps = {AccessPolicy(kCustomer, kUser, {"Reader"},
                                         {{"accountId", kCustomer}, {"serviceName", "kms"}})};
  Decision d = EvaluatePolicies(ps, Reg(), User(), "kms.secrets.wrap", Key(kCustomer));
  EXPECT_TRUE(d.permitted) << d.reason;
  EXPECT_EQ(d.policy_id, ps[0].id);
  EXPECT_FALSE(EvaluatePolicies(ps, Reg(), User(), "kms.secrets.delete", Key(kCustomer)).permitted);
}

TEST(AuthorizerTest, ResourceAttributesNarrowAPolicy) {
  std::vector<Policy> ps = {AccessPolicy(
      kCustomer, kUser, {"Manager"},
      {{"accountId", kCustomer}, {"serviceName", "kms"}, {"serviceInstance", "inst-1"}})};
  EXPECT_TRUE(EvaluatePolicies(ps, Reg(), User(), "kms.secrets.delete", Key(kCustomer)).permitted);
  EXPECT_FALSE(EvaluatePolicies(ps, Reg(), User(), "kms.secrets.delete", Key(kCustomer, "inst-2"))
                   .permitted);
  // A request that names no instance is not covered by a policy about one instance.
  EXPECT_FALSE(
      EvaluatePolicies(ps, Reg(), User(), "kms.secrets.list", {kCustomer, "kms", "", "", ""})
          .permitted);
}

TEST(AuthorizerTest, APolicyOnAnotherAccountsResourceGrantsNothing) {
  // A policy stored in the customer's account that (by a bug or a hand-edited row) names the
  // other account's resources, and one in the other account naming the customer's subject: the
  // first is not the resource account's, the second names a stranger. Neither grants anything.
  std::vector<Policy> ps = {
      AccessPolicy(kCustomer, kUser, {"Manager"}, {{"accountId", kOther}}),
      AccessPolicy(kOther, kUser, {"Manager"}, {{"accountId", kOther}}),
  };
  EXPECT_FALSE(
      EvaluatePolicies(ps, Reg(), User(kCustomer), "kms.secrets.wrap", Key(kOther)).permitted);
  // And the subject's own Manager policy in its own account does not reach the other account.
  std::vector<Policy> own = {
      AccessPolicy(kCustomer, kUser, {"Manager"}, {{"accountId", kCustomer}})};
  EXPECT_FALSE(
      EvaluatePolicies(own, Reg(), User(kCustomer), "kms.secrets.wrap", Key(kOther)).permitted);
  EXPECT_TRUE(
      EvaluatePolicies(own, Reg(), User(kCustomer), "kms.secrets.wrap", Key(kCustomer)).permitted);
}

TEST(AuthorizerTest, AServiceActingForACustomerWithoutItsAuthorizationIsRefused) {
  const Subject block_storage = ServiceSubject("server-protect", kCustomer);
  // Nothing at all; an access policy naming the service's iam_id (access policies never match
  // services); an authorization in ANOTHER account; an authorization for another source.
  std::vector<Policy> ps = {
      AccessPolicy(kCustomer, ServiceIamId("server-protect"), {"Manager"},
                   {{"accountId", kCustomer}}),
      Authorization(kOther, "server-protect", "kms"),
      Authorization(kCustomer, "is", "kms"),
  };
  for (size_t n = 0; n <= ps.size(); ++n) {
    std::vector<Policy> some(ps.begin(), ps.begin() + static_cast<long>(n));
    Decision d = EvaluatePolicies(some, Reg(), block_storage, "kms.secrets.unwrap", Key(kCustomer));
    EXPECT_FALSE(d.permitted) << n;
    EXPECT_NE(d.reason.find("no authorization from server-protect"), std::string::npos) << d.reason;
  }
}

TEST(AuthorizerTest, TheCustomersAuthorizationLetsTheServiceUnwrapAndNoMore) {
  const Subject block_storage = ServiceSubject("server-protect", kCustomer);
  std::vector<Policy> ps = {Authorization(kCustomer, "server-protect", "kms")};
  EXPECT_TRUE(
      EvaluatePolicies(ps, Reg(), block_storage, "kms.secrets.unwrap", Key(kCustomer)).permitted);
  // Reader does not delete; the authorization is for kms only; and only in this account.
  EXPECT_FALSE(
      EvaluatePolicies(ps, Reg(), block_storage, "kms.secrets.delete", Key(kCustomer)).permitted);
  EXPECT_FALSE(EvaluatePolicies(ps, Reg(), ServiceSubject("server-protect", kOther),
                                "kms.secrets.unwrap", Key(kCustomer))
                   .permitted);
  // A user is not matched by an authorization policy.
  EXPECT_FALSE(EvaluatePolicies(ps, Reg(), User(), "kms.secrets.unwrap", Key(kCustomer)).permitted);
}

TEST(AuthorizerTest, AnAuthorizationForOneTargetInstanceCoversOnlyIt) {
  const Subject image_service = ServiceSubject("is", kCustomer);
  std::vector<Policy> ps = {Authorization(kCustomer, "is", "kms", {{"serviceInstance", "inst-1"}})};
  EXPECT_TRUE(
      EvaluatePolicies(ps, Reg(), image_service, "kms.secrets.unwrap", Key(kCustomer, "inst-1"))
          .permitted);
  EXPECT_FALSE(
      EvaluatePolicies(ps, Reg(), image_service, "kms.secrets.unwrap", Key(kCustomer, "inst-2"))
          .permitted);
}

TEST(AuthorizerTest, AResourceWithoutAccountAndUnknownActionsAreDenied) {
  std::vector<Policy> ps = {
      AccessPolicy(kCustomer, kUser, {"Manager"}, {{"accountId", kCustomer}})};
  EXPECT_FALSE(
      EvaluatePolicies(ps, Reg(), User(), "kms.secrets.wrap", {"", "kms", "", "", ""}).permitted);
  EXPECT_FALSE(EvaluatePolicies(ps, Reg(), User(), "kms.secrets.fly", Key(kCustomer)).permitted);
}

TEST(AuthorizerTest, UsersManageTheirOwnApiKeysServiceIdsNeedAPolicy) {
  constexpr const char* kAlice = "IBMid-22222222-2222-4222-8222-222222222222";
  Subject alice;
  alice.type = Subject::Type::kUser;
  alice.iam_id = kAlice;
  alice.account_id = kCustomer;
  const ResourceAttributes own{kCustomer, "iam-identity", "", "user", kAlice};
  for (const char* verb : {"create", "read", "update", "delete", "lock", "unlock"}) {
    const std::string action = std::string("iam-identity.user-apikey.") + verb;
    EXPECT_TRUE(EvaluatePolicies({}, Reg(), alice, action, own).permitted) << action;
  }
  // Not another user's keys, not in another account, not another action.
  EXPECT_FALSE(EvaluatePolicies({}, Reg(), alice, "iam-identity.user-apikey.create",
                                {kCustomer, "iam-identity", "", "user", "IBMid-someone-else"})
                   .permitted);
  EXPECT_FALSE(EvaluatePolicies({}, Reg(), alice, "iam-identity.user-apikey.create",
                                {kOther, "iam-identity", "", "user", kAlice})
                   .permitted);
  EXPECT_FALSE(EvaluatePolicies({}, Reg(), alice, "iam-identity.serviceid.delete", own).permitted);
  // A service ID has no such rule, not even for its own keys.
  const std::string sid = std::string(kUser).substr(4);  // "ServiceId-..."
  const ResourceAttributes own_sid{kCustomer, "iam-identity", "", "serviceid", sid};
  for (const char* verb : {"create", "read", "delete", "unlock"}) {
    const std::string action = std::string("iam-identity.serviceid-apikey.") + verb;
    EXPECT_FALSE(EvaluatePolicies({}, Reg(), User(), action, own_sid).permitted) << action;
  }
  Subject as_user = User();  // a service ID's iam_id passed off as a user's resource
  EXPECT_FALSE(EvaluatePolicies({}, Reg(), as_user, "iam-identity.user-apikey.create",
                                {kCustomer, "iam-identity", "", "user", kUser})
                   .permitted);
}

}  // namespace
}  // namespace veil::iam
