#include "iam/action_table.h"

#include <gtest/gtest.h>

namespace veil::iam {
namespace {

Role R(const char* name, const char* service = "kms") { return *Role::FromName(name, service); }

TEST(ActionTableTest, KmsTableFollowsSpecSection310) {
  const ActionRegistry& reg = DefaultActionRegistry();
  // Reader: wrap/unwrap/rewrap, metadata, list.
  for (const char* a : {"kms.secrets.wrap", "kms.secrets.unwrap", "kms.secrets.rewrap",
                        "kms.secrets.readmetadata", "kms.secrets.list", "kms.keyrings.list"}) {
    EXPECT_TRUE(reg.Allows(R("Reader"), a)) << a;
    EXPECT_TRUE(reg.Allows(R("ReaderPlus"), a)) << a;
    EXPECT_TRUE(reg.Allows(R("Writer"), a)) << a;
    EXPECT_TRUE(reg.Allows(R("Manager"), a)) << a;
  }
  // Key material: ReaderPlus, Writer, Manager; not Reader.
  EXPECT_FALSE(reg.Allows(R("Reader"), "kms.secrets.read"));
  EXPECT_TRUE(reg.Allows(R("ReaderPlus"), "kms.secrets.read"));
  EXPECT_TRUE(reg.Allows(R("Writer"), "kms.secrets.read"));
  EXPECT_TRUE(reg.Allows(R("Manager"), "kms.secrets.read"));
  // Writer: create, rotate; not delete, disable.
  EXPECT_TRUE(reg.Allows(R("Writer"), "kms.secrets.create"));
  EXPECT_TRUE(reg.Allows(R("Writer"), "kms.secrets.rotate"));
  EXPECT_FALSE(reg.Allows(R("ReaderPlus"), "kms.secrets.create"));
  EXPECT_FALSE(reg.Allows(R("Writer"), "kms.secrets.delete"));
  EXPECT_FALSE(reg.Allows(R("Writer"), "kms.secrets.disable"));
  EXPECT_TRUE(reg.Allows(R("Manager"), "kms.secrets.delete"));
  EXPECT_TRUE(reg.Allows(R("Manager"), "kms.policies.write"));
  // KeyPurge: only the explicit role.
  EXPECT_FALSE(reg.Allows(R("Manager"), "kms.secrets.purge"));
  EXPECT_TRUE(reg.Allows(R("KeyPurge"), "kms.secrets.purge"));
  EXPECT_FALSE(reg.Allows(R("KeyPurge"), "kms.secrets.wrap"));
}

TEST(ActionTableTest, PlatformRolesGrantNoKmsDataAction) {
  const ActionRegistry& reg = DefaultActionRegistry();
  for (const char* role : {"Viewer", "Operator", "Editor", "Administrator"}) {
    for (const std::string& action : reg.TableFor("kms.x")->Actions()) {
      EXPECT_FALSE(reg.Allows(R(role, ""), action)) << role << " " << action;
    }
  }
}

TEST(ActionTableTest, UnknownActionsAreDeniedToEveryRole) {
  const ActionRegistry& reg = DefaultActionRegistry();
  for (const Role& role : KnownRoles()) {
    EXPECT_FALSE(reg.Allows(role, "kms.secrets.teleport"));
    EXPECT_FALSE(reg.Allows(role, "nosuchservice.thing.do"));
    EXPECT_FALSE(reg.Allows(role, "nodots"));
  }
}

TEST(ActionTableTest, AServiceSpecificRoleCountsOnlyInItsOwnService) {
  ActionTable cos("cloud-object-storage", {{"cloud-object-storage.object.read", {"Reader"}}});
  EXPECT_TRUE(cos.Allows(R("Reader", ""), "cloud-object-storage.object.read"));
  // kms's ReaderPlus implies Reader only within the kms table.
  EXPECT_FALSE(cos.Allows(R("ReaderPlus", "kms"), "cloud-object-storage.object.read"));
}

TEST(ActionTableTest, EveryIamActionNeedsAPlatformRole) {
  ActionRegistry reg = IamActionRegistry();
  for (const ActionTable* table : reg.tables()) {
    for (const std::string& action : table->Actions()) {
      for (const char* service_role : {"Reader", "Writer", "Manager"}) {
        EXPECT_FALSE(reg.Allows(R(service_role, ""), action)) << action;
      }
      EXPECT_TRUE(reg.Allows(R("Administrator", ""), action)) << action;
    }
  }
}

}  // namespace
}  // namespace veil::iam
