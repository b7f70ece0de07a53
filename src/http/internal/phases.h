// The request phases that touch no socket: admission decisions, the final response, the audit
// event and the access-log line. The server's session (server.cc) drives them in order for each
// request; they are plain functions of their inputs, so they are tested without sockets
// (phases_test.cc). Internal to src/http.
//
// Thread-safety: RequestPhases is immutable after construction; its functions run concurrently on
// I/O threads (inline routes, rejections) and worker threads (everything else). Decide() may call
// the Authenticator, which may block: never on an I/O thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.h"
#include "http/body.h"
#include "http/context.h"
#include "http/router.h"
#include "http/server.h"

namespace veil::http::internal {

// A request refused before (or instead of) its handler, with the status it is answered.
struct Rejection {
  Error error;
  int status = 0;
};

// What routing found for a request.
struct Routing {
  std::optional<Error> target_error;  // the target could not be parsed: 400
  RouteMatch match;
  size_t body_limit = 0;  // the route's limit (0 when no route matched)
};

// How a request ended, handed to Finalize().
struct Outcome {
  Result<Response> result;
  // The reader the handler used, if any: a body read that failed overrides the handler's answer.
  const BodyReader* body = nullptr;
  // Non-zero: the status of a rejection (the error is in `result`).
  int status = 0;
  // A refusal the server makes on purpose (load shedding): not logged as a failure (the session
  // logs those itself, at most once a second).
  bool expected = false;

  static Outcome Rejected(Rejection r) {
    return {tl::unexpected(std::move(r.error)), nullptr, r.status, false};
  }
  static Outcome Shed(Rejection r) {
    return {tl::unexpected(std::move(r.error)), nullptr, r.status, true};
  }
};

// What the client is told of an error answered with `status`. A 5xx says nothing of its cause
// (SQL, file names, library messages: they go to the log with the request id), and every 401
// says the same thing whatever failed (expired, revoked, forged, unknown key: the cause goes to
// the audit event and the log), so that neither reveals how the service is built or which check
// a forged credential passed.
[[nodiscard]] Error ClientError(const Error& error, int status);

// Status 400..599 and header names and values a response may carry (no CR, LF or NUL in a value,
// token characters in a name): what a handler returns is checked before it reaches the wire.
[[nodiscard]] Status ValidateResponse(const Response& response);

class RequestPhases {
 public:
  // `options` and `hooks` must outlive the phases.
  RequestPhases(const ServerOptions& options, const ServerHooks& hooks);

  const ErrorRenderer& renderer() const { return renderer_; }
  const std::string& service() const { return options_.service_name; }

  // Authentication and the route's admission rules, in order: a malformed target (400), the
  // Authenticator's verdict (401, 503, ...; skipped for inline routes), no route (404), wrong
  // method (405), anonymous on an authenticated route (401), a declared body over the limit
  // (413). Sets ctx.principal. May block (the Authenticator): call it on a worker.
  [[nodiscard]] std::optional<Rejection> Decide(RequestContext& ctx, const Routing& routing) const;

  // The handler's answer (exceptions become 500), on the calling thread.
  [[nodiscard]] static Result<Response> Invoke(const Route& route, RequestContext& ctx);

  // Turns an outcome into what the client gets: errors rendered in the server's dialect (with
  // ClientError's wording and the Allow header of a 405), invalid responses replaced by a 500, a
  // failed body read's status kept. Fills the audit event when one will be emitted.
  [[nodiscard]] Response Finalize(RequestContext& ctx, const Routing& routing,
                                  Outcome outcome) const;

  // Whether the request emits an audit event (a sink is set and the route does not opt out).
  [[nodiscard]] bool AuditWanted(const Route* route) const;
  // Hands the event to the sink (may block: call it off the I/O threads). A sink failure is
  // logged; the response is not changed.
  void EmitAudit(const RequestContext& ctx, const Route* route) const;

  // The request's access-log line: method, raw path without the query, status, body bytes,
  // duration, request id, remote address. Never a header, a query or a body.
  void AccessLog(const RequestContext& ctx, int status, uint64_t bytes) const;

 private:
  void FillEvent(RequestContext& ctx, const Route* route, int status, const Error* error) const;

  const ServerOptions& options_;
  const ServerHooks& hooks_;
  ErrorRenderer renderer_;
};

}  // namespace veil::http::internal
