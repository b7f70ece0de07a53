#include "http/internal/phases.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>
#include <utility>

#include "common/log.h"
#include "common/time.h"
#include "http/error_map.h"
#include "http/request_id.h"

namespace veil::http::internal {
namespace {

bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

std::string_view PrincipalTypeUri(std::string_view type) {
  if (type == "user") return "service/security/account/user";
  if (type == "serviceid") return "service/security/account/serviceid";
  if (type == "service") return "service/security/clientid";
  return "";
}

// Printable ASCII only, at most 256 characters: a User-Agent goes into events and nothing else.
std::string SanitizeAgent(std::string_view agent) {
  std::string out;
  for (char c : agent.substr(0, 256)) out.push_back((c >= 0x20 && c < 0x7f) ? c : '?');
  return out;
}

// The one text of every 401, in every dialect.
constexpr std::string_view kUnauthenticatedText =
    "the request is not authenticated: a valid bearer token is required";

}  // namespace

Error ClientError(const Error& error, int status) {
  if (status == 401) return Error(error.code, std::string(kUnauthenticatedText));
  if (status < 500) return error;
  switch (status) {
    case 501:
      return Error(error.code, "not implemented");
    case 503:
      return Error(error.code, "service unavailable: retry later");
    case 504:
      return Error(error.code, "a service this request needs did not answer in time");
    default:
      return Error(error.code, "internal error");
  }
}

Status ValidateResponse(const Response& r) {
  if (r.status < 200 || r.status > 599) return Internal("invalid status");
  for (const auto& [name, value] : r.headers) {
    if (name.empty()) return Internal("empty header name");
    for (char c : name) {
      if (!IsTokenChar(c)) return Internal("invalid header name");
    }
    for (char c : value) {
      if (c == '\r' || c == '\n' || c == '\0') return Internal("invalid header value");
    }
  }
  return OkStatus();
}

RequestPhases::RequestPhases(const ServerOptions& options, const ServerHooks& hooks)
    : options_(options),
      hooks_(hooks),
      renderer_(hooks.error_renderer ? hooks.error_renderer : JsonErrorRenderer()) {}

std::optional<Rejection> RequestPhases::Decide(RequestContext& ctx, const Routing& routing) const {
  if (routing.target_error) return Rejection{*routing.target_error, 400};
  // Inline routes are anonymous (Router::Add enforces it) and run on the I/O thread, where a
  // possibly blocking Authenticator must not run.
  const bool inline_route =
      routing.match.route != nullptr && routing.match.route->options.inline_handler;
  if (hooks_.authenticator && !inline_route) {
    Result<std::optional<Principal>> who = std::optional<Principal>();
    try {
      who = hooks_.authenticator(ctx.request());
    } catch (...) {
      who = Internal("authentication failed");
    }
    if (!who) return Rejection{who.error(), HttpStatusFor(who.error().code)};
    ctx.principal = std::move(*who);
  }
  switch (routing.match.kind) {
    case RouteMatch::Kind::kNotFound:
      return Rejection{Error(ErrorCode::kNotFound, "no resource at this path"), 404};
    case RouteMatch::Kind::kMethodNotAllowed:
      return Rejection{Error(ErrorCode::kInvalidArgument,
                             "method " + ctx.request().method + " is not allowed here"),
                       kStatusMethodNotAllowed};
    case RouteMatch::Kind::kFound:
      break;
  }
  const Route& route = *routing.match.route;
  if (route.options.authenticated && !ctx.principal) {
    return Rejection{Error(ErrorCode::kUnauthenticated, "authentication required"), 401};
  }
  const auto& cl = ctx.request().content_length;
  if (cl && *cl > routing.body_limit) {
    return Rejection{BodyTooLarge(routing.body_limit), kStatusPayloadTooLarge};
  }
  return std::nullopt;
}

Result<Response> RequestPhases::Invoke(const Route& route, RequestContext& ctx) {
  try {
    return route.handler(ctx);
  } catch (const std::exception& e) {
    log::Error("http", "handler for " + route.path_template + " threw: " + e.what());
  } catch (...) {
    log::Error("http", "handler for " + route.path_template + " threw");
  }
  return Internal("internal error");
}

Response RequestPhases::Finalize(RequestContext& ctx, const Routing& routing,
                                 Outcome outcome) const {
  const Route* route = routing.match.route;
  std::optional<Error> failure;
  int status = outcome.status;
  Response resp;
  if (outcome.result) {
    resp = std::move(*outcome.result);
    if (outcome.body != nullptr && outcome.body->failure() && resp.status < 400) {
      failure = *outcome.body->failure();
      status = outcome.body->failure_status();
    } else if (auto valid = ValidateResponse(resp); !valid) {
      failure = Error(
          ErrorCode::kInternal,
          "handler for " + ctx.route() + " produced an invalid response: " + valid.error().message);
      status = 500;
    }
  } else {
    failure = outcome.result.error();
    if (status == 0 && outcome.body != nullptr) status = outcome.body->failure_status();
    if (status == 0) {
      status = hooks_.error_status ? hooks_.error_status(*failure) : HttpStatusFor(failure->code);
    }
    if (status < 400 || status > 599) status = 500;
  }
  std::optional<Error> shown;
  if (failure) {
    shown = ClientError(*failure, status);
    if (status >= 500 && !outcome.expected) {
      // The cause stays here, with the request id the client was given.
      log::Error(options_.service_name,
                 "request " + ctx.request_id() + " (" + ctx.request().method + " " +
                     (route != nullptr ? route->path_template : std::string("-")) + ") answered " +
                     std::to_string(status) + ": " + failure->message);
    }
    try {
      resp = ctx.ErrorResponse(*shown, status);
    } catch (...) {
      resp = RenderJsonError(*shown, status, ctx);
    }
    resp.status = status;
    if (status == kStatusMethodNotAllowed && !routing.match.allow.empty()) {
      resp.headers.Set("Allow", routing.match.allow);
    }
  }
  // Skipped when no event will be emitted (health probes at full rate). A 5xx event carries the
  // client's wording: events are shown to the account's users, the log is the operator's.
  if (AuditWanted(route)) {
    const Error* cause = nullptr;
    if (failure) cause = status >= 500 ? &*shown : &*failure;
    FillEvent(ctx, route, resp.status, cause);
  }
  return resp;
}

bool RequestPhases::AuditWanted(const Route* route) const {
  return hooks_.audit != nullptr && (route == nullptr || route->options.audit);
}

void RequestPhases::EmitAudit(const RequestContext& ctx, const Route* route) const {
  if (!AuditWanted(route)) return;
  Status st;
  try {
    st = hooks_.audit->Emit(ctx.event());
  } catch (...) {
    st = Internal("audit sink threw");
  }
  if (!st) {
    log::Error(options_.service_name,
               "audit event " + ctx.event().id + " not recorded: " + st.error().ToString());
  }
}

void RequestPhases::FillEvent(RequestContext& ctx, const Route* route, int status,
                              const Error* error) const {
  audit::Event& ev = ctx.event();
  const Request& req = ctx.request();
  ev.id = NewRequestId();
  ev.event_time = FormatAuditTime(std::chrono::system_clock::now());
  if (ev.action.empty()) {
    ev.action = (route != nullptr && !route->options.action.empty())
                    ? route->options.action
                    : options_.service_name + ".http.request";
  }
  if (ctx.principal) {
    if (ev.initiator.id.empty()) ev.initiator.id = ctx.principal->id;
    if (ev.initiator.name.empty()) ev.initiator.name = ctx.principal->name;
    if (ev.initiator.type_uri.empty()) {
      ev.initiator.type_uri = std::string(PrincipalTypeUri(ctx.principal->type));
    }
    if (ev.initiator.credential_type.empty()) {
      ev.initiator.credential_type = ctx.principal->credential_type;
    }
  } else if (ev.initiator.id.empty()) {
    ev.initiator.id = "anonymous";
  }
  ev.initiator.host_address = req.remote_address;
  ev.initiator.host_address_type =
      req.remote_address.find(':') != std::string::npos ? "IPv6" : "IPv4";
  ev.initiator.host_agent = SanitizeAgent(req.headers.Get("User-Agent").value_or(""));
  ev.request_path = req.path;
  ev.method = req.method;
  ev.correlation_id = ctx.correlation_id();
  ev.reason_code = status;
  ev.reason_type = std::string(ReasonPhrase(status));
  ev.outcome = status < 400 ? "success" : "failure";
  if (status >= 400 && ev.reason_for_failure.empty()) {
    ev.reason_for_failure = error != nullptr ? error->message : ev.reason_type;
  }
  if (ev.message.empty()) {
    ev.message = options_.service_name + ": " + req.method + " " +
                 (route != nullptr ? route->path_template : std::string("(no route)"));
    if (status >= 400) ev.message += " -failure";
  }
}

void RequestPhases::AccessLog(const RequestContext& ctx, int status, uint64_t bytes) const {
  if (log::GetLevel() > log::Level::kInfo) return;  // not built only to be dropped
  auto elapsed = std::chrono::steady_clock::now() - ctx.start_time();
  double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  const Request& req = ctx.request();
  // Never the target (its query may hold a presigned signature), never a header value.
  std::string path = req.raw_path.empty() ? "-" : req.raw_path;
  char dur[32];
  std::snprintf(dur, sizeof dur, "%.3f", ms);
  std::string line;
  line.reserve(160 + path.size());
  line += "access method=";
  line += req.method.empty() ? "-" : req.method;
  line += " path=";
  line += path;
  line += " status=";
  line += std::to_string(status);
  line += " bytes=";
  line += std::to_string(bytes);
  line += " duration_ms=";
  line += dur;
  line += " request_id=";
  line += ctx.request_id();
  line += " remote=";
  line += req.remote_address;
  log::Info(options_.service_name, line);
}

}  // namespace veil::http::internal
