// LocalClient: a Veil service uses a customer's root key only for that customer (the account it
// acts for owns the key) and only when that customer authorized it (a service-to-service
// authorization policy in that account), as IAM decides. Real SQLite and SoftHSM2.
#include <gtest/gtest.h>

#include "kms/client.h"
#include "kms/errors.h"
#include "kms/testing/kms_fixture.h"

namespace veil::kms {
namespace {

using testing::KmsFixture;
using testing::KnownKey;

iam::PolicySpec Authorization(const std::string& source, const std::string& account,
                              const std::string& role = "Reader",
                              const std::string& source_account = "") {
  iam::PolicySpec s2s;
  s2s.type = iam::PolicyType::kAuthorization;
  s2s.roles = {*iam::Role::FromName(role, "")};
  s2s.subject = {{"serviceName", source}};
  if (!source_account.empty()) s2s.subject.push_back({"accountId", source_account});
  s2s.resource = {{"accountId", account}, {"serviceName", "kms"}};
  return s2s;
}

void ExpectDenied(const Error& e) {
  EXPECT_EQ(e.code, ErrorCode::kPermissionDenied) << e.ToString();
  EXPECT_EQ(ReasonOf(e), KmsReason::kUnauthorized) << e.ToString();
}

// A second tenant, made as the operator's accounts API makes one.
std::string TenantB(KmsFixture& f) {
  iam::IamService::AccountSpec spec;
  spec.name = "tenant-b";
  auto b = f.iam.service->CreateAccountWithAdmin(spec, f.iam.admin.iam_id);
  VEIL_CHECK(b.has_value());
  return b->account.id;
}

TEST(KmsClientTest, ServiceNeedsTheCustomersAuthorization) {
  KmsFixture f;
  Key key = f.CreateRoot();
  const std::string crn = key.crn("local");
  const ActingFor customer{f.iam.account_id, ""};
  LocalClient block_storage(*f.service, *f.iam.authorizer, "server-protect");
  LocalClient images(*f.service, *f.iam.authorizer, "is");

  auto denied = block_storage.Wrap(customer, crn, KnownKey(), {});
  ASSERT_FALSE(denied);
  ExpectDenied(denied.error());

  // An authorization in another account grants nothing here.
  const std::string other = TenantB(f);
  ASSERT_TRUE(f.iam.service->CreatePolicy(other, Authorization("server-protect", other), "test"));
  EXPECT_FALSE(block_storage.Wrap(customer, crn, KnownKey(), {}));

  // The customer authorizes block storage (Reader): wrap, unwrap and rewrap work; images, which
  // the customer did not authorize, still get nothing.
  ASSERT_TRUE(f.iam.service->CreatePolicy(
      f.iam.account_id, Authorization("server-protect", f.iam.account_id), "test"));
  auto wrapped = block_storage.Wrap(customer, crn, KnownKey(), {"vol-1"});
  ASSERT_TRUE(wrapped) << wrapped.error().ToString();
  auto unwrapped = block_storage.Unwrap(customer, crn, wrapped->ciphertext, {"vol-1"});
  ASSERT_TRUE(unwrapped) << unwrapped.error().ToString();
  EXPECT_TRUE(unwrapped->plaintext.Equals(KnownKey()));
  EXPECT_TRUE(block_storage.Rewrap(customer, crn, wrapped->ciphertext, {"vol-1"}));
  EXPECT_FALSE(images.Unwrap(customer, crn, wrapped->ciphertext, {"vol-1"}));

  // Registrations are the service's own; the key then refuses a plain delete.
  const std::string volume =
      "crn:v1:veil:private:server-protect:local:a/" + f.iam.account_id + "::volume:vol-1";
  auto registration = block_storage.Register(customer, crn, {volume, "boot volume", false});
  ASSERT_TRUE(registration) << registration.error().ToString();
  EXPECT_EQ(registration->created_by, "crn-crn:v1:veil:public:server-protect:::::");
  auto refused = f.service->Delete(key, false, f.user);
  ASSERT_FALSE(refused);
  EXPECT_EQ(ReasonOf(refused.error()), KmsReason::kProtectedResource);
  ASSERT_TRUE(block_storage.Unregister(customer, crn, volume));

  // The key's state rules hold for services too.
  ASSERT_TRUE(f.service->Disable(key));
  auto disabled = block_storage.Unwrap(customer, crn, wrapped->ciphertext, {"vol-1"});
  ASSERT_FALSE(disabled);
  EXPECT_EQ(ReasonOf(disabled.error()), KmsReason::kKeyActionInvalidState);

  // A CRN naming the key under another account is refused, acting for either account.
  std::string forged = crn;
  forged.replace(forged.find(f.iam.account_id), f.iam.account_id.size(), other);
  EXPECT_FALSE(block_storage.Unwrap(customer, forged, wrapped->ciphertext, {"vol-1"}));
  EXPECT_FALSE(block_storage.Unwrap({other, ""}, forged, wrapped->ciphertext, {"vol-1"}));
  auto malformed = block_storage.Unwrap(customer, "not-a-crn", wrapped->ciphertext, {});
  ASSERT_FALSE(malformed);
  EXPECT_EQ(ReasonOf(malformed.error()), KmsReason::kBadReq);
}

// The attack of issue 11: customer B asks the image service to import an image with account A's
// key CRN and a wrapped DEK of A's. A authorized the image service for its own imports, and B
// authorized it for B's. Acting for B, the service must refuse A's key for every operation, and
// acting for A it still works.
TEST(KmsClientTest, AccountBCannotUnwrapWithAccountAKeyThroughLocalClient) {
  KmsFixture f;
  const std::string a = f.iam.account_id;
  const std::string b = TenantB(f);
  ASSERT_TRUE(f.iam.service->CreatePolicy(a, Authorization("is", a), "test"));
  ASSERT_TRUE(f.iam.service->CreatePolicy(b, Authorization("is", b, "Manager"), "test"));
  const std::string crn = f.CreateRoot("a-image-key").crn("local");
  LocalClient images(*f.service, *f.iam.authorizer, "is");
  auto a_wdek = images.Wrap({a, ""}, crn, KnownKey(), {});
  ASSERT_TRUE(a_wdek) << a_wdek.error().ToString();

  const ActingFor for_b{b, ""};
  auto unwrap = images.Unwrap(for_b, crn, a_wdek->ciphertext, {});
  ASSERT_FALSE(unwrap);
  ExpectDenied(unwrap.error());
  auto wrap = images.Wrap(for_b, crn, KnownKey(), {});
  ASSERT_FALSE(wrap);
  ExpectDenied(wrap.error());
  auto rewrap = images.Rewrap(for_b, crn, a_wdek->ciphertext, {});
  ASSERT_FALSE(rewrap);
  ExpectDenied(rewrap.error());
  const std::string b_image = "crn:v1:veil:private:is:local:a/" + b + "::image:img-1";
  auto registered = images.Register(for_b, crn, {b_image, "B's image", true});
  ASSERT_FALSE(registered);
  ExpectDenied(registered.error());
  auto unregistered = images.Unregister(for_b, crn, b_image);
  ASSERT_FALSE(unregistered);
  ExpectDenied(unregistered.error());
  // The same refusal whether or not the key exists: B learns nothing about A's keys.
  std::string missing = crn.substr(0, crn.rfind(':') + 1) + "00000000-0000-4000-8000-000000000000";
  auto unknown = images.Unwrap(for_b, missing, a_wdek->ciphertext, {});
  ASSERT_FALSE(unknown);
  ExpectDenied(unknown.error());
  // A CRN that claims B's account but names A's instance and key finds no key of B's.
  std::string relabelled = crn;
  relabelled.replace(relabelled.find(a), a.size(), b);
  auto relabel = images.Unwrap(for_b, relabelled, a_wdek->ciphertext, {});
  ASSERT_FALSE(relabel);
  EXPECT_EQ(ReasonOf(relabel.error()), KmsReason::kKeyNotFound) << relabel.error().ToString();

  auto for_a = images.Unwrap({a, ""}, crn, a_wdek->ciphertext, {});
  ASSERT_TRUE(for_a) << for_a.error().ToString();
  EXPECT_TRUE(for_a->plaintext.Equals(KnownKey()));
}

// An authorization of A that names B as the source account (IBM's cross-account authorization)
// does not let the service, acting for B, use A's key: the key must be the account's own, and
// the policy is looked up in the account acted for only.
TEST(KmsClientTest, AnotherAccountsAuthorizationDoesNotLendItsKeys) {
  KmsFixture f;
  const std::string a = f.iam.account_id;
  const std::string b = TenantB(f);
  ASSERT_TRUE(f.iam.service->CreatePolicy(a, Authorization("is", a, "Reader", b), "test"));
  const std::string crn = f.CreateRoot().crn("local");
  LocalClient images(*f.service, *f.iam.authorizer, "is");
  auto wrap = images.Wrap({b, ""}, crn, KnownKey(), {});
  ASSERT_FALSE(wrap);
  ExpectDenied(wrap.error());
  // And acting for A, that policy (source account B) is not A's authorization.
  auto own = images.Wrap({a, ""}, crn, KnownKey(), {});
  ASSERT_FALSE(own);
  ExpectDenied(own.error());
}

TEST(KmsClientTest, TheAccountActedForIsRequiredAndASourceInstanceIsMatched) {
  KmsFixture f;
  const std::string a = f.iam.account_id;
  const std::string crn = f.CreateRoot().crn("local");
  LocalClient images(*f.service, *f.iam.authorizer, "is");
  auto nobody = images.Wrap({"", ""}, crn, KnownKey(), {});
  ASSERT_FALSE(nobody);
  EXPECT_EQ(nobody.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(ReasonOf(nobody.error()), KmsReason::kBadReq);

  iam::PolicySpec one_instance = Authorization("is", a);
  one_instance.subject.push_back({"serviceInstance", "image-service-1"});
  ASSERT_TRUE(f.iam.service->CreatePolicy(a, one_instance, "test"));
  EXPECT_TRUE(images.Wrap({a, "image-service-1"}, crn, KnownKey(), {}));
  EXPECT_FALSE(images.Wrap({a, "image-service-2"}, crn, KnownKey(), {}));
  EXPECT_FALSE(images.Wrap({a, ""}, crn, KnownKey(), {}));
}

}  // namespace
}  // namespace veil::kms
