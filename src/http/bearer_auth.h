// MakeBearerAuthenticator: the Authenticator for `Authorization: Bearer <token>` (RFC 6750),
// with the token check left to the caller, so that src/http stays free of IAM.
//
//   no Authorization header          anonymous (nullopt): the route decides whether that is
//                                    enough (RouteOptions::authenticated)
//   several Authorization headers,   kUnauthenticated (401) "malformed Authorization header"
//   another scheme, no or an empty
//   token, characters outside the
//   token68 set, over 8 KiB
//   `verify` fails                   kUnauthenticated (401) "invalid bearer token: <reason>";
//                                    except kUnavailable, kInternal and kResourceExhausted,
//                                    which pass through (503/500/429: the token could not be
//                                    checked, the client should retry rather than log in again)
//   `verify` succeeds                its Principal, with credential_type "token"
// The scheme name is case-insensitive; one or more spaces may follow it. The token is never
// copied into an error, a log line or an event.
//
// Thread-safety: the returned Authenticator is as thread-safe as `verify`, which the server
// calls concurrently from worker threads.
#pragma once

#include <functional>
#include <string_view>

#include "common/result.h"
#include "http/context.h"
#include "http/server.h"

namespace veil::http {

using TokenVerifyFn = std::function<Result<Principal>(std::string_view token)>;

Authenticator MakeBearerAuthenticator(TokenVerifyFn verify);

// The token of an "Authorization" value "Bearer <token>"; kUnauthenticated as above. Exposed
// for tests and for clients of other schemes that want the same parsing rules.
[[nodiscard]] Result<std::string_view> ParseBearer(std::string_view authorization);

}  // namespace veil::http
