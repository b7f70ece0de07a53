// AWS Signature Version 4 as S3 uses it (docs/cos.md, "Authentication"): the pieces object
// storage needs to check a request signed by aws-cli, boto3, s3cmd, rclone or curl --aws-sigv4,
// written from AWS's published description and checked against its published examples and
// against botocore's signer.
//
//   Authorization header  AWS4-HMAC-SHA256 Credential=AKID/20130524/us-east-1/s3/aws4_request,
//                         SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=hex
//   presigned query       X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
//                         X-Amz-SignedHeaders, X-Amz-Signature (the payload is UNSIGNED-PAYLOAD)
//   canonical request     METHOD \n URI \n QUERY \n HEADERS \n SIGNED-HEADERS \n PAYLOAD-HASH
//   string to sign        AWS4-HMAC-SHA256 \n AMZ-DATE \n SCOPE \n hex(SHA-256(canonical request))
//   signing key           HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request"
//   chunk string to sign  AWS4-HMAC-SHA256-PAYLOAD \n AMZ-DATE \n SCOPE \n PREVIOUS-SIGNATURE \n
//                         hex(SHA-256("")) \n hex(SHA-256(chunk))      (aws-chunked bodies)
//
// Everything here is a pure function of its arguments (fuzzed: fuzz/cos_sigv4_fuzz.cc); the
// clock, the credential store and the body belong to the caller. Errors are kInvalidArgument
// with a message that names the malformed part and never echoes a signature.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "crypto/hash.h"

namespace veil::cos {

inline constexpr std::string_view kSigV4Algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
inline constexpr std::string_view kStreamingPayload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
// The longest a presigned URL may live (X-Amz-Expires), as S3: 7 days.
inline constexpr int64_t kMaxPresignedExpiresSeconds = 7 * 24 * 3600;

// The credential scope: "<date>/<region>/<service>/aws4_request".
struct SigV4Scope {
  std::string date;  // YYYYMMDD
  std::string region;
  std::string service;

  std::string ToString() const;
};

// What a request claims: from its Authorization header or its presigned query.
struct SigV4Auth {
  std::string access_key_id;
  SigV4Scope scope;
  std::vector<std::string> signed_headers;  // lower case, sorted, as sent
  std::string signature;                    // 64 lower-case hex digits
  // Presigned only: X-Amz-Date and X-Amz-Expires (for a header-signed request the date is the
  // x-amz-date header, which the caller reads).
  bool presigned = false;
  std::string amz_date;  // YYYYMMDDTHHMMSSZ
  int64_t expires_seconds = 0;
};

// "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." (the three in any order,
// separated by commas with optional spaces).
[[nodiscard]] Result<SigV4Auth> ParseAuthorizationHeader(std::string_view value);

// The X-Amz-* parameters of a presigned URL's raw (still percent-encoded) query string.
// X-Amz-Expires must be 1 to kMaxPresignedExpiresSeconds.
[[nodiscard]] Result<SigV4Auth> ParsePresignedQuery(std::string_view raw_query);

// The credential scope's date must be the request's own (AWS requires it: a signing key is good
// for one day). kInvalidArgument when `amz_date` does not start with `auth.scope.date`.
[[nodiscard]] Status CheckScopeDate(const SigV4Auth& auth, std::string_view amz_date);

// Whether `text` is an AMZ date, "YYYYMMDDTHHMMSSZ", with a valid calendar day and time; its
// seconds since the Unix epoch.
[[nodiscard]] Result<int64_t> ParseAmzDate(std::string_view text);

// A request as received: method, the raw path and query (percent-encoded as sent, without the
// '?'), and every header (names in any case, repeated names kept in order).
struct SigV4Request {
  std::string method;
  std::string raw_path;
  std::string raw_query;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The canonical request of `request` for the headers `auth` signed, with `payload_hash` (the
// x-amz-content-sha256 value, or UNSIGNED-PAYLOAD for a presigned URL). The URI and query are
// decoded and encoded again the way S3 encodes them (every byte but A-Z a-z 0-9 - . _ ~ as %XX
// upper case; '/' kept in the path), so any client's escaping of the same bytes matches; a
// presigned request's X-Amz-Signature is left out. kInvalidArgument when the path or query is not
// valid percent-encoding, or when a signed header is missing or `host` is not signed.
[[nodiscard]] Result<std::string> CanonicalRequest(const SigV4Request& request,
                                                   const SigV4Auth& auth,
                                                   std::string_view payload_hash);

// The string to sign for `canonical_request`, dated `amz_date` in `scope`.
std::string StringToSign(std::string_view amz_date, const SigV4Scope& scope,
                         std::string_view canonical_request);

// The signing key of `secret_access_key` for `scope`.
crypto::Sha256Digest SigningKey(std::span<const uint8_t> secret_access_key,
                                const SigV4Scope& scope);

// hex(HMAC-SHA256(signing_key, string_to_sign)).
std::string SignatureHex(const crypto::Sha256Digest& signing_key, std::string_view string_to_sign);

// The string to sign of one chunk of an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD):
// the previous signature is the seed (the request's) for the first chunk.
std::string ChunkStringToSign(std::string_view amz_date, const SigV4Scope& scope,
                              std::string_view previous_signature, std::span<const uint8_t> chunk);
// The same for a chunk whose SHA-256 was computed as it streamed by (aws_chunked.h).
std::string ChunkStringToSignOfDigest(std::string_view amz_date, const SigV4Scope& scope,
                                      std::string_view previous_signature,
                                      const crypto::Sha256Digest& chunk_sha256);

// Constant-time comparison of two hex signatures (case-sensitive: both lower case).
bool SignaturesEqual(std::string_view a, std::string_view b);

// S3's URI encoding of `bytes`: every byte but A-Z a-z 0-9 - . _ ~ (and '/' when `keep_slash`)
// as %XX with upper-case hex.
std::string UriEncode(std::string_view bytes, bool keep_slash);

}  // namespace veil::cos
