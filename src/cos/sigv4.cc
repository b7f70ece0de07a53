#include "cos/sigv4.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/strings.h"
#include "crypto/compare.h"

namespace veil::cos {
namespace {

constexpr std::string_view kTerminator = "aws4_request";
// Bounds on what a client may send: header values are bounded by the HTTP layer already; these
// keep the parsed lists small.
constexpr size_t kMaxSignedHeaders = 64;
constexpr size_t kMaxQueryParams = 256;

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool IsLowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string HexOf(std::span<const uint8_t> bytes) { return HexEncode(bytes); }

std::string Sha256Hex(std::string_view text) { return HexOf(crypto::Sha256(AsBytes(text))); }

// "AKID/20130524/us-east-1/s3/aws4_request": the access key id may not hold '/'.
Result<std::pair<std::string, SigV4Scope>> ParseCredential(std::string_view text) {
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    const size_t slash = text.find('/', start);
    parts.push_back(text.substr(start, slash == std::string_view::npos ? slash : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
    if (parts.size() > 5) break;
  }
  if (parts.size() != 5 || parts[0].empty() || parts[2].empty() || parts[3].empty() ||
      parts[4] != kTerminator) {
    return InvalidArgument(
        "the credential must be <access key id>/<date>/<region>/<service>/aws4_request");
  }
  if (parts[1].size() != 8 || !AllDigits(parts[1])) {
    return InvalidArgument("the credential's date must be YYYYMMDD");
  }
  return std::pair{std::string(parts[0]),
                   SigV4Scope{std::string(parts[1]), std::string(parts[2]), std::string(parts[3])}};
}

// "host;range;x-amz-date": lower case, sorted, no duplicates.
Result<std::vector<std::string>> ParseSignedHeaders(std::string_view text) {
  std::vector<std::string> out;
  for (size_t start = 0; start <= text.size();) {
    const size_t semi = std::min(text.find(';', start), text.size());
    std::string_view name = text.substr(start, semi - start);
    if (name.empty() || out.size() == kMaxSignedHeaders) {
      return InvalidArgument("SignedHeaders must be 1 to 64 header names separated by ';'");
    }
    for (char c : name) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
        return InvalidArgument("SignedHeaders must name headers in lower case");
      }
    }
    if (!out.empty() && out.back() >= name) {
      return InvalidArgument("SignedHeaders must be sorted and hold each name once");
    }
    out.emplace_back(name);
    start = semi + 1;
  }
  return out;
}

Status CheckSignature(std::string_view signature) {
  if (signature.size() != 64 || !IsLowerHex(signature)) {
    return InvalidArgument("the signature must be 64 lower-case hex digits");
  }
  return OkStatus();
}

// Splits a raw query into its decoded (name, value) pairs, in order.
Result<std::vector<std::pair<std::string, std::string>>> DecodeQuery(std::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  if (raw.empty()) return out;
  for (size_t start = 0; start <= raw.size();) {
    const size_t amp = std::min(raw.find('&', start), raw.size());
    std::string_view pair = raw.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;
    if (out.size() == kMaxQueryParams) return InvalidArgument("the query has too many parameters");
    const size_t eq = pair.find('=');
    auto name = PercentDecode(pair.substr(0, eq));
    auto value = PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (!name || !value) return InvalidArgument("the query is not valid percent-encoding");
    out.emplace_back(std::move(*name), std::move(*value));
  }
  return out;
}

// A header value as SigV4 canonicalizes it: surrounding white space trimmed, each run of spaces
// inside collapsed to one.
std::string CanonicalHeaderValue(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : TrimAsciiBlank(value)) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string SigV4Scope::ToString() const {
  return date + "/" + region + "/" + service + "/" + std::string(kTerminator);
}

std::string UriEncode(std::string_view bytes, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      const auto b = static_cast<unsigned char>(c);
      out.push_back('%');
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0x0f]);
    }
  }
  return out;
}

Result<SigV4Auth> ParseAuthorizationHeader(std::string_view value) {
  if (value.substr(0, kSigV4Algorithm.size()) != kSigV4Algorithm ||
      value.size() == kSigV4Algorithm.size() || value[kSigV4Algorithm.size()] != ' ') {
    return InvalidArgument("the Authorization header must start with AWS4-HMAC-SHA256");
  }
  std::string_view rest = value.substr(kSigV4Algorithm.size() + 1);
  std::optional<std::string_view> credential, signed_headers, signature;
  while (!rest.empty()) {
    const size_t comma = std::min(rest.find(','), rest.size());
    std::string_view item = TrimAsciiBlank(rest.substr(0, comma));
    rest = comma < rest.size() ? rest.substr(comma + 1) : std::string_view();
    const size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("the Authorization header holds a part without '='");
    }
    std::string_view name = item.substr(0, eq);
    std::optional<std::string_view>* target = name == "Credential"      ? &credential
                                              : name == "SignedHeaders" ? &signed_headers
                                              : name == "Signature"     ? &signature
                                                                        : nullptr;
    if (target == nullptr) {
      return InvalidArgument("the Authorization header holds an unknown part");
    }
    if (*target) return InvalidArgument("the Authorization header repeats a part");
    *target = item.substr(eq + 1);
  }
  if (!credential || !signed_headers || !signature) {
    return InvalidArgument(
        "the Authorization header needs Credential, SignedHeaders and Signature");
  }
  SigV4Auth auth;
  auto [key, scope] = VEIL_TRY_VALUE(ParseCredential(*credential));
  auth.access_key_id = std::move(key);
  auth.scope = std::move(scope);
  auth.signed_headers = VEIL_TRY_VALUE(ParseSignedHeaders(*signed_headers));
  VEIL_TRY(CheckSignature(*signature));
  auth.signature = std::string(*signature);
  return auth;
}

Result<SigV4Auth> ParsePresignedQuery(std::string_view raw_query) {
  auto params = VEIL_TRY_VALUE(DecodeQuery(raw_query));
  auto find = [&](std::string_view name) -> Result<std::string> {
    const std::string* found = nullptr;
    for (const auto& [k, v] : params) {
      if (k != name) continue;
      if (found != nullptr) return InvalidArgument(std::string(name) + " is given twice");
      found = &v;
    }
    if (found == nullptr) return InvalidArgument(std::string(name) + " is missing");
    return *found;
  };
  if (VEIL_TRY_VALUE(find("X-Amz-Algorithm")) != kSigV4Algorithm) {
    return InvalidArgument("X-Amz-Algorithm must be AWS4-HMAC-SHA256");
  }
  SigV4Auth auth;
  auth.presigned = true;
  auto [key, scope] = VEIL_TRY_VALUE(ParseCredential(VEIL_TRY_VALUE(find("X-Amz-Credential"))));
  auth.access_key_id = std::move(key);
  auth.scope = std::move(scope);
  auth.amz_date = VEIL_TRY_VALUE(find("X-Amz-Date"));
  VEIL_TRY(ParseAmzDate(auth.amz_date));
  VEIL_TRY(CheckScopeDate(auth, auth.amz_date));
  const std::string expires = VEIL_TRY_VALUE(find("X-Amz-Expires"));
  int64_t seconds = 0;
  auto [end, ec] = std::from_chars(expires.data(), expires.data() + expires.size(), seconds);
  if (!AllDigits(expires) || ec != std::errc() || end != expires.data() + expires.size() ||
      seconds < 1 || seconds > kMaxPresignedExpiresSeconds) {
    return InvalidArgument("X-Amz-Expires must be 1 to 604800 seconds");
  }
  auth.expires_seconds = seconds;
  auth.signed_headers =
      VEIL_TRY_VALUE(ParseSignedHeaders(VEIL_TRY_VALUE(find("X-Amz-SignedHeaders"))));
  auth.signature = VEIL_TRY_VALUE(find("X-Amz-Signature"));
  VEIL_TRY(CheckSignature(auth.signature));
  return auth;
}

Status CheckScopeDate(const SigV4Auth& auth, std::string_view amz_date) {
  if (amz_date.substr(0, 8) != auth.scope.date) {
    return InvalidArgument("the credential's date is not the request's date");
  }
  return OkStatus();
}

Result<int64_t> ParseAmzDate(std::string_view text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z' || !AllDigits(text.substr(0, 8)) ||
      !AllDigits(text.substr(9, 6))) {
    return InvalidArgument("the date must be YYYYMMDDTHHMMSSZ");
  }
  auto num = [&](size_t at, size_t n) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  using namespace std::chrono;
  const year_month_day day{year(num(0, 4)), month(static_cast<unsigned>(num(4, 2))),
                           std::chrono::day(static_cast<unsigned>(num(6, 2)))};
  const int h = num(9, 2), m = num(11, 2), s = num(13, 2);
  if (!day.ok() || h > 23 || m > 59 || s > 59) {
    return InvalidArgument("the date must be YYYYMMDDTHHMMSSZ");
  }
  return sys_days(day).time_since_epoch().count() * 86400 + h * 3600 + m * 60 + s;
}

Result<std::string> CanonicalRequest(const SigV4Request& request, const SigV4Auth& auth,
                                     std::string_view payload_hash) {
  std::string out = request.method + "\n";
  auto path = PercentDecode(request.raw_path);
  if (!path) return InvalidArgument("the path is not valid percent-encoding");
  out += UriEncode(path->empty() ? "/" : *path, true) + "\n";

  auto params = VEIL_TRY_VALUE(DecodeQuery(request.raw_query));
  std::vector<std::pair<std::string, std::string>> encoded;
  for (const auto& [k, v] : params) {
    if (auth.presigned && k == "X-Amz-Signature") continue;
    encoded.emplace_back(UriEncode(k, false), UriEncode(v, false));
  }
  std::sort(encoded.begin(), encoded.end());
  for (size_t i = 0; i < encoded.size(); ++i) {
    out += (i ? "&" : "") + encoded[i].first + "=" + encoded[i].second;
  }
  out += "\n";

  if (!std::binary_search(auth.signed_headers.begin(), auth.signed_headers.end(), "host")) {
    return InvalidArgument("the host header must be signed");
  }
  for (const std::string& name : auth.signed_headers) {
    std::string joined;
    bool found = false;
    for (const auto& [k, v] : request.headers) {
      if (!EqualsIgnoreCase(k, name)) continue;
      joined += (found ? "," : "") + CanonicalHeaderValue(v);
      found = true;
    }
    if (!found) return InvalidArgument("the signed header " + name + " is not in the request");
    out += name + ":" + joined + "\n";
  }
  out += "\n";
  for (size_t i = 0; i < auth.signed_headers.size(); ++i) {
    out += (i ? ";" : "") + auth.signed_headers[i];
  }
  out += "\n";
  out += payload_hash;
  return out;
}

std::string StringToSign(std::string_view amz_date, const SigV4Scope& scope,
                         std::string_view canonical_request) {
  return std::string(kSigV4Algorithm) + "\n" + std::string(amz_date) + "\n" + scope.ToString() +
         "\n" + Sha256Hex(canonical_request);
}

crypto::Sha256Digest SigningKey(std::span<const uint8_t> secret_access_key,
                                const SigV4Scope& scope) {
  std::vector<uint8_t> first = {'A', 'W', 'S', '4'};
  first.insert(first.end(), secret_access_key.begin(), secret_access_key.end());
  crypto::Sha256Digest key = crypto::HmacSha256(first, AsBytes(scope.date));
  std::fill(first.begin(), first.end(), 0);
  key = crypto::HmacSha256(key, AsBytes(scope.region));
  key = crypto::HmacSha256(key, AsBytes(scope.service));
  return crypto::HmacSha256(key, AsBytes(kTerminator));
}

std::string SignatureHex(const crypto::Sha256Digest& signing_key, std::string_view string_to_sign) {
  return HexOf(crypto::HmacSha256(signing_key, AsBytes(string_to_sign)));
}

std::string ChunkStringToSign(std::string_view amz_date, const SigV4Scope& scope,
                              std::string_view previous_signature, std::span<const uint8_t> chunk) {
  return ChunkStringToSignOfDigest(amz_date, scope, previous_signature, crypto::Sha256(chunk));
}

std::string ChunkStringToSignOfDigest(std::string_view amz_date, const SigV4Scope& scope,
                                      std::string_view previous_signature,
                                      const crypto::Sha256Digest& chunk_sha256) {
  return "AWS4-HMAC-SHA256-PAYLOAD\n" + std::string(amz_date) + "\n" + scope.ToString() + "\n" +
         std::string(previous_signature) + "\n" + Sha256Hex("") + "\n" + HexOf(chunk_sha256);
}

bool SignaturesEqual(std::string_view a, std::string_view b) {
  return a.size() == b.size() && crypto::ConstantTimeEquals(AsBytes(a), AsBytes(b));
}

}  // namespace veil::cos
