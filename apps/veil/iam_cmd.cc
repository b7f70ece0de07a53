#include "iam_cmd.h"

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli.h"
#include "command.h"
#include "common/bytes.h"
#include "common/strings.h"
#include "common/time.h"
#include "iam/model.h"
#include "iam/roles.h"
#include "kms_cmd.h"

namespace veil::cli {
namespace {

namespace json = boost::json;

constexpr int kMaxPages = 1000;

// Runs one command and turns its error into a message and an exit code.
std::string TimeText(int64_t unix_seconds) {
  return FormatRfc3339Seconds(TimePoint(std::chrono::seconds(unix_seconds)));
}

std::string ExpiryText(int64_t expiration) {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const int64_t left = expiration - now;
  std::string when = left <= 0 ? "expired" : "in " + std::to_string((left + 59) / 60) + " min";
  return TimeText(expiration) + " (" + when + ")";
}

// Accepts "ServiceId-<uuid>", "iam-ServiceId-<uuid>" and "IBMid-<uuid>"; answers the iam_id.
Result<std::string> IamIdOf(const std::string& any) {
  auto id = iam::IamIdFromAnyId(any);
  if (!id) {
    return InvalidArgument("'" + any +
                           "' is not an IAM ID (iam-ServiceId-..., ServiceId-... or IBMid-...)");
  }
  return id;
}

// A role name ("Reader", "reader", "ReaderPlus", ...) or a role_id CRN, as the role_id of
// `service`.
Result<std::string> RoleIdOf(const std::string& text, const std::string& service) {
  if (text.rfind("crn:", 0) == 0) {
    iam::Role role = VEIL_TRY_VALUE(iam::Role::Parse(text));
    return role.role_id();
  }
  std::string name = text;
  for (const iam::Role& known : iam::KnownRoles()) {
    if (EqualsIgnoreCase(name, known.name)) {
      name = known.name;
      break;
    }
  }
  auto role = iam::Role::FromName(name, service);
  if (!role) {
    return InvalidArgument(role.error().message +
                           " (platform roles: Viewer, Operator, Editor, Administrator; service "
                           "roles: Reader, Writer, Manager; kms also ReaderPlus, KeyPurge, "
                           "KmipAdapterManager)");
  }
  return role->role_id();
}

// A resource attribute (which carries an operator) and a subject attribute (which does not).
json::object Attribute(std::string_view name, std::string_view value) {
  return json::object{{"name", name}, {"value", value}, {"operator", "stringEquals"}};
}
json::object SubjectAttribute(std::string_view name, std::string_view value) {
  return json::object{{"name", name}, {"value", value}};
}

// The attributes of a policy's first subject or resource as "name=value ...".
std::string AttributesText(const json::value& policy, std::string_view list,
                           const std::vector<std::string_view>& skip = {}) {
  const json::value* items = policy.is_object() ? policy.as_object().if_contains(list) : nullptr;
  if (items == nullptr || !items->is_array() || items->as_array().empty()) return "";
  const json::value* attrs = items->as_array().front().is_object()
                                 ? items->as_array().front().as_object().if_contains("attributes")
                                 : nullptr;
  if (attrs == nullptr || !attrs->is_array()) return "";
  std::vector<std::string> parts;
  for (const json::value& a : attrs->as_array()) {
    std::string name = Str(a, "name");
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    parts.push_back(name + "=" + Str(a, "value"));
  }
  return Join(parts, " ");
}

std::string RolesText(const json::value& policy) {
  const json::value* roles = policy.is_object() ? policy.as_object().if_contains("roles") : nullptr;
  if (roles == nullptr || !roles->is_array()) return "";
  std::vector<std::string> names;
  for (const json::value& r : roles->as_array()) {
    std::string name = Str(r, "display_name");
    if (name.empty()) {
      name = Str(r, "role_id");
      name = name.substr(name.rfind(':') + 1);
    }
    names.push_back(name);
  }
  return Join(names, ",");
}

// GETs `path` and the pages after it (the `next_key` member of each page), and gathers the
// `items_key` arrays into one.
Result<json::array> ListAll(ApiClient& client, std::string path, std::string_view items_key,
                            std::string_view next_key) {
  json::array all;
  for (int page = 0; page < kMaxPages && !path.empty(); ++page) {
    json::value body = VEIL_TRY_VALUE(client.Call({"iam", "GET", path, std::nullopt}));
    const json::value* items = body.is_object() ? body.as_object().if_contains(items_key) : nullptr;
    if (items == nullptr || !items->is_array()) {
      return DataLoss("the response has no " + std::string(items_key) + " list");
    }
    for (const json::value& item : items->as_array()) all.push_back(item);
    path = Str(body, next_key);
  }
  return all;
}

void PrintDeleted(const GlobalOptions& g, std::string_view what, const std::string& id) {
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"id", id}, {"deleted", true}}) << "\n";
  } else {
    std::cout << "Deleted " << what << " " << id << "\n";
  }
}

// ---- login, logout, whoami, token ----

Status Login(const GlobalOptions& g, const std::string& apikey_file) {
  SecretBytes apikey = VEIL_TRY_VALUE(ReadApiKeyFile(apikey_file));
  ApiClient client(g);
  Session s = VEIL_TRY_VALUE(client.Login(apikey));
  const std::string endpoint = BaseUrlText(VEIL_TRY_VALUE(ResolveBase(g)));
  json::object out{
      {"endpoint", endpoint},       {"iam_endpoint", s.iam_endpoint},
      {"iam_id", s.iam_id},         {"name", s.name},
      {"type", s.sub_type},         {"account_id", s.account_id},
      {"expiration", s.expiration}, {"profile_dir", client.store().dir()},
  };
  if (g.output == "json") {
    std::cout << json::serialize(out) << "\n";
  } else {
    std::cout << "Logged in to " << s.iam_endpoint << " as " << s.name << " (" << s.iam_id
              << ", account " << s.account_id << ").\n"
              << "The token expires at " << ExpiryText(s.expiration)
              << "; veil renews it with the API key kept in " << client.store().apikey_path()
              << " (mode 0600).\n"
              << "Later commands use " << endpoint << " (saved in " << client.store().dir()
              << "/config) unless --endpoint or VEIL_ENDPOINT says otherwise.\n";
  }
  return OkStatus();
}

Status Logout(const GlobalOptions& g) {
  SessionStore store(ProfileDir());
  const bool removed = VEIL_TRY_VALUE(store.Remove());
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"logged_out", removed}}) << "\n";
  } else if (removed) {
    std::cout << "Logged out: removed the token and the API key from " << store.dir() << ".\n";
  } else {
    std::cout << "Not logged in.\n";
  }
  return OkStatus();
}

Status Whoami(const GlobalOptions& g) {
  ApiClient client(g);
  json::value me = VEIL_TRY_VALUE(client.Call({"iam", "GET", "/identity/userinfo", std::nullopt}));
  Session s = VEIL_TRY_VALUE(client.CurrentSession());
  json::object out = me.is_object() ? me.as_object() : json::object();
  out["token_expiration"] = s.expiration;
  out["iam_endpoint"] = s.iam_endpoint;
  PrintFields(g, out,
              {{"Name", Str(me, "name")},
               {"IAM ID", Str(me, "iam_id")},
               {"Type", Str(me, "type")},
               {"Account", Str(me, "account_id")},
               {"Token expires", ExpiryText(s.expiration)},
               {"IAM endpoint", s.iam_endpoint}});
  return OkStatus();
}

Status Token(const GlobalOptions& g) {
  ApiClient client(g);
  Session s = VEIL_TRY_VALUE(client.CurrentSession());
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"access_token", s.access_token},
                                              {"token_type", "Bearer"},
                                              {"expiration", s.expiration}})
              << "\n";
  } else {
    std::cout << s.access_token << "\n";
  }
  return OkStatus();
}

// ---- service IDs ----

std::vector<std::string> ServiceIdRow(const json::value& s) {
  return {Str(s, "name"), Str(s, "id"), Str(s, "iam_id"), Str(s, "locked"), Str(s, "created_at")};
}
const std::vector<std::string> kServiceIdHeader = {"name", "id", "iam_id", "locked", "created"};

Status CreateServiceId(const GlobalOptions& g, const std::string& name,
                       const std::string& description) {
  ApiClient client(g);
  json::object body{{"name", name}};
  if (!description.empty()) body["description"] = description;
  json::value s = VEIL_TRY_VALUE(client.Call({"iam", "POST", "/v1/serviceids", json::value(body)}));
  PrintFields(g, s,
              {{"Name", Str(s, "name")},
               {"ID", Str(s, "id")},
               {"IAM ID", Str(s, "iam_id")},
               {"Description", Str(s, "description")},
               {"Account", Str(s, "account_id")},
               {"Created", Str(s, "created_at")}});
  return OkStatus();
}

Status ListServiceIds(const GlobalOptions& g) {
  ApiClient client(g);
  json::array all =
      VEIL_TRY_VALUE(ListAll(client, "/v1/serviceids?pagesize=100", "serviceids", "next"));
  std::vector<std::vector<std::string>> rows;
  for (const json::value& s : all) rows.push_back(ServiceIdRow(s));
  PrintTable(g, json::object{{"serviceids", all}}, kServiceIdHeader, rows);
  return OkStatus();
}

Status DeleteServiceId(const GlobalOptions& g, const std::string& id) {
  ApiClient client(g);
  VEIL_TRY(client.Call({"iam", "DELETE", "/v1/serviceids/" + FormEncode(id), std::nullopt}));
  PrintDeleted(g, "service ID", id);
  return OkStatus();
}

// ---- API keys ----

struct ApiKeyCreateArgs {
  std::string name;
  std::string service_id;
  std::string description;
  std::string output_file;
};

// Shows a new credential once: `response` holds it in `secret_member`; it is written to the new
// file `output_file` (mode 0600) when one is given, else printed with `fields`. `lost` says what
// to do when the file cannot be written (the credential exists but nobody holds it).
Status ShowCredentialOnce(const GlobalOptions& g, json::value& response,
                          std::string_view secret_member,
                          std::vector<std::pair<std::string, std::string>> fields,
                          const std::string& output_file, const std::string& lost) {
  if (!response.is_object() || !response.as_object().contains(secret_member) ||
      !response.as_object()[secret_member].is_string()) {
    return DataLoss("the response holds no API key value");
  }
  json::string& value = response.as_object()[secret_member].as_string();
  struct WipeValue {  // the value is a credential: overwrite it however we leave
    json::string& v;
    ~WipeValue() {
      for (char& c : v) c = '\0';
    }
  } wipe{value};
  if (!output_file.empty()) {
    if (Status written = WriteNewSecretFile(output_file, std::string_view(value)); !written) {
      return tl::unexpected(written.error().Wrap(lost));
    }
    json::object out = response.as_object();
    out.erase(secret_member);
    out["apikey_file"] = output_file;
    fields.emplace_back("API key file", output_file + " (mode 0600)");
    PrintFields(g, out, fields);
    return OkStatus();
  }
  fields.emplace_back("API key", std::string(value));
  PrintFields(g, response, fields);
  if (g.output != "json") {
    std::cout << "Save the API key now: Veil keeps only a hash of it and cannot show it again.\n";
  }
  for (auto& [label, text] : fields) {
    for (char& c : text) c = '\0';
  }
  return OkStatus();
}

// Before a credential is created that only `output_file` will hold: a file that cannot be
// written would leave it on the server with nobody holding it.
Status CheckOutputFile(const std::string& output_file, std::string_view what) {
  if (output_file.empty()) return OkStatus();
  Status st = CheckNewFileCanBeCreated(output_file);
  if (!st) {
    return InvalidArgument("--output-file: " + st.error().message + " (no " + std::string(what) +
                           " was created)");
  }
  return OkStatus();
}

Status CreateApiKey(const GlobalOptions& g, const ApiKeyCreateArgs& a) {
  VEIL_TRY(CheckOutputFile(a.output_file, "API key"));
  ApiClient client(g);
  json::object body{{"name", a.name}, {"store_value", false}};
  if (!a.description.empty()) body["description"] = a.description;
  if (!a.service_id.empty()) body["iam_id"] = VEIL_TRY_VALUE(IamIdOf(a.service_id));
  json::value k = VEIL_TRY_VALUE(client.Call({"iam", "POST", "/v1/apikeys", json::value(body)}));
  return ShowCredentialOnce(
      g, k, "apikey", {{"Name", Str(k, "name")}, {"ID", Str(k, "id")}, {"Owner", Str(k, "iam_id")}},
      a.output_file,
      "the API key " + Str(k, "id") + " was created but not saved (delete it with `veil iam " +
          "api-key delete " + Str(k, "id") + "`)");
}

Status ListApiKeys(const GlobalOptions& g, const std::string& service_id) {
  ApiClient client(g);
  std::string path = "/v1/apikeys?pagesize=100";
  if (!service_id.empty()) path += "&iam_id=" + FormEncode(VEIL_TRY_VALUE(IamIdOf(service_id)));
  json::array all = VEIL_TRY_VALUE(ListAll(client, path, "apikeys", "next"));
  std::vector<std::vector<std::string>> rows;
  for (const json::value& k : all) {
    rows.push_back(
        {Str(k, "name"), Str(k, "id"), Str(k, "iam_id"), Str(k, "locked"), Str(k, "created_at")});
  }
  PrintTable(g, json::object{{"apikeys", all}}, {"name", "id", "owner", "locked", "created"}, rows);
  return OkStatus();
}

Status LockApiKey(const GlobalOptions& g, const std::string& id, bool lock) {
  ApiClient client(g);
  VEIL_TRY(client.Call(
      {"iam", lock ? "POST" : "DELETE", "/v1/apikeys/" + FormEncode(id) + "/lock", std::nullopt}));
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"id", id}, {"locked", lock}}) << "\n";
  } else {
    std::cout << (lock ? "Locked" : "Unlocked") << " API key " << id << "\n";
  }
  return OkStatus();
}

Status DeleteApiKey(const GlobalOptions& g, const std::string& id) {
  ApiClient client(g);
  VEIL_TRY(client.Call({"iam", "DELETE", "/v1/apikeys/" + FormEncode(id), std::nullopt}));
  PrintDeleted(g, "API key", id);
  return OkStatus();
}

// ---- policies and authorizations ----

struct PolicyCreateArgs {
  std::string subject;
  std::vector<std::string> roles;
  std::string service;
  std::string instance;
  std::string resource_type;
  std::string resource;
  std::string description;
};

struct AuthorizationCreateArgs {
  std::string source;
  std::string target;
  std::string role;
  std::string source_instance;
  std::string target_instance;
  std::string description;
};

std::vector<std::string> PolicyRow(const json::value& p) {
  std::string resource = AttributesText(p, "resources", {"accountId"});
  return {Str(p, "id"), Str(p, "type"), AttributesText(p, "subjects", {"accountId"}), RolesText(p),
          resource.empty() ? "(the whole account)" : resource};
}
const std::vector<std::string> kPolicyHeader = {"id", "type", "subject", "roles", "resource"};

Status PrintPolicy(const GlobalOptions& g, const json::value& p) {
  PrintFields(g, p,
              {{"ID", Str(p, "id")},
               {"Type", Str(p, "type")},
               {"Subject", AttributesText(p, "subjects")},
               {"Roles", RolesText(p)},
               {"Resource", AttributesText(p, "resources")},
               {"Created", Str(p, "created_at")}});
  return OkStatus();
}

Status CreatePolicy(const GlobalOptions& g, const PolicyCreateArgs& a) {
  ApiClient client(g);
  const std::string subject = VEIL_TRY_VALUE(IamIdOf(a.subject));
  json::array roles;
  for (const std::string& r : a.roles) {
    roles.push_back(json::object{{"role_id", VEIL_TRY_VALUE(RoleIdOf(r, a.service))}});
  }
  if (roles.empty()) return InvalidArgument("--roles needs at least one role");
  Session s = VEIL_TRY_VALUE(client.CurrentSession());
  json::array resource{Attribute("accountId", s.account_id), Attribute("serviceName", a.service)};
  if (!a.instance.empty()) resource.push_back(Attribute("serviceInstance", a.instance));
  if (!a.resource_type.empty()) resource.push_back(Attribute("resourceType", a.resource_type));
  if (!a.resource.empty()) resource.push_back(Attribute("resource", a.resource));
  json::object body{
      {"type", "access"},
      {"subjects",
       json::array{json::object{{"attributes", json::array{SubjectAttribute("iam_id", subject)}}}}},
      {"roles", std::move(roles)},
      {"resources", json::array{json::object{{"attributes", std::move(resource)}}}}};
  if (!a.description.empty()) body["description"] = a.description;
  json::value p = VEIL_TRY_VALUE(client.Call({"iam", "POST", "/v1/policies", json::value(body)}));
  return PrintPolicy(g, p);
}

Status CreateAuthorization(const GlobalOptions& g, const AuthorizationCreateArgs& a) {
  ApiClient client(g);
  const std::string role_id = VEIL_TRY_VALUE(RoleIdOf(a.role, a.target));
  Session s = VEIL_TRY_VALUE(client.CurrentSession());
  json::array subject{SubjectAttribute("accountId", s.account_id),
                      SubjectAttribute("serviceName", a.source)};
  if (!a.source_instance.empty()) {
    subject.push_back(SubjectAttribute("serviceInstance", a.source_instance));
  }
  json::array resource{Attribute("accountId", s.account_id), Attribute("serviceName", a.target)};
  if (!a.target_instance.empty()) {
    resource.push_back(Attribute("serviceInstance", a.target_instance));
  }
  json::object body{{"type", "authorization"},
                    {"subjects", json::array{json::object{{"attributes", std::move(subject)}}}},
                    {"roles", json::array{json::object{{"role_id", role_id}}}},
                    {"resources", json::array{json::object{{"attributes", std::move(resource)}}}}};
  if (!a.description.empty()) body["description"] = a.description;
  json::value p = VEIL_TRY_VALUE(client.Call({"iam", "POST", "/v1/policies", json::value(body)}));
  return PrintPolicy(g, p);
}

Status ListPolicies(const GlobalOptions& g, const std::string& type, const std::string& subject) {
  ApiClient client(g);
  std::string path = "/v1/policies";
  std::vector<std::string> query;
  if (!type.empty()) query.push_back("type=" + FormEncode(type));
  if (!subject.empty()) query.push_back("iam_id=" + FormEncode(VEIL_TRY_VALUE(IamIdOf(subject))));
  if (!query.empty()) path += "?" + Join(query, "&");
  json::array all = VEIL_TRY_VALUE(ListAll(client, path, "policies", "next"));
  std::vector<std::vector<std::string>> rows;
  for (const json::value& p : all) rows.push_back(PolicyRow(p));
  PrintTable(g, json::object{{"policies", all}}, kPolicyHeader, rows);
  return OkStatus();
}

Status DeletePolicy(const GlobalOptions& g, const std::string& id, std::string_view what) {
  ApiClient client(g);
  VEIL_TRY(client.Call({"iam", "DELETE", "/v1/policies/" + FormEncode(id), std::nullopt}));
  PrintDeleted(g, what, id);
  return OkStatus();
}

// ---- resource instances ----

std::vector<std::string> InstanceRow(const json::value& r) {
  return {Str(r, "name"), Str(r, "guid"), Str(r, "resource_id"), Str(r, "state"), Str(r, "crn")};
}

Status CreateInstance(const GlobalOptions& g, const std::string& name, const std::string& service,
                      bool use) {
  if (use && service != "kms") return InvalidArgument("--use is for kms instances");
  ApiClient client(g);
  json::object body{{"name", name}, {"resource_id", service}, {"target", "local"}};
  json::value r =
      VEIL_TRY_VALUE(client.Call({"iam", "POST", "/v2/resource_instances", json::value(body)}));
  PrintFields(g, r,
              {{"Name", Str(r, "name")},
               {"GUID", Str(r, "guid")},
               {"Service", Str(r, "resource_id")},
               {"State", Str(r, "state")},
               {"CRN", Str(r, "crn")}});
  if (use) {
    VEIL_TRY(SaveDefaultKmsInstance(Str(r, "guid")));
    if (g.output != "json") {
      std::cout << "Now the default instance of `veil kms` commands (veil kms instance show)\n";
    }
  } else if (service == "kms" && g.output != "json") {
    std::cout << "Make it the default of `veil kms` commands: veil kms instance use "
              << Str(r, "guid") << "\n";
  }
  return OkStatus();
}

Status ListInstances(const GlobalOptions& g, const std::string& service) {
  ApiClient client(g);
  std::string path = "/v2/resource_instances?pagesize=100";
  if (!service.empty()) path += "&resource_id=" + FormEncode(service);
  json::array all = VEIL_TRY_VALUE(ListAll(client, path, "resources", "next_url"));
  std::vector<std::vector<std::string>> rows;
  for (const json::value& r : all) rows.push_back(InstanceRow(r));
  PrintTable(g, json::object{{"resources", all}}, {"name", "guid", "service", "state", "crn"},
             rows);
  return OkStatus();
}

Status DeleteInstance(const GlobalOptions& g, const std::string& id) {
  ApiClient client(g);
  VEIL_TRY(
      client.Call({"iam", "DELETE", "/v2/resource_instances/" + FormEncode(id), std::nullopt}));
  PrintDeleted(g, "resource instance", id);
  return OkStatus();
}

// ---- accounts (the operator's) ----

struct AccountCreateArgs {
  std::string name;
  std::string owner_name;
  std::string owner_email;
  std::string output_file;
};

Status CreateAccount(const GlobalOptions& g, const AccountCreateArgs& a) {
  VEIL_TRY(CheckOutputFile(a.output_file, "account"));
  ApiClient client(g);
  json::object body{{"name", a.name}};
  if (!a.owner_name.empty()) body["owner_name"] = a.owner_name;
  if (!a.owner_email.empty()) body["owner_email"] = a.owner_email;
  json::value r = VEIL_TRY_VALUE(client.Call({"iam", "POST", "/v1/accounts", json::value(body)}));
  return ShowCredentialOnce(g, r, "iam_apikey",
                            {{"Account", Str(r, "account_id")},
                             {"Administrator", Str(r, "owner_iam_id")},
                             {"API key ID", Str(r, "iam_apikey_id")}},
                            a.output_file,
                            "the account " + Str(r, "account_id") +
                                " was created but its administrator's API key was not saved");
}

Status ListAccounts(const GlobalOptions& g) {
  ApiClient client(g);
  json::array all =
      VEIL_TRY_VALUE(ListAll(client, "/v1/accounts?pagesize=100", "resources", "next_url"));
  std::vector<std::vector<std::string>> rows;
  for (const json::value& r : all) {
    rows.push_back({Str(r, "name"), Str(r, "id"), Str(r, "state"), Str(r, "owner_iam_id"),
                    Str(r, "created_at")});
  }
  PrintTable(g, json::object{{"resources", all}}, {"name", "id", "state", "owner", "created"},
             rows);
  return OkStatus();
}

void RegisterAccounts(CLI::App& iam, const GlobalOptions& g, int& rc,
                      const std::shared_ptr<AccountCreateArgs>& a) {
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* acct = Group(iam, "account",
                         "Accounts (tenants): the operator's. Each comes with its first "
                         "administrator, whose API key is shown once",
                         "veil iam account list");
  CLI::App* c = Command(*acct, "create",
                        "Create an account and its first administrator (Administrator and "
                        "Manager on everything in it); hand the API key to the tenant",
                        "veil iam account create tenant-b --owner-email ops@b.example "
                        "--output-file tenant-b.apikey");
  c->add_option("NAME", a->name, "Name of the account")->required();
  c->add_option("--owner-name", a->owner_name, "Name of the first administrator (default: admin)");
  c->add_option("--owner-email", a->owner_email, "Email of the first administrator");
  c->add_option("--output-file", a->output_file,
                "Write the administrator's API key to this new file (mode 0600) instead of "
                "printing it");
  c->callback(run([&g, a] { return CreateAccount(g, *a); }));
  Command(*acct, "list", "List every account (operators only)",
          "veil iam account list --output json")
      ->callback(run([&g] { return ListAccounts(g); }));
}

// Every option value of the commands, alive as long as the App (its callbacks hold it).
struct Args {
  std::string apikey_file;
  std::string name;
  std::string id;
  std::string description;
  std::string service_id;
  std::string type;
  std::string subject;
  std::string service;
  bool use = false;
  ApiKeyCreateArgs apikey;
  PolicyCreateArgs policy;
  AuthorizationCreateArgs authorization;
};

void RegisterServiceIds(CLI::App& iam, const GlobalOptions& g, int& rc,
                        const std::shared_ptr<Args>& a) {
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* sid = Group(iam, "service-id", "Service IDs: identities for programs and services",
                        "veil iam service-id list");
  CLI::App* c = Command(*sid, "create", "Create a service ID in your account",
                        "veil iam service-id create image-importer --description 'imports images'");
  c->add_option("NAME", a->name, "Name of the service ID")->required();
  c->add_option("--description", a->description, "What the service ID is for");
  c->callback(run([&g, a] { return CreateServiceId(g, a->name, a->description); }));
  Command(*sid, "list", "List the service IDs of your account you may read",
          "veil iam service-id list --output json")
      ->callback(run([&g] { return ListServiceIds(g); }));
  c = Command(*sid, "delete", "Delete a service ID and its API keys",
              "veil iam service-id delete ServiceId-0f1e2d3c-...");
  c->add_option("ID", a->id, "ServiceId-<uuid> or iam-ServiceId-<uuid>")->required();
  c->callback(run([&g, a] { return DeleteServiceId(g, a->id); }));
}

void RegisterApiKeys(CLI::App& iam, const GlobalOptions& g, int& rc,
                     const std::shared_ptr<Args>& a) {
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* key = Group(iam, "api-key", "API keys: the credentials `veil login` exchanges",
                        "veil iam api-key list --service-id ServiceId-0f1e2d3c-...");
  CLI::App* c =
      Command(*key, "create",
              "Create an API key for yourself or a service ID. The value is shown only once",
              "veil iam api-key create importer-key --service-id ServiceId-0f1e2d3c-... "
              "--output-file importer.apikey");
  c->add_option("NAME", a->apikey.name, "Name of the API key")->required();
  c->add_option("--service-id", a->apikey.service_id,
                "The service ID that owns the key (default: yourself)");
  c->add_option("--description", a->apikey.description, "What the key is for");
  c->add_option("--output-file", a->apikey.output_file,
                "Write the value to this new file (mode 0600) instead of printing it");
  c->callback(run([&g, a] { return CreateApiKey(g, a->apikey); }));
  c = Command(*key, "list", "List the API keys of yourself or of a service ID (never the values)",
              "veil iam api-key list --service-id ServiceId-0f1e2d3c-...");
  c->add_option("--service-id", a->service_id, "List the keys of this service ID");
  c->callback(run([&g, a] { return ListApiKeys(g, a->service_id); }));
  for (bool lock : {true, false}) {
    const std::string verb = lock ? "lock" : "unlock";
    c = Command(
        *key, verb,
        lock ? "Lock an API key: it gets no more tokens until unlocked" : "Unlock a locked API key",
        "veil iam api-key " + verb + " ApiKey-5a6b7c8d-...");
    c->add_option("ID", a->id, "ApiKey-<uuid>")->required();
    c->callback(run([&g, a, lock] { return LockApiKey(g, a->id, lock); }));
  }
  c = Command(*key, "delete", "Delete an API key", "veil iam api-key delete ApiKey-5a6b7c8d-...");
  c->add_option("ID", a->id, "ApiKey-<uuid>")->required();
  c->callback(run([&g, a] { return DeleteApiKey(g, a->id); }));
}

void RegisterPolicies(CLI::App& iam, const GlobalOptions& g, int& rc,
                      const std::shared_ptr<Args>& a) {
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* pol = Group(iam, "policy", "Access policies: give an identity roles on a service",
                        "veil iam policy list");
  CLI::App* c =
      Command(*pol, "create", "Give a user or service ID roles on a service of your account",
              "veil iam policy create --subject iam-ServiceId-0f1e2d3c-... --roles Reader,Writer "
              "--service kms --instance 8d7c6b5a-...");
  c->add_option("--subject", a->policy.subject, "IAM ID of the user or service ID")->required();
  c->add_option("--roles", a->policy.roles,
                "Comma-separated roles: Viewer, Operator, Editor, Administrator (platform); "
                "Reader, Writer, Manager (service); kms: ReaderPlus, KeyPurge")
      ->required()
      ->delimiter(',');
  c->add_option("--service", a->policy.service,
                "Service the roles apply to (kms, cloud-object-storage, is, iam-identity, ...)")
      ->required();
  c->add_option("--instance", a->policy.instance, "Only this service instance (its GUID)");
  c->add_option("--resource-type", a->policy.resource_type, "Only this resource type");
  c->add_option("--resource", a->policy.resource, "Only this resource");
  c->add_option("--description", a->policy.description, "What the policy is for");
  c->callback(run([&g, a] { return CreatePolicy(g, a->policy); }));
  c = Command(*pol, "list", "List the policies of your account you may read",
              "veil iam policy list --subject iam-ServiceId-0f1e2d3c-...");
  c->add_option("--subject", a->subject, "Only the access policies of this IAM ID");
  c->add_option("--type", a->type, "Only this type of policy")
      ->check(CLI::IsMember({"access", "authorization"}));
  c->callback(run([&g, a] { return ListPolicies(g, a->type, a->subject); }));
  c = Command(*pol, "delete", "Delete a policy", "veil iam policy delete 4e5f6a7b-...");
  c->add_option("ID", a->id, "Policy ID")->required();
  c->callback(run([&g, a] { return DeletePolicy(g, a->id, "policy"); }));
}

void RegisterAuthorizations(CLI::App& iam, const GlobalOptions& g, int& rc,
                            const std::shared_ptr<Args>& a) {
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* auth = Group(iam, "authorization",
                         "Service-to-service authorizations: let a Veil service act on another "
                         "service's resources of your account",
                         "veil iam authorization create --source server-protect --target kms "
                         "--role Reader");
  CLI::App* c = Command(
      *auth, "create", "Authorize a source service to use a target service with a service role",
      "veil iam authorization create --source server-protect --target kms --role Reader");
  c->add_option("--source", a->authorization.source,
                "Service that acts (server-protect, is, cloud-object-storage)")
      ->required();
  c->add_option("--target", a->authorization.target, "Service acted on (kms)")->required();
  c->add_option("--role", a->authorization.role, "Service role: Reader, Writer, Manager, ...")
      ->required();
  c->add_option("--source-instance", a->authorization.source_instance,
                "Only this instance of the source service");
  c->add_option("--target-instance", a->authorization.target_instance,
                "Only this instance of the target service");
  c->add_option("--description", a->authorization.description, "What it is for");
  c->callback(run([&g, a] { return CreateAuthorization(g, a->authorization); }));
  Command(*auth, "list", "List the service-to-service authorizations of your account",
          "veil iam authorization list")
      ->callback(run([&g] { return ListPolicies(g, "authorization", ""); }));
  c = Command(*auth, "delete", "Delete an authorization",
              "veil iam authorization delete 4e5f6a7b-...");
  c->add_option("ID", a->id, "Policy ID of the authorization")->required();
  c->callback(run([&g, a] { return DeletePolicy(g, a->id, "authorization"); }));
}

void RegisterIam(CLI::App& app, const GlobalOptions& g, int& rc, const std::shared_ptr<Args>& a) {
  CLI::App* iam = Group(app, "iam",
                        "Identity and access: who you are, service IDs, API keys, "
                        "policies and service-to-service authorizations",
                        "veil iam whoami");
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };

  Command(*iam, "whoami", "Show who the stored token belongs to and when it expires",
          "veil iam whoami --output json")
      ->callback(run([&g] { return Whoami(g); }));
  Command(*iam, "token",
          "Print the current access token (renewed if needed), for calling the APIs directly",
          "curl -H \"Authorization: Bearer $(veil iam token)\" http://127.0.0.1:8441/v1/serviceids")
      ->callback(run([&g] { return Token(g); }));
  RegisterServiceIds(*iam, g, rc, a);
  RegisterApiKeys(*iam, g, rc, a);
  RegisterPolicies(*iam, g, rc, a);
  RegisterAuthorizations(*iam, g, rc, a);
  RegisterAccounts(*iam, g, rc, std::make_shared<AccountCreateArgs>());
}

}  // namespace

void RegisterIamCommands(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto a = std::make_shared<Args>();
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };

  CLI::App* login =
      Command(app, "login",
              "Log in with an API key: exchange it for an access token and keep both in the "
              "profile directory ($VEIL_HOME, else ~/.veil; files mode 0600). The token is "
              "renewed automatically before it expires",
              "veil login --apikey-file .veil/admin-apikey   (veild writes the first admin key "
              "to DATA_DIR/admin-apikey)");
  login->add_option("--apikey-file", a->apikey_file, "File holding the API key ('-': stdin)")
      ->required();
  login->callback(run([&g, a] { return Login(g, a->apikey_file); }));
  Command(app, "logout", "Forget the stored token and API key", "veil logout")->callback(run([&g] {
    return Logout(g);
  }));

  RegisterIam(app, g, rc, a);

  CLI::App* resource = Group(app, "resource", "Resource controller: service instances",
                             "veil resource instance list");
  CLI::App* inst = Group(*resource, "instance", "Service instances (KMS, object storage)",
                         "veil resource instance create my-kms --service kms");
  CLI::App* c = Command(*inst, "create", "Create a service instance",
                        "veil resource instance create my-kms --service kms");
  c->add_option("NAME", a->name, "Name of the instance")->required();
  c->add_option("--service", a->service, "Service of the instance")
      ->required()
      ->check(CLI::IsMember({"kms", "cloud-object-storage"}));
  c->add_flag("--use", a->use,
              "kms: make it the default instance of `veil kms` commands (the profile's "
              "kms_instance)");
  c->callback(run([&g, a] { return CreateInstance(g, a->name, a->service, a->use); }));
  c = Command(*inst, "list", "List the service instances of your account you may read",
              "veil resource instance list --service kms");
  c->add_option("--service", a->service, "Only the instances of this service")
      ->check(CLI::IsMember({"kms", "cloud-object-storage"}));
  c->callback(run([&g, a] { return ListInstances(g, a->service); }));
  c = Command(*inst, "delete", "Delete a service instance",
              "veil resource instance delete 8d7c6b5a-...");
  c->add_option("ID", a->id, "GUID of the instance")->required();
  c->callback(run([&g, a] { return DeleteInstance(g, a->id); }));
}

}  // namespace veil::cli
