// Attacks on dual authorization (issue 11, item 3) against KmsService on SQLite and a real
// SoftHSM2 token: one Manager turning dual authorization off, on the key or on the instance, to
// delete a key alone.
#include <gtest/gtest.h>

#include "kms/errors.h"
#include "kms/testing/kms_fixture.h"

namespace veil::kms {
namespace {

using testing::ReasonCode;

class DualAuthTest : public ::testing::Test {
 protected:
  KmsService& kms() { return *f_.service; }
  testing::KmsFixture f_;
};

// The bypass: dual authorization off, then delete alone. Refused at the first step.
TEST_F(DualAuthTest, ManagerCannotDisableDualAuthThenDeleteAlone) {
  Key key = f_.CreateRoot();
  ASSERT_TRUE(kms().SetDualAuthPolicy(key, true));
  // Whoever asks: the rule does not depend on the caller.
  EXPECT_REASON(kms().SetDualAuthPolicy(f_.Reload(key), false), "BAD_BODY_ERR");
  key = f_.Reload(key);
  EXPECT_TRUE(key.dual_auth_delete);
  EXPECT_REASON(kms().Delete(key, false, f_.user), "AUTHORIZATIONS_NOT_MET");
  // Enabling again is harmless; the two-person rule still holds and still works.
  EXPECT_TRUE(kms().SetDualAuthPolicy(key, true));
  ASSERT_TRUE(kms().SetKeyForDeletion(f_.Reload(key), f_.user));
  EXPECT_REASON(kms().Delete(f_.Reload(key), false, f_.user), "AUTHORIZATIONS_NOT_MET");
  EXPECT_TRUE(kms().Delete(f_.Reload(key), false, f_.other_user));
}

// The same bypass through the instance: the keys created under the policy carry it themselves.
TEST_F(DualAuthTest, ManagerCannotDisableTheInstanceDualAuthPolicyThenDeleteAlone) {
  ASSERT_TRUE(
      kms().PutInstancePolicy(f_.instance, "dualAuthDelete", R"({"enabled":true})", f_.user));
  Key protected_key = f_.CreateRoot("created-under-policy");
  EXPECT_TRUE(protected_key.dual_auth_delete);
  ASSERT_TRUE(
      kms().PutInstancePolicy(f_.instance, "dualAuthDelete", R"({"enabled":false})", f_.user));
  Key key = f_.Reload(protected_key);
  EXPECT_TRUE(key.dual_auth_delete);
  EXPECT_REASON(kms().Delete(key, false, f_.user), "AUTHORIZATIONS_NOT_MET");
  EXPECT_REASON(kms().SetDualAuthPolicy(key, false), "BAD_BODY_ERR");
  // A key created after the policy was turned off is the creator's choice again.
  Key later = f_.CreateRoot("created-after");
  EXPECT_FALSE(later.dual_auth_delete);
  EXPECT_TRUE(kms().Delete(later, false, f_.user));
}

// A delete that races the policy: the caller read the key (or the API's cache served it) before
// dual authorization was enabled. The decision follows the stored key, not the caller's copy.
TEST_F(DualAuthTest, DeleteWithAKeyReadBeforeDualAuthWasEnabledIsRefused) {
  Key read_before = f_.CreateRoot();
  ASSERT_TRUE(kms().SetDualAuthPolicy(read_before, true));
  EXPECT_FALSE(read_before.dual_auth_delete);
  EXPECT_REASON(kms().Delete(read_before, false, f_.user), "AUTHORIZATIONS_NOT_MET");
  Key other = f_.CreateRoot("other");
  ASSERT_TRUE(
      kms().PutInstancePolicy(f_.instance, "dualAuthDelete", R"({"enabled":true})", f_.user));
  EXPECT_REASON(kms().Delete(other, false, f_.user), "AUTHORIZATIONS_NOT_MET");
  EXPECT_EQ(f_.Reload(read_before).state, KeyState::kActive);
  EXPECT_EQ(f_.Reload(other).state, KeyState::kActive);
}

}  // namespace
}  // namespace veil::kms
