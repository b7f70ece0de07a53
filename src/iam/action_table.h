// Action tables: for each action a service performs ("kms.secrets.wrap"), the roles that allow
// it. Deny by default: an action missing from every table is allowed to nobody, and a role not
// listed for an action (nor implying a listed one, see roles.h) does not allow it.
//
// An action is "<service>.<object>.<verb>"; the table of the service before the first '.' decides
// it. A service-specific role (the KMS's ReaderPlus) counts only in its own service's table.
//
// Tables in this file (docs/iam.md "Authorization" has them as tables):
//   IamIdentityTable()        iam-identity.*       service IDs and API keys
//   AccessManagementTable()   iam-am.*             policies
//   ResourceControllerTable() resource-controller.*  service instances and resource keys
//   EnterpriseTable()         enterprise.*         accounts (the operator's API)
//   KmsTable()                kms.*                Key Protect's roles, for the KMS
//                                                  (docs/api-compatibility.md, "Roles")
//   CloudObjectStorageTable() cloud-object-storage.*  IBM COS's action names, for the object
//                                                  storage (docs/iam.md "The object storage
//                                                  table")
// DefaultActionRegistry() holds all of them.
//
// Thread-safety: immutable after construction; const methods are safe from any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "iam/roles.h"

namespace veil::iam {

struct ActionRule {
  std::string action;
  // The least roles that allow the action (by name, as Role::FromName resolves them for the
  // table's service); every role that implies one of them allows it too.
  std::vector<std::string> roles;
};

class ActionTable {
 public:
  // VEIL_CHECKs that every action starts with "<service>." and every role name resolves.
  ActionTable(std::string service, const std::vector<ActionRule>& rules);

  const std::string& service() const { return service_; }
  bool Knows(std::string_view action) const { return rules_.contains(action); }
  // Whether holding `role` allows `action` (false for an unknown action).
  bool Allows(const Role& role, std::string_view action) const;
  // The least roles listed for `action`; empty for an unknown action.
  std::vector<Role> LeastRoles(std::string_view action) const;
  std::vector<std::string> Actions() const;

 private:
  std::string service_;
  std::map<std::string, std::vector<Role>, std::less<>> rules_;
};

class ActionRegistry {
 public:
  void Add(ActionTable table);
  // The table deciding `action` (by the service before its first '.'), or nullptr.
  const ActionTable* TableFor(std::string_view action) const;
  // Whether `role` allows `action` (false when no table knows it).
  bool Allows(const Role& role, std::string_view action) const;
  std::vector<const ActionTable*> tables() const;

 private:
  std::map<std::string, ActionTable, std::less<>> tables_;
};

ActionTable IamIdentityTable();
ActionTable AccessManagementTable();
ActionTable ResourceControllerTable();
ActionTable EnterpriseTable();
ActionTable KmsTable();
ActionTable CloudObjectStorageTable();

// The cloud-object-storage action whose least role is exactly `role` ("Reader", "Writer",
// "Manager"; "" for any other): a caller is allowed it exactly when it holds a role that implies
// `role`. The resource controller asks it before handing out a resource key with `role`, so that
// nobody mints a credential with more than it holds itself.
std::string_view ObjectStorageActionOfRole(std::string_view role);

// The actions of the IAM service itself: the four tables above the KMS's.
ActionRegistry IamActionRegistry();
// Every table Veil knows (IAM's, the KMS's and the object storage's).
const ActionRegistry& DefaultActionRegistry();

}  // namespace veil::iam
