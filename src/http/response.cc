#include "http/response.h"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <utility>

namespace veil::http {

Response Response::Json(int status, const boost::json::value& value,
                        std::string_view content_type) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", content_type);
  r.body = boost::json::serialize(value);
  return r;
}

Response Response::Xml(int status, std::string xml) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "application/xml");
  r.body = std::move(xml);
  return r;
}

Response Response::Text(int status, std::string text) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(text);
  return r;
}

Response Response::Empty(int status) {
  Response r;
  r.status = status;
  return r;
}

Response Response::Stream(int status, BodySource source, std::optional<uint64_t> length,
                          std::string_view content_type) {
  Response r;
  r.status = status;
  r.headers.Set("Content-Type", content_type);
  r.source = std::move(source);
  r.source_length = length;
  return r;
}

}  // namespace veil::http
