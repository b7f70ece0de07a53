// Helpers shared by the IAM handlers (internal to src/iam/api).
//
// Thread-safety: pure functions over one request's context.
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/context.h"
#include "http/response.h"
#include "http/router.h"
#include "iam/api/iam_api.h"
#include "iam/authorizer.h"

namespace veil::iam::api::internal {

inline constexpr size_t kJsonBodyLimit = 64 * 1024;

// The caller as an authorization subject (routes are authenticated: a principal is there).
[[nodiscard]] Result<Subject> Caller(const http::RequestContext& ctx);

// The request's JSON body (at most kJsonBodyLimit).
[[nodiscard]] Result<boost::json::value> ReadJson(http::RequestContext& ctx);

// The account a listing is about: the account_id query parameter, else the caller's.
std::string AccountParam(const http::RequestContext& ctx, const Subject& caller);

void SetTarget(http::RequestContext& ctx, std::string crn, std::string name, std::string type_uri);

// Route options with `action`: a route that needs a principal, and one that does not.
http::RouteOptions Authenticated(std::string action, size_t body_limit = kJsonBodyLimit);
http::RouteOptions Anonymous(std::string action, size_t body_limit = kJsonBodyLimit);

http::Response Json(int status, const boost::json::value& body);

Status AddTokenRoutes(http::Router& router, const IamApiDeps& deps);
Status AddIdentityRoutes(http::Router& router, const IamApiDeps& deps);
Status AddPolicyRoutes(http::Router& router, const IamApiDeps& deps);
Status AddInstanceRoutes(http::Router& router, const IamApiDeps& deps);
Status AddAccountRoutes(http::Router& router, const IamApiDeps& deps);

}  // namespace veil::iam::api::internal
