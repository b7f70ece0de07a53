#include "iam/api/iam_api.h"

#include "http/json_body.h"
#include "iam/api/handler_support.h"
#include "iam/api/principal.h"

namespace veil::iam::api {
namespace internal {

Result<Subject> Caller(const http::RequestContext& ctx) {
  if (!ctx.principal) return Unauthenticated("authentication required");
  return SubjectOf(*ctx.principal);
}

Result<boost::json::value> ReadJson(http::RequestContext& ctx) {
  return http::ParseJsonBody(ctx, kJsonBodyLimit);
}

Result<std::string> ListingAccount(const http::RequestContext& ctx, const Subject& caller) {
  auto account = ctx.request().Query("account_id");
  if (!account || account->empty() || *account == caller.account_id) return caller.account_id;
  if (caller.type == Subject::Type::kService && caller.account_id.empty()) {
    return std::string(*account);
  }
  return PermissionDenied("a listing is about the caller's own account");
}

Status RequireNamed(const IamApiDeps& deps, const Subject& caller, std::string_view action,
                    const std::optional<NamedObject>& object, const ResourceAttributes& as_if_own,
                    Error missing) {
  if (object && object->permitted) return OkStatus();
  const std::string denied = std::string(action) + " is not allowed on this resource";
  // A service acting for no account in particular has no account of its own to compare with.
  const bool own =
      object && (object->account_id == caller.account_id ||
                 (caller.type == Subject::Type::kService && caller.account_id.empty()));
  if (own) return PermissionDenied(denied);
  Decision d = VEIL_TRY_VALUE(deps.authorizer->Authorize(caller, action, as_if_own));
  if (d.permitted) return tl::unexpected(std::move(missing));
  return PermissionDenied(denied);
}

void SetTarget(http::RequestContext& ctx, std::string crn, std::string name, std::string type_uri) {
  audit::Target& t = ctx.event().target;
  t.id = std::move(crn);
  t.name = std::move(name);
  t.type_uri = std::move(type_uri);
}

http::RouteOptions Authenticated(std::string action, size_t body_limit) {
  http::RouteOptions o;
  o.action = std::move(action);
  o.authenticated = true;
  o.body_limit = body_limit;
  return o;
}

http::RouteOptions Anonymous(std::string action, size_t body_limit) {
  http::RouteOptions o = Authenticated(std::move(action), body_limit);
  o.authenticated = false;
  return o;
}

http::Response Json(int status, const boost::json::value& body) {
  http::Response r = http::Response::Json(status, body);
  r.headers.Set("Cache-Control", "no-store");
  return r;
}

}  // namespace internal

Status AddIamRoutes(http::Router& router, const IamApiDeps& deps) {
  if (deps.service == nullptr || deps.issuer == nullptr || deps.keys == nullptr ||
      deps.authorizer == nullptr || deps.limiter == nullptr) {
    return InvalidArgument("AddIamRoutes: a dependency is missing");
  }
  VEIL_TRY(internal::AddTokenRoutes(router, deps));
  VEIL_TRY(internal::AddIdentityRoutes(router, deps));
  VEIL_TRY(internal::AddPolicyRoutes(router, deps));
  VEIL_TRY(internal::AddInstanceRoutes(router, deps));
  VEIL_TRY(internal::AddResourceKeyRoutes(router, deps));
  VEIL_TRY(internal::AddAccountRoutes(router, deps));
  return OkStatus();
}

}  // namespace veil::iam::api
