// ParseJsonBody: reads a small JSON request body; ParseJson: the pure parse it runs (fuzzed by
// fuzz/http_request_fuzz.cc, and used by every parser of client JSON).
//
// Thread-safety: ParseJson is a pure function; call ParseJsonBody from the handler's thread.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string_view>

#include "common/result.h"
#include "http/context.h"

namespace veil::http {

// Nesting depth a request body may have.
inline constexpr size_t kMaxJsonDepth = 64;

// Parses `text` as one JSON value, nested at most `max_depth` deep. kInvalidArgument for empty
// text, malformed JSON and a number beyond a double's range (1e400: Boost.JSON would read it as
// an infinity, which it cannot write back as JSON), with a message that names the problem but
// never echoes the text; kResourceExhausted when memory runs out.
[[nodiscard]] Result<boost::json::value> ParseJson(std::string_view text,
                                                   size_t max_depth = kMaxJsonDepth);

// Reads the whole body (at most `limit` bytes) and parses it with ParseJson. kResourceExhausted
// (413) over `limit`; the errors of ParseJson and of BodyReader::Read otherwise.
[[nodiscard]] Result<boost::json::value> ParseJsonBody(RequestContext& ctx, size_t limit);

// The same for a body that may be absent: nullopt for an empty body.
[[nodiscard]] Result<std::optional<boost::json::value>> ParseOptionalJsonBody(RequestContext& ctx,
                                                                              size_t limit);

}  // namespace veil::http
