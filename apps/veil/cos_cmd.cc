#include "cos_cmd.h"

#include <boost/json.hpp>
#include <cctype>
#include <functional>
#include <iostream>
#include <memory>
#include <vector>

#include "command.h"
#include "common/uuid.h"
#include "cos_s3_cmd.h"

namespace veil::cli {
namespace {

namespace json = boost::json;

constexpr int kMaxPages = 1000;
constexpr std::string_view kCos = "cloud-object-storage";

json::value* MemberOf(json::value& v, std::string_view name) {
  return v.is_object() ? v.as_object().if_contains(name) : nullptr;
}
const json::value* MemberOf(const json::value& v, std::string_view name) {
  return v.is_object() ? v.as_object().if_contains(name) : nullptr;
}

// The role's name from a role_id ("crn:...:serviceRole:Writer" -> "Writer").
std::string RoleName(const json::value& key) {
  const std::string role = Str(key, "role");
  return role.substr(role.rfind(':') + 1);
}

std::string AccessKeyIdOf(const json::value& key) {
  const json::value* c = MemberOf(key, "credentials");
  const json::value* hmac = c != nullptr ? MemberOf(*c, "cos_hmac_keys") : nullptr;
  return hmac != nullptr ? Str(*hmac, "access_key_id") : "";
}

// Overwrites the secrets of a created key's JSON (the API key and the secret access key).
struct WipeCredentials {
  json::value& key;
  ~WipeCredentials() {
    json::value* c = MemberOf(key, "credentials");
    if (c == nullptr) return;
    WipeJsonString(*c, "apikey");
    if (json::value* hmac = MemberOf(*c, "cos_hmac_keys")) {
      WipeJsonString(*hmac, "secret_access_key");
    }
  }
};

bool PrintableLine(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return !text.empty();
}

Status CheckProfileName(std::string_view profile) {
  bool ok = !profile.empty();
  for (char c : profile) {
    ok = ok && std::isgraph(static_cast<unsigned char>(c)) && c != '[' && c != ']' && c != '=';
  }
  if (!ok) {
    return InvalidArgument("--aws-profile must be a name without white space, '[', ']' or '='");
  }
  return OkStatus();
}

// ---- credentials ----

struct CredentialsArgs {
  std::string instance;
  std::string role;
  std::string name;
  std::string aws_profile;
  std::string id;
};

// Shows a new key's HMAC credentials, once.
Status ShowCreated(const GlobalOptions& g, const json::value& key, const std::string& profile) {
  const json::value* c = MemberOf(key, "credentials");
  const json::value* hmac = c != nullptr ? MemberOf(*c, "cos_hmac_keys") : nullptr;
  const json::value* secret = hmac != nullptr ? MemberOf(*hmac, "secret_access_key") : nullptr;
  if (secret == nullptr || !secret->is_string()) {
    return DataLoss("the response holds no secret access key");
  }
  const std::string_view secret_text = secret->as_string();
  const std::string access_key_id = AccessKeyIdOf(key);
  const std::string once =
      "The secret access key is shown only this once: Veil keeps it sealed "
      "by the HSM and cannot show it again.";
  if (!profile.empty()) {
    VEIL_TRY(WriteAwsProfile(std::cout, profile, access_key_id, secret_text));
    std::cerr << "veil: credentials " << Str(key, "guid") << " (" << Str(key, "name") << ", "
              << RoleName(key) << "). " << once << "\n";
    return OkStatus();
  }
  if (g.output == "json") {
    std::cout << JsonText(key) << "\n";
    return OkStatus();
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"Name", Str(key, "name")},       {"ID", Str(key, "guid")},
      {"Instance", InstanceOfKey(key)}, {"Role", RoleName(key)},
      {"Access key ID", access_key_id}, {"Secret access key", std::string(secret_text)}};
  PrintFields(g, key, fields);
  for (char& ch : fields.back().second) ch = '\0';
  std::cout << once << "\n"
            << "For aws-cli and boto3, --aws-profile NAME prints it as an ~/.aws/credentials "
               "profile.\n";
  return OkStatus();
}

Status CreateCredentials(const GlobalOptions& g, const CredentialsArgs& a) {
  if (!a.aws_profile.empty()) VEIL_TRY(CheckProfileName(a.aws_profile));
  ApiClient client(g);
  const std::string guid = VEIL_TRY_VALUE(ResolveCosInstance(client, a.instance));
  const std::string role = CosRoleText(a.role);
  std::string name = a.name;
  if (name.empty()) {
    name = "hmac-";
    for (char c : role.substr(role.rfind(':') + 1)) {
      name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  json::object body{{"name", name},
                    {"source", guid},
                    {"role", role},
                    {"parameters", json::object{{"HMAC", true}}}};
  ApiRequest request{"iam", "POST", "/v2/resource_keys", json::value(std::move(body))};
  request.secret_response = true;
  json::value key = VEIL_TRY_VALUE(client.Call(request));
  WipeCredentials wipe{key};
  return ShowCreated(g, key, a.aws_profile);
}

Status ListCredentials(const GlobalOptions& g, const std::string& instance) {
  ApiClient client(g);
  std::string guid;
  if (!instance.empty()) guid = VEIL_TRY_VALUE(ResolveCosInstance(client, instance));
  json::array all;
  std::string path = "/v2/resource_keys?pagesize=100";
  for (int page = 0; page < kMaxPages && !path.empty(); ++page) {
    json::value body = VEIL_TRY_VALUE(client.Call({"iam", "GET", path, std::nullopt}));
    const json::value* items = MemberOf(body, "resources");
    if (items == nullptr || !items->is_array()) {
      return DataLoss("the response has no resources list");
    }
    for (const json::value& key : items->as_array()) {
      if (guid.empty() || InstanceOfKey(key) == guid) all.push_back(key);
    }
    path = Str(body, "next_url");
  }
  std::vector<std::vector<std::string>> rows;
  for (const json::value& k : all) {
    const std::string access_key_id = AccessKeyIdOf(k);
    rows.push_back({Str(k, "name"), Str(k, "guid"), InstanceOfKey(k), RoleName(k),
                    access_key_id.empty() ? "-" : access_key_id, Str(k, "created_at")});
  }
  PrintTable(g, json::object{{"resources", all}},
             {"name", "id", "instance", "role", "access_key_id", "created"}, rows);
  return OkStatus();
}

Status DeleteCredentials(const GlobalOptions& g, const std::string& id) {
  ApiClient client(g);
  VEIL_TRY(client.Call({"iam", "DELETE", "/v2/resource_keys/" + FormEncode(id), std::nullopt}));
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"id", id}, {"deleted", true}}) << "\n";
  } else {
    std::cout << "Deleted credentials " << id
              << ": its access key, API key and service ID no longer work\n";
  }
  return OkStatus();
}

void RegisterCosCredentials(CLI::App& cos, const GlobalOptions& g, int& rc) {
  auto a = std::make_shared<CredentialsArgs>();
  auto run = [&rc](std::function<Status()> f) { return CommandRunner(rc, std::move(f)); };
  CLI::App* creds = Group(cos, "credentials",
                          "HMAC credentials (an S3 access key id and secret access key) of an "
                          "object storage instance: IAM resource keys, each with its own service "
                          "ID and role on the instance",
                          "veil cos credentials create --instance my-cos --role Writer");
  CLI::App* c = Command(*creds, "create",
                        "Create HMAC credentials with a role on an instance. The secret access "
                        "key is shown only this once",
                        "veil cos credentials create --instance my-cos --role Writer "
                        "--aws-profile veil >> ~/.aws/credentials");
  c->add_option("--instance", a->instance, "The cloud-object-storage instance: its GUID or name")
      ->required();
  c->add_option("--role", a->role,
                "Reader (list and read), Writer (also write and delete objects) or Manager (also "
                "create and delete buckets)")
      ->required();
  c->add_option("--name", a->name, "Name of the credentials (default: hmac-<role>)");
  c->add_option("--aws-profile", a->aws_profile,
                "Print the key pair as an ~/.aws/credentials profile of this name");
  c->callback(run([&g, a] { return CreateCredentials(g, *a); }));
  c = Command(*creds, "list", "List the credentials of your account you may read (never secrets)",
              "veil cos credentials list --instance my-cos");
  c->add_option("--instance", a->instance, "Only the credentials of this instance (GUID or name)");
  c->callback(run([&g, a] { return ListCredentials(g, a->instance); }));
  c = Command(*creds, "delete",
              "Delete credentials: the access key, its API key and service ID stop working at once",
              "veil cos credentials delete 5a6b7c8d-...");
  c->add_option("ID", a->id, "The credentials' ID (GUID) or CRN")->required();
  c->callback(run([&g, a] { return DeleteCredentials(g, a->id); }));
}

}  // namespace

Result<std::string> ResolveCosInstance(ApiClient& client, const std::string& guid_or_name) {
  if (IsUuidV4(guid_or_name)) return guid_or_name;
  if (guid_or_name.empty()) return InvalidArgument("--instance needs a GUID or a name");
  json::value body = VEIL_TRY_VALUE(
      client.Call({"iam", "GET",
                   "/v2/resource_instances?pagesize=100&resource_id=" + std::string(kCos) +
                       "&name=" + FormEncode(guid_or_name),
                   std::nullopt}));
  const json::value* items = MemberOf(body, "resources");
  if (items == nullptr || !items->is_array()) return DataLoss("the response has no resources list");
  const json::array& found = items->as_array();
  if (found.empty()) {
    return NotFound("no cloud-object-storage instance named '" + guid_or_name +
                    "' that you may read (veil resource instance list --service "
                    "cloud-object-storage)");
  }
  if (found.size() > 1 || !Str(body, "next_url").empty()) {
    return InvalidArgument("several cloud-object-storage instances are named '" + guid_or_name +
                           "': give the GUID");
  }
  return Str(found.front(), "guid");
}

std::string CosRoleText(std::string_view text) {
  for (std::string_view role : {"Reader", "Writer", "Manager"}) {
    if (text.size() != role.size()) continue;
    bool same = true;
    for (size_t i = 0; i < text.size(); ++i) {
      same = same && std::tolower(static_cast<unsigned char>(text[i])) ==
                         std::tolower(static_cast<unsigned char>(role[i]));
    }
    if (same) return std::string(role);
  }
  return std::string(text);
}

Status WriteAwsProfile(std::ostream& out, std::string_view profile, std::string_view access_key_id,
                       std::string_view secret) {
  VEIL_TRY(CheckProfileName(profile));
  if (!PrintableLine(access_key_id) || !PrintableLine(secret)) {
    return InvalidArgument("the key pair is not printable as a credentials profile");
  }
  out << "[" << profile << "]\n"
      << "aws_access_key_id = " << access_key_id << "\n"
      << "aws_secret_access_key = " << secret << "\n";
  return OkStatus();
}

std::string InstanceOfKey(const json::value& key) {
  constexpr std::string_view kPrefix = "/v2/resource_instances/";
  const std::string url = Str(key, "resource_instance_url");
  return url.starts_with(kPrefix) ? url.substr(kPrefix.size()) : "";
}

void RegisterCosCommands(CLI::App& app, const GlobalOptions& g, int& rc) {
  CLI::App* cos =
      Group(app, "cos",
            "Object storage (S3 API with SSE-KP): buckets, objects, HMAC credentials for S3 "
            "clients",
            "veil cos put disk.img s3://my-bucket/disk.img");
  RegisterCosCredentials(*cos, g, rc);
  RegisterCosS3Commands(*cos, g, rc);
}

}  // namespace veil::cli
