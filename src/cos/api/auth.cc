#include "cos/api/auth.h"

#include <chrono>
#include <cstring>

#include "common/encoding.h"
#include "common/strings.h"
#include "common/time.h"
#include "cos/aws_chunked.h"
#include "cos/errors.h"
#include "cos/sigv4.h"
#include "crypto/hash.h"

namespace veil::cos::api {
namespace {

constexpr int64_t kMaxSkewSeconds = 15 * 60;

std::string RawQuery(const http::Request& r) {
  size_t q = r.target.find('?');
  return q == std::string::npos ? std::string() : r.target.substr(q + 1);
}

int64_t NowSeconds(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::seconds>(clock.Now().time_since_epoch()).count();
}

struct Claimed {
  SigV4Auth auth;
  std::string amz_date;
  std::string payload_hash;
};

// What the request claims, with its clock checked.
Result<Claimed> ClaimOf(const http::Request& r, bool presigned, int64_t now) {
  Claimed c;
  if (presigned) {
    auto auth = ParsePresignedQuery(RawQuery(r));
    if (!auth) return S3Fail(S3Reason::kAuthorizationHeaderMalformed, auth.error().message);
    c.auth = std::move(*auth);
    c.amz_date = c.auth.amz_date;
    c.payload_hash = std::string(kUnsignedPayload);
    const int64_t signed_at = VEIL_TRY_VALUE(ParseAmzDate(c.amz_date));
    if (signed_at - now > kMaxSkewSeconds) {
      return S3Fail(S3Reason::kRequestTimeTooSkewed,
                    "the difference between the request time and the server's time is too large");
    }
    if (now > signed_at + c.auth.expires_seconds) {
      return S3Fail(S3Reason::kAccessDenied, "Request has expired");
    }
    return c;
  }
  auto auth = ParseAuthorizationHeader(r.headers.Get("authorization").value_or(""));
  if (!auth) return S3Fail(S3Reason::kAuthorizationHeaderMalformed, auth.error().message);
  c.auth = std::move(*auth);
  auto date = r.headers.Get("x-amz-date");
  if (!date) return S3Fail(S3Reason::kAccessDenied, "AWS authentication requires x-amz-date");
  c.amz_date = std::string(*date);
  auto signed_at = ParseAmzDate(c.amz_date);
  if (!signed_at) return S3Fail(S3Reason::kAccessDenied, "x-amz-date is not a valid date");
  if (std::abs(*signed_at - now) > kMaxSkewSeconds) {
    return S3Fail(S3Reason::kRequestTimeTooSkewed,
                  "the difference between the request time and the server's time is too large");
  }
  auto payload = r.headers.Get("x-amz-content-sha256");
  if (payload) {
    c.payload_hash = std::string(*payload);
    return c;
  }
  // S3 requires the header; a request without a body (curl --aws-sigv4's GET) signed the hash of
  // the empty payload, which is known without reading anything.
  const bool no_body =
      (!r.content_length || *r.content_length == 0) && !r.headers.Has("transfer-encoding");
  if (!no_body) {
    return S3Fail(S3Reason::kInvalidRequest,
                  "Missing required header for this request: x-amz-content-sha256 (a request "
                  "with a body must send its SHA-256 or UNSIGNED-PAYLOAD)");
  }
  c.payload_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  return c;
}

Result<std::optional<http::Principal>> CheckSigV4(const CosApiDeps& deps, const http::Request& r,
                                                  bool presigned) {
  Claimed c = VEIL_TRY_VALUE(ClaimOf(r, presigned, NowSeconds(*deps.clock)));
  if (auto s = CheckScopeDate(c.auth, c.amz_date); !s) {
    return S3Fail(S3Reason::kAuthorizationHeaderMalformed, s.error().message);
  }
  if (c.auth.scope.service != "s3") {
    return S3Fail(S3Reason::kAuthorizationHeaderMalformed, "the credential's service must be s3");
  }
  auto identity = deps.lookup_hmac(c.auth.access_key_id);
  if (!identity) {
    if (identity.error().code == ErrorCode::kNotFound) {
      return S3Fail(S3Reason::kInvalidAccessKeyId,
                    "The AWS Access Key Id you provided does not exist in our records.");
    }
    return tl::unexpected(identity.error());
  }
  SigV4Request request{r.method, r.raw_path, RawQuery(r), {}};
  for (const auto& field : r.headers) request.headers.push_back(field);
  auto canonical = CanonicalRequest(request, c.auth, c.payload_hash);
  if (!canonical) return S3Fail(S3Reason::kAuthorizationHeaderMalformed, canonical.error().message);
  const crypto::Sha256Digest key = SigningKey(identity->secret_access_key.Reveal(), c.auth.scope);
  const std::string expected =
      SignatureHex(key, StringToSign(c.amz_date, c.auth.scope, *canonical));
  if (!SignaturesEqual(expected, c.auth.signature)) {
    return S3Fail(S3Reason::kSignatureDoesNotMatch,
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your key and signing method.");
  }
  http::Principal p;
  p.id = identity->iam_id;
  p.name = identity->name;
  p.type = "serviceid";
  p.account = identity->account_id;
  p.credential_type = "hmac";
  p.claims[std::string(kClaimInstance)] = identity->instance_guid;
  p.claims[std::string(kClaimAccessKey)] = identity->access_key_id;
  p.claims[std::string(kClaimSeedSignature)] = c.auth.signature;
  p.claims[std::string(kClaimAmzDate)] = c.amz_date;
  p.claims[std::string(kClaimScopeRegion)] = c.auth.scope.region;
  p.claims[std::string(kClaimScopeDate)] = c.auth.scope.date;
  p.claims[std::string(kClaimPayload)] = c.payload_hash;
  return std::optional<http::Principal>(std::move(p));
}

// The raw body, checked against a signed SHA-256 when the request gave one.
class PlainBody final : public UploadBody {
 public:
  PlainBody(http::BodyReader& reader, std::optional<crypto::Sha256Digest> expected, uint64_t limit)
      : reader_(reader), expected_(expected), limit_(limit) {}
  Result<size_t> Read(std::span<uint8_t> out) override {
    auto n = reader_.Read(std::span(reinterpret_cast<char*>(out.data()), out.size()));
    if (!n) return tl::unexpected(n.error());
    total_ += *n;
    if (total_ > limit_) {
      return S3Fail(S3Reason::kEntityTooLarge,
                    "your proposed upload exceeds the maximum allowed size");
    }
    if (expected_) hasher_.Update(out.first(*n));
    return *n;
  }
  Status Verify() override {
    if (expected_ && hasher_.Finish() != *expected_) {
      return S3Fail(S3Reason::kContentSha256Mismatch,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    return OkStatus();
  }

 private:
  http::BodyReader& reader_;
  std::optional<crypto::Sha256Digest> expected_;
  crypto::Sha256Hasher hasher_;
  uint64_t limit_;
  uint64_t total_ = 0;
};

// An aws-chunked body, decoded and checked as it streams.
class ChunkedBody final : public UploadBody {
 public:
  ChunkedBody(http::BodyReader& reader, AwsChunkedOptions options, uint64_t limit,
              std::optional<uint64_t> decoded_length)
      : reader_(reader),
        decoder_(std::move(options)),
        limit_(limit),
        decoded_length_(decoded_length),
        in_(256 * 1024) {}
  Result<size_t> Read(std::span<uint8_t> out) override {
    while (pos_ == pending_.size()) {
      pending_.clear();
      pos_ = 0;
      if (ended_) return 0;
      auto n = reader_.Read(std::span(reinterpret_cast<char*>(in_.data()), in_.size()));
      if (!n) return tl::unexpected(n.error());
      if (*n == 0) {
        ended_ = true;
        continue;
      }
      if (auto s = decoder_.Feed(std::span(in_.data(), *n), pending_); !s) {
        if (s.error().code == ErrorCode::kPermissionDenied) {
          return S3Fail(S3Reason::kSignatureDoesNotMatch, s.error().message);
        }
        return S3Fail(S3Reason::kIncompleteBody, s.error().message);
      }
      if (decoder_.decoded_bytes() > limit_) {
        return S3Fail(S3Reason::kEntityTooLarge,
                      "your proposed upload exceeds the maximum allowed size");
      }
    }
    const size_t n = std::min(out.size(), pending_.size() - pos_);
    std::memcpy(out.data(), pending_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  Status Verify() override {
    if (auto s = decoder_.Finish(); !s) return S3Fail(S3Reason::kIncompleteBody, s.error().message);
    if (decoded_length_ && *decoded_length_ != decoder_.decoded_bytes()) {
      return S3Fail(S3Reason::kIncompleteBody,
                    "the body's length differs from x-amz-decoded-content-length");
    }
    return OkStatus();
  }

 private:
  http::BodyReader& reader_;
  AwsChunkedDecoder decoder_;
  uint64_t limit_;
  std::optional<uint64_t> decoded_length_;
  std::vector<uint8_t> in_;
  std::vector<uint8_t> pending_;
  size_t pos_ = 0;
  bool ended_ = false;
};

std::string Claim(const http::RequestContext& ctx, std::string_view name) {
  if (!ctx.principal) return {};
  auto it = ctx.principal->claims.find(std::string(name));
  return it == ctx.principal->claims.end() ? std::string() : it->second;
}

Result<AwsChunkedOptions> ChunkedOptions(const CosApiDeps& deps, const http::RequestContext& ctx,
                                         std::string_view payload) {
  AwsChunkedOptions options;
  if (payload == kStreamingPayload) {
    auto identity = VEIL_TRY_VALUE(deps.lookup_hmac(Claim(ctx, kClaimAccessKey)));
    ChunkSigning signing;
    signing.scope = SigV4Scope{Claim(ctx, kClaimScopeDate), Claim(ctx, kClaimScopeRegion), "s3"};
    signing.signing_key = SigningKey(identity.secret_access_key.Reveal(), signing.scope);
    signing.amz_date = Claim(ctx, kClaimAmzDate);
    signing.seed_signature = Claim(ctx, kClaimSeedSignature);
    options.signing = std::move(signing);
  } else if (payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" || payload == kUnsignedPayload ||
             payload.empty()) {
    options.trailers_allowed = true;
  } else {
    return S3Fail(S3Reason::kInvalidArgument,
                  "x-amz-content-sha256 does not describe an aws-chunked body");
  }
  return options;
}

}  // namespace

http::Authenticator MakeCosAuthenticator(const CosApiDeps& deps, http::Authenticator bearer) {
  return [deps, bearer = std::move(bearer)](
             const http::Request& r) -> Result<std::optional<http::Principal>> {
    const auto authorization = r.headers.Get("authorization");
    if (authorization && authorization->starts_with(kSigV4Algorithm)) {
      return CheckSigV4(deps, r, false);
    }
    if (!authorization && r.Query("X-Amz-Algorithm")) return CheckSigV4(deps, r, true);
    if ((authorization && authorization->starts_with("AWS ")) ||
        (!authorization && r.Query("AWSAccessKeyId") && r.Query("Signature"))) {
      return S3Fail(
          S3Reason::kInvalidRequest,
          "AWS Signature Version 2 is not supported: sign requests with AWS4-HMAC-SHA256");
    }
    if (!bearer) return std::optional<http::Principal>();
    return bearer(r);
  };
}

Result<std::unique_ptr<UploadBody>> RequestBody(const CosApiDeps& deps, http::RequestContext& ctx,
                                                uint64_t limit) {
  const http::Request& r = ctx.request();
  const std::string payload(r.headers.Get("x-amz-content-sha256").value_or(""));
  const auto encoding = r.headers.Get("content-encoding");
  const bool chunked = (encoding && encoding->find("aws-chunked") != std::string_view::npos) ||
                       payload.starts_with("STREAMING-");
  if (chunked) {
    AwsChunkedOptions options = VEIL_TRY_VALUE(ChunkedOptions(deps, ctx, payload));
    std::optional<uint64_t> decoded;
    if (auto d = r.headers.Get("x-amz-decoded-content-length")) {
      auto v = ParseUint64(*d);
      if (!v) {
        return S3Fail(S3Reason::kInvalidArgument, "x-amz-decoded-content-length is not a number");
      }
      decoded = *v;
    }
    return std::unique_ptr<UploadBody>(
        new ChunkedBody(ctx.request().body(), std::move(options), limit, decoded));
  }
  std::optional<crypto::Sha256Digest> expected;
  if (payload.size() == 64) {
    auto digest = HexDecode(payload);
    if (!digest) return S3Fail(S3Reason::kInvalidArgument, "x-amz-content-sha256 is not hex");
    crypto::Sha256Digest d{};
    std::memcpy(d.data(), digest->data(), d.size());
    expected = d;
  }
  return std::unique_ptr<UploadBody>(new PlainBody(ctx.request().body(), expected, limit));
}

}  // namespace veil::cos::api
