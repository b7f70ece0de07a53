// Strict reading of the LUKS2 JSON metadata: the first pass over the text and the typed accessors
// that luks2_metadata.cc builds its checks from. Internal to src/luks.
//
// Every accessor names the JSON path of what it read (e.g. "keyslots.0.kdf.salt") in its error,
// which is always kDataLoss "LUKS2 metadata: <path>: <what is wrong>".
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::luks::internal {

// kDataLoss "LUKS2 metadata: <path>: <what>".
Error Bad(const std::string& path, std::string_view what);

// Pass 1 over the JSON text, before any DOM (Boost.JSON's DOM would silently accept what must not
// be): refuses duplicate object keys (json-c, which cryptsetup uses, keeps the last one: a parser
// differential would let an image show Veil one PBKDF cost and cryptsetup another), non-integral
// numbers, comments and nesting deeper than kMaxJsonDepth; and any text before the opening '{'.
[[nodiscard]] Status CheckJsonText(std::string_view text);

// The options of both passes: no comments, no trailing commas, valid UTF-8, depth kMaxJsonDepth.
boost::json::parse_options StrictJsonOptions();

// The member `key` of `o`, which must be present.
[[nodiscard]] Result<const boost::json::value*> Field(const boost::json::object& o,
                                                      std::string_view key,
                                                      const std::string& path);
[[nodiscard]] Result<const boost::json::object*> ObjectField(const boost::json::object& o,
                                                             std::string_view key,
                                                             const std::string& path);
[[nodiscard]] Result<const boost::json::array*> ArrayField(const boost::json::object& o,
                                                           std::string_view key,
                                                           const std::string& path);
// A JSON string without control characters (it may be shown on a terminal).
[[nodiscard]] Result<std::string> AsDisplayString(const boost::json::value& v,
                                                  const std::string& path);
// A non-empty display string (libcryptsetup refuses an empty one wherever it reads a string).
[[nodiscard]] Result<std::string> StringField(const boost::json::object& o, std::string_view key,
                                              const std::string& path);
// A JSON integer >= 0 (cryptsetup's json_type_int fields).
[[nodiscard]] Result<uint64_t> IntField(const boost::json::object& o, std::string_view key,
                                        const std::string& path);
// A "string-uint64": decimal digits in a JSON string, no sign, no overflow.
[[nodiscard]] Result<uint64_t> ParseU64(std::string_view text, const std::string& path);
[[nodiscard]] Result<uint64_t> U64Field(const boost::json::object& o, std::string_view key,
                                        const std::string& path);
// Object names of keyslots, digests, segments and tokens, and references to them: decimal numbers
// below `max`, without leading zeros.
[[nodiscard]] Result<uint32_t> ParseId(std::string_view name, const std::string& path,
                                       uint32_t max);
// A base64 string; returns the decoded length.
[[nodiscard]] Result<size_t> Base64Field(const boost::json::object& o, std::string_view key,
                                         const std::string& path);
// An array of object names (as strings), each parsed by ParseId.
[[nodiscard]] Result<std::vector<uint32_t>> IdArray(const boost::json::object& o,
                                                    std::string_view key, const std::string& path,
                                                    uint32_t max);
// An array of strings.
[[nodiscard]] Result<std::vector<std::string>> StringArray(const boost::json::array& a,
                                                           const std::string& path);

}  // namespace veil::luks::internal
