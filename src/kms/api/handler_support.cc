#include "kms/api/handler_support.h"

#include "http/error_map.h"
#include "http/json_body.h"
#include "iam/api/principal.h"
#include "kms/api/errors.h"
#include "kms/api/render.h"
#include "kms/errors.h"

namespace veil::kms::api {
namespace internal {
namespace {

// Spec §3.11: severity by action, raised by the status.
std::string SeverityFor(std::string_view action, int status) {
  if (status == 401 || status == 403 || status == 503 || status == 507) return "critical";
  if (action == "kms.secrets.delete" || action == "kms.registrations.delete" ||
      action == "kms.secrets.purge") {
    return status < 400 ? "critical" : "warning";
  }
  if (status == 400 || status == 409 || status == 424 || status == 502 || status == 504 ||
      status == 505) {
    return "warning";
  }
  static constexpr std::string_view kWarning[] = {
      "kms.secrets.rotate",  "kms.secrets.restore",           "kms.secrets.enable",
      "kms.secrets.disable", "kms.secrets.setkeyfordeletion", "kms.secrets.unsetkeyfordeletion",
      "kms.policies.write",  "kms.instancepolicies.write"};
  for (std::string_view w : kWarning) {
    if (action == w) return "warning";
  }
  return "normal";
}

}  // namespace

Result<Scope> Begin(const KmsApiDeps& deps, http::RequestContext& ctx) {
  if (!ctx.principal) return KmsFail(KmsReason::kUnauthorized, "authentication required");
  auto header = ctx.request().headers.Get("bluemix-instance");
  if (!header || header->empty()) {
    return KmsFail(KmsReason::kMissingInstanceHeader, "the bluemix-instance header is required");
  }
  ctx.event().request_data["instanceID"] = std::string(*header);
  auto instance = deps.resolve_instance(*header);
  if (!instance) {
    if (instance.error().code == ErrorCode::kNotFound) {
      return KmsFail(KmsReason::kInstanceNotFound,
                     "no KMS instance has this bluemix-instance GUID");
    }
    return tl::unexpected(instance.error());
  }
  Scope scope;
  scope.instance = std::move(*instance);
  scope.subject = VEIL_TRY_VALUE(iam::api::SubjectOf(*ctx.principal));
  // An instance of another account is answered as an unknown one. A user or service ID is
  // allowed only by policies of its own account (docs/iam.md "Authorization", rules 2 and 3), so
  // nothing it asks of another account's instance can succeed; a 403 there, where an unknown
  // GUID gets 404, would only tell it which GUIDs exist (and, through allowedIP, how they are
  // set). Services act for the account a request names and are judged by Authorize.
  if (scope.subject.type != iam::Subject::Type::kService &&
      scope.instance.account_id != scope.subject.account_id) {
    return KmsFail(KmsReason::kInstanceNotFound, "no KMS instance has this bluemix-instance GUID");
  }
  // allowedIP on every route. A PUT of the instance policies is checked by the service itself,
  // which lets a Manager outside the allow-list replace allowedIP, with a confirmation, so that
  // a policy that locks its owner out can be corrected (KmsService::PutInstancePolicies).
  if (ctx.route() != "/api/v2/instance/policies" || ctx.request().method != "PUT") {
    VEIL_TRY(deps.service->CheckAllowedIp(scope.instance, ctx.request().remote_address));
  }
  scope.actor.iam_id = scope.subject.iam_id;
  scope.actor.is_service = scope.subject.type == iam::Subject::Type::kService;
  scope.actor.service_name = scope.subject.service_name;
  return scope;
}

Status Authorize(const KmsApiDeps& deps, const Scope& scope, std::string_view action,
                 std::string_view key_id) {
  iam::ResourceAttributes resource;
  resource.account_id = scope.instance.account_id;
  resource.service_name = "kms";
  resource.service_instance = scope.instance.guid;
  if (!key_id.empty()) {
    resource.resource_type = "key";
    resource.resource = std::string(key_id);
  }
  iam::Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(scope.subject, action, resource));
  if (!d.permitted) {
    return tl::unexpected(
        Error(ErrorCode::kPermissionDenied,
              "the caller is not allowed " + std::string(action) + " on this resource"));
  }
  return OkStatus();
}

Result<bool> Allowed(const KmsApiDeps& deps, const Scope& scope, std::string_view action,
                     std::string_view key_id) {
  auto s = Authorize(deps, scope, action, key_id);
  if (s) return true;
  if (s.error().code == ErrorCode::kPermissionDenied) return false;
  return tl::unexpected(s.error());
}

Result<Listing> AuthorizeListing(const KmsApiDeps& deps, const Scope& scope,
                                 std::string_view action) {
  return Listing{VEIL_TRY_VALUE(Allowed(deps, scope, action))};
}

Result<std::vector<Key>> KeysAllowedOneByOne(const KmsApiDeps& deps, const Scope& scope,
                                             std::string_view action, ListKeysOptions options) {
  constexpr int64_t kPage = 5000;
  const int64_t offset = options.offset;
  const int64_t limit = options.limit;
  options.offset = 0;
  options.limit = kPage;
  std::vector<Key> allowed;
  for (;;) {
    std::vector<Key> page = VEIL_TRY_VALUE(deps.service->ListKeys(scope.instance, options));
    for (Key& k : page) {
      if (VEIL_TRY_VALUE(Allowed(deps, scope, action, k.id))) allowed.push_back(std::move(k));
    }
    if (static_cast<int64_t>(page.size()) < kPage) break;
    options.offset += kPage;
  }
  // Nothing the caller may see: refused as a caller without the role on the instance is.
  if (allowed.empty()) VEIL_TRY(Authorize(deps, scope, action));
  std::vector<Key> out;
  for (int64_t i = offset; i < static_cast<int64_t>(allowed.size()) && i < offset + limit; ++i) {
    out.push_back(std::move(allowed[static_cast<size_t>(i)]));
  }
  return out;
}

Result<Key> AuthorizedKey(const KmsApiDeps& deps, http::RequestContext& ctx, const Scope& scope,
                          std::string_view action) {
  std::string_view id = ctx.request().PathParam("id").value_or("");
  auto key = deps.service->GetKey(scope.instance, id);
  if (!key) {
    if (key.error().code == ErrorCode::kNotFound) VEIL_TRY(Authorize(deps, scope, action));
    return tl::unexpected(key.error());
  }
  VEIL_TRY(Authorize(deps, scope, action, key->id));
  DescribeKey(ctx, *key, deps.service->options().region);
  return key;
}

Status AddRoute(http::Router& router, const KmsApiDeps& deps, std::string method,
                std::string_view path, KmsHandler handler, std::string action) {
  http::RouteOptions options;
  options.action = action;
  options.authenticated = true;
  options.body_limit = kJsonBodyLimit;
  auto wrapped = [deps, handler, action](http::RequestContext& ctx) -> Result<http::Response> {
    if (ctx.event().action.empty()) ctx.event().action = action;
    Result<http::Response> outcome = handler(deps, ctx);
    if (ctx.event().action.empty()) ctx.event().action = "kms.secrets.default";
    // Errors go back to the server, which renders them (KmsErrorRenderer) with the status of
    // their reason and the wording every dialect shares for 5xx and 401.
    const int status = outcome ? outcome->status : KpErrorOf(outcome.error()).status;
    // A handler may have raised the event to critical (an allowedIP change from outside the
    // allow-list); nothing lowers it.
    if (ctx.event().severity != "critical") {
      ctx.event().severity = SeverityFor(ctx.event().action, status);
    }
    if (status >= 400 && !ctx.event().message.empty()) ctx.event().message += " -failure";
    if (!outcome) {
      ctx.event().response_data["reasonForFailure"] =
          KmsReasonName(KpErrorOf(outcome.error()).reason);
      return outcome;
    }
    outcome->headers.Set("Cache-Control", "no-store");
    return outcome;
  };
  return router.Add(std::move(method), path, std::move(wrapped), std::move(options));
}

Result<std::optional<boost::json::value>> ReadOptionalJson(http::RequestContext& ctx) {
  auto body = http::ParseOptionalJsonBody(ctx, kJsonBodyLimit);
  if (!body && body.error().code == ErrorCode::kInvalidArgument) {
    return KmsFail(KmsReason::kBadBody, body.error().message);
  }
  return body;
}

bool WantsRepresentation(const http::RequestContext& ctx) {
  auto prefer = ctx.request().headers.Get("prefer");
  return prefer && prefer->find("return=representation") != std::string_view::npos;
}

void DescribeKey(http::RequestContext& ctx, const Key& key, std::string_view region) {
  audit::Target& t = ctx.event().target;
  t.id = key.crn(region);
  t.name = key.name;
  t.type_uri = "kms/secrets";
  ctx.event().request_data["keyType"] = std::string(kKeyType);
  ctx.event().response_data["keyId"] = key.id;
  ctx.event().response_data["keyState"] = static_cast<int64_t>(key.state);
  ctx.event().response_data["keyVersionId"] = key.current.id;
  ctx.event().response_data["keyVersionCreationDate"] =
      FormatRfc3339Seconds(key.current.created_at);
}

}  // namespace internal

http::ErrorRenderer KmsErrorRenderer() {
  // The server fixes the status (KmsErrorStatus for handlers' errors; 401, 405, 413, ... for
  // transport rejections) and fills the event itself.
  return [](const Error& error, int status, const http::RequestContext&) {
    KpError kp = KpErrorOf(error, status);
    kp.status = status;
    http::Response r = RenderKpError(kp);
    r.headers.Set("Cache-Control", "no-store");
    return r;
  };
}

http::ErrorStatusFn KmsErrorStatus() {
  return [](const Error& error) { return KpErrorOf(error).status; };
}

Status AddKmsRoutes(http::Router& router, const KmsApiDeps& deps) {
  if (deps.service == nullptr || deps.authorizer == nullptr || !deps.resolve_instance) {
    return InvalidArgument("AddKmsRoutes: a dependency is missing");
  }
  VEIL_TRY(internal::AddKeyRoutes(router, deps));
  VEIL_TRY(internal::AddActionRoutes(router, deps));
  VEIL_TRY(internal::AddPolicyRoutes(router, deps));
  VEIL_TRY(internal::AddRegistrationRoutes(router, deps));
  VEIL_TRY(internal::AddMiscRoutes(router, deps));
  return OkStatus();
}

}  // namespace veil::kms::api
