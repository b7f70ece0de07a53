// S3's error codes as the object storage's reasons (docs/cos.md, "Errors").
//
// The cos service fails with a typed reason: return S3Fail(S3Reason::kNoSuchKey, "..."). Each
// reason has a canonical ErrorCode, a name (the <Code> S3 clients know, "NoSuchKey") and the HTTP
// status S3 answers it with. The XML body is the API's business (api/); this library knows no
// HTTP, the status is here only so that the one table stays in one place.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace veil::cos {

enum class S3Reason {
  kAccessDenied,                   // 403
  kAuthorizationHeaderMalformed,   // 400
  kBadDigest,                      // 400
  kBucketAlreadyExists,            // 409
  kBucketAlreadyOwnedByYou,        // 409
  kBucketNotEmpty,                 // 409
  kEntityTooLarge,                 // 400
  kEntityTooSmall,                 // 400
  kIncompleteBody,                 // 400
  kInternalError,                  // 500
  kInvalidAccessKeyId,             // 403
  kInvalidArgument,                // 400
  kInvalidBucketName,              // 400
  kInvalidDigest,                  // 400
  kInvalidLocationConstraint,      // 400
  kInvalidPart,                    // 400
  kInvalidPartOrder,               // 400
  kInvalidRange,                   // 416
  kInvalidRequest,                 // 400
  kKmsDisabled,                    // 403 KMS.DisabledException
  kKmsInvalidState,                // 403 KMS.KMSInvalidStateException (deleted root key)
  kKmsNotFound,                    // 400 KMS.NotFoundException
  kKmsAccessDenied,                // 403 KMS.AccessDeniedException (no cos -> kms authorization)
  kMalformedXml,                   // 400 MalformedXML
  kMethodNotAllowed,               // 405
  kMissingContentLength,           // 411
  kMissingSecurityHeader,          // 400
  kNoSuchBucket,                   // 404
  kNoSuchKey,                      // 404
  kNoSuchUpload,                   // 404
  kNoSuchEncryptionConfiguration,  // 404 ServerSideEncryptionConfigurationNotFoundError
  kNotImplemented,                 // 501
  kNotModified,                    // 304
  kPreconditionFailed,             // 412
  kRequestTimeTooSkewed,           // 403
  kRequestTimeout,                 // 400
  kServiceUnavailable,             // 503
  kSignatureDoesNotMatch,          // 403
  kSlowDown,                       // 503
  kContentSha256Mismatch,          // 400 XAmzContentSHA256Mismatch
  kExpiredToken,                   // 400 (an expired presigned URL is AccessDenied, as S3)
};

const ErrorDomain& ErrorDomainOf(S3Reason reason);
// "NoSuchKey".
std::string_view S3ReasonName(S3Reason reason);
// The HTTP status S3 answers the reason with.
int S3ReasonStatus(S3Reason reason);

inline Error S3Error(S3Reason reason, std::string text) { return Error(reason, std::move(text)); }
inline tl::unexpected<Error> S3Fail(S3Reason reason, std::string text) {
  return Fail(reason, std::move(text));
}

// The reason an error carries, or S3's code for a plain Error of that ErrorCode (kNotFound ->
// NoSuchKey, kPermissionDenied -> AccessDenied, kInvalidArgument -> InvalidArgument,
// kResourceExhausted -> EntityTooLarge, kUnavailable -> ServiceUnavailable, ...).
S3Reason S3ReasonOf(const Error& error);

}  // namespace veil::cos
