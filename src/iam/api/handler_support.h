// Helpers shared by the IAM handlers (internal to src/iam/api).
//
// Thread-safety: pure functions over one request's context.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
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

// The account a listing is about: the account_id query parameter, else the caller's. A listing
// of another account is refused (kPermissionDenied): a user or service ID can be allowed nothing
// there (policies of its own account only, docs/iam.md "Authorization"), so the listing would be
// empty, and its paging (`next`) would still count the other account's objects. A Veil service
// that acts for no account in particular may name any.
[[nodiscard]] Result<std::string> ListingAccount(const http::RequestContext& ctx,
                                                 const Subject& caller);

// An object a request names by id, when it exists: its account and whether the caller may
// perform the request's action on it.
struct NamedObject {
  std::string account_id;
  bool permitted = false;
};

// Lets a request on an object named by id through, or refuses it without telling a caller
// whether an object it may not see exists (docs/security.md "Existence"):
//   - an object of the caller's own account is judged as it is: kPermissionDenied when refused;
//   - an object of another account, or none (`object` nullopt), answers `missing` (404, or the
//     route's 400) to a caller who would be allowed `action` on `as_if_own` (the same id in the
//     caller's account, built only from what the request says), and kPermissionDenied to anyone
//     else. So another account's id gets exactly what an unknown id gets.
[[nodiscard]] Status RequireNamed(const IamApiDeps& deps, const Subject& caller,
                                  std::string_view action, const std::optional<NamedObject>& object,
                                  const ResourceAttributes& as_if_own, Error missing);

void SetTarget(http::RequestContext& ctx, std::string crn, std::string name, std::string type_uri);

// Route options with `action`: a route that needs a principal, and one that does not.
http::RouteOptions Authenticated(std::string action, size_t body_limit = kJsonBodyLimit);
http::RouteOptions Anonymous(std::string action, size_t body_limit = kJsonBodyLimit);

http::Response Json(int status, const boost::json::value& body);

Status AddTokenRoutes(http::Router& router, const IamApiDeps& deps);
Status AddIdentityRoutes(http::Router& router, const IamApiDeps& deps);
Status AddPolicyRoutes(http::Router& router, const IamApiDeps& deps);
Status AddInstanceRoutes(http::Router& router, const IamApiDeps& deps);
Status AddResourceKeyRoutes(http::Router& router, const IamApiDeps& deps);
Status AddAccountRoutes(http::Router& router, const IamApiDeps& deps);

}  // namespace veil::iam::api::internal
