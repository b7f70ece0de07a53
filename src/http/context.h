// RequestContext: everything a handler knows about the request it serves.
//
// The server creates one context per request: the Request, a fresh request id, the correlation id
// (taken from the `correlation-id` or `X-Correlation-ID` request header when it is well formed,
// else generated), the principal the Authenticator found (nullopt for anonymous requests) and the
// request's audit event. The server fills the event's transport fields; the handler fills the
// domain ones (action when it differs from the route's, target, message, requestData,
// responseData). The server emits the event once, after the status is known.
//
// Thread-safety: owned by one request; used by its handler thread only.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "audit/event.h"
#include "common/result.h"
#include "http/request.h"
#include "http/response.h"

namespace veil::http {

// Who is calling, as the Authenticator established it.
struct Principal {
  std::string id;  // IAM id, e.g. "IBMid-..." or "iam-ServiceId-..."
  std::string name;
  std::string type;             // "user" | "serviceid" | "service"
  std::string account;          // account id
  std::string credential_type;  // "token" | "apikey" | "user" | "certificate"
  std::map<std::string, std::string> claims;
};

class RequestContext;

// Renders an error in one API dialect (IBM JSON, S3 XML, ...). `status` is the HTTP status the
// server chose for it (usually HttpStatusFor(error.code), or 405/413/431/408 for transport
// rejections); the renderer must answer with that status. Must not throw.
using ErrorRenderer =
    std::function<Response(const Error& error, int status, const RequestContext& ctx)>;

// The status an API dialect answers a handler's error with (Key Protect's KEY_DELETED_ERR is 410,
// where the generic table says 409 for kFailedPrecondition). Must not throw.
using ErrorStatusFn = std::function<int(const Error&)>;

class RequestContext {
 public:
  RequestContext(Request request, std::string request_id, std::string correlation_id);

  Request& request() { return request_; }
  const Request& request() const { return request_; }
  const std::string& request_id() const { return request_id_; }
  const std::string& correlation_id() const { return correlation_id_; }
  // The matched route template ("/api/v2/keys/{id}"), empty when no route matched.
  const std::string& route() const { return route_; }
  std::chrono::steady_clock::time_point start_time() const { return start_time_; }

  // Set by the Authenticator's result; nullopt for an anonymous request.
  std::optional<Principal> principal;

  // The request's audit event; the handler fills the domain fields.
  audit::Event& event() { return event_; }
  const audit::Event& event() const { return event_; }

  // `error` rendered in the server's dialect with `status`, or with HttpStatusFor(error.code)
  // when `status` is nullopt. Without a renderer set, the IBM JSON dialect.
  Response ErrorResponse(const Error& error, std::optional<int> status = std::nullopt) const;

  // Set by the server.
  void set_route(std::string route) { route_ = std::move(route); }
  void set_error_renderer(const ErrorRenderer* renderer) { renderer_ = renderer; }

 private:
  Request request_;
  std::string request_id_;
  std::string correlation_id_;
  std::string route_;
  std::chrono::steady_clock::time_point start_time_;
  audit::Event event_;
  const ErrorRenderer* renderer_ = nullptr;
};

}  // namespace veil::http
