// Compact JWS (RFC 7515) with JWT claims (RFC 7519): building the signing input and taking a
// token apart, with no verification (TokenVerifier verifies).
//
// Veil's tokens: header {"alg":"RS256","typ":"JWT","kid":"<kid>"}, claims of
// docs/api-compatibility.md, "Access tokens" (token_issuer.h lists them).
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time.h"

namespace veil::iam {

// Tokens longer than this are refused unread.
inline constexpr size_t kMaxTokenSize = 8192;

// The latest NumericDate a claim may hold: 2200-01-01T00:00:00Z, in seconds since the epoch. A
// TimePoint (nanoseconds in 64 bits) ends in April 2262, so a later date would overflow it.
inline constexpr int64_t kMaxNumericDate = 7258118400;

struct JwtHeader {
  std::string alg;
  std::string kid;
  std::string typ;
};

struct ParsedJwt {
  JwtHeader header;
  boost::json::object claims;
  std::string_view signing_input;  // "<header>.<payload>", a view into the token
  std::vector<uint8_t> signature;
};

// base64url(header JSON) "." base64url(claims JSON).
std::string JwtSigningInput(const JwtHeader& header, const boost::json::object& claims);

// Splits and decodes a compact JWS. kUnauthenticated (with a reason that never quotes the
// token) when: longer than kMaxTokenSize; not three '.'-separated segments; a segment that is
// not strict base64url; a header or payload that is not a JSON object (depth at most 16); a
// header without string "alg" and "kid"; a header with "crit". The algorithm is NOT checked here.
// kUnauthenticated also for a number beyond a double's range (1e400) anywhere in either.
[[nodiscard]] Result<ParsedJwt> ParseJwt(std::string_view token);

// The JSON object of one base64url segment of a compact JWS (its payload, or claims), NOT
// verified: only for a payload whose token someone else verified, or for reading one's own token
// (the CLI reads its session's claims). kUnauthenticated (never quoting the text) for a segment
// that is not strict base64url, or not a JSON object of depth at most 16 with every number within
// a double's range. ParseJwt decodes its payload with this.
[[nodiscard]] Result<boost::json::object> DecodePayloadUnverified(std::string_view segment);

// The NumericDate claim `name` (RFC 7519 §2: seconds since the epoch, an integer or a fraction,
// truncated to whole seconds); nullopt when absent. kUnauthenticated for a claim that is not a
// number, or one outside 0 to kMaxNumericDate.
[[nodiscard]] Result<std::optional<TimePoint>> NumericDateClaim(const boost::json::object& claims,
                                                                std::string_view name);

}  // namespace veil::iam
