// The request plumbing shared by the KMS handlers (internal to src/kms/api): the request's scope
// (instance and caller), IAM decisions, route registration with Key Protect's error handling and
// audit severity, the optional JSON body, and the audit event's key description. Renderings are
// in render.h.
//
// Thread-safety: pure functions over one request's context.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "http/context.h"
#include "http/response.h"
#include "http/router.h"
#include "iam/authorizer.h"
#include "kms/api/kms_api.h"
#include "kms/api/parse.h"
#include "kms/api/render.h"
#include "kms/model.h"

namespace veil::kms::api::internal {

inline constexpr size_t kJsonBodyLimit = 64 * 1024;

// Who calls, in which instance.
struct Scope {
  InstanceRef instance;
  iam::Subject subject;
  Actor actor;
};

// The `bluemix-instance` (400 when missing, 404 INSTANCE_NOT_FOUND_ERR when unknown) and the
// caller (401 when anonymous).
[[nodiscard]] Result<Scope> Begin(const KmsApiDeps& deps, http::RequestContext& ctx);

// The IAM decision for `action` on the instance, or on the key `key_id` when given: 403
// UNAUTHORIZED_ERR when denied.
[[nodiscard]] Status Authorize(const KmsApiDeps& deps, const Scope& scope, std::string_view action,
                               std::string_view key_id = {});

// Whether the caller may `action` on the whole instance, or on the key `key_id` when given.
[[nodiscard]] Result<bool> Allowed(const KmsApiDeps& deps, const Scope& scope,
                                   std::string_view action, std::string_view key_id = {});

// A listing of keys (or of what hangs off keys) for `action`: the whole instance's when the caller
// may `action` on the instance; otherwise only the items of keys it may `action` one by one (a
// policy on single keys, as Key Protect grants them), and 403 UNAUTHORIZED_ERR when that leaves
// nothing. `whole_instance` false means: filter with Allowed(deps, scope, action, key_id).
struct Listing {
  bool whole_instance = true;
};
[[nodiscard]] Result<Listing> AuthorizeListing(const KmsApiDeps& deps, const Scope& scope,
                                               std::string_view action);

// The keys of `options` the caller may `action` one by one, every page of them (the caller's
// limit and offset apply to what is left: AuthorizeListing's per-key case). 403 UNAUTHORIZED_ERR
// when there is none.
[[nodiscard]] Result<std::vector<Key>> KeysAllowedOneByOne(const KmsApiDeps& deps,
                                                           const Scope& scope,
                                                           std::string_view action,
                                                           ListKeysOptions options);

// The key the path's {id} names (id or alias), authorized for `action`. A key that does not
// exist is 404 only for a caller allowed `action` in the instance (403 otherwise: the caller
// learns nothing of other keys). Sets the event's target.
[[nodiscard]] Result<Key> AuthorizedKey(const KmsApiDeps& deps, http::RequestContext& ctx,
                                        const Scope& scope, std::string_view action);

// A handler of this API: errors become Key Protect error responses here (with the statuses of
// their reason codes, which the transport's table does not know).
// `action` is the route's audit and IAM action (empty for routes whose handler sets it).
using KmsHandler = Result<http::Response> (*)(const KmsApiDeps&, http::RequestContext&);
[[nodiscard]] Status AddRoute(http::Router& router, const KmsApiDeps& deps, std::string method,
                              std::string_view path, KmsHandler handler, std::string action);

// The body as JSON (http::ParseJson); nullopt for an empty body. The parse functions of
// kms/api/parse.h take it from here.
[[nodiscard]] Result<OptionalBody> ReadOptionalJson(http::RequestContext& ctx);

// Whether the client asked `prefer: return=representation`.
bool WantsRepresentation(const http::RequestContext& ctx);

// Fills the event's target with the key, and its requestData/responseData key fields.
void DescribeKey(http::RequestContext& ctx, const Key& key, std::string_view region);

// POST /keys/{id}/restore (also reached as the action "restore").
[[nodiscard]] Result<http::Response> RestoreKey(const KmsApiDeps& deps, http::RequestContext& ctx);

// Route groups.
Status AddKeyRoutes(http::Router& router, const KmsApiDeps& deps);
Status AddActionRoutes(http::Router& router, const KmsApiDeps& deps);
Status AddPolicyRoutes(http::Router& router, const KmsApiDeps& deps);
Status AddRegistrationRoutes(http::Router& router, const KmsApiDeps& deps);
Status AddMiscRoutes(http::Router& router, const KmsApiDeps& deps);

}  // namespace veil::kms::api::internal
