#include "http/json_body.h"

#include <boost/json/parse.hpp>
#include <exception>
#include <string>

#include "common/json.h"

namespace veil::http {

Result<boost::json::value> ParseJson(std::string_view text, size_t max_depth) {
  if (text.empty()) return InvalidArgument("request body is empty; expected JSON");
  boost::json::parse_options opts;
  opts.max_depth = max_depth;
  boost::system::error_code ec;
  try {
    boost::json::value v = boost::json::parse(text, ec, {}, opts);
    if (ec) return InvalidArgument("request body is not valid JSON: " + ec.message());
    if (!AllNumbersFinite(v)) {
      return InvalidArgument("request body is not valid JSON: a number is out of range");
    }
    return v;
  } catch (const std::exception&) {
    // Only allocation failure can get here.
    return ResourceExhausted("request body could not be parsed: out of memory");
  }
}

Result<boost::json::value> ParseJsonBody(RequestContext& ctx, size_t limit) {
  auto text = ctx.request().body().ReadAll(limit);
  if (!text) return tl::unexpected(text.error());
  return ParseJson(*text);
}

Result<std::optional<boost::json::value>> ParseOptionalJsonBody(RequestContext& ctx, size_t limit) {
  auto text = ctx.request().body().ReadAll(limit);
  if (!text) return tl::unexpected(text.error());
  if (text->empty()) return std::optional<boost::json::value>();
  return ParseJson(*text).map([](boost::json::value v) { return std::optional(std::move(v)); });
}

}  // namespace veil::http
