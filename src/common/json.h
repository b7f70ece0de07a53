// Checks and typed field accessors on parsed JSON values, shared by every parser of client JSON
// (the services' api/parse.cc).
//
// Boost.JSON parses a number beyond the range of a double (1e400, -1e999) as an infinity without
// an error, and serializes an infinity as "Infinity", which no JSON parser (Boost.JSON included)
// reads back. A value holding one must therefore be refused before it is stored or echoed.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil {

// Whether every number in `v` (at any depth) is finite. Iterative: no recursion on deep values.
bool AllNumbersFinite(const boost::json::value& v);

// Fields of a JSON object sent by a client. Absent or null is nullopt (an empty list); a value of
// another type is kInvalidArgument naming the field ("aad must be an array"), which each API
// renders in its own dialect (KMS: BAD_BODY_ERR).
namespace json {
[[nodiscard]] Result<std::optional<std::string>> OptionalString(const boost::json::object& o,
                                                                std::string_view name);
[[nodiscard]] Result<std::optional<bool>> OptionalBool(const boost::json::object& o,
                                                       std::string_view name);
[[nodiscard]] Result<std::vector<std::string>> OptionalStringList(const boost::json::object& o,
                                                                  std::string_view name);
// A string that must be there and not be empty: "<name> is required" otherwise.
[[nodiscard]] Result<std::string> RequiredString(const boost::json::object& o,
                                                 std::string_view name);
}  // namespace json

}  // namespace veil
