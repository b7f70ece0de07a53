// The IAM error dialect (docs/api-compatibility.md, "IAM"):
//   {"errorCode":"BXNIM0415E","errorMessage":"...","context":{"requestId","correlationId",
//    "clientIp","url"}}
// errorCode: "BXNIM0<status>E" for each HTTP status (BXNIM0400E, BXNIM0401E, BXNIM0403E, ...),
// except the token endpoint's own codes: BXNIM0415E (400, IBM's "Provided API key could not be
// found", for every refused API key) and BXNIM0109E (400, a missing form property; Veil's
// number). docs/iam.md has the table. The status comes from http/error_map.h like every dialect.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "http/context.h"
#include "http/response.h"

namespace veil::iam::api {

inline constexpr std::string_view kBadApiKeyCode = "BXNIM0415E";
inline constexpr std::string_view kMissingPropertyCode = "BXNIM0109E";

// "BXNIM0<status>E".
std::string IamErrorCodeFor(int status);

// The IAM error body with `status`, `code` and `message`.
http::Response IamErrorResponse(const http::RequestContext& ctx, int status, std::string_view code,
                                std::string_view message);

// The renderer for the iam server's ServerHooks (every error, from any phase).
http::ErrorRenderer IamErrorRenderer();

}  // namespace veil::iam::api
