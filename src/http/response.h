// Response: what a handler returns.
//
// The body is either `body` (a string, sent with Content-Length) or `source` (a BodySource the
// server pulls chunk by chunk: with Content-Length when `source_length` is set, else with chunked
// transfer encoding). When `source` is set, `body` is ignored. For HEAD requests the server sends
// the header only, with the Content-Length the GET would have had.
//
// The server adds Date, Content-Length/Transfer-Encoding, Connection, correlation-id and
// x-request-id; a handler sets the rest (Content-Type through the factories below).
//
// Thread-safety: a value type.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/body.h"
#include "http/headers.h"

namespace veil::http {

struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  BodySource source;
  std::optional<uint64_t> source_length;

  // `value` serialized as the body, with Content-Type `content_type`.
  static Response Json(int status, const boost::json::value& value,
                       std::string_view content_type = "application/json");
  // Content-Type application/xml (the S3 dialect).
  static Response Xml(int status, std::string xml);
  // Content-Type text/plain; charset=utf-8.
  static Response Text(int status, std::string text);
  // No body (e.g. 204, or a 200 with only headers).
  static Response Empty(int status);
  // A streamed body: `length` bytes when known, else chunked.
  static Response Stream(int status, BodySource source, std::optional<uint64_t> length,
                         std::string_view content_type = "application/octet-stream");
};

}  // namespace veil::http
