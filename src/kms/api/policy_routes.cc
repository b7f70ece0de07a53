// Key policies (rotation, dualAuthDelete) and instance policies.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/uuid.h"
#include "crypto/hash.h"
#include "kms/api/handler_support.h"
#include "kms/errors.h"

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

boost::json::array KeyPolicies(const Key& key, std::string_view region, std::string_view which) {
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

Result<http::Response> GetKeyPolicies(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.policies.read"));
  const std::string which =
      VEIL_TRY_VALUE(PolicyQuery(ctx.request().query, {"rotation", "dualAuthDelete"}));
  ctx.event().message = "Key Protect: read policies of key " + key.name;
  return Collection(200, kPolicyType, KeyPolicies(key, deps.service->options().region, which));
}

Result<http::Response> PutKeyPolicies(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.policies.write"));
  const std::string which =
      VEIL_TRY_VALUE(PolicyQuery(ctx.request().query, {"rotation", "dualAuthDelete"}));
  // The whole body is parsed before the first change: a bad second policy leaves the first
  // unapplied.
  const std::vector<KeyPolicyUpdate> updates =
      VEIL_TRY_VALUE(ParseKeyPolicies(VEIL_TRY_VALUE(ReadOptionalJson(ctx)), which));
  for (const KeyPolicyUpdate& u : updates) {
    if (u.type == KeyPolicyUpdate::Type::kRotation) {
      // Turning rotation off needs no interval (the key keeps the one it had, if any).
      const int months = u.interval_month.value_or(u.enabled ? 0 : key.rotation_interval_month);
      key = VEIL_TRY_VALUE(deps.service->SetRotationPolicy(key, u.enabled, months, scope.actor));
    } else {
      key = VEIL_TRY_VALUE(deps.service->SetDualAuthPolicy(key, u.enabled, scope.actor));
    }
  }
  DescribeKey(ctx, key, deps.service->options().region);
  ctx.event().message = "Key Protect: set policies of key " + key.name;
  return Collection(200, kPolicyType, KeyPolicies(key, deps.service->options().region, which));
}

Result<http::Response> GetInstancePolicies(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.instancepolicies.read"));
  auto policy = ctx.request().Query("policy").value_or("");
  auto policies = VEIL_TRY_VALUE(deps.service->GetInstancePolicies(scope.instance));
  boost::json::array out;
  for (const InstancePolicy& p : policies) {
    if (!policy.empty() && p.type != policy) continue;
    boost::json::object o;
    o["policy_type"] = p.type;
    boost::system::error_code ec;
    o["policy_data"] = boost::json::parse(p.data_json, ec);
    o["createdBy"] = p.updated_by;
    o["updatedBy"] = p.updated_by;
    o["creationDate"] = FormatRfc3339Seconds(p.updated_at);
    o["lastUpdated"] = FormatRfc3339Seconds(p.updated_at);
    out.push_back(std::move(o));
  }
  ctx.event().message = "Key Protect: read instance policies";
  return Collection(200, kPolicyType, std::move(out));
}

// PUT /instance/policies[?policy=...][&confirmOutsideAllowedIP=true]: the query parameter is the
// confirmation the service asks of a Manager who replaces allowedIP from outside its allow-list.
Result<http::Response> PutInstancePolicies(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.instancepolicies.write"));
  const std::string which(ctx.request().Query("policy").value_or(""));
  auto updates =
      VEIL_TRY_VALUE(ParseInstancePolicies(VEIL_TRY_VALUE(ReadOptionalJson(ctx)), which));
  InstancePolicyWriteOptions options;
  options.remote_address = ctx.request().remote_address;
  options.confirm_outside_allowed_ip =
      VEIL_TRY_VALUE(ParseConfirmOutsideAllowedIp(ctx.request().query));
  InstancePolicyWrite write = VEIL_TRY_VALUE(
      deps.service->PutInstancePolicies(scope.instance, std::move(updates), scope.actor, options));
  ctx.event().message = "Key Protect: set instance policies";
  if (write.outside_allowed_ip) {
    ctx.event().severity = "critical";
    ctx.event().request_data["confirmOutsideAllowedIP"] = true;
    ctx.event().message += " from outside the allowedIP list (confirmed)";
  }
  return http::Response::Empty(204);
}

}  // namespace

Status AddPolicyRoutes(http::Router& router, const KmsApiDeps& deps) {
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/keys/{id}/policies", GetKeyPolicies,
                    "kms.policies.read"));
  VEIL_TRY(AddRoute(router, deps, "PUT", "/api/v2/keys/{id}/policies", PutKeyPolicies,
                    "kms.policies.write"));
  VEIL_TRY(AddRoute(router, deps, "GET", "/api/v2/instance/policies", GetInstancePolicies,
                    "kms.instancepolicies.read"));
  VEIL_TRY(AddRoute(router, deps, "PUT", "/api/v2/instance/policies", PutInstancePolicies,
                    "kms.instancepolicies.write"));
  return OkStatus();
}

}  // namespace veil::kms::api::internal
