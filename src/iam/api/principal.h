// Principals: how IAM identities appear to src/http (http::Principal) and back (iam::Subject).
//
//   user        id "IBMid-<uuid>", type "user",      account = its account
//   service ID  id "iam-ServiceId-<uuid>", type "serviceid", account = its account
//   service     id "crn-crn:v1:veil:public:<name>:::::", type "service", claims["service_name"],
//               account = the account it acts for (empty: the target resource's)
//
// MakeIamAuthenticator wires a TokenVerifier into http::MakeBearerAuthenticator for every
// service's ServerHooks.
//
// Thread-safety: pure functions; the authenticator is as thread-safe as the verifier (fully).
#pragma once

#include <string_view>

#include "common/result.h"
#include "http/context.h"
#include "http/server.h"
#include "iam/authorizer.h"
#include "iam/token_verifier.h"

namespace veil::iam::api {

// Veil's own service `service_name` ("server-protect", "is", "cloud-object-storage") as a
// principal, for in-process calls; set `account` to the customer it acts for.
http::Principal ServicePrincipal(std::string_view service_name, std::string_view account = {});

// The principal a verified token names (credential_type "token").
http::Principal PrincipalFromToken(const VerifiedToken& token);

// The authorization subject of a principal. kUnauthenticated for a principal of unknown type.
[[nodiscard]] Result<Subject> SubjectOf(const http::Principal& principal);

// Bearer tokens checked by `verifier` (which must outlive the authenticator): the authenticator
// of every service but iam.
http::Authenticator MakeIamAuthenticator(TokenVerifier& verifier);

// The iam server's authenticator: MakeIamAuthenticator, except that /identity/token ignores any
// Authorization header (a client holding an expired or foreign token must still be able to log
// in again). Every other route, anonymous ones included, refuses an invalid token (401).
http::Authenticator MakeIamServiceAuthenticator(TokenVerifier& verifier);

}  // namespace veil::iam::api
