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

std::string AccountParam(const http::RequestContext& ctx, const Subject& caller) {
  auto account = ctx.request().Query("account_id");
  return account && !account->empty() ? std::string(*account) : caller.account_id;
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
  VEIL_TRY(internal::AddAccountRoutes(router, deps));
  return OkStatus();
}

}  // namespace veil::iam::api
