#include "iam/action_table.h"

#include <utility>

namespace veil::iam {

ActionTable::ActionTable(std::string service, const std::vector<ActionRule>& rules)
    : service_(std::move(service)) {
  for (const ActionRule& rule : rules) {
    VEIL_CHECK_MSG(rule.action.starts_with(service_ + "."), "action outside its service's table");
    std::vector<Role> roles;
    for (const std::string& name : rule.roles) {
      auto role = Role::FromName(name, service_);
      VEIL_CHECK_MSG(role.has_value(), "unknown role in an action table");
      roles.push_back(std::move(*role));
    }
    rules_[rule.action] = std::move(roles);
  }
}

bool ActionTable::Allows(const Role& role, std::string_view action) const {
  auto it = rules_.find(action);
  if (it == rules_.end()) return false;
  // A role specific to another service means nothing here.
  if (!role.service.empty() && role.service != service_) return false;
  for (const Role& least : it->second) {
    if (Implies(role, least)) return true;
  }
  return false;
}

std::vector<Role> ActionTable::LeastRoles(std::string_view action) const {
  auto it = rules_.find(action);
  return it == rules_.end() ? std::vector<Role>{} : it->second;
}

std::vector<std::string> ActionTable::Actions() const {
  std::vector<std::string> out;
  for (const auto& [action, roles] : rules_) out.push_back(action);
  return out;
}

void ActionRegistry::Add(ActionTable table) {
  std::string service = table.service();
  tables_.insert_or_assign(std::move(service), std::move(table));
}

const ActionTable* ActionRegistry::TableFor(std::string_view action) const {
  size_t dot = action.find('.');
  if (dot == std::string_view::npos) return nullptr;
  auto it = tables_.find(action.substr(0, dot));
  return it == tables_.end() ? nullptr : &it->second;
}

bool ActionRegistry::Allows(const Role& role, std::string_view action) const {
  const ActionTable* table = TableFor(action);
  return table != nullptr && table->Allows(role, action);
}

std::vector<const ActionTable*> ActionRegistry::tables() const {
  std::vector<const ActionTable*> out;
  for (const auto& [name, table] : tables_) out.push_back(&table);
  return out;
}

// Service IDs and API keys. IBM documents the IAM Identity roles only in prose; Veil's choice:
// reading needs Viewer, creating and changing Operator, deleting and creating a service ID's API
// key (which hands out the service ID's power) Editor, locking Administrator. A user's own API
// keys need no policy (a rule of EvaluatePolicies, authorizer.h); another user's need
// Administrator. A service ID's own keys are judged like anyone's: only a policy allows them.
ActionTable IamIdentityTable() {
  return ActionTable("iam-identity",
                     {
                         {"iam-identity.serviceid.read", {"Viewer"}},
                         {"iam-identity.serviceid.create", {"Operator"}},
                         {"iam-identity.serviceid.update", {"Operator"}},
                         {"iam-identity.serviceid.delete", {"Editor"}},
                         {"iam-identity.serviceid.lock", {"Administrator"}},
                         {"iam-identity.serviceid.unlock", {"Administrator"}},
                         {"iam-identity.serviceid-apikey.read", {"Viewer"}},
                         {"iam-identity.serviceid-apikey.create", {"Editor"}},
                         {"iam-identity.serviceid-apikey.update", {"Operator"}},
                         {"iam-identity.serviceid-apikey.delete", {"Editor"}},
                         {"iam-identity.serviceid-apikey.lock", {"Administrator"}},
                         {"iam-identity.serviceid-apikey.unlock", {"Administrator"}},
                         {"iam-identity.user-apikey.read", {"Administrator"}},
                         {"iam-identity.user-apikey.create", {"Administrator"}},
                         {"iam-identity.user-apikey.update", {"Administrator"}},
                         {"iam-identity.user-apikey.delete", {"Administrator"}},
                         {"iam-identity.user-apikey.lock", {"Administrator"}},
                         {"iam-identity.user-apikey.unlock", {"Administrator"}},
                     });
}

// Policies, judged against the policy's target resource: managing access to a resource needs
// Administrator on it (IBM: "access management needs Administrator"); reading a policy needs
// Viewer on its target (or being its subject).
ActionTable AccessManagementTable() {
  return ActionTable("iam-am", {
                                   {"iam-am.policy.read", {"Viewer"}},
                                   {"iam-am.policy.create", {"Administrator"}},
                                   {"iam-am.policy.update", {"Administrator"}},
                                   {"iam-am.policy.delete", {"Administrator"}},
                               });
}

// Service instances: creating and deleting one needs Editor (IBM: creating or deleting an
// instance needs Editor or Administrator); seeing them Viewer.
// Resource keys (service credentials) likewise, IBM's platform roles for credentials: reading
// them Viewer, creating and deleting Editor. Creating one also needs the key's own role on the
// instance (ObjectStorageActionOfRole): the handler asks it.
ActionTable ResourceControllerTable() {
  return ActionTable("resource-controller", {
                                                {"resource-controller.instance.read", {"Viewer"}},
                                                {"resource-controller.instance.create", {"Editor"}},
                                                {"resource-controller.instance.delete", {"Editor"}},
                                                {"resource-controller.key.read", {"Viewer"}},
                                                {"resource-controller.key.create", {"Editor"}},
                                                {"resource-controller.key.delete", {"Editor"}},
                                            });
}

// Accounts (the operator's API, /v1/accounts), judged on the operator's account: IBM's Enterprise
// service, where creating an account in the enterprise needs Administrator on it. Creating one
// needs Administrator (it hands out a new administrator's key); reading them Viewer.
ActionTable EnterpriseTable() {
  return ActionTable("enterprise", {
                                       {"enterprise.account.read", {"Viewer"}},
                                       {"enterprise.account.create", {"Administrator"}},
                                   });
}

// Key Protect's roles with its audit action names (docs/api-compatibility.md, "Roles"), checked
// against Key Protect's role table (its "Managing access" page: "the exclusive right to read and
// update Key Protect policies" is the Manager's). Where both are silent the choice is noted:
// aliases and import tokens go with key creation (Writer); registrations are made by services
// holding the S2S Reader role; event acknowledgements likewise.
ActionTable KmsTable() {
  return ActionTable(
      "kms", {
                 // Reader: metadata, list, total, versions, wrap/unwrap/rewrap, list key rings.
                 {"kms.secrets.readmetadata", {"Reader"}},
                 {"kms.secrets.list", {"Reader"}},
                 {"kms.secrets.head", {"Reader"}},
                 {"kms.secrets.listkeyversions", {"Reader"}},
                 {"kms.secrets.wrap", {"Reader"}},
                 {"kms.secrets.unwrap", {"Reader"}},
                 {"kms.secrets.rewrap", {"Reader"}},
                 {"kms.keyrings.list", {"Reader"}},
                 {"kms.registrations.list", {"Reader"}},
                 {"kms.registrations.create", {"Reader"}},
                 {"kms.registrations.write", {"Reader"}},
                 {"kms.registrations.merge", {"Reader"}},
                 {"kms.registrations.delete", {"Reader"}},
                 {"kms.secrets.eventack", {"Reader"}},
                 // ReaderPlus: Reader + get key material (Writer and Manager too).
                 {"kms.secrets.read", {"ReaderPlus", "Writer"}},
                 // Writer: create/import, rotate, schedule or cancel dual-auth deletion, sync, key
                 // rings.
                 {"kms.secrets.create", {"Writer"}},
                 {"kms.secrets.rotate", {"Writer"}},
                 {"kms.secrets.setkeyfordeletion", {"Writer"}},
                 {"kms.secrets.unsetkeyfordeletion", {"Writer"}},
                 {"kms.secrets.sync", {"Writer"}},
                 {"kms.secrets.createalias", {"Writer"}},
                 {"kms.keyrings.create", {"Writer"}},
                 {"kms.importtoken.create", {"Writer"}},
                 {"kms.importtoken.read", {"Writer"}},
                 // Manager: everything else.
                 {"kms.secrets.disable", {"Manager"}},
                 {"kms.secrets.enable", {"Manager"}},
                 {"kms.secrets.delete", {"Manager"}},
                 {"kms.secrets.restore", {"Manager"}},
                 {"kms.secrets.patch", {"Manager"}},
                 {"kms.secrets.deletealias", {"Manager"}},
                 {"kms.secrets.expire", {"Manager"}},
                 // Reading policies too: they name the allowedIP list, the network and the
                 // import rules, nothing a Reader (every S2S authorization) needs to see.
                 {"kms.policies.read", {"Manager"}},
                 {"kms.instancepolicies.read", {"Manager"}},
                 {"kms.policies.write", {"Manager"}},
                 {"kms.instancepolicies.write", {"Manager"}},
                 {"kms.keyrings.delete", {"Manager"}},
                 // KeyPurge: only when granted explicitly.
                 {"kms.secrets.purge", {"KeyPurge"}},
             });
}

// IBM Cloud Object Storage's IAM action names (its "Identity and Access Management actions"
// table) for what Veil's object storage serves, with the least service role of each. Reader:
// list buckets and objects, read bucket metadata and objects; Writer: Reader plus write and
// delete objects and multipart uploads; Manager: Writer plus create and delete buckets and change
// their encryption. IBM lets a Writer create and delete buckets; Veil keeps that for Manager, so
// that an HMAC key made to upload cannot drop a bucket (docs/iam.md). put_encryption and
// delete_encryption are Veil's names (S3's PutBucketEncryption and DeleteBucketEncryption; IBM
// sets a bucket's root key only when it is created).
ActionTable CloudObjectStorageTable() {
  const std::string p = "cloud-object-storage.";
  return ActionTable("cloud-object-storage", {
                                                 {p + "account.get_account_buckets", {"Reader"}},
                                                 {p + "bucket.head", {"Reader"}},
                                                 {p + "bucket.get", {"Reader"}},
                                                 {p + "bucket.get_location", {"Reader"}},
                                                 {p + "bucket.list_crk_id", {"Reader"}},
                                                 {p + "bucket.get_uploads", {"Reader"}},
                                                 {p + "object.get", {"Reader"}},
                                                 {p + "object.head", {"Reader"}},
                                                 {p + "object.get_uploads", {"Reader"}},
                                                 {p + "object.copy_get", {"Reader"}},
                                                 {p + "object.copy_part_get", {"Reader"}},
                                                 {p + "object.put", {"Writer"}},
                                                 {p + "object.copy", {"Writer"}},
                                                 {p + "object.copy_part", {"Writer"}},
                                                 {p + "object.delete", {"Writer"}},
                                                 {p + "object.post_multi_delete", {"Writer"}},
                                                 {p + "object.post_initiate_upload", {"Writer"}},
                                                 {p + "object.put_part", {"Writer"}},
                                                 {p + "object.post_complete_upload", {"Writer"}},
                                                 {p + "object.delete_upload", {"Writer"}},
                                                 {p + "bucket.put_bucket", {"Manager"}},
                                                 {p + "bucket.delete_bucket", {"Manager"}},
                                                 {p + "bucket.put_encryption", {"Manager"}},
                                                 {p + "bucket.delete_encryption", {"Manager"}},
                                             });
}

std::string_view ObjectStorageActionOfRole(std::string_view role) {
  if (role == "Reader") return "cloud-object-storage.bucket.head";
  if (role == "Writer") return "cloud-object-storage.object.put";
  if (role == "Manager") return "cloud-object-storage.bucket.put_bucket";
  return "";
}

ActionRegistry IamActionRegistry() {
  ActionRegistry registry;
  registry.Add(IamIdentityTable());
  registry.Add(AccessManagementTable());
  registry.Add(ResourceControllerTable());
  registry.Add(EnterpriseTable());
  return registry;
}

const ActionRegistry& DefaultActionRegistry() {
  static const ActionRegistry* registry = [] {
    auto* r = new ActionRegistry(IamActionRegistry());
    r->Add(KmsTable());
    r->Add(CloudObjectStorageTable());
    return r;
  }();
  return *registry;
}

}  // namespace veil::iam
