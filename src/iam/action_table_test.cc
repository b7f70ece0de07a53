#include "iam/action_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

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

// Key Protect's role table (its "Managing access" page), action by action, written out here by
// hand: the least service role of every action of KmsTable(), and no action the table does not
// list. ReaderPlus stands beside Writer for key material; KeyPurge beside nothing.
TEST(ActionTableTest, KmsTableMatchesKeyProtectsRoleTable) {
  const std::map<std::string, std::string> expected = {
      {"kms.secrets.readmetadata", "Reader"},
      {"kms.secrets.list", "Reader"},
      {"kms.secrets.head", "Reader"},
      {"kms.secrets.listkeyversions", "Reader"},
      {"kms.secrets.wrap", "Reader"},
      {"kms.secrets.unwrap", "Reader"},
      {"kms.secrets.rewrap", "Reader"},
      {"kms.secrets.eventack", "Reader"},
      {"kms.keyrings.list", "Reader"},
      {"kms.registrations.list", "Reader"},
      {"kms.registrations.create", "Reader"},
      {"kms.registrations.write", "Reader"},
      {"kms.registrations.merge", "Reader"},
      {"kms.registrations.delete", "Reader"},
      {"kms.secrets.read", "ReaderPlus"},
      {"kms.secrets.create", "Writer"},
      {"kms.secrets.rotate", "Writer"},
      {"kms.secrets.setkeyfordeletion", "Writer"},
      {"kms.secrets.unsetkeyfordeletion", "Writer"},
      {"kms.secrets.sync", "Writer"},
      {"kms.secrets.createalias", "Writer"},
      {"kms.keyrings.create", "Writer"},
      {"kms.importtoken.create", "Writer"},
      {"kms.importtoken.read", "Writer"},
      {"kms.secrets.disable", "Manager"},
      {"kms.secrets.enable", "Manager"},
      {"kms.secrets.delete", "Manager"},
      {"kms.secrets.restore", "Manager"},
      {"kms.secrets.patch", "Manager"},
      {"kms.secrets.deletealias", "Manager"},
      {"kms.secrets.expire", "Manager"},
      {"kms.policies.read", "Manager"},
      {"kms.policies.write", "Manager"},
      {"kms.instancepolicies.read", "Manager"},
      {"kms.instancepolicies.write", "Manager"},
      {"kms.keyrings.delete", "Manager"},
      {"kms.secrets.purge", "KeyPurge"},
  };
  const ActionRegistry& reg = DefaultActionRegistry();
  std::vector<std::string> listed;
  for (const auto& [action, role] : expected) listed.push_back(action);
  std::vector<std::string> known = reg.TableFor("kms.x")->Actions();
  std::sort(known.begin(), known.end());
  EXPECT_EQ(known, listed);
  // Who holds each least role: the roles are additive, except KeyPurge, which nothing implies.
  const std::map<std::string, std::set<std::string>> holders = {
      {"Reader", {"Reader", "ReaderPlus", "Writer", "Manager"}},
      {"ReaderPlus", {"ReaderPlus", "Writer", "Manager"}},
      {"Writer", {"Writer", "Manager"}},
      {"Manager", {"Manager"}},
      {"KeyPurge", {"KeyPurge"}},
  };
  for (const auto& [action, least] : expected) {
    for (const char* role : {"Reader", "ReaderPlus", "Writer", "Manager", "KeyPurge"}) {
      EXPECT_EQ(reg.Allows(R(role), action), holders.at(least).contains(role))
          << role << " " << action;
    }
  }
}

// A Reader (every service-to-service authorization is one) reads no policy: the key policies and
// the instance's allowedIP list, network and import rules are the Manager's to see, as in Key
// Protect. The table used to give them to Reader.
TEST(ActionTableTest, ReaderCannotReadKeyOrInstancePolicies) {
  const ActionRegistry& reg = DefaultActionRegistry();
  for (const char* role : {"Reader", "ReaderPlus", "Writer"}) {
    EXPECT_FALSE(reg.Allows(R(role), "kms.policies.read")) << role;
    EXPECT_FALSE(reg.Allows(R(role), "kms.instancepolicies.read")) << role;
  }
  EXPECT_TRUE(reg.Allows(R("Manager"), "kms.policies.read"));
  EXPECT_TRUE(reg.Allows(R("Manager"), "kms.instancepolicies.read"));
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

// The object storage's table, written out here by hand: IBM COS's action names with the least
// service role of each, and no action the table does not list. Reader reads, Writer writes
// objects, Manager makes and drops buckets and changes their encryption.
TEST(ActionTableTest, ObjectStorageTableListsIbmsActionsWithTheirLeastRoles) {
  const std::string p = "cloud-object-storage.";
  const std::map<std::string, std::string> expected = {
      {p + "account.get_account_buckets", "Reader"},
      {p + "bucket.head", "Reader"},
      {p + "bucket.get", "Reader"},
      {p + "bucket.get_location", "Reader"},
      {p + "bucket.list_crk_id", "Reader"},
      {p + "bucket.get_uploads", "Reader"},
      {p + "object.get", "Reader"},
      {p + "object.head", "Reader"},
      {p + "object.get_uploads", "Reader"},
      {p + "object.copy_get", "Reader"},
      {p + "object.copy_part_get", "Reader"},
      {p + "object.put", "Writer"},
      {p + "object.copy", "Writer"},
      {p + "object.copy_part", "Writer"},
      {p + "object.delete", "Writer"},
      {p + "object.post_multi_delete", "Writer"},
      {p + "object.post_initiate_upload", "Writer"},
      {p + "object.put_part", "Writer"},
      {p + "object.post_complete_upload", "Writer"},
      {p + "object.delete_upload", "Writer"},
      {p + "bucket.put_bucket", "Manager"},
      {p + "bucket.delete_bucket", "Manager"},
      {p + "bucket.put_encryption", "Manager"},
      {p + "bucket.delete_encryption", "Manager"},
  };
  const ActionRegistry& reg = DefaultActionRegistry();
  std::vector<std::string> listed;
  for (const auto& [action, role] : expected) listed.push_back(action);
  std::vector<std::string> known = reg.TableFor(p + "x")->Actions();
  std::sort(known.begin(), known.end());
  EXPECT_EQ(known, listed);
  const std::map<std::string, std::set<std::string>> holders = {
      {"Reader", {"Reader", "Writer", "Manager"}},
      {"Writer", {"Writer", "Manager"}},
      {"Manager", {"Manager"}},
  };
  for (const auto& [action, least] : expected) {
    for (const char* role : {"Reader", "Writer", "Manager"}) {
      EXPECT_EQ(reg.Allows(R(role, "cloud-object-storage"), action),
                holders.at(least).contains(role))
          << role << " " << action;
    }
    for (const char* role : {"Viewer", "Operator", "Editor", "Administrator"}) {
      EXPECT_FALSE(reg.Allows(R(role, ""), action)) << role << " " << action;
    }
    // The KMS's own roles mean nothing here.
    for (const char* role : {"ReaderPlus", "KeyPurge"}) {
      EXPECT_FALSE(reg.Allows(R(role, "kms"), action)) << role << " " << action;
    }
  }
}

// The action the resource controller asks to make sure a key's creator holds the key's role:
// its least role is exactly that role, so holding any role that implies it allows it.
TEST(ActionTableTest, TheRoleProbeOfEachKeyRoleNeedsExactlyThatRole) {
  const ActionRegistry& reg = DefaultActionRegistry();
  for (const char* role : {"Reader", "Writer", "Manager"}) {
    const std::string action(ObjectStorageActionOfRole(role));
    ASSERT_FALSE(action.empty()) << role;
    const std::vector<Role> least = reg.TableFor(action)->LeastRoles(action);
    ASSERT_EQ(least.size(), 1u) << action;
    EXPECT_EQ(least[0], R(role, "cloud-object-storage")) << action;
  }
  EXPECT_TRUE(ObjectStorageActionOfRole("Viewer").empty());
  EXPECT_TRUE(ObjectStorageActionOfRole("").empty());
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
