#include "kms/model.h"

#include <gtest/gtest.h>

namespace veil::kms {
namespace {

TEST(KeyStateTest, IntegersAreKeyProtects) {
  EXPECT_EQ(static_cast<int>(KeyState::kPreActivation), 0);
  EXPECT_EQ(static_cast<int>(KeyState::kActive), 1);
  EXPECT_EQ(static_cast<int>(KeyState::kSuspended), 2);
  EXPECT_EQ(static_cast<int>(KeyState::kDeactivated), 3);
  EXPECT_EQ(static_cast<int>(KeyState::kDestroyed), 5);
  EXPECT_TRUE(KeyStateFromInt(5));
  EXPECT_FALSE(KeyStateFromInt(4));
  EXPECT_FALSE(KeyStateFromInt(-1));
}

// Key Protect's table of key states (docs/api-compatibility.md), row by row.
TEST(KeyStateTest, AllowedActionsAreTheSpecTable) {
  using A = KeyAction;
  using S = KeyState;
  struct Row {
    A action;
    bool active, suspended, deactivated, destroyed;
  };
  const Row rows[] = {
      {A::kGet, true, true, true, true},
      {A::kList, true, true, true, false},
      {A::kRotate, true, false, true, false},
      {A::kWrap, true, false, false, false},
      {A::kUnwrap, true, false, true, false},
      {A::kDisable, true, false, false, false},
      {A::kEnable, false, true, false, false},
      {A::kDelete, true, true, true, false},
      {A::kRestore, false, false, false, true},
      {A::kPurge, false, false, false, true},
      {A::kReadPayload, true, false, false, false},
  };
  for (const Row& r : rows) {
    SCOPED_TRACE(std::string(KeyActionName(r.action)));
    EXPECT_EQ(KeyActionAllowed(r.action, S::kActive), r.active);
    EXPECT_EQ(KeyActionAllowed(r.action, S::kSuspended), r.suspended);
    EXPECT_EQ(KeyActionAllowed(r.action, S::kDeactivated), r.deactivated);
    EXPECT_EQ(KeyActionAllowed(r.action, S::kDestroyed), r.destroyed);
  }
}

TEST(ValidationTest, Aliases) {
  EXPECT_TRUE(ValidateAlias("boot-disk_1"));
  EXPECT_FALSE(ValidateAlias("a"));
  EXPECT_FALSE(ValidateAlias(std::string(91, 'a')));
  EXPECT_TRUE(ValidateAlias(std::string(90, 'a')));
  EXPECT_FALSE(ValidateAlias("has space"));
  EXPECT_FALSE(ValidateAlias("versions"));
  EXPECT_FALSE(ValidateAlias("allowed_ip"));
  EXPECT_FALSE(ValidateAlias("1b4e28ba-2fa1-41d2-883f-0016d3cca427"));
}

TEST(ValidationTest, KeyRingsAndNames) {
  EXPECT_TRUE(ValidateKeyRingId("ring-1"));
  EXPECT_FALSE(ValidateKeyRingId(""));
  EXPECT_FALSE(ValidateKeyRingId("ring_1"));
  EXPECT_FALSE(ValidateKeyRingId(std::string(101, 'r')));
  EXPECT_TRUE(ValidateKeyName("my root key"));
  EXPECT_FALSE(ValidateKeyName("x"));
  EXPECT_FALSE(ValidateKeyName("bad\nname"));
}

TEST(KeyTest, CrnNamesInstanceAndKey) {
  Key k;
  k.id = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";
  k.instance_id = "6e5b5f6a-0000-4000-8000-000000000001";
  k.account_id = "abc123";
  EXPECT_EQ(k.crn("local"),
            "crn:v1:veil:private:kms:local:a/abc123:6e5b5f6a-0000-4000-8000-000000000001:key:"
            "1b4e28ba-2fa1-41d2-883f-0016d3cca427");
}

}  // namespace
}  // namespace veil::kms
