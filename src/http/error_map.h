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

// The dialects below all work the same way: the status comes from the server's ErrorStatusFn
// (a service's `api/` folder gives its reasons their statuses; by default HttpStatusFor(code)),
// and the body's code word is the name of the error's typed reason when it has one (a service
// names its reasons in its dialect's words), else the dialect's word for the status.

// The IBM platform (and VPC) JSON error body:
//   {"errors":[{"code":"not_found","message":"...","more_info":""}],"trace":"<request id>",
//    "status_code":404}
// code: the reason's name ("volume_not_found"), else ErrorSlug(status).
Response RenderJsonError(const Error& error, int status, const RequestContext& ctx);
ErrorRenderer JsonErrorRenderer();

// The S3 error code for a status: "InvalidRequest" (400), "AccessDenied" (401, 403), "NotFound"
// (404), "MethodNotAllowed", "RequestTimeout", "Conflict" (409), "MissingContentLength" (411),
// "PreconditionFailed", "EntityTooLarge" (413), "InvalidRange" (416), "SlowDown" (429, 503 is
// "ServiceUnavailable"), "NotImplemented", "InternalError" (other 5xx).
std::string_view S3ErrorCode(int status);

// The S3 XML error body (Content-Type application/xml):
//   <?xml version="1.0" encoding="UTF-8"?>
//   <Error><Code>NoSuchBucket</Code><Message>...</Message><Resource>/b/k</Resource>
//   <RequestId>...</RequestId></Error>
// Code: the reason's name ("NoSuchBucket"), else S3ErrorCode(status). Resource: the request path.
Response RenderXmlError(const Error& error, int status, const RequestContext& ctx);
ErrorRenderer XmlErrorRenderer();

}  // namespace veil::http
