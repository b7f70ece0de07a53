// Authentication pieces of the S3 API shared by its handlers: the principal claims a SigV4
// request leaves for the handler, and the UploadBody of a request (plain with an optional signed
// SHA-256, or aws-chunked with chunk signatures or trailers).
//
// Thread-safety: an UploadBody belongs to one request.
#pragma once

#include <memory>
#include <string_view>

#include "common/result.h"
#include "cos/api/cos_api.h"
#include "cos/cos_service.h"
#include "http/context.h"

namespace veil::cos::api {

// Principal claims set by the SigV4 authenticator.
inline constexpr std::string_view kClaimInstance = "cos_instance";
inline constexpr std::string_view kClaimAccessKey = "cos_access_key_id";
inline constexpr std::string_view kClaimSeedSignature = "sigv4_signature";
inline constexpr std::string_view kClaimAmzDate = "sigv4_date";
inline constexpr std::string_view kClaimScopeRegion = "sigv4_region";
inline constexpr std::string_view kClaimScopeDate = "sigv4_scope_date";
inline constexpr std::string_view kClaimPayload = "sigv4_payload";

// The body of `ctx`'s request as plaintext: aws-chunked when Content-Encoding says so (signed
// chunks checked with the credential's signing key; trailers accepted for the unsigned form),
// else the raw body, checked against x-amz-content-sha256 when that is a digest. Refuses a body
// longer than `limit` (EntityTooLarge).
[[nodiscard]] Result<std::unique_ptr<UploadBody>> RequestBody(const CosApiDeps& deps,
                                                              http::RequestContext& ctx,
                                                              uint64_t limit);

}  // namespace veil::cos::api
