// Request: one HTTP request as a handler sees it.
//
// The server fills every field before the handler runs; the body stays on the socket until the
// handler pulls it through body() (see body.h). A handler must never log `target` or `query`
// (presigned URLs carry signatures there) nor the Authorization header.
//
// Thread-safety: owned by one request; the handler may use it from its worker thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/encoding.h"
#include "common/result.h"
#include "http/body.h"
#include "http/headers.h"

namespace veil::http {

struct Request {
  std::string method;    // as received, e.g. "GET" (methods are case-sensitive)
  std::string target;    // the request-target as received: raw path and query
  std::string raw_path;  // the path, still percent-encoded (what SigV4 canonicalizes)
  std::string path;      // the path, percent-decoded
  // The query, split at '&' and '=' and percent-decoded ('+' decodes to a space), in order.
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  // Template parameters of the matched route, percent-decoded: "/keys/{id}" -> {"id", "abc"}.
  std::map<std::string, std::string> path_params;
  std::string remote_address;  // the peer's IP address
  uint16_t remote_port = 0;
  std::optional<uint64_t> content_length;  // nullopt for chunked bodies and bodiless requests
  int version = 11;                        // 10 or 11

  // The body. Without a body set (e.g. in a handler test), an empty body.
  BodyReader& body();
  // Does not take ownership: `reader` must outlive the request's use.
  void set_body(BodyReader* reader) { body_ = reader; }

  // The first query parameter called `name` (case-sensitive), or nullopt.
  std::optional<std::string_view> Query(std::string_view name) const;
  // The path parameter called `name`, or nullopt.
  std::optional<std::string_view> PathParam(std::string_view name) const;

 private:
  BodyReader* body_ = nullptr;
  StringBodyReader empty_body_;
};

struct ParsedTarget {
  std::string raw_path;
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
};

// Splits an origin-form request-target ("/a%20b?x=1&y") into its raw path, decoded path and
// decoded query. kInvalidArgument for any other form (absolute-form, "*"), for malformed
// percent-encoding and for an encoded NUL anywhere.
[[nodiscard]] Result<ParsedTarget> ParseTarget(std::string_view target);

// Percent-decodes one path segment or component (common/encoding.h).
using veil::PercentDecode;

}  // namespace veil::http
