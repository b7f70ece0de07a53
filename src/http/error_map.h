// The canonical mapping from Veil's ErrorCode to HTTP status, and the default error dialect.
//
// This is the ONE table every server in Veil uses to turn an Error into a status (each API
// dialect renders the body its own way, but takes the status from here):
//
//   kOk 200               kInvalidArgument 400     kUnauthenticated 401   kPermissionDenied 403
//   kNotFound 404         kAlreadyExists 409       kFailedPrecondition 409
//   kOutOfRange 416       kResourceExhausted 429   kCancelled 499         kInternal 500
//   kDataLoss 500         kUnimplemented 501       kUnavailable 503       kDeadlineExceeded 504
//
// kFailedPrecondition is 409 (the resource is in the wrong state, e.g. a disabled key), as IBM's
// APIs answer; 412 is kept for HTTP preconditions (If-Match), which a handler sets explicitly.
// Statuses that no ErrorCode maps to come from the transport: 405 (wrong method), 408 (client
// stalled), 413 (body over the route's limit), 431 (header over the server's limit).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "http/context.h"

namespace veil::http {

inline constexpr int kStatusMethodNotAllowed = 405;
inline constexpr int kStatusRequestTimeout = 408;
inline constexpr int kStatusPayloadTooLarge = 413;
inline constexpr int kStatusHeaderTooLarge = 431;

// The table above.
int HttpStatusFor(ErrorCode code);
// The inverse, for clients: the ErrorCode a non-2xx status means (404 -> kNotFound, 5xx other
// than 501/503/504 -> kInternal, unknown 4xx -> kInvalidArgument).
ErrorCode ErrorCodeForHttpStatus(int status);
// "Not Found"; "Unknown" for a status outside the table.
std::string_view ReasonPhrase(int status);
// The IBM error code slug for a status: "not_found", "bad_request", ...
std::string_view ErrorSlug(int status);

// The error of a body larger than `limit` bytes; render it with kStatusPayloadTooLarge.
Error BodyTooLarge(uint64_t limit);

// The IBM platform JSON error body:
//   {"errors":[{"code":"not_found","message":"...","more_info":""}],"trace":"<request id>",
//    "status_code":404}
Response RenderJsonError(const Error& error, int status, const RequestContext& ctx);
ErrorRenderer JsonErrorRenderer();

}  // namespace veil::http
