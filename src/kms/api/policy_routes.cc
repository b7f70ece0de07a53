// Key policies (rotation, dualAuthDelete) and instance policies.
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/uuid.h"
#include "crypto/hash.h"
#include "kms/api/handler_support.h"
#include "kms/errors.h"
#include "kms/ip_filter.h"

namespace veil::kms::api::internal {
namespace {

constexpr std::string_view kInstancePolicyTypes[] = {"dualAuthDelete", "rotation",
                                                     "allowedNetwork", "allowedIP",
                                                     "metrics",        "keyCreateImportAccess"};

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
  o["creationDate"] = FormatRfc3339(key.created_at, TimePrecision::kSeconds);
  o["updatedBy"] = key.created_by;
  o["lastUpdateDate"] = FormatRfc3339(key.updated_at, TimePrecision::kSeconds);
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

Result<std::string_view> PolicyQuery(const http::RequestContext& ctx,
                                     std::initializer_list<std::string_view> allowed) {
  auto policy = ctx.request().Query("policy");
  if (!policy || policy->empty()) return std::string_view();
  for (std::string_view a : allowed) {
    if (*policy == a) return a;
  }
  return KmsFail(KmsReason::kBadReq, "unknown policy " + std::string(*policy));
}

Result<http::Response> GetKeyPolicies(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.policies.read"));
  std::string_view which = VEIL_TRY_VALUE(PolicyQuery(ctx, {"rotation", "dualAuthDelete"}));
  ctx.event().message = "Key Protect: read policies of key " + key.name;
  return Collection(200, kPolicyType, KeyPolicies(key, deps.service->options().region, which));
}

Result<http::Response> PutKeyPolicies(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  Key key = VEIL_TRY_VALUE(AuthorizedKey(deps, ctx, scope, "kms.policies.write"));
  std::string_view which = VEIL_TRY_VALUE(PolicyQuery(ctx, {"rotation", "dualAuthDelete"}));
  auto body = VEIL_TRY_VALUE(ReadOptionalJson(ctx));
  if (!body) return KmsFail(KmsReason::kNoBody, "the request needs a body");
  const boost::json::value* resources =
      body->is_object() ? body->get_object().if_contains("resources") : nullptr;
  if (resources == nullptr || !resources->is_array() || resources->get_array().empty() ||
      resources->get_array().size() > 2) {
    return KmsFail(KmsReason::kNumCollectionResource, "the body needs 1 or 2 policy resources");
  }
  for (const boost::json::value& item : resources->get_array()) {
    if (!item.is_object()) return KmsFail(KmsReason::kBadBody, "a policy must be a JSON object");
    const boost::json::object& p = item.get_object();
    if (const auto* rotation = p.if_contains("rotation")) {
      if (!which.empty() && which != "rotation") {
        return KmsFail(KmsReason::kBodyQueryParamMismatch, "the body does not match ?policy");
      }
      if (!rotation->is_object()) return KmsFail(KmsReason::kBadBody, "rotation must be an object");
      bool enabled = VEIL_TRY_VALUE(OptBool(rotation->get_object(), "enabled")).value_or(true);
      const auto* interval = rotation->get_object().if_contains("interval_month");
      // Turning rotation off needs no interval (the key keeps the one it had, if any).
      int months = enabled ? 0 : key.rotation_interval_month;
      if (interval != nullptr && interval->is_int64()) {
        months = static_cast<int>(interval->get_int64());
      } else if (interval != nullptr || enabled) {
        return KmsFail(KmsReason::kBadBody, "rotation.interval_month must be an integer 1 to 12");
      }
      key = VEIL_TRY_VALUE(deps.service->SetRotationPolicy(key, enabled, months, scope.actor));
    } else if (const auto* dual = p.if_contains("dualAuthDelete")) {
      if (!which.empty() && which != "dualAuthDelete") {
        return KmsFail(KmsReason::kBodyQueryParamMismatch, "the body does not match ?policy");
      }
      if (!dual->is_object())
        return KmsFail(KmsReason::kBadBody, "dualAuthDelete must be an object");
      auto enabled = VEIL_TRY_VALUE(OptBool(dual->get_object(), "enabled"));
      if (!enabled) return KmsFail(KmsReason::kBadBody, "dualAuthDelete.enabled is required");
      key = VEIL_TRY_VALUE(deps.service->SetDualAuthPolicy(key, *enabled, scope.actor));
    } else {
      return KmsFail(KmsReason::kBadBody, "a key policy is rotation or dualAuthDelete");
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
    o["creationDate"] = FormatRfc3339(p.updated_at, TimePrecision::kSeconds);
    o["lastUpdated"] = FormatRfc3339(p.updated_at, TimePrecision::kSeconds);
    out.push_back(std::move(o));
  }
  ctx.event().message = "Key Protect: read instance policies";
  return Collection(200, kPolicyType, std::move(out));
}

// policy_data of `type`: {"enabled": bool, "attributes": {...}} with the attributes of spec §3.3.
Status ValidateInstancePolicy(std::string_view type, const boost::json::object& data) {
  const auto* enabled = data.if_contains("enabled");
  if (enabled == nullptr || !enabled->is_bool()) {
    return KmsFail(KmsReason::kBadBody, "policy_data.enabled must be a boolean");
  }
  const auto* attributes = data.if_contains("attributes");
  if (attributes != nullptr && !attributes->is_object()) {
    return KmsFail(KmsReason::kBadBody, "policy_data.attributes must be an object");
  }
  if (type == "rotation" && enabled->get_bool()) {
    const boost::json::value* interval =
        attributes ? attributes->get_object().if_contains("interval_month") : nullptr;
    if (interval == nullptr || !interval->is_int64() || interval->get_int64() < 1 ||
        interval->get_int64() > 12) {
      return KmsFail(KmsReason::kBadBody, "rotation needs attributes.interval_month from 1 to 12");
    }
  }
  if (type == "allowedIP" && enabled->get_bool()) {
    const boost::json::value* list =
        attributes ? attributes->get_object().if_contains("allowed_ip") : nullptr;
    if (list == nullptr || !list->is_array() || list->get_array().empty()) {
      return KmsFail(KmsReason::kBadBody,
                     "allowedIP needs attributes.allowed_ip: a list of CIDR blocks");
    }
    for (const boost::json::value& v : list->get_array()) {
      if (!v.is_string() || !ParseIpBlock(v.get_string())) {
        return KmsFail(KmsReason::kBadBody,
                       "allowed_ip holds IPv4 or IPv6 CIDR blocks, such as "
                       "10.0.0.0/8 or 2001:db8::/32");
      }
    }
  }
  if (type == "keyCreateImportAccess" && attributes != nullptr) {
    for (const auto& kv : attributes->get_object()) {
      std::string_view k = kv.key();
      if (k != "create_root_key" && k != "create_standard_key" && k != "import_root_key" &&
          k != "import_standard_key" && k != "enforce_token") {
        return KmsFail(KmsReason::kBadBody,
                       "unknown keyCreateImportAccess attribute " + std::string(k));
      }
      if (!kv.value().is_bool()) {
        return KmsFail(KmsReason::kBadBody, std::string(k) + " must be a boolean");
      }
    }
  }
  return OkStatus();
}

// The policies of a PUT body, each validated (ValidateInstancePolicy).
Result<std::vector<InstancePolicyUpdate>> ParseInstancePolicies(http::RequestContext& ctx) {
  auto which = ctx.request().Query("policy").value_or("");
  auto body = VEIL_TRY_VALUE(ReadOptionalJson(ctx));
  if (!body) return KmsFail(KmsReason::kNoBody, "the request needs a body");
  const boost::json::value* resources =
      body->is_object() ? body->get_object().if_contains("resources") : nullptr;
  if (resources == nullptr || !resources->is_array() || resources->get_array().empty()) {
    return KmsFail(KmsReason::kNumCollectionResource, "the body needs policy resources");
  }
  std::vector<InstancePolicyUpdate> updates;
  for (const boost::json::value& item : resources->get_array()) {
    if (!item.is_object()) return KmsFail(KmsReason::kBadBody, "a policy must be a JSON object");
    const auto& p = item.get_object();
    auto type = VEIL_TRY_VALUE(OptString(p, "policy_type"));
    if (!type) return KmsFail(KmsReason::kBadBody, "policy_type is required");
    bool known = false;
    for (std::string_view t : kInstancePolicyTypes) known = known || *type == t;
    if (!known) return KmsFail(KmsReason::kBadBody, "unknown policy_type " + *type);
    if (!which.empty() && *type != which) {
      return KmsFail(KmsReason::kBodyQueryParamMismatch, "policy_type does not match ?policy");
    }
    const auto* data = p.if_contains("policy_data");
    if (data == nullptr || !data->is_object()) {
      return KmsFail(KmsReason::kBadBody, "policy_data must be an object");
    }
    VEIL_TRY(ValidateInstancePolicy(*type, data->get_object()));
    updates.push_back({*type, boost::json::serialize(*data)});
  }
  return updates;
}

// PUT /instance/policies[?policy=...][&confirmOutsideAllowedIP=true]: the query parameter is the
// confirmation the service asks of a Manager who replaces allowedIP from outside its allow-list.
Result<http::Response> PutInstancePolicies(const KmsApiDeps& deps, http::RequestContext& ctx) {
  Scope scope = VEIL_TRY_VALUE(Begin(deps, ctx));
  VEIL_TRY(Authorize(deps, scope, "kms.instancepolicies.write"));
  auto updates = VEIL_TRY_VALUE(ParseInstancePolicies(ctx));
  InstancePolicyWriteOptions options;
  options.remote_address = ctx.request().remote_address;
  auto confirm = ctx.request().Query("confirmOutsideAllowedIP").value_or("");
  if (!confirm.empty() && confirm != "true" && confirm != "false") {
    return KmsFail(KmsReason::kBadReq, "confirmOutsideAllowedIP must be true or false");
  }
  options.confirm_outside_allowed_ip = confirm == "true";
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
