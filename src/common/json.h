// Checks on parsed JSON values shared by every parser of client JSON.
//
// Boost.JSON parses a number beyond the range of a double (1e400, -1e999) as an infinity without
// an error, and serializes an infinity as "Infinity", which no JSON parser (Boost.JSON included)
// reads back. A value holding one must therefore be refused before it is stored or echoed.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/value.hpp>

namespace veil {

// Whether every number in `v` (at any depth) is finite. Iterative: no recursion on deep values.
bool AllNumbersFinite(const boost::json::value& v);

}  // namespace veil
