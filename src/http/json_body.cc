#include "http/json_body.h"

#include <boost/json/parse.hpp>
#include <exception>
#include <string>

namespace veil::http {

Result<boost::json::value> ParseJsonBody(RequestContext& ctx, size_t limit) {
  auto text = ctx.request().body().ReadAll(limit);
  if (!text) return tl::unexpected(text.error());
  if (text->empty()) return InvalidArgument("request body is empty; expected JSON");
  boost::json::parse_options opts;
  opts.max_depth = 64;
  boost::system::error_code ec;
  try {
    boost::json::value v = boost::json::parse(*text, ec, {}, opts);
    if (ec) return InvalidArgument("request body is not valid JSON: " + ec.message());
    return v;
  } catch (const std::exception&) {
    // Only allocation failure can get here.
    return ResourceExhausted("request body could not be parsed: out of memory");
  }
}

}  // namespace veil::http
