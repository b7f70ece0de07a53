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
