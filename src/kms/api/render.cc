#include "kms/api/render.h"

#include <algorithm>
#include <chrono>

#include "common/encoding.h"
#include "common/uuid.h"
#include "crypto/hash.h"
#include "kms/instance_policy.h"

namespace veil::kms::api::internal {
namespace {

// A key policy's id: stable, derived from the key and the policy type (a UUID-shaped name, like
// Key Protect's policy ids; Veil keeps policies as fields of the key, not as rows of their own).
std::string PolicyId(const Key& key, std::string_view type) {
  std::string name = key.id + "/" + std::string(type);
  auto digest = crypto::Sha256({reinterpret_cast<const uint8_t*>(name.data()), name.size()});
  Uuid id;
  std::copy_n(digest.begin(), id.bytes.size(), id.bytes.begin());
  id.bytes[6] = static_cast<uint8_t>((id.bytes[6] & 0x0f) | 0x50);  // version 5 (name-based)
  id.bytes[8] = static_cast<uint8_t>((id.bytes[8] & 0x3f) | 0x80);
  return id.ToString();
}

boost::json::object PolicyBase(const Key& key, std::string_view region, std::string_view type) {
  boost::json::object o;
  o["id"] = PolicyId(key, type);
  o["type"] = kPolicyType;
  o["crn"] = key.crn(region);
  o["createdBy"] = key.created_by;
  o["creationDate"] = FormatRfc3339Seconds(key.created_at);
  o["updatedBy"] = key.created_by;
  o["lastUpdateDate"] = FormatRfc3339Seconds(key.updated_at);
  return o;
}

}  // namespace

http::Response JsonResponse(int status, const boost::json::value& body) {
  return http::Response::Json(status, body);
}

http::Response Collection(int status, std::string_view collection_type,
                          boost::json::array resources) {
  boost::json::object metadata;
  metadata["collectionType"] = collection_type;
  metadata["collectionTotal"] = static_cast<int64_t>(resources.size());
  boost::json::object body;
  body["metadata"] = std::move(metadata);
  body["resources"] = std::move(resources);
  return http::Response::Json(status, body);
}

boost::json::object KeyJson(const Key& key, std::string_view region, const SecretBytes* payload) {
  boost::json::object o;
  o["type"] = kKeyType;
  o["id"] = key.id;
  o["name"] = key.name;
  if (!key.description.empty()) o["description"] = key.description;
  boost::json::array aliases;
  for (const std::string& a : key.aliases) aliases.emplace_back(a);
  o["aliases"] = std::move(aliases);
  o["state"] = static_cast<int64_t>(key.state);
  o["extractable"] = key.extractable;
  o["crn"] = key.crn(region);
  o["imported"] = key.imported;
  o["keyRingID"] = key.key_ring_id;
  o["creationDate"] = FormatRfc3339Seconds(key.created_at);
  o["createdBy"] = key.created_by;
  o["algorithmType"] = "AES";
  boost::json::object algorithm;
  algorithm["bitLength"] = std::to_string(key.material_bits);
  algorithm["mode"] = key.is_root() ? "GCM" : "";
  o["algorithmMetadata"] = std::move(algorithm);
  o["algorithmBitSize"] = key.material_bits;
  o["algorithmMode"] = key.is_root() ? "GCM" : "";
  o["lastUpdateDate"] = FormatRfc3339Seconds(key.updated_at);
  if (key.rotated_at) o["lastRotateDate"] = FormatRfc3339Seconds(*key.rotated_at);
  boost::json::object version;
  version["id"] = key.current.id;
  version["creationDate"] = FormatRfc3339Seconds(key.current.created_at);
  o["keyVersion"] = std::move(version);
  if (key.expires_at) o["expirationDate"] = FormatRfc3339Seconds(*key.expires_at);
  o["dualAuthDelete"] = boost::json::object{{"enabled", key.dual_auth_delete}};
  if (key.is_root()) {
    boost::json::object rotation{{"enabled", key.rotation_enabled}};
    if (key.rotation_interval_month > 0) {
      rotation["interval_month"] = key.rotation_interval_month;
    }
    o["rotation"] = std::move(rotation);
  }
  o["deleted"] = key.state == KeyState::kDestroyed;
  if (key.deleted_at) {
    o["deletionDate"] = FormatRfc3339Seconds(*key.deleted_at);
    o["deletedBy"] = key.deleted_by;
    TimePoint purge_from = *key.deleted_at + std::chrono::hours(4);
    o["purgeAllowedFrom"] = FormatRfc3339Seconds(purge_from);
    o["purgeAllowed"] = std::chrono::system_clock::now() >= purge_from;
    o["purgeScheduledOn"] = FormatRfc3339Seconds(*key.deleted_at + std::chrono::hours(24 * 90));
    TimePoint restore_until = *key.deleted_at + std::chrono::hours(24 * 30);
    o["restoreExpirationDate"] = FormatRfc3339Seconds(restore_until);
    // Key Protect's clients read this flag rather than compute it from the date.
    o["restoreAllowed"] =
        key.state == KeyState::kDestroyed && std::chrono::system_clock::now() < restore_until;
  }
  if (!key.dual_auth_set_by.empty() && key.dual_auth_set_at) {
    o["dualAuthDelete"] = boost::json::object{
        {"enabled", key.dual_auth_delete},
        {"keySetForDeletion", true},
        {"authExpiration",
         FormatRfc3339Seconds(*key.dual_auth_set_at + std::chrono::hours(24 * 7))}};
  }
  if (payload != nullptr) o["payload"] = Base64Encode(payload->Reveal());
  return o;
}

boost::json::object VersionJson(const KeyVersion& v) {
  return {{"id", v.id}, {"creationDate", FormatRfc3339Seconds(v.created_at)}};
}

boost::json::object RegistrationJson(const Registration& r) {
  boost::json::object o;
  o["keyId"] = r.key_id;
  o["resourceCrn"] = r.resource_crn;
  o["createdBy"] = r.created_by;
  o["creationDate"] = FormatRfc3339Seconds(r.created_at);
  o["updatedBy"] = r.updated_by;
  o["lastUpdated"] = FormatRfc3339Seconds(r.updated_at);
  o["description"] = r.description;
  o["preventKeyDeletion"] = r.prevent_key_deletion;
  o["keyVersion"] = boost::json::object{
      {"id", r.key_version_id}, {"creationDate", FormatRfc3339Seconds(r.key_version_created_at)}};
  return o;
}

boost::json::object KeyRingJson(const KeyRing& r) {
  boost::json::object o{{"id", r.id}};
  if (!r.created_by.empty()) {
    o["creationDate"] = FormatRfc3339Seconds(r.created_at);
    o["createdBy"] = r.created_by;
  }
  return o;
}

boost::json::object ImportTokenJson(const ImportToken& t) {
  return {{"creationDate", FormatRfc3339Seconds(t.created_at)},
          {"expirationDate", FormatRfc3339Seconds(t.expires_at)},
          {"maxAllowedRetrievals", t.max_retrievals},
          {"remainingRetrievals", t.remaining_retrievals}};
}

boost::json::array KeyPoliciesJson(const Key& key, std::string_view region,
                                   std::string_view which) {
  boost::json::array out;
  if (key.is_root() && (which.empty() || which == "rotation")) {
    boost::json::object p = PolicyBase(key, region, "rotation");
    boost::json::object rotation{{"enabled", key.rotation_enabled}};
    if (key.rotation_interval_month > 0) rotation["interval_month"] = key.rotation_interval_month;
    p["rotation"] = std::move(rotation);
    out.push_back(std::move(p));
  }
  if (which.empty() || which == "dualAuthDelete") {
    boost::json::object p = PolicyBase(key, region, "dualAuthDelete");
    p["dualAuthDelete"] = boost::json::object{{"enabled", key.dual_auth_delete}};
    out.push_back(std::move(p));
  }
  return out;
}

boost::json::object InstancePolicyJson(const InstancePolicy& p) {
  boost::json::object o;
  o["policy_type"] = p.type;
  o["policy_data"] = InstancePolicyDataJson(p.data);
  o["createdBy"] = p.updated_by;
  o["updatedBy"] = p.updated_by;
  o["creationDate"] = FormatRfc3339Seconds(p.updated_at);
  o["lastUpdated"] = FormatRfc3339Seconds(p.updated_at);
  return o;
}

}  // namespace veil::kms::api::internal
