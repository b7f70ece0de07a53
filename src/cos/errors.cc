#include "cos/errors.h"

#include <array>

namespace veil::cos {
namespace {

struct ReasonInfo {
  S3Reason reason;
  std::string_view name;
  ErrorCode code;
  int status;
};

constexpr std::array kReasons = std::to_array<ReasonInfo>({
    {S3Reason::kAccessDenied, "AccessDenied", ErrorCode::kPermissionDenied, 403},
    {S3Reason::kAuthorizationHeaderMalformed, "AuthorizationHeaderMalformed",
     ErrorCode::kInvalidArgument, 400},
    {S3Reason::kBadDigest, "BadDigest", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kBucketAlreadyExists, "BucketAlreadyExists", ErrorCode::kAlreadyExists, 409},
    {S3Reason::kBucketAlreadyOwnedByYou, "BucketAlreadyOwnedByYou", ErrorCode::kAlreadyExists, 409},
    {S3Reason::kBucketNotEmpty, "BucketNotEmpty", ErrorCode::kFailedPrecondition, 409},
    {S3Reason::kEntityTooLarge, "EntityTooLarge", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kEntityTooSmall, "EntityTooSmall", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kIncompleteBody, "IncompleteBody", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kInternalError, "InternalError", ErrorCode::kInternal, 500},
    {S3Reason::kInvalidAccessKeyId, "InvalidAccessKeyId", ErrorCode::kPermissionDenied, 403},
    {S3Reason::kInvalidArgument, "InvalidArgument", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kInvalidBucketName, "InvalidBucketName", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kInvalidDigest, "InvalidDigest", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kInvalidLocationConstraint, "InvalidLocationConstraint", ErrorCode::kInvalidArgument,
     400},
    {S3Reason::kInvalidPart, "InvalidPart", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kInvalidPartOrder, "InvalidPartOrder", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kInvalidRange, "InvalidRange", ErrorCode::kOutOfRange, 416},
    {S3Reason::kInvalidRequest, "InvalidRequest", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kKmsDisabled, "KMS.DisabledException", ErrorCode::kFailedPrecondition, 403},
    {S3Reason::kKmsInvalidState, "KMS.KMSInvalidStateException", ErrorCode::kFailedPrecondition,
     403},
    {S3Reason::kKmsNotFound, "KMS.NotFoundException", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kKmsAccessDenied, "KMS.AccessDeniedException", ErrorCode::kPermissionDenied, 403},
    {S3Reason::kMalformedXml, "MalformedXML", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kMethodNotAllowed, "MethodNotAllowed", ErrorCode::kInvalidArgument, 405},
    {S3Reason::kMissingContentLength, "MissingContentLength", ErrorCode::kInvalidArgument, 411},
    {S3Reason::kMissingSecurityHeader, "MissingSecurityHeader", ErrorCode::kInvalidArgument, 400},
    {S3Reason::kNoSuchBucket, "NoSuchBucket", ErrorCode::kNotFound, 404},
    {S3Reason::kNoSuchKey, "NoSuchKey", ErrorCode::kNotFound, 404},
    {S3Reason::kNoSuchUpload, "NoSuchUpload", ErrorCode::kNotFound, 404},
    {S3Reason::kNoSuchEncryptionConfiguration, "ServerSideEncryptionConfigurationNotFoundError",
     ErrorCode::kNotFound, 404},
    {S3Reason::kNotImplemented, "NotImplemented", ErrorCode::kUnimplemented, 501},
    {S3Reason::kNotModified, "NotModified", ErrorCode::kFailedPrecondition, 304},
    {S3Reason::kPreconditionFailed, "PreconditionFailed", ErrorCode::kFailedPrecondition, 412},
    {S3Reason::kRequestTimeTooSkewed, "RequestTimeTooSkewed", ErrorCode::kPermissionDenied, 403},
    {S3Reason::kRequestTimeout, "RequestTimeout", ErrorCode::kDeadlineExceeded, 400},
    {S3Reason::kServiceUnavailable, "ServiceUnavailable", ErrorCode::kUnavailable, 503},
    {S3Reason::kSignatureDoesNotMatch, "SignatureDoesNotMatch", ErrorCode::kPermissionDenied, 403},
    {S3Reason::kSlowDown, "SlowDown", ErrorCode::kResourceExhausted, 503},
    {S3Reason::kContentSha256Mismatch, "XAmzContentSHA256Mismatch", ErrorCode::kInvalidArgument,
     400},
    {S3Reason::kExpiredToken, "ExpiredToken", ErrorCode::kInvalidArgument, 400},
});

const ReasonInfo& Find(S3Reason reason) {
  for (const ReasonInfo& r : kReasons) {
    if (r.reason == reason) return r;
  }
  return kReasons[static_cast<size_t>(S3Reason::kInternalError)];
}

ErrorCode CodeOf(int value) { return Find(static_cast<S3Reason>(value)).code; }
std::string_view NameOf(int value) { return Find(static_cast<S3Reason>(value)).name; }

constexpr ErrorDomain kS3Domain{"s3", &CodeOf, &NameOf};

}  // namespace

const ErrorDomain& ErrorDomainOf(S3Reason) { return kS3Domain; }
std::string_view S3ReasonName(S3Reason reason) { return Find(reason).name; }
int S3ReasonStatus(S3Reason reason) { return Find(reason).status; }

S3Reason S3ReasonOf(const Error& error) {
  if (auto reason = error.ReasonAs<S3Reason>()) return *reason;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
      return S3Reason::kInvalidArgument;
    case ErrorCode::kOutOfRange:
      return S3Reason::kInvalidRange;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied:
      return S3Reason::kAccessDenied;
    case ErrorCode::kNotFound:
      return S3Reason::kNoSuchKey;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
      return S3Reason::kInvalidRequest;
    case ErrorCode::kResourceExhausted:
      return S3Reason::kEntityTooLarge;
    case ErrorCode::kUnavailable:
      return S3Reason::kServiceUnavailable;
    case ErrorCode::kDeadlineExceeded:
      return S3Reason::kRequestTimeout;
    case ErrorCode::kUnimplemented:
      return S3Reason::kNotImplemented;
    default:
      return S3Reason::kInternalError;
  }
}

}  // namespace veil::cos
