// ParseJsonBody: reads a small JSON request body.
//
// Thread-safety: call from the handler's thread.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>

#include "common/result.h"
#include "http/context.h"

namespace veil::http {

// Reads the whole body (at most `limit` bytes) and parses it as one JSON value (nesting depth at
// most 64). kInvalidArgument (400) for an empty body or malformed JSON, with a message that
// names the problem but never echoes the body; kResourceExhausted (413) over `limit`; the errors
// of BodyReader::Read otherwise.
[[nodiscard]] Result<boost::json::value> ParseJsonBody(RequestContext& ctx, size_t limit);

}  // namespace veil::http
