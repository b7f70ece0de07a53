#include "iam/roles.h"

#include <gtest/gtest.h>

namespace veil::iam {
namespace {

TEST(RolesTest, RoleIdsUseTheVeilCnameAndRoundTrip) {
  for (const Role& role : KnownRoles()) {
    auto parsed = Role::Parse(role.role_id());
    ASSERT_TRUE(parsed) << role.role_id();
    EXPECT_EQ(*parsed, role);
    EXPECT_TRUE(role.role_id().starts_with("crn:v1:veil:public:")) << role.role_id();
  }
  EXPECT_EQ(Role::FromName("Editor", "")->role_id(), "crn:v1:veil:public:iam::::role:Editor");
  EXPECT_EQ(Role::FromName("Reader", "kms")->role_id(),
            "crn:v1:veil:public:iam::::serviceRole:Reader");
  EXPECT_EQ(Role::FromName("ReaderPlus", "kms")->role_id(),
            "crn:v1:veil:public:kms::::serviceRole:ReaderPlus");
}

TEST(RolesTest, IbmBluemixRoleIdsAreAccepted) {
  auto r = Role::Parse("crn:v1:bluemix:public:iam::::serviceRole:Reader");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, RoleKind::kService);
  EXPECT_EQ(r->name, "Reader");
  EXPECT_EQ(r->role_id(), "crn:v1:veil:public:iam::::serviceRole:Reader");
  auto p = Role::Parse("crn:v1:bluemix:public:iam::::role:Administrator");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, RoleKind::kPlatform);
  auto k = Role::Parse("crn:v1:bluemix:public:kms::::serviceRole:KeyPurge");
  ASSERT_TRUE(k);
  EXPECT_EQ(k->service, "kms");
}

TEST(RolesTest, UnknownOrMalformedRoleIdsAreRefused) {
  for (const char* bad :
       {"", "Reader", "crn:v1:veil:public:iam::::role:Owner",
        "crn:v1:veil:public:iam::::serviceRole:Viewer", "crn:v1:veil:public:iam::::role:Reader",
        "crn:v1:other:public:iam::::role:Viewer", "crn:v1:veil:private:iam::::role:Viewer",
        "crn:v1:veil:public:iam::a/x::role:Viewer",
        "crn:v1:veil:public:cos::::serviceRole:ReaderPlus",
        "crn:v1:veil:public:kms::::role:ReaderPlus"}) {
    EXPECT_FALSE(Role::Parse(bad)) << bad;
  }
  EXPECT_FALSE(Role::FromName("ReaderPlus", "cloud-object-storage"));
  EXPECT_FALSE(Role::FromName("Owner", ""));
}

TEST(RolesTest, HierarchyFollowsTheSpec) {
  auto R = [](const char* name, const char* service = "") {
    return *Role::FromName(name, service);
  };
  // Administrator > Editor > Operator > Viewer.
  EXPECT_TRUE(Implies(R("Administrator"), R("Viewer")));
  EXPECT_TRUE(Implies(R("Editor"), R("Operator")));
  EXPECT_FALSE(Implies(R("Operator"), R("Editor")));
  EXPECT_FALSE(Implies(R("Viewer"), R("Operator")));
  // Manager > Writer > Reader; ReaderPlus > Reader.
  EXPECT_TRUE(Implies(R("Manager"), R("Reader")));
  EXPECT_TRUE(Implies(R("Writer"), R("Reader")));
  EXPECT_FALSE(Implies(R("Reader"), R("Writer")));
  EXPECT_TRUE(Implies(R("ReaderPlus", "kms"), R("Reader")));
  EXPECT_FALSE(Implies(R("Reader"), R("ReaderPlus", "kms")));
  // KeyPurge stands alone: not even a Manager has it.
  EXPECT_FALSE(Implies(R("Manager"), R("KeyPurge", "kms")));
  EXPECT_FALSE(Implies(R("KeyPurge", "kms"), R("Reader")));
  // Platform and service roles never imply each other.
  EXPECT_FALSE(Implies(R("Administrator"), R("Reader")));
  EXPECT_FALSE(Implies(R("Manager"), R("Viewer")));
}

}  // namespace
}  // namespace veil::iam
