// The IAM service's HTTP API: every route of docs/iam.md on one Router.
//
//   POST   /identity/token                     API key grant (form), anonymous
//   GET    /identity/keys                      JWKS, anonymous
//   GET    /identity/userinfo                  the caller
//   POST|GET /v1/serviceids, GET|PUT|DELETE /v1/serviceids/{id}, POST|DELETE .../{id}/lock
//   POST|GET /v1/apikeys,    GET|PUT|DELETE /v1/apikeys/{id},    POST|DELETE .../{id}/lock
//   POST|GET /v1/policies,   GET|PUT|DELETE /v1/policies/{id}
//   POST   /v2/authz                           batched policy decisions
//   POST|GET /v2/resource_instances, GET|DELETE /v2/resource_instances/{id}
//   POST|GET /v2/resource_keys,      GET|DELETE /v2/resource_keys/{id}   (cloud-object-storage)
//   POST|GET /v1/accounts, GET /v1/accounts/{id}   the operator's (judged in the operator's
//   account)
//
// Each handler parses (parse.h), authorizes with the Authorizer (deny by default), makes one
// IamService/TokenIssuer call and renders (render.h); it fills its audit event's action, target
// and message. Errors render in the IAM dialect when the server's ErrorRenderer is
// IamErrorRenderer() (errors.h).
//
// Thread-safety: handlers run concurrently; every dependency is thread-safe.
#pragma once

#include "common/result.h"
#include "http/router.h"
#include "iam/authorizer.h"
#include "iam/iam_service.h"
#include "iam/login_limiter.h"
#include "iam/signing_keys.h"
#include "iam/token_issuer.h"

namespace veil::iam::api {

// Not owned: everything must outlive the server the router is handed to.
struct IamApiDeps {
  IamService* service = nullptr;
  TokenIssuer* issuer = nullptr;
  SigningKeyRing* keys = nullptr;
  Authorizer* authorizer = nullptr;
  LoginRateLimiter* limiter = nullptr;
};

// Adds the routes above. kInvalidArgument when a dependency is missing; the router's errors.
[[nodiscard]] Status AddIamRoutes(http::Router& router, const IamApiDeps& deps);

}  // namespace veil::iam::api
