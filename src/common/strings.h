// ASCII text helpers: case-insensitive comparison, case mapping and trimming.
//
// Used wherever a name typed by a person or sent by a client is compared or cleaned up: HTTP
// field names, log levels and secret key names, configuration values, CLI profile lines, role and
// state names. Everything here is ASCII only and independent of the C locale (std::tolower and
// std::isspace follow it): bytes outside A-Z / a-z, including UTF-8 sequences, compare and map as
// themselves.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace veil {

// 'A'..'Z' to 'a'..'z'; every other byte unchanged.
constexpr char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
// 'a'..'z' to 'A'..'Z'; every other byte unchanged.
constexpr char AsciiUpper(char c) {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}
std::string AsciiLower(std::string_view s);
std::string AsciiUpper(std::string_view s);

// True iff `a` and `b` are equal when ASCII letters are compared without case.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
// True iff `s` ends with `suffix`, ASCII letters compared without case.
bool EndsWithIgnoreCase(std::string_view s, std::string_view suffix);

// `s` without leading and trailing ASCII white space (space, \t, \n, \v, \f, \r).
std::string_view TrimAsciiSpace(std::string_view s);
// `s` without leading and trailing blanks (space and \t only; a \r stays).
std::string_view TrimAsciiBlank(std::string_view s);

// The pieces of `s` between occurrences of `separator` (empty pieces kept; "" gives one).
std::vector<std::string_view> SplitOn(std::string_view s, char separator);

// The value of a non-empty run of ASCII decimal digits (no sign, no space) that fits in 64 bits;
// nullopt otherwise. Leading zeros are allowed.
std::optional<uint64_t> ParseUint64(std::string_view digits);

}  // namespace veil
