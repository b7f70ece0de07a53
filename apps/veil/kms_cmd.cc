#include "kms_cmd.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli.h"
#include "command.h"
#include "common/bytes.h"
#include "common/encoding.h"
#include "common/random.h"
#include "common/strings.h"
#include "common/time.h"
#include "crypto/aead.h"
#include "crypto/sign.h"

namespace veil::cli {
namespace {

namespace json = boost::json;

constexpr std::string_view kKeyType = "application/vnd.ibm.kms.key+json";
constexpr std::string_view kPolicyType = "application/vnd.ibm.kms.policy+json";
constexpr std::string_view kProfileKey = "kms_instance";
constexpr size_t kMaxKeyFileBytes = 7500;          // a standard key's largest payload
constexpr size_t kMaxPlaintextFileBytes = 7500;    // wrap's largest plaintext
constexpr size_t kMaxCiphertextFileBytes = 64000;  // a WDEK is a few hundred bytes

struct StateName {
  int64_t state;
  std::string_view name;
};
constexpr StateName kStates[] = {
    {0, "Pre-activation"}, {1, "Active"}, {2, "Suspended"}, {3, "Deactivated"}, {5, "Destroyed"}};

const json::value* Member(const json::value& v, std::string_view name) {
  return v.is_object() ? v.as_object().if_contains(name) : nullptr;
}

int64_t IntMember(const json::value& v, std::string_view name, int64_t fallback = -1) {
  const json::value* m = Member(v, name);
  if (m == nullptr) return fallback;
  if (m->is_int64()) return m->as_int64();
  if (m->is_uint64()) return static_cast<int64_t>(m->as_uint64());
  return fallback;
}

// A nested string, e.g. Path(key, {"keyVersion", "id"}).
std::string Path(const json::value& v, std::initializer_list<std::string_view> names) {
  const json::value* at = &v;
  std::string_view last;
  for (std::string_view n : names) {
    if (!last.empty()) {
      at = Member(*at, last);
      if (at == nullptr) return "";
    }
    last = n;
  }
  return Str(*at, last);
}

std::vector<std::string> StringList(const json::value& v, std::string_view name) {
  std::vector<std::string> out;
  const json::value* m = Member(v, name);
  if (m == nullptr || !m->is_array()) return out;
  for (const json::value& item : m->as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

// The first resource of a Key Protect collection.
Result<json::value> FirstResource(const json::value& body) {
  const json::value* resources = Member(body, "resources");
  if (resources == nullptr || !resources->is_array() || resources->as_array().empty()) {
    return DataLoss("the KMS answered without a resource");
  }
  return resources->as_array().front();
}

// ---- the request side ----

// One command's connection to the KMS: the client and the instance it acts in.
class Kms {
 public:
  Kms(ApiClient& client, std::string instance) : client_(client), instance_(std::move(instance)) {}

  ApiClient& client() { return client_; }
  const std::string& instance() const { return instance_; }

  ApiRequest Request(std::string method, std::string path) const {
    ApiRequest r;
    r.service = "kms";
    r.method = std::move(method);
    r.path = std::move(path);
    r.headers.emplace_back("bluemix-instance", instance_);
    return r;
  }

  Result<json::value> Call(ApiRequest request) { return client_.Call(request); }

  Result<json::value> Get(std::string path) { return Call(Request("GET", std::move(path))); }

  Result<json::value> Send(std::string method, std::string path, json::value body) {
    ApiRequest r = Request(std::move(method), std::move(path));
    r.body = std::move(body);
    return Call(std::move(r));
  }

  // The key's metadata (never its payload).
  Result<json::value> Metadata(const std::string& key) {
    json::value body = VEIL_TRY_VALUE(Get(KeyPath(key) + "/metadata"));
    return FirstResource(body);
  }

  static std::string KeyPath(const std::string& key) { return "/api/v2/keys/" + FormEncode(key); }

 private:
  ApiClient& client_;
  std::string instance_;
};

json::object KeyCollection(json::object resource) {
  resource["type"] = kKeyType;
  return json::object{
      {"metadata", json::object{{"collectionType", kKeyType}, {"collectionTotal", 1}}},
      {"resources", json::array{std::move(resource)}}};
}

// Key material for import, rotate or restore: --key-file (raw bytes) or --key-b64.
struct MaterialArgs {
  std::string key_file;
  std::string key_b64;
  bool secure = false;
};

Result<std::optional<SecretBytes>> ReadMaterial(const MaterialArgs& m) {
  if (!m.key_file.empty() && !m.key_b64.empty()) {
    return InvalidArgument("give --key-file or --key-b64, not both");
  }
  if (!m.key_file.empty()) {
    auto bytes = ReadSecretFile(m.key_file, kMaxKeyFileBytes);
    if (!bytes) {
      if (bytes.error().code == ErrorCode::kNotFound) {
        return InvalidArgument("key file " + m.key_file + " does not exist");
      }
      return tl::unexpected(bytes.error());
    }
    if (bytes->empty()) return InvalidArgument("key file " + m.key_file + " is empty");
    return std::optional<SecretBytes>(std::move(*bytes));
  }
  if (!m.key_b64.empty()) {
    auto decoded = DecodeBase64Secret(m.key_b64);
    if (!decoded || decoded->empty()) return InvalidArgument("--key-b64 is not base64");
    return std::optional<SecretBytes>(std::move(*decoded));
  }
  if (m.secure) return InvalidArgument("--secure needs --key-file or --key-b64");
  return std::optional<SecretBytes>();
}

// The instance's import token for one secure import: retrieved (one retrieval), or created
// first when the instance has none or it expired or was used up.
Result<json::value> ImportTokenForUse(Kms& kms) {
  auto token = kms.Get("/api/v2/import_token");
  if (token) return token;
  const HttpFailure& f = kms.client().last_failure();
  if (f.status != 404 && f.reason != "IMPORT_TOKEN_EXPIRED_ERR") {
    return tl::unexpected(token.error());
  }
  if (kms.client().options().output != "json") {  // JSON output stays one document
    std::cerr << "veil: "
              << (f.status == 404 ? "the instance has no import token"
                                  : "the import token expired or was used up")
              << "; creating one (10 minutes, 1 retrieval)\n";
  }
  VEIL_TRY(kms.Send("POST", "/api/v2/import_token",
                    json::object{{"expiration", 600}, {"maxAllowedRetrievals", 1}}));
  return kms.Get("/api/v2/import_token");
}

// The request body of create/import/rotate/restore with `material`: plain (payload = its
// base64, spliced from SecretBytes) or --secure (sealed for the instance's import token).
Result<SecretBytes> MaterialBody(Kms& kms, json::value body, const SecretBytes& material,
                                 bool secure) {
  json::object* resource = &body.as_object();
  if (json::value* list = resource->if_contains("resources"); list && list->is_array()) {
    resource = &list->as_array().front().as_object();
  }
  if (!secure) {
    (*resource)["payload"] = kSecretPlaceholder;
    return JsonWithSecret(body, material);
  }
  json::value token = VEIL_TRY_VALUE(ImportTokenForUse(kms));
  auto pem = Base64Decode(Str(token, "payload"));
  auto nonce = Base64Decode(Str(token, "nonce"));
  if (!pem || !nonce) return DataLoss("the import token's payload or nonce is not base64");
  std::vector<uint8_t> iv(crypto::kAesGcmIvSize);
  OsRandom().Fill(iv);
  SecureImportFields f = VEIL_TRY_VALUE(SealForImport(AsStringView(*pem), *nonce, material, iv));
  (*resource)["payload"] = f.payload;
  (*resource)["encryptedNonce"] = f.encrypted_nonce;
  (*resource)["iv"] = f.iv;
  (*resource)["encryptionAlgorithm"] = f.algorithm;
  std::string text = json::serialize(body);
  return SecretBytes(AsBytes(text));
}

// ---- rendering ----

std::string KeyType(const json::value& key) {
  const json::value* e = Member(key, "extractable");
  return e != nullptr && e->is_bool() && e->as_bool() ? "standard" : "root";
}

std::vector<std::pair<std::string, std::string>> KeyFields(const json::value& key) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"ID", Str(key, "id")},
      {"Name", Str(key, "name")},
      {"Type", KeyType(key) + (Str(key, "imported") == "true" ? " (imported)" : "")},
      {"State", KeyStateText(IntMember(key, "state"))},
      {"Key ring", Str(key, "keyRingID")},
      {"Version", Path(key, {"keyVersion", "id"})},
      {"Created", Str(key, "creationDate")},
  };
  if (auto aliases = StringList(key, "aliases"); !aliases.empty()) {
    f.insert(f.begin() + 4, {"Aliases", Join(aliases, ", ")});
  }
  if (std::string d = Str(key, "description"); !d.empty()) f.emplace_back("Description", d);
  if (std::string r = Str(key, "lastRotateDate"); !r.empty()) f.emplace_back("Rotated", r);
  if (std::string e = Str(key, "expirationDate"); !e.empty()) f.emplace_back("Expires", e);
  if (const json::value* rot = Member(key, "rotation"); rot != nullptr) {
    const int64_t months = IntMember(*rot, "interval_month", 0);
    f.emplace_back("Rotation", Str(*rot, "enabled") == "true"
                                   ? "every " + std::to_string(months) + " month(s)"
                                   : "off");
  }
  if (Path(key, {"dualAuthDelete", "enabled"}) == "true") {
    f.emplace_back("Dual auth delete", Path(key, {"dualAuthDelete", "keySetForDeletion"}) == "true"
                                           ? "on; set for deletion until " +
                                                 Path(key, {"dualAuthDelete", "authExpiration"})
                                           : "on");
  }
  if (std::string d = Str(key, "deletionDate"); !d.empty()) {
    f.emplace_back("Deleted", d + " by " + Str(key, "deletedBy"));
    f.emplace_back("Restore until", Str(key, "restoreExpirationDate"));
    f.emplace_back("Purge from", Str(key, "purgeAllowedFrom"));
  }
  f.emplace_back("CRN", Str(key, "crn"));
  return f;
}

void PrintKey(const GlobalOptions& g, const json::value& key) {
  PrintFields(g, key, KeyFields(key));
}

// After an action that answers 204: the key as it is now (json), or one line of text.
Status PrintAfterAction(const GlobalOptions& g, Kms& kms, const std::string& key,
                        const std::string& done) {
  json::value k = VEIL_TRY_VALUE(kms.Metadata(key));
  if (g.output == "json") {
    std::cout << json::serialize(k) << "\n";
  } else {
    std::cout << done << " key " << Str(k, "id") << " (" << Str(k, "name") << "): state "
              << KeyStateText(IntMember(k, "state")) << ", version "
              << Path(k, {"keyVersion", "id"}) << "\n";
  }
  return OkStatus();
}

// ---- commands ----

struct CreateArgs {
  std::string name;
  bool standard = false;
  std::string description;
  std::vector<std::string> aliases;
  std::string expiration;
  std::string key_ring;
  MaterialArgs material;
};

Status CreateKey(const GlobalOptions& g, Kms& kms, const CreateArgs& a, bool import) {
  json::object resource{{"type", kKeyType}, {"name", a.name}, {"extractable", a.standard}};
  if (!a.description.empty()) resource["description"] = a.description;
  if (!a.aliases.empty()) {
    json::array aliases;
    for (const std::string& alias : a.aliases) aliases.emplace_back(alias);
    resource["aliases"] = std::move(aliases);
  }
  if (!a.expiration.empty()) {
    if (!ParseRfc3339(a.expiration)) {
      return InvalidArgument("--expiration must be an RFC 3339 time, e.g. 2030-01-31T00:00:00Z");
    }
    resource["expirationDate"] = a.expiration;
  }
  ApiRequest r = kms.Request("POST", "/api/v2/keys");
  if (!a.key_ring.empty()) r.headers.emplace_back("x-kms-key-ring", a.key_ring);
  std::optional<SecretBytes> body;
  if (import) {
    auto material = VEIL_TRY_VALUE(ReadMaterial(a.material));
    if (!material) return InvalidArgument("key import needs --key-file or --key-b64");
    body = VEIL_TRY_VALUE(
        MaterialBody(kms, KeyCollection(std::move(resource)), *material, a.material.secure));
    r.secret_body = &*body;
  } else {
    r.body = KeyCollection(std::move(resource));
  }
  json::value created = VEIL_TRY_VALUE(kms.Call(std::move(r)));
  json::value key = VEIL_TRY_VALUE(FirstResource(created));
  PrintKey(g, key);
  return OkStatus();
}

struct ListArgs {
  std::string state;
  int64_t limit = 200;
  int64_t offset = 0;
  bool extractable = false;
  bool root = false;
};

Status ListKeys(const GlobalOptions& g, Kms& kms, const ListArgs& a) {
  std::string path =
      "/api/v2/keys?limit=" + std::to_string(a.limit) + "&offset=" + std::to_string(a.offset);
  if (!a.state.empty()) path += "&state=" + FormEncode(VEIL_TRY_VALUE(ParseStateList(a.state)));
  if (a.extractable && a.root) return InvalidArgument("give --standard or --root, not both");
  if (a.extractable) path += "&extractable=true";
  if (a.root) path += "&extractable=false";
  json::value body = VEIL_TRY_VALUE(kms.Get(path));
  std::vector<std::vector<std::string>> rows;
  if (const json::value* keys = Member(body, "resources"); keys && keys->is_array()) {
    for (const json::value& k : keys->as_array()) {
      rows.push_back({Str(k, "id"), Str(k, "name"), KeyType(k), KeyStateText(IntMember(k, "state")),
                      Join(StringList(k, "aliases"), ","), Str(k, "keyRingID"),
                      Str(k, "creationDate")});
    }
  }
  PrintTable(g, body, {"id", "name", "type", "state", "aliases", "key ring", "created"}, rows);
  return OkStatus();
}

Status ShowKey(const GlobalOptions& g, Kms& kms, const std::string& key, bool payload) {
  if (!payload) {
    PrintKey(g, VEIL_TRY_VALUE(kms.Metadata(key)));
    return OkStatus();
  }
  ApiRequest r = kms.Request("GET", Kms::KeyPath(key));
  r.secret_response = true;
  json::value body = VEIL_TRY_VALUE(kms.Call(std::move(r)));
  json::value k = VEIL_TRY_VALUE(FirstResource(body));
  if (json::value* res = body.as_object().if_contains("resources")) {
    WipeJsonString(res->as_array().front(), "payload");
  }
  if (KeyType(k) == "root") {
    return InvalidArgument("key " + key + " is a root key: its material never leaves the KMS");
  }
  if (Member(k, "payload") == nullptr) {
    return FailedPrecondition("the KMS returned no payload for key " + key + " (state " +
                              KeyStateText(IntMember(k, "state")) + ")");
  }
  if (g.output == "json") {
    std::cout << json::serialize(k) << "\n";
  } else {
    auto fields = KeyFields(k);
    fields.emplace_back("Payload", Str(k, "payload"));
    PrintFields(g, k, fields);
  }
  WipeJsonString(k, "payload");
  return OkStatus();
}

Status RotateKey(const GlobalOptions& g, Kms& kms, const std::string& key, const MaterialArgs& m) {
  ApiRequest r = kms.Request("POST", Kms::KeyPath(key) + "/actions/rotate");
  auto material = VEIL_TRY_VALUE(ReadMaterial(m));
  std::optional<SecretBytes> body;
  if (material) {
    body = VEIL_TRY_VALUE(MaterialBody(kms, json::object{}, *material, m.secure));
    r.secret_body = &*body;
  }
  VEIL_TRY(kms.Call(std::move(r)));
  return PrintAfterAction(g, kms, key, "Rotated");
}

Status KeyAction(const GlobalOptions& g, Kms& kms, const std::string& key,
                 const std::string& action, const std::string& done) {
  VEIL_TRY(kms.Call(kms.Request("POST", Kms::KeyPath(key) + "/actions/" + action)));
  return PrintAfterAction(g, kms, key, done);
}

Status DeleteKey(const GlobalOptions& g, Kms& kms, const std::string& key, bool force) {
  ApiRequest r = kms.Request("DELETE", Kms::KeyPath(key) + (force ? "?force=true" : ""));
  r.headers.emplace_back("prefer", "return=representation");
  json::value body = VEIL_TRY_VALUE(kms.Call(std::move(r)));
  json::value k = VEIL_TRY_VALUE(FirstResource(body));
  if (g.output == "json") {
    std::cout << json::serialize(k) << "\n";
  } else {
    std::cout << "Deleted key " << Str(k, "id") << " (" << Str(k, "name") << "): restore until "
              << Str(k, "restoreExpirationDate") << ", purge from " << Str(k, "purgeAllowedFrom")
              << "\n";
  }
  return OkStatus();
}

Status RestoreKey(const GlobalOptions& g, Kms& kms, const std::string& key, const MaterialArgs& m) {
  ApiRequest r = kms.Request("POST", Kms::KeyPath(key) + "/restore");
  auto material = VEIL_TRY_VALUE(ReadMaterial(m));
  std::optional<SecretBytes> body;
  if (material) {
    body = VEIL_TRY_VALUE(MaterialBody(kms, KeyCollection(json::object{}), *material, m.secure));
    r.secret_body = &*body;
  }
  json::value restored = VEIL_TRY_VALUE(kms.Call(std::move(r)));
  json::value k = VEIL_TRY_VALUE(FirstResource(restored));
  if (g.output == "json") {
    std::cout << json::serialize(k) << "\n";
  } else {
    std::cout << "Restored key " << Str(k, "id") << " (" << Str(k, "name") << "): state "
              << KeyStateText(IntMember(k, "state")) << "\n";
  }
  return OkStatus();
}

Status PurgeKey(const GlobalOptions& g, Kms& kms, const std::string& key) {
  VEIL_TRY(kms.Call(kms.Request("DELETE", Kms::KeyPath(key) + "/purge")));
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"id", key}, {"purged", true}}) << "\n";
  } else {
    std::cout << "Purged key " << key << ": its material is gone\n";
  }
  return OkStatus();
}

Status ListVersions(const GlobalOptions& g, Kms& kms, const std::string& key) {
  json::value body = VEIL_TRY_VALUE(kms.Get(Kms::KeyPath(key) + "/versions?limit=5000"));
  std::vector<std::vector<std::string>> rows;
  if (const json::value* v = Member(body, "resources"); v && v->is_array()) {
    for (const json::value& version : v->as_array()) {
      rows.push_back({Str(version, "id"), Str(version, "creationDate")});
    }
  }
  PrintTable(g, body, {"version", "created"}, rows);
  return OkStatus();
}

struct PolicyArgs {
  int rotation_months = 0;
  bool no_rotation = false;
  std::string dual_auth;  // "", "on", "off"
};

Status Policy(const GlobalOptions& g, Kms& kms, const std::string& key, const PolicyArgs& a) {
  if (a.rotation_months != 0 && a.no_rotation) {
    return InvalidArgument("give --rotation-months or --no-rotation, not both");
  }
  const std::string path = Kms::KeyPath(key) + "/policies";
  json::value body;
  if (a.rotation_months == 0 && !a.no_rotation && a.dual_auth.empty()) {
    body = VEIL_TRY_VALUE(kms.Get(path));
  } else {
    json::array policies;
    if (a.rotation_months != 0 || a.no_rotation) {
      int months = a.rotation_months;
      if (a.no_rotation) {
        // The API wants an interval even to turn rotation off: keep the current one.
        json::value k = VEIL_TRY_VALUE(kms.Metadata(key));
        const json::value* rotation = Member(k, "rotation");
        months = static_cast<int>(rotation ? IntMember(*rotation, "interval_month", 1) : 1);
        if (months < 1 || months > 12) months = 1;
      }
      policies.push_back(json::object{
          {"type", kPolicyType},
          {"rotation", json::object{{"enabled", !a.no_rotation}, {"interval_month", months}}}});
    }
    if (!a.dual_auth.empty()) {
      policies.push_back(
          json::object{{"type", kPolicyType},
                       {"dualAuthDelete", json::object{{"enabled", a.dual_auth == "on"}}}});
    }
    const int64_t total = static_cast<int64_t>(policies.size());
    body = VEIL_TRY_VALUE(kms.Send(
        "PUT", path,
        json::object{
            {"metadata", json::object{{"collectionType", kPolicyType}, {"collectionTotal", total}}},
            {"resources", std::move(policies)}}));
  }
  std::vector<std::vector<std::string>> rows;
  if (const json::value* list = Member(body, "resources"); list && list->is_array()) {
    for (const json::value& p : list->as_array()) {
      if (const json::value* r = Member(p, "rotation")) {
        const bool on = Str(*r, "enabled") == "true";
        const int64_t months = IntMember(*r, "interval_month", 0);
        rows.push_back({"rotation", on ? "on" : "off",
                        months > 0 ? "every " + std::to_string(months) + " month(s)" : "",
                        Str(p, "lastUpdateDate")});
      } else if (const json::value* d = Member(p, "dualAuthDelete")) {
        rows.push_back({"dualAuthDelete", Str(*d, "enabled") == "true" ? "on" : "off", "",
                        Str(p, "lastUpdateDate")});
      }
    }
  }
  PrintTable(g, body, {"policy", "enabled", "interval", "updated"}, rows);
  return OkStatus();
}

struct WrapArgs {
  std::string key;
  std::string plaintext_b64;
  std::string plaintext_file;
  std::string ciphertext;
  std::string ciphertext_file;
  std::vector<std::string> aad;
};

json::array AadArray(const std::vector<std::string>& aad) {
  json::array out;
  for (const std::string& s : aad) out.emplace_back(s);
  return out;
}

Status Wrap(const GlobalOptions& g, Kms& kms, const WrapArgs& a) {
  if (!a.plaintext_b64.empty() && !a.plaintext_file.empty()) {
    return InvalidArgument("give --plaintext-b64 or --plaintext-file, not both");
  }
  std::optional<SecretBytes> plaintext;
  if (!a.plaintext_file.empty()) {
    auto bytes = ReadSecretFile(a.plaintext_file, kMaxPlaintextFileBytes);
    if (!bytes) {
      if (bytes.error().code == ErrorCode::kNotFound) {
        return InvalidArgument("plaintext file " + a.plaintext_file + " does not exist");
      }
      return tl::unexpected(bytes.error());
    }
    if (bytes->empty()) return InvalidArgument("plaintext file " + a.plaintext_file + " is empty");
    plaintext = std::move(*bytes);
  } else if (!a.plaintext_b64.empty()) {
    auto decoded = DecodeBase64Secret(a.plaintext_b64);
    if (!decoded || decoded->empty()) return InvalidArgument("--plaintext-b64 is not base64");
    plaintext = std::move(*decoded);
  }
  json::object body;
  if (!a.aad.empty()) body["aad"] = AadArray(a.aad);
  ApiRequest r = kms.Request("POST", Kms::KeyPath(a.key) + "/actions/wrap");
  std::optional<SecretBytes> secret_body;
  if (plaintext) {
    body["plaintext"] = kSecretPlaceholder;
    secret_body = VEIL_TRY_VALUE(JsonWithSecret(body, *plaintext));
    r.secret_body = &*secret_body;
  } else {
    r.body = std::move(body);
    r.secret_response = true;  // the generated DEK
  }
  json::value out = VEIL_TRY_VALUE(kms.Call(std::move(r)));
  if (g.output == "json") {
    std::cout << json::serialize(out) << "\n";
  } else {
    std::vector<std::pair<std::string, std::string>> fields;
    if (Member(out, "plaintext") != nullptr)
      fields.emplace_back("Plaintext", Str(out, "plaintext"));
    fields.emplace_back("Ciphertext", Str(out, "ciphertext"));
    fields.emplace_back("Key version", Path(out, {"keyVersion", "id"}));
    PrintFields(g, out, fields);
  }
  WipeJsonString(out, "plaintext");
  return OkStatus();
}

Result<std::string> CiphertextOf(const WrapArgs& a) {
  if (!a.ciphertext.empty() && !a.ciphertext_file.empty()) {
    return InvalidArgument("give --ciphertext or --ciphertext-file, not both");
  }
  if (!a.ciphertext.empty()) return a.ciphertext;
  if (a.ciphertext_file.empty()) return InvalidArgument("give --ciphertext or --ciphertext-file");
  auto bytes = ReadSecretFile(a.ciphertext_file, kMaxCiphertextFileBytes);
  if (!bytes) {
    if (bytes.error().code == ErrorCode::kNotFound) {
      return InvalidArgument("ciphertext file " + a.ciphertext_file + " does not exist");
    }
    return tl::unexpected(bytes.error());
  }
  std::string text(TrimAsciiSpace(AsStringView(bytes->Reveal())));  // a ciphertext is not secret
  if (text.empty()) return InvalidArgument("ciphertext file " + a.ciphertext_file + " is empty");
  return text;
}

Status Unwrap(const GlobalOptions& g, Kms& kms, const WrapArgs& a, bool rewrap) {
  json::object body{{"ciphertext", VEIL_TRY_VALUE(CiphertextOf(a))}};
  if (!a.aad.empty()) body["aad"] = AadArray(a.aad);
  ApiRequest r =
      kms.Request("POST", Kms::KeyPath(a.key) + (rewrap ? "/actions/rewrap" : "/actions/unwrap"));
  r.body = std::move(body);
  r.secret_response = !rewrap;
  json::value out = VEIL_TRY_VALUE(kms.Call(std::move(r)));
  if (g.output == "json") {
    std::cout << json::serialize(out) << "\n";
  } else {
    std::vector<std::pair<std::string, std::string>> fields;
    if (!rewrap) {
      fields.emplace_back("Plaintext", Str(out, "plaintext"));
      fields.emplace_back("Key version", Path(out, {"keyVersion", "id"}));
      if (Member(out, "ciphertext") != nullptr) {
        // The key was rotated since: the caller should keep this ciphertext instead.
        fields.emplace_back("Rewrapped ciphertext", Str(out, "ciphertext"));
        fields.emplace_back("Rewrapped version", Path(out, {"rewrappedKeyVersion", "id"}));
      }
    } else {
      fields.emplace_back("Ciphertext", Str(out, "ciphertext"));
      fields.emplace_back("Key version", Path(out, {"rewrappedKeyVersion", "id"}));
      fields.emplace_back("Previous version", Path(out, {"keyVersion", "id"}));
    }
    PrintFields(g, out, fields);
  }
  WipeJsonString(out, "plaintext");
  return OkStatus();
}

std::vector<std::pair<std::string, std::string>> TokenFields(const json::value& t) {
  return {{"Created", Str(t, "creationDate")},
          {"Expires", Str(t, "expirationDate")},
          {"Retrievals",
           Str(t, "remainingRetrievals") + " of " + Str(t, "maxAllowedRetrievals") + " left"}};
}

Status CreateImportToken(const GlobalOptions& g, Kms& kms, int64_t expiration, int64_t retrievals) {
  json::value t = VEIL_TRY_VALUE(
      kms.Send("POST", "/api/v2/import_token",
               json::object{{"expiration", expiration}, {"maxAllowedRetrievals", retrievals}}));
  PrintFields(g, t, TokenFields(t));
  return OkStatus();
}

Status ShowImportToken(const GlobalOptions& g, Kms& kms) {
  json::value t = VEIL_TRY_VALUE(kms.Get("/api/v2/import_token"));
  auto fields = TokenFields(t);
  fields.emplace_back("Nonce", Str(t, "nonce"));
  auto pem = Base64Decode(Str(t, "payload"));
  if (g.output != "json" && pem) {
    PrintFields(g, t, fields);
    std::cout << "Public key:\n" << AsStringView(*pem);
    if (!pem->empty() && pem->back() != '\n') std::cout << "\n";
    return OkStatus();
  }
  PrintFields(g, t, fields);
  return OkStatus();
}

Status UseInstance(const GlobalOptions& g, const std::string& guid) {
  ApiClient client(g);
  json::value r = VEIL_TRY_VALUE(
      client.Call({"iam", "GET", "/v2/resource_instances/" + FormEncode(guid), std::nullopt}));
  if (Str(r, "resource_id") != "kms") {
    return InvalidArgument("instance " + guid + " is a " + Str(r, "resource_id") +
                           " instance, not a kms one");
  }
  VEIL_TRY(SaveDefaultKmsInstance(Str(r, "guid")));
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"kms_instance", Str(r, "guid")}}) << "\n";
  } else {
    std::cout << "KMS commands now use instance " << Str(r, "guid") << " (" << Str(r, "name")
              << ") by default\n";
  }
  return OkStatus();
}

// Nothing on standard output when there is no default: `INSTANCE=$(veil kms instance show)` in a
// script fails (exit 5) instead of taking a sentence for a GUID.
Status ShowInstance(const GlobalOptions& g) {
  std::string guid = VEIL_TRY_VALUE(DefaultKmsInstance());
  if (guid.empty()) {
    return NotFound(
        "no default KMS instance: set one with `veil kms instance use GUID` (`veil resource "
        "instance list --service kms` lists them), or give --instance GUID or VEIL_KMS_INSTANCE");
  }
  if (g.output == "json") {
    std::cout << json::serialize(json::object{{"kms_instance", guid}}) << "\n";
  } else {
    std::cout << guid << "\n";
  }
  return OkStatus();
}

// ---- wiring ----

struct KmsArgs {
  std::string instance;
  std::string key;
  CreateArgs create;
  ListArgs list;
  bool payload = false;
  bool force = false;
  MaterialArgs material;
  PolicyArgs policy;
  WrapArgs wrap;
  int64_t token_expiration = 600;
  int64_t token_retrievals = 1;
  std::string guid;
};

using KmsCommand = std::function<Status(const GlobalOptions&, Kms&)>;

// "8-4-4-4-12" hexadecimal digits: a key ID, of any version and case.
bool LooksLikeUuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// After KEY_NOT_FOUND_ERR for a KEY that is not an ID: the KMS finds a key by its ID or an alias,
// never by its name (names need not be unique), which is what a user typing the name did not
// know. "" otherwise.
std::string KeyNotFoundHint(const std::string& key, const ApiClient& client) {
  const HttpFailure& f = client.last_failure();
  if (key.empty() || LooksLikeUuid(key) || f.status != 404 || f.reason != "KEY_NOT_FOUND_ERR") {
    return "";
  }
  return "\nveil: '" + key +
         "' is not a key ID, and no key has it as an alias: keys are found by ID or alias, not by "
         "name. `veil kms key list` shows each key's ID beside its name.";
}

// Runs one KMS command in the instance of --instance (or the default) and turns its error into
// a message and an exit code.
std::function<void()> Runner(const GlobalOptions& g, int& rc, std::shared_ptr<KmsArgs> args,
                             KmsCommand command) {
  return [&g, &rc, a = std::move(args), f = std::move(command)] {
    ApiClient client(g);
    auto run = [&]() -> Status {
      std::string instance = a->instance;
      if (instance.empty()) instance = VEIL_TRY_VALUE(DefaultKmsInstance());
      if (instance.empty()) {
        return InvalidArgument(
            "no KMS instance: give --instance GUID, or set a default with `veil kms instance use "
            "GUID` (`veil resource instance list --service kms` lists them)");
      }
      Kms kms(client, instance);
      return f(g, kms);
    };
    Status status = run();
    if (!status) {
      std::cerr << "veil: " << status.error().message << KeyNotFoundHint(a->key, client) << "\n";
      rc = KmsExitCode(status.error(), client.last_failure());
    } else {
      rc = ExitCode(ApiExit::kOk);
    }
  };
}

// A command that acts in a KMS instance: --instance, and KEY when `key` is set.
CLI::App* KmsCommandApp(CLI::App& parent, const std::string& name, const std::string& description,
                        const std::string& example, const std::shared_ptr<KmsArgs>& a, bool key) {
  CLI::App* c = Command(parent, name, description, example);
  c->add_option("--instance", a->instance,
                "GUID of the KMS instance (default: $VEIL_KMS_INSTANCE, then `veil kms instance "
                "use`)");
  if (key) c->add_option("KEY", a->key, "ID or alias of the key")->required();
  return c;
}

void AddMaterialOptions(CLI::App* c, MaterialArgs& m) {
  auto* file = c->add_option("--key-file", m.key_file,
                             "File holding the key material, raw bytes (16, 24 or 32 for a root "
                             "key; '-': stdin)");
  auto* b64 = c->add_option("--key-b64", m.key_b64,
                            "The key material in base64 (visible in the process list: prefer "
                            "--key-file)");
  file->excludes(b64);
  c->add_flag("--secure", m.secure,
              "Send the material encrypted for the instance's import token (RSA-OAEP SHA-256, "
              "with the token's nonce under AES-GCM); creates a token if there is none");
}

void AddAad(CLI::App* c, WrapArgs& w) {
  c->add_option("--aad", w.aad,
                "Additional authenticated data, repeatable; unwrap needs the same list in the "
                "same order (the KMS does not keep it)")
      ->allow_extra_args(false);
}

void RegisterKeyCreation(CLI::App& key, const GlobalOptions& g, int& rc,
                         const std::shared_ptr<KmsArgs>& a) {
  auto run = [&g, &rc, a](KmsCommand f) { return Runner(g, rc, a, std::move(f)); };
  CLI::App* c = KmsCommandApp(key, "create",
                              "Create a key generated by the KMS: a root key (wraps DEKs; its "
                              "material never leaves the HSM) or, with --standard, a standard key",
                              "veil kms key create image-crk --alias images", a, false);
  c->add_option("NAME", a->create.name, "Name of the key (2-90 characters)")->required();
  c->add_flag("--standard", a->create.standard,
              "A standard key (its payload can be read back) instead of a root key");
  c->add_option("--description", a->create.description, "What the key is for");
  c->add_option("--alias", a->create.aliases, "An alias (repeatable, up to 5)")
      ->allow_extra_args(false);
  c->add_option("--expiration", a->create.expiration,
                "RFC 3339 time after which the key is Deactivated (unwrap only)");
  c->add_option("--key-ring", a->create.key_ring, "Key ring of the key (default: default)");
  c->callback(
      run([a](const GlobalOptions& o, Kms& k) { return CreateKey(o, k, a->create, false); }));

  c = KmsCommandApp(key, "import",
                    "Import your own key material as a root key (or, with --standard, a standard "
                    "key); --secure sends it encrypted for the instance's import token",
                    "veil kms key import my-crk --key-file crk.bin --secure", a, false);
  c->add_option("NAME", a->create.name, "Name of the key (2-90 characters)")->required();
  c->add_flag("--standard", a->create.standard, "A standard key instead of a root key");
  c->add_option("--description", a->create.description, "What the key is for");
  c->add_option("--alias", a->create.aliases, "An alias (repeatable, up to 5)")
      ->allow_extra_args(false);
  c->add_option("--expiration", a->create.expiration,
                "RFC 3339 time after which the key is Deactivated");
  c->add_option("--key-ring", a->create.key_ring, "Key ring of the key (default: default)");
  AddMaterialOptions(c, a->create.material);
  c->callback(
      run([a](const GlobalOptions& o, Kms& k) { return CreateKey(o, k, a->create, true); }));
}

void RegisterKeyReads(CLI::App& key, const GlobalOptions& g, int& rc,
                      const std::shared_ptr<KmsArgs>& a) {
  auto run = [&g, &rc, a](KmsCommand f) { return Runner(g, rc, a, std::move(f)); };
  CLI::App* c =
      KmsCommandApp(key, "list", "List the keys of the instance (states 0-3 unless --state)",
                    "veil kms key list --state 1,3 --limit 50", a, false);
  c->add_option("--state", a->list.state,
                "Comma-separated states: 0 pre-activation, 1 active, 2 suspended, 3 deactivated, "
                "5 destroyed (names work too)");
  c->add_option("--limit", a->list.limit, "At most this many keys")
      ->check(CLI::Range(1, 5000))
      ->capture_default_str();
  c->add_option("--offset", a->list.offset, "Skip this many keys")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  c->add_flag("--standard", a->list.extractable, "Only standard keys");
  c->add_flag("--root", a->list.root, "Only root keys");
  c->callback(run([a](const GlobalOptions& o, Kms& k) { return ListKeys(o, k, a->list); }));

  c = KmsCommandApp(key, "show",
                    "Show a key's metadata; --payload also prints a standard key's material "
                    "(base64; needs ReaderPlus or more)",
                    "veil kms key show images --output json", a, true);
  c->add_flag("--payload", a->payload, "Print the payload of a standard key");
  c->callback(
      run([a](const GlobalOptions& o, Kms& k) { return ShowKey(o, k, a->key, a->payload); }));

  c = KmsCommandApp(key, "versions", "List the versions of a key, newest first",
                    "veil kms key versions images", a, true);
  c->callback(run([a](const GlobalOptions& o, Kms& k) { return ListVersions(o, k, a->key); }));

  c = KmsCommandApp(key, "policy",
                    "Show a key's policies, or set them: automatic rotation every N months, "
                    "dual authorization for deletion",
                    "veil kms key policy images --rotation-months 3 --dual-auth on", a, true);
  c->add_option("--rotation-months", a->policy.rotation_months,
                "Rotate the (generated root) key automatically every N months")
      ->check(CLI::Range(1, 12));
  c->add_flag("--no-rotation", a->policy.no_rotation, "Turn automatic rotation off");
  c->add_option("--dual-auth", a->policy.dual_auth,
                "Require two Managers to delete the key (on|off; once on, the KMS refuses off)")
      ->check(CLI::IsMember({"on", "off"}));
  c->callback(run([a](const GlobalOptions& o, Kms& k) { return Policy(o, k, a->key, a->policy); }));
}

void RegisterKeyLifecycle(CLI::App& key, const GlobalOptions& g, int& rc,
                          const std::shared_ptr<KmsArgs>& a) {
  auto run = [&g, &rc, a](KmsCommand f) { return Runner(g, rc, a, std::move(f)); };
  CLI::App* c =
      KmsCommandApp(key, "rotate",
                    "Rotate a root key: a new version wraps from now on, older versions keep "
                    "unwrapping. An imported key needs new material",
                    "veil kms key rotate images", a, true);
  AddMaterialOptions(c, a->material);
  c->callback(
      run([a](const GlobalOptions& o, Kms& k) { return RotateKey(o, k, a->key, a->material); }));

  struct Simple {
    const char* name;
    const char* action;
    const char* done;
    const char* description;
  };
  for (const Simple& s : {
           Simple{"disable", "disable", "Disabled",
                  "Disable a key (Suspended): wrap and unwrap are refused until it is enabled"},
           Simple{"enable", "enable", "Enabled", "Enable a disabled key (Active again)"},
           Simple{"set-for-deletion", "setKeyForDeletion", "Set for deletion",
                  "Dual authorization: approve the deletion of a key whose dualAuthDelete policy "
                  "is on (another Manager then deletes it within 7 days)"},
           Simple{"unset-for-deletion", "unsetKeyForDeletion", "Unset for deletion",
                  "Withdraw an approval given with set-for-deletion"},
       }) {
    c = KmsCommandApp(key, s.name, s.description, std::string("veil kms key ") + s.name + " images",
                      a, true);
    const std::string action = s.action, done = s.done;
    c->callback(run([a, action, done](const GlobalOptions& o, Kms& k) {
      return KeyAction(o, k, a->key, action, done);
    }));
  }

  c = KmsCommandApp(key, "delete",
                    "Delete a key (Destroyed): nothing unwraps with it any more; restore within "
                    "30 days, purge after 4 hours",
                    "veil kms key delete images", a, true);
  c->add_flag("--force", a->force,
              "Delete although registrations say resources are protected by it (never past "
              "preventKeyDeletion)");
  c->callback(
      run([a](const GlobalOptions& o, Kms& k) { return DeleteKey(o, k, a->key, a->force); }));

  c = KmsCommandApp(key, "restore",
                    "Restore a deleted key within 30 days (an imported key needs its material "
                    "again)",
                    "veil kms key restore images", a, true);
  AddMaterialOptions(c, a->material);
  c->callback(
      run([a](const GlobalOptions& o, Kms& k) { return RestoreKey(o, k, a->key, a->material); }));

  c = KmsCommandApp(key, "purge",
                    "Purge a deleted key for good, 4 hours after its deletion (needs KeyPurge)",
                    "veil kms key purge 0f1e2d3c-...", a, true);
  c->callback(run([a](const GlobalOptions& o, Kms& k) { return PurgeKey(o, k, a->key); }));
}

void RegisterKeys(CLI::App& kms, const GlobalOptions& g, int& rc,
                  const std::shared_ptr<KmsArgs>& a) {
  CLI::App* key = Group(kms, "key", "Root and standard keys: create, import, list, lifecycle",
                        "veil kms key list");
  RegisterKeyCreation(*key, g, rc, a);
  RegisterKeyReads(*key, g, rc, a);
  RegisterKeyLifecycle(*key, g, rc, a);
}

}  // namespace

int KmsExitCode(const Error& error, const HttpFailure& failure) {
  const std::string& reason = failure.reason;
  switch (failure.status) {
    case 404:
      return ExitCode(ApiExit::kNotFound);
    case 410:
      return ExitCode(KmsExit::kKeyState);
    case 409:
      return ExitCode(reason == "KEY_ACTION_INVALID_STATE_ERR" ? KmsExit::kKeyState
                                                               : KmsExit::kConflict);
    case 422:
      return ExitCode(reason == "KEY_INVALID_STATE_ERR" ? KmsExit::kKeyState
                                                        : KmsExit::kCiphertext);
    default:
      return ExitCode(ApiExitCode(error));
  }
}

std::string KeyStateText(int64_t state) {
  for (const StateName& s : kStates) {
    if (s.state == state) return std::string(s.name);
  }
  return std::to_string(state);
}

Result<std::string> ParseStateList(std::string_view text) {
  std::vector<int64_t> states;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    item = TrimAsciiSpace(item);
    std::optional<int64_t> state;
    for (const StateName& s : kStates) {
      if (item == std::to_string(s.state) || EqualsIgnoreCase(item, s.name) ||
          (s.state == 0 && EqualsIgnoreCase(item, "preactivation"))) {
        state = s.state;
      }
    }
    if (!state) {
      return InvalidArgument("--state: '" + std::string(item) +
                             "' is not a key state (0 pre-activation, 1 active, 2 suspended, 3 "
                             "deactivated, 5 destroyed)");
    }
    if (std::find(states.begin(), states.end(), *state) == states.end()) states.push_back(*state);
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  std::string out;
  for (int64_t s : states) out += (out.empty() ? "" : ",") + std::to_string(s);
  return out;
}

SecretBytes Base64Secret(std::span<const uint8_t> data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  SecretBytes out((data.size() + 2) / 3 * 4);
  auto o = out.RevealMutable();
  size_t j = 0;
  for (size_t i = 0; i < data.size(); i += 3) {
    const uint32_t b0 = data[i];
    const uint32_t b1 = i + 1 < data.size() ? data[i + 1] : 0;
    const uint32_t b2 = i + 2 < data.size() ? data[i + 2] : 0;
    const uint32_t n = (b0 << 16) | (b1 << 8) | b2;
    o[j++] = static_cast<uint8_t>(kAlphabet[(n >> 18) & 63]);
    o[j++] = static_cast<uint8_t>(kAlphabet[(n >> 12) & 63]);
    o[j++] = i + 1 < data.size() ? static_cast<uint8_t>(kAlphabet[(n >> 6) & 63]) : '=';
    o[j++] = i + 2 < data.size() ? static_cast<uint8_t>(kAlphabet[n & 63]) : '=';
  }
  return out;
}

Result<SecretBytes> JsonWithSecret(const json::value& body, const SecretBytes& secret) {
  const std::string text = json::serialize(body);
  const std::string quoted = "\"" + std::string(kSecretPlaceholder) + "\"";
  const size_t at = text.find(quoted);
  if (at == std::string::npos || text.find(quoted, at + 1) != std::string::npos) {
    return InvalidArgument("the request body must hold the secret's placeholder exactly once");
  }
  SecretBytes encoded = Base64Secret(secret.Reveal());
  SecretBytes out(text.size() - quoted.size() + encoded.size() + 2);
  auto o = out.RevealMutable();
  size_t j = 0;
  std::memcpy(o.data(), text.data(), at);
  j += at;
  o[j++] = '"';
  std::memcpy(o.data() + j, encoded.Reveal().data(), encoded.size());
  j += encoded.size();
  o[j++] = '"';
  std::memcpy(o.data() + j, text.data() + at + quoted.size(), text.size() - at - quoted.size());
  return out;
}

Result<SecureImportFields> SealForImport(std::string_view public_key_pem,
                                         std::span<const uint8_t> nonce,
                                         const SecretBytes& material, std::span<const uint8_t> iv) {
  if (iv.size() != crypto::kAesGcmIvSize) return InvalidArgument("the iv must be 12 bytes");
  const size_t n = material.size();
  if (n != 16 && n != 24 && n != 32) {
    return InvalidArgument("a secure import needs 16, 24 or 32 bytes of key material, not " +
                           std::to_string(n));
  }
  auto key = crypto::PublicKey::FromPem(public_key_pem);
  if (!key || key->type() != crypto::KeyType::kRsa) {
    return InvalidArgument("the import token's public key is not an RSA key");
  }
  std::vector<uint8_t> encrypted =
      VEIL_TRY_VALUE(key->EncryptOaep(crypto::OaepHash::kSha256, material.Reveal()));
  crypto::AesGcm gcm = VEIL_TRY_VALUE(crypto::AesGcm::CreateAnySize(material.Reveal()));
  std::vector<uint8_t> sealed = VEIL_TRY_VALUE(gcm.Seal(iv, {}, nonce));
  SecureImportFields f;
  f.payload = Base64Encode(encrypted);
  f.encrypted_nonce = Base64Encode(sealed);
  f.iv = Base64Encode(iv);
  return f;
}

Result<std::string> DefaultKmsInstance() {
  if (const char* env = std::getenv("VEIL_KMS_INSTANCE"); env && *env) return std::string(env);
  auto profile = VEIL_TRY_VALUE(ReadProfile(ProfileDir()));
  if (auto it = profile.find(std::string(kProfileKey)); it != profile.end()) return it->second;
  return std::string();
}

Status SaveDefaultKmsInstance(const std::string& guid) {
  return SetProfileValue(ProfileDir(), std::string(kProfileKey), guid);
}

void RegisterKmsCommands(CLI::App& app, const GlobalOptions& g, int& rc) {
  auto a = std::make_shared<KmsArgs>();
  auto run = [&g, &rc, a](KmsCommand f) { return Runner(g, rc, a, std::move(f)); };
  CLI::App* kms = Group(app, "kms",
                        "Key management (Key Protect v2): root keys in the HSM, envelope "
                        "wrap/unwrap of data encryption keys, rotation and lifecycle",
                        "veil kms key create image-crk");
  RegisterKeys(*kms, g, rc, a);

  CLI::App* c = KmsCommandApp(*kms, "wrap",
                              "Wrap a data encryption key (DEK) with a root key. Without a "
                              "plaintext the KMS generates a 32-byte DEK and prints it (base64)",
                              "veil kms wrap image-crk --aad image:centos --output json", a, true);
  c->add_option("--plaintext-b64", a->wrap.plaintext_b64,
                "The DEK to wrap, in base64 (visible in the process list: prefer "
                "--plaintext-file)");
  c->add_option("--plaintext-file", a->wrap.plaintext_file,
                "File holding the DEK to wrap, raw bytes ('-': stdin)");
  AddAad(c, a->wrap);
  c->callback(run([a](const GlobalOptions& o, Kms& k) {
    a->wrap.key = a->key;
    return Wrap(o, k, a->wrap);
  }));

  c = KmsCommandApp(*kms, "unwrap",
                    "Unwrap a wrapped DEK: prints the DEK (base64), and a rewrapped ciphertext "
                    "when the key was rotated since (keep that one instead)",
                    "veil kms unwrap image-crk --ciphertext-file image.wdek --aad image:centos", a,
                    true);
  c->add_option("--ciphertext", a->wrap.ciphertext, "The wrapped DEK (wrap's ciphertext)");
  c->add_option("--ciphertext-file", a->wrap.ciphertext_file,
                "File holding the wrapped DEK ('-': stdin)");
  AddAad(c, a->wrap);
  c->callback(run([a](const GlobalOptions& o, Kms& k) {
    a->wrap.key = a->key;
    return Unwrap(o, k, a->wrap, false);
  }));

  c = KmsCommandApp(*kms, "rewrap",
                    "Rewrap a wrapped DEK under the key's newest version, without showing the DEK",
                    "veil kms rewrap image-crk --ciphertext-file image.wdek", a, true);
  c->add_option("--ciphertext", a->wrap.ciphertext, "The wrapped DEK");
  c->add_option("--ciphertext-file", a->wrap.ciphertext_file,
                "File holding the wrapped DEK ('-': stdin)");
  AddAad(c, a->wrap);
  c->callback(run([a](const GlobalOptions& o, Kms& k) {
    a->wrap.key = a->key;
    return Unwrap(o, k, a->wrap, true);
  }));

  CLI::App* token = Group(*kms, "import-token",
                          "The instance's import token: an RSA key to encrypt key material for "
                          "a secure import",
                          "veil kms import-token create --expiration 1200 --max-retrievals 2");
  c = KmsCommandApp(*token, "create", "Create the instance's import token (replaces the old one)",
                    "veil kms import-token create --expiration 1200 --max-retrievals 2", a, false);
  c->add_option("--expiration", a->token_expiration, "Lifetime in seconds (300 to 86400)")
      ->check(CLI::Range(300, 86400))
      ->capture_default_str();
  c->add_option("--max-retrievals", a->token_retrievals,
                "How many times it may be retrieved (1 to 500)")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  c->callback(run([a](const GlobalOptions& o, Kms& k) {
    return CreateImportToken(o, k, a->token_expiration, a->token_retrievals);
  }));
  c = KmsCommandApp(*token, "show",
                    "Retrieve the import token: its public key and nonce (counts one retrieval)",
                    "veil kms import-token show", a, false);
  c->callback(run([](const GlobalOptions& o, Kms& k) { return ShowImportToken(o, k); }));

  CLI::App* inst = Group(*kms, "instance",
                         "The default KMS instance of your profile (for commands without "
                         "--instance)",
                         "veil kms instance use 8d7c6b5a-...");
  c = Command(*inst, "use", "Make a KMS instance the default (kept in the profile's config)",
              "veil kms instance use 8d7c6b5a-...");
  c->add_option("GUID", a->guid, "GUID of the KMS instance")->required();
  c->callback([&g, &rc, a] {
    Status s = UseInstance(g, a->guid);
    if (!s) std::cerr << "veil: " << s.error().message << "\n";
    rc = ExitCode(s ? ApiExit::kOk : ApiExitCode(s.error()));
  });
  c = Command(*inst, "show", "Print the default KMS instance", "veil kms instance show");
  c->callback([&g, &rc] {
    Status s = ShowInstance(g);
    if (!s) std::cerr << "veil: " << s.error().message << "\n";
    rc = ExitCode(s ? ApiExit::kOk : ApiExitCode(s.error()));
  });
}

}  // namespace veil::cli
