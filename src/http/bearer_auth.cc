#include "http/bearer_auth.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>

#include "common/strings.h"
#include "http/headers.h"

namespace veil::http {
namespace {

constexpr size_t kMaxToken = 8192;

// RFC 6750 b64token characters: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/".
constexpr std::array<bool, 256> kB64TokenChar = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) {
    t[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
  }
  return t;
}();

// True when every byte of `p[0, n)` is a b64token character. Sixteen bytes at a time with GCC/Clang
// vector extensions (SSE2 on x86-64, NEON on arm64), the rest through the table: a token is
// ~1.4 KB and every authenticated request checks it, and one table load per byte cost 2.5x more.
bool AllB64TokenChars(const char* p, size_t n) {
  using V16 = uint8_t __attribute__((vector_size(16)));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    V16 c;
    std::memcpy(&c, p + i, sizeof c);
    const V16 lower = c | 0x20;  // exactly the bytes A-Z and a-z land in a-z
    // Lanes of a vector comparison are all ones (true) or zero; unsigned wrap-around makes
    // `x - lo < len` a range check.
    const V16 ok = V16(V16(lower - 'a') < 26) | V16(V16(c - '0') < 10) | V16(c == '-') |
                   V16(c == '.') | V16(c == '_') | V16(c == '~') | V16(c == '+') | V16(c == '/');
    uint64_t lo;
    uint64_t hi;
    std::memcpy(&lo, &ok, sizeof lo);
    std::memcpy(&hi, reinterpret_cast<const char*>(&ok) + sizeof lo, sizeof hi);
    if ((lo & hi) != ~uint64_t{0}) return false;
  }
  for (; i < n; ++i) {
    if (!kB64TokenChar[static_cast<unsigned char>(p[i])]) return false;
  }
  return true;
}

// b64token = 1*( b64token characters ) *"=".
bool IsToken68(std::string_view t) {
  size_t end = t.size();
  while (end > 0 && t[end - 1] == '=') --end;
  return end > 0 && AllB64TokenChars(t.data(), end);
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
    // One pass over the fields, no vector: this runs for every request.
    std::optional<std::string_view> value;
    for (const auto& [name, v] : request.headers) {
      if (!EqualsIgnoreCase(name, "Authorization")) continue;
      if (value) return Unauthenticated("malformed Authorization header: repeated");
      value = v;
    }
    if (!value) return std::optional<Principal>();
    std::string_view token = VEIL_TRY_VALUE(ParseBearer(*value));
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
