// LocalClient: a Veil service uses a customer's root key only when that customer authorized it
// (a service-to-service authorization policy in the key's account), as IAM decides.
#include <gtest/gtest.h>

#include "kms/client.h"
#include "kms/errors.h"
#include "kms/testing/kms_fixture.h"

namespace veil::kms {
namespace {

using testing::KmsFixture;
using testing::KnownKey;

iam::PolicySpec Authorization(const std::string& source, const std::string& account,
                              const std::string& role = "Reader") {
  iam::PolicySpec s2s;
  s2s.type = iam::PolicyType::kAuthorization;
  s2s.roles = {*iam::Role::FromName(role, "")};
  s2s.subject = {{"serviceName", source}};
  s2s.resource = {{"accountId", account}, {"serviceName", "kms"}};
  return s2s;
}

TEST(KmsClientTest, ServiceNeedsTheCustomersAuthorization) {
  KmsFixture f;
  Key key = f.CreateRoot();
  const std::string crn = key.crn("local");
  LocalClient block_storage(*f.service, *f.iam.authorizer, "server-protect");
  LocalClient images(*f.service, *f.iam.authorizer, "is");

  auto denied = block_storage.Wrap(crn, KnownKey(), {});
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(ReasonOf(denied.error()).code, "UNAUTHORIZED_ERR");

  // An authorization in another account grants nothing here.
  auto other = f.iam.service->CreateAccount("other");
  ASSERT_TRUE(other) << other.error().ToString();
  ASSERT_TRUE(
      f.iam.service->CreatePolicy(other->id, Authorization("server-protect", other->id), "test"));
  EXPECT_FALSE(block_storage.Wrap(crn, KnownKey(), {}));

  // The customer authorizes block storage (Reader): wrap, unwrap and rewrap work; images, which
  // the customer did not authorize, still get nothing.
  ASSERT_TRUE(f.iam.service->CreatePolicy(
      f.iam.account_id, Authorization("server-protect", f.iam.account_id), "test"));
  auto wrapped = block_storage.Wrap(crn, KnownKey(), {"vol-1"});
  ASSERT_TRUE(wrapped) << wrapped.error().ToString();
  auto unwrapped = block_storage.Unwrap(crn, wrapped->ciphertext, {"vol-1"});
  ASSERT_TRUE(unwrapped) << unwrapped.error().ToString();
  EXPECT_TRUE(unwrapped->plaintext.Equals(KnownKey()));
  EXPECT_TRUE(block_storage.Rewrap(crn, wrapped->ciphertext, {"vol-1"}));
  EXPECT_FALSE(images.Unwrap(crn, wrapped->ciphertext, {"vol-1"}));

  // Registrations are the service's own; the key then refuses a plain delete.
  const std::string volume =
      "crn:v1:veil:private:server-protect:local:a/" + f.iam.account_id + "::volume:vol-1";
  auto registration = block_storage.Register(crn, volume, "boot volume", false);
  ASSERT_TRUE(registration) << registration.error().ToString();
  EXPECT_EQ(registration->created_by, "crn-crn:v1:veil:public:server-protect:::::");
  auto refused = f.service->Delete(key, false, f.user);
  ASSERT_FALSE(refused);
  EXPECT_EQ(ReasonOf(refused.error()).code, "PROTECTED_RESOURCE_ERR");
  ASSERT_TRUE(block_storage.Unregister(crn, volume));

  // The key's state rules hold for services too.
  ASSERT_TRUE(f.service->Disable(key, f.user));
  auto disabled = block_storage.Unwrap(crn, wrapped->ciphertext, {"vol-1"});
  ASSERT_FALSE(disabled);
  EXPECT_EQ(ReasonOf(disabled.error()).code, "KEY_ACTION_INVALID_STATE_ERR");

  // A CRN naming the key under another account is refused.
  std::string forged = crn;
  forged.replace(forged.find(f.iam.account_id), f.iam.account_id.size(), other->id);
  EXPECT_FALSE(block_storage.Unwrap(forged, wrapped->ciphertext, {"vol-1"}));
  EXPECT_FALSE(block_storage.Unwrap("not-a-crn", wrapped->ciphertext, {}));
}

}  // namespace
}  // namespace veil::kms
