#include "http/bearer_auth.h"

#include <utility>

#include "http/headers.h"

namespace veil::http {
namespace {

constexpr size_t kMaxToken = 8192;

// RFC 6750 b64token: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "=" padding.
bool IsToken68(std::string_view t) {
  size_t i = 0;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  if (i == 0) return false;
  for (; i < t.size(); ++i) {
    if (t[i] != '=') return false;
  }
  return true;
}

}  // namespace

Result<std::string_view> ParseBearer(std::string_view value) {
  constexpr std::string_view kScheme = "bearer";
  if (value.size() <= kScheme.size() ||
      !EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) || value[kScheme.size()] != ' ') {
    return Unauthenticated("malformed Authorization header: expected Bearer <token>");
  }
  std::string_view token = value.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
  if (token.empty()) return Unauthenticated("malformed Authorization header: empty token");
  if (token.size() > kMaxToken) return Unauthenticated("malformed Authorization header: too long");
  if (!IsToken68(token)) {
    return Unauthenticated("malformed Authorization header: not a bearer token");
  }
  return token;
}

Authenticator MakeBearerAuthenticator(TokenVerifyFn verify) {
  return [verify = std::move(verify)](const Request& request) -> Result<std::optional<Principal>> {
    std::vector<std::string_view> values = request.headers.GetAll("Authorization");
    if (values.empty()) return std::optional<Principal>();
    if (values.size() > 1) return Unauthenticated("malformed Authorization header: repeated");
    std::string_view token = VEIL_TRY_VALUE(ParseBearer(values.front()));
    auto principal = verify(token);
    if (!principal) {
      const ErrorCode code = principal.error().code;
      if (code == ErrorCode::kUnavailable || code == ErrorCode::kInternal ||
          code == ErrorCode::kResourceExhausted) {
        return tl::unexpected(principal.error());
      }
      return Unauthenticated("invalid bearer token: " + principal.error().message);
    }
    if (principal->credential_type.empty()) principal->credential_type = "token";
    return std::optional<Principal>(std::move(*principal));
  };
}

}  // namespace veil::http
