// Router: maps (method, path) to a route.
//
// Path templates are '/'-separated segments, each a literal ("keys"), a parameter ("{id}",
// matching one non-empty segment) or, as the last segment only, a greedy tail ("{key+}",
// matching the rest of the path, slashes included, at least one character; "{key*}", the same
// or nothing, so that "/bucket/" matches "/{bucket}/{key*}"):
//   /api/v2/keys/{id}/actions/{action}      /{bucket}/{key+}      /healthz
// Matching walks a segment trie built by Add(): no regex, no allocation beyond the parameter
// values. A literal segment beats a parameter, which beats a greedy tail; on a dead end the
// matcher backtracks. Parameters are matched on the raw (percent-encoded) path and decoded
// after, so "%2F" inside a parameter is data, not a separator. A path that matches some route
// with another method gives kMethodNotAllowed with the Allow list; none gives kNotFound. HEAD
// falls back to the GET route when no HEAD route exists (the server then drops the body).
//
// Thread-safety: Add() before the router is handed to a server; Match() is const and safe from
// any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "http/context.h"
#include "http/response.h"

namespace veil::http {

// A handler returns a Response, or an Error the server renders with the server's ErrorRenderer
// and the status of HttpStatusFor(error.code). It runs on a worker thread (it may block on
// SQLite, PKCS#11 or files) unless the route is inline. It must not throw; if it does, the
// server answers 500.
using Handler = std::function<Result<Response>(RequestContext&)>;

struct RouteOptions {
  // The largest request body the route accepts (413 beyond it); nullopt takes the server's
  // ServerOptions::default_body_limit.
  std::optional<size_t> body_limit;
  // Run the handler directly on the I/O thread: only for trivial handlers that never block
  // (e.g. /healthz). The body of an inline route is read whole (within body_limit) first. An
  // inline route must be anonymous (authenticated = false): the Authenticator, which may
  // block, never runs on an I/O thread, so it is skipped for inline routes.
  bool inline_handler = false;
  // Whether the route needs a principal: an anonymous request gets 401 before the handler runs.
  // The Authenticator decides who the caller is; this decides whether anonymous is enough.
  bool authenticated = true;
  // Whether the route emits an audit event. Only for routes that touch no data and reveal
  // nothing (health probes); everything else keeps the default.
  bool audit = true;
  // The audit action ("kms.secrets.wrap"); the handler may override ctx.event().action.
  std::string action;
};

struct Route {
  std::string method;
  std::string path_template;
  Handler handler;
  RouteOptions options;
  std::vector<std::string> param_names;  // in path order, the greedy tail last
};

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  const Route* route = nullptr;               // kFound
  std::map<std::string, std::string> params;  // kFound: decoded parameter values
  std::string allow;                          // kMethodNotAllowed: "GET, HEAD, PUT"
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // Adds a route. kInvalidArgument for a malformed template or method (empty, not starting with
  // '/', an unclosed brace, a parameter that is not a whole segment, a bad name, a greedy tail
  // that is not last, a repeated name), a missing handler, or an inline route that is not
  // anonymous; kAlreadyExists when the same method and shape exist.
  [[nodiscard]] Status Add(std::string method, std::string_view path_template, Handler handler,
                           RouteOptions options = {});

  // Matches a raw (percent-encoded) path such as Request::raw_path.
  RouteMatch Match(std::string_view method, std::string_view raw_path) const;

  // Every route, read-only, ordered by path template then method: for tests and tools that
  // check a service's route table (its actions, authentication and body limits) against the
  // one they expect. The pointers live as long as the router.
  std::vector<const Route*> Routes() const;

  size_t size() const { return count_; }

 private:
  struct Node;
  std::unique_ptr<Node> root_;
  size_t count_ = 0;
};

}  // namespace veil::http
