#include "iam/jwt.h"

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/json.h"

namespace veil::iam {
namespace {

Result<boost::json::object> DecodeJsonSegment(std::string_view segment, std::string_view what) {
  auto bytes = Base64UrlDecode(segment);
  if (!bytes) return Unauthenticated("malformed token: " + std::string(what) + " is not base64url");
  boost::json::parse_options options;
  options.max_depth = 16;
  boost::system::error_code ec;
  boost::json::value v;
  try {
    v = boost::json::parse(AsStringView(*bytes), ec, {}, options);
  } catch (...) {
    return Unauthenticated("malformed token: " + std::string(what) + " is not JSON");
  }
  if (ec || !v.is_object() || !AllNumbersFinite(v)) {
    return Unauthenticated("malformed token: " + std::string(what) + " is not a JSON object");
  }
  return std::move(v.as_object());
}

}  // namespace

Result<boost::json::object> DecodePayloadUnverified(std::string_view segment) {
  return DecodeJsonSegment(segment, "payload");
}

std::string JwtSigningInput(const JwtHeader& header, const boost::json::object& claims) {
  boost::json::object h;
  h["alg"] = header.alg;
  if (!header.typ.empty()) h["typ"] = header.typ;
  h["kid"] = header.kid;
  std::string head = boost::json::serialize(h);
  std::string body = boost::json::serialize(claims);
  return Base64UrlEncode(AsBytes(head)) + "." + Base64UrlEncode(AsBytes(body));
}

Result<ParsedJwt> ParseJwt(std::string_view token) {
  if (token.size() > kMaxTokenSize) return Unauthenticated("token too long");
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Unauthenticated("malformed token: not a compact JWS");
  }
  ParsedJwt jwt;
  boost::json::object header = VEIL_TRY_VALUE(DecodeJsonSegment(token.substr(0, first), "header"));
  const boost::json::value* alg = header.if_contains("alg");
  const boost::json::value* kid = header.if_contains("kid");
  if (alg == nullptr || !alg->is_string()) return Unauthenticated("token header has no alg");
  if (kid == nullptr || !kid->is_string()) return Unauthenticated("token header has no kid");
  if (header.contains("crit")) return Unauthenticated("token header has crit");
  jwt.header.alg = std::string(alg->as_string());
  jwt.header.kid = std::string(kid->as_string());
  if (const boost::json::value* typ = header.if_contains("typ"); typ && typ->is_string()) {
    jwt.header.typ = std::string(typ->as_string());
  }
  jwt.claims = VEIL_TRY_VALUE(DecodePayloadUnverified(token.substr(first + 1, second - first - 1)));
  auto signature = Base64UrlDecode(token.substr(second + 1));
  if (!signature) return Unauthenticated("malformed token: signature is not base64url");
  jwt.signature = std::move(*signature);
  jwt.signing_input = token.substr(0, second);
  return jwt;
}

Result<std::optional<TimePoint>> NumericDateClaim(const boost::json::object& claims,
                                                  std::string_view name) {
  const boost::json::value* v = claims.if_contains(name);
  if (v == nullptr) return std::optional<TimePoint>();
  const auto out_of_range = [&] {
    return Unauthenticated("token claim " + std::string(name) + " is out of range");
  };
  int64_t seconds = 0;
  if (v->is_int64()) {
    seconds = v->get_int64();
  } else if (v->is_uint64()) {
    return out_of_range();  // above INT64_MAX
  } else if (v->is_double()) {
    const double d = v->get_double();
    // Compared as a double first: converting one outside int64_t's range is undefined.
    if (!std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxNumericDate)) {
      return out_of_range();
    }
    seconds = static_cast<int64_t>(d);
  } else {
    return Unauthenticated("token claim " + std::string(name) + " is not a number");
  }
  if (seconds < 0 || seconds > kMaxNumericDate) return out_of_range();
  return std::optional<TimePoint>(TimePoint(std::chrono::seconds(seconds)));
}

}  // namespace veil::iam
