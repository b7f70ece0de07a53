// The pieces of the veil CLI that are not CLI11 wiring: finding the services from one base URL,
// the profile under ~/.veil, and rendering tables. Used by apps/veil/main.cc and its tests.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::cli {

struct BaseUrl {
  std::string scheme;  // http|https
  std::string host;
  uint16_t port = 0;
};

// Parses "http://127.0.0.1:8440" (a trailing slash is allowed; a path is not). The port defaults
// to 8440 when absent.
[[nodiscard]] Result<BaseUrl> ParseBaseUrl(const std::string& text);

// "http://host:(port+offset)".
std::string ServiceUrl(const BaseUrl& base, uint16_t offset);

// "http://host:port", as ParseBaseUrl reads it back.
std::string BaseUrlText(const BaseUrl& base);

// Where the CLI looks for its profile: $VEIL_HOME, else $HOME/.veil.
std::string ProfileDir();

// Reads ~/.veil/config ("key = value" lines). A missing file is an empty profile.
[[nodiscard]] Result<std::map<std::string, std::string>> ReadProfile(const std::string& dir);

// Sets `key = value` in ~/.veil/config: replaces the line of that key (the first; later ones are
// dropped), or appends one; comments, blank lines and other keys stay as they are. Creates the
// directory (0700) and the file (0600) when missing; the file is replaced atomically. An empty
// `value` removes the key. kInvalidArgument for a key or value that cannot be written on one
// line ('=' or a line break in the key, a line break in the value).
[[nodiscard]] Status SetProfileValue(const std::string& dir, const std::string& key,
                                     const std::string& value);

// The parts with `separator` between them.
std::string Join(const std::vector<std::string>& parts, std::string_view separator);

// The JSON text of `v`, as boost::json::serialize writes it but for numbers with a fraction,
// which are written the shortest way that reads back the same (2.35, not Boost's 2.35E0);
// an infinity or NaN becomes null.
std::string JsonText(const boost::json::value& v);

// Renders rows as an aligned text table with an upper-case header line.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

}  // namespace veil::cli
