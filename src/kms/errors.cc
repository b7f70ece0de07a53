#include "kms/errors.h"

#include <array>

namespace veil::kms {
namespace {

struct ReasonInfo {
  KmsReason reason;
  std::string_view name;
  ErrorCode code;
};

constexpr std::array kReasons = std::to_array<ReasonInfo>({
    {KmsReason::kBadBody, "BAD_BODY_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kBadReq, "BAD_REQ_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kBearerSubExtraction, "BEARER_SUB_EXTRACTION_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kBodyQueryParamMismatch, "BODY_QUERY_PARAM_MISMATCH_ERR",
     ErrorCode::kInvalidArgument},
    {KmsReason::kCollectionTotalMismatch, "COLLECTION_TOTAL_MISMATCH_ERR",
     ErrorCode::kInvalidArgument},
    {KmsReason::kIncorrectNonce, "INCORRECT_NONCE_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kIncorrectNonceIv, "INCORRECT_NONCE_IV_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyExpired, "KEY_EXPIRED_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyImptReq, "KEY_IMPT_REQ_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyPayloadReq, "KEY_PAYLOAD_REQ_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyRestoreExpired, "KEY_RESTORE_EXPIRED", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyRootReq, "KEY_ROOT_REQ_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kMissingInstanceHeader, "MISSING_INSTANCE_HEADER_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kNoBody, "NO_BODY_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kNumCollectionResource, "NUM_COLLECTION_RESOURCE_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kUnauthorized, "UNAUTHORIZED_ERR", ErrorCode::kUnauthenticated},
    {KmsReason::kConfigRuleConflict, "CONFIG_RULE_CONFLICT_ERR", ErrorCode::kPermissionDenied},
    {KmsReason::kFeatureRestricted, "FEATURE_RESTRICTED_ERR", ErrorCode::kPermissionDenied},
    {KmsReason::kResourceOwner, "RESOURCE_OWNER_ERR", ErrorCode::kPermissionDenied},
    {KmsReason::kServiceOnly, "SERVICE_ONLY_ERR", ErrorCode::kPermissionDenied},
    {KmsReason::kForbidden, "FORBIDDEN_ERR", ErrorCode::kPermissionDenied},
    {KmsReason::kInstanceNotFound, "INSTANCE_NOT_FOUND_ERR", ErrorCode::kNotFound},
    {KmsReason::kKeyNotFound, "KEY_NOT_FOUND_ERR", ErrorCode::kNotFound},
    {KmsReason::kNotFound, "NOT_FOUND_ERR", ErrorCode::kNotFound},
    {KmsReason::kMethodNotAllowed, "METHOD_NOT_ALLOWED_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kRequestTimeout, "REQUEST_TIMEOUT_ERR", ErrorCode::kDeadlineExceeded},
    {KmsReason::kAuthorizationsNotMet, "AUTHORIZATIONS_NOT_MET", ErrorCode::kFailedPrecondition},
    {KmsReason::kConflict, "CONFLICT_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kDuplicateAlias, "DUPLICATE_ALIAS_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kImportTokenExpired, "IMPORT_TOKEN_EXPIRED_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kKeyActionInvalidState, "KEY_ACTION_INVALID_STATE_ERR",
     ErrorCode::kFailedPrecondition},
    {KmsReason::kKeyAliasQuota, "KEY_ALIAS_QUOTA_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kKeyCreateImportAccess, "KEY_CREATE_IMPORT_ACCESS_ERR",
     ErrorCode::kFailedPrecondition},
    {KmsReason::kKeyRingNotEmpty, "KEY_RING_NOT_EMPTY_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kKeyRotationNotPermitted, "KEY_ROTATION_NOT_PERMITTED",
     ErrorCode::kFailedPrecondition},
    {KmsReason::kNotDualAuth, "NOT_DUAL_AUTH_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kPrevKeyDel, "PREV_KEY_DEL_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kProtectedResource, "PROTECTED_RESOURCE_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kReqTooEarly, "REQ_TOO_EARLY_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kKeyDeleted, "KEY_DELETED_ERR", ErrorCode::kFailedPrecondition},
    {KmsReason::kBodyTooLarge, "BODY_TOO_LARGE_ERR", ErrorCode::kResourceExhausted},
    {KmsReason::kHeaderTooLarge, "HEADER_TOO_LARGE_ERR", ErrorCode::kResourceExhausted},
    {KmsReason::kInvalidSigExp, "INVALID_SIG_EXP_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyInvalidState, "KEY_INVALID_STATE_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyRootReqReg, "KEY_ROOT_REQ_REG_ERR", ErrorCode::kInvalidArgument},
    {KmsReason::kKeyVersionInvalid, "KEY_VERSION_INVALID", ErrorCode::kInvalidArgument},
    {KmsReason::kUnprocessableCiphertext, "UNPROCESSABLE_CIPHERTEXT_ERR",
     ErrorCode::kInvalidArgument},
    {KmsReason::kTooManyRequests, "TOO_MANY_REQUESTS_ERR", ErrorCode::kResourceExhausted},
    {KmsReason::kIncompleteMetadata, "INCOMPLETE_METADATA_ERR", ErrorCode::kInternal},
    {KmsReason::kInternalServer, "INTERNAL_SERVER_ERR", ErrorCode::kInternal},
    {KmsReason::kNotImplemented, "NOT_IMPLEMENTED_ERR", ErrorCode::kUnimplemented},
    {KmsReason::kServiceUnavailable, "SERVICE_UNAVAILABLE_ERR", ErrorCode::kUnavailable},
    {KmsReason::kGatewayTimeout, "GATEWAY_TIMEOUT_ERR", ErrorCode::kDeadlineExceeded},
});

const ReasonInfo* Find(KmsReason reason) {
  for (const ReasonInfo& r : kReasons) {
    if (r.reason == reason) return &r;
  }
  return nullptr;
}

ErrorCode CodeOf(int value) {
  const ReasonInfo* r = Find(static_cast<KmsReason>(value));
  return r ? r->code : ErrorCode::kInternal;
}

std::string_view NameOf(int value) { return KmsReasonName(static_cast<KmsReason>(value)); }

constexpr ErrorDomain kKmsDomain{"kms", &CodeOf, &NameOf};

}  // namespace

const ErrorDomain& ErrorDomainOf(KmsReason) { return kKmsDomain; }

std::string_view KmsReasonName(KmsReason reason) {
  const ReasonInfo* r = Find(reason);
  return r ? r->name : std::string_view("INTERNAL_SERVER_ERR");
}

std::optional<KmsReason> KmsReasonNamed(std::string_view name) {
  for (const ReasonInfo& r : kReasons) {
    if (r.name == name) return r.reason;
  }
  return std::nullopt;
}

KmsReason ReasonOf(const Error& error) {
  if (auto reason = error.ReasonAs<KmsReason>()) return *reason;
  switch (error.code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
      return KmsReason::kBadBody;
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied:
      return KmsReason::kUnauthorized;
    case ErrorCode::kNotFound:
      return KmsReason::kNotFound;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
      return KmsReason::kConflict;
    case ErrorCode::kResourceExhausted:
      return KmsReason::kTooManyRequests;
    case ErrorCode::kUnavailable:
      return KmsReason::kServiceUnavailable;
    case ErrorCode::kDeadlineExceeded:
      return KmsReason::kGatewayTimeout;
    case ErrorCode::kUnimplemented:
      return KmsReason::kNotImplemented;
    default:
      return KmsReason::kInternalServer;
  }
}

}  // namespace veil::kms
