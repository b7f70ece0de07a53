// Key Protect's reason codes as Veil's KMS reasons (docs/api-compatibility.md, "Errors").
//
// The KMS service fails with a typed reason: return KmsFail(KmsReason::kKeyDeleted, "...").
// Each reason has a canonical ErrorCode (below, for every caller) and a name, the code word Key
// Protect's clients know ("KEY_DELETED_ERR"). The HTTP status of each reason and the error body
// are the KP dialect's business, in kms/api/errors.h; this library knows no HTTP. The comment
// after each reason gives the status that dialect answers with (documentation only).
// Names marked * are Veil's where Key Protect lists none (docs/kms.md "Errors").
//
// Thread-safety: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace veil::kms {

enum class KmsReason {
  kBadBody,                  // 400 BAD_BODY_ERR
  kBadReq,                   // 400 BAD_REQ_ERR
  kBearerSubExtraction,      // 400 BEARER_SUB_EXTRACTION_ERR
  kBodyQueryParamMismatch,   // 400 BODY_QUERY_PARAM_MISMATCH_ERR
  kCollectionTotalMismatch,  // 400 COLLECTION_TOTAL_MISMATCH_ERR
  kIncorrectNonce,           // 400 INCORRECT_NONCE_ERR
  kIncorrectNonceIv,         // 400 INCORRECT_NONCE_IV_ERR
  kKeyExpired,               // 400 KEY_EXPIRED_ERR
  kKeyImptReq,               // 400 KEY_IMPT_REQ_ERR
  kKeyPayloadReq,            // 400 KEY_PAYLOAD_REQ_ERR
  kKeyRestoreExpired,        // 400 KEY_RESTORE_EXPIRED
  kKeyRootReq,               // 400 KEY_ROOT_REQ_ERR
  kMissingInstanceHeader,    // 400 MISSING_INSTANCE_HEADER_ERR
  kNoBody,                   // 400 NO_BODY_ERR
  kNumCollectionResource,    // 400 NUM_COLLECTION_RESOURCE_ERR
  kUnauthorized,             // 401 UNAUTHORIZED_ERR
  kConfigRuleConflict,       // 403 CONFIG_RULE_CONFLICT_ERR
  kFeatureRestricted,        // 403 FEATURE_RESTRICTED_ERR
  kResourceOwner,            // 403 RESOURCE_OWNER_ERR
  kServiceOnly,              // 403 SERVICE_ONLY_ERR
  kForbidden,                // 403 FORBIDDEN_ERR
  kInstanceNotFound,         // 404 INSTANCE_NOT_FOUND_ERR
  kKeyNotFound,              // 404 KEY_NOT_FOUND_ERR
  kNotFound,                 // 404 NOT_FOUND_ERR
  kMethodNotAllowed,         // 405 METHOD_NOT_ALLOWED_ERR
  kRequestTimeout,           // 408 REQUEST_TIMEOUT_ERR
  kAuthorizationsNotMet,     // 409 AUTHORIZATIONS_NOT_MET
  kConflict,                 // 409 CONFLICT_ERR
  kDuplicateAlias,           // 409 DUPLICATE_ALIAS_ERR
  kImportTokenExpired,       // 409 IMPORT_TOKEN_EXPIRED_ERR
  kKeyActionInvalidState,    // 409 KEY_ACTION_INVALID_STATE_ERR
  kKeyAliasQuota,            // 409 KEY_ALIAS_QUOTA_ERR
  kKeyCreateImportAccess,    // 409 KEY_CREATE_IMPORT_ACCESS_ERR
  kKeyRingNotEmpty,          // 409 KEY_RING_NOT_EMPTY_ERR
  kKeyRotationNotPermitted,  // 409 KEY_ROTATION_NOT_PERMITTED
  kNotDualAuth,              // 409 NOT_DUAL_AUTH_ERR
  kPrevKeyDel,               // 409 PREV_KEY_DEL_ERR
  kProtectedResource,        // 409 PROTECTED_RESOURCE_ERR
  kReqTooEarly,              // 409 REQ_TOO_EARLY_ERR
  kKeyDeleted,               // 410 KEY_DELETED_ERR
  kBodyTooLarge,             // 413 BODY_TOO_LARGE_ERR
  kHeaderTooLarge,           // 431 HEADER_TOO_LARGE_ERR
  kInvalidSigExp,            // 422 INVALID_SIG_EXP_ERR
  kKeyInvalidState,          // 422 KEY_INVALID_STATE_ERR
  kKeyRootReqReg,            // 422 KEY_ROOT_REQ_REG_ERR
  kKeyVersionInvalid,        // 422 KEY_VERSION_INVALID
  kUnprocessableCiphertext,  // 422 UNPROCESSABLE_CIPHERTEXT_ERR
  kTooManyRequests,          // 429 TOO_MANY_REQUESTS_ERR
  kIncompleteMetadata,       // 500 INCOMPLETE_METADATA_ERR
  kInternalServer,           // 500 INTERNAL_SERVER_ERR
  kNotImplemented,           // 501 NOT_IMPLEMENTED_ERR
  kServiceUnavailable,       // 503 SERVICE_UNAVAILABLE_ERR
  kGatewayTimeout,           // 504 GATEWAY_TIMEOUT_ERR
};

const ErrorDomain& ErrorDomainOf(KmsReason reason);
// "KEY_DELETED_ERR".
std::string_view KmsReasonName(KmsReason reason);
// The reason of a name; nullopt for an unknown one.
std::optional<KmsReason> KmsReasonNamed(std::string_view name);

// An error with `reason` and `text` (no secret).
inline Error KmsError(KmsReason reason, std::string text) { return Error(reason, std::move(text)); }
inline tl::unexpected<Error> KmsFail(KmsReason reason, std::string text) {
  return Fail(reason, std::move(text));
}

// The reason an error carries, or the default reason of its ErrorCode for a plain Error
// (kNotFound -> kNotFound, kPermissionDenied and kUnauthenticated -> kUnauthorized,
// kAlreadyExists and kFailedPrecondition -> kConflict, kInternal -> kInternalServer, ...).
KmsReason ReasonOf(const Error& error);

}  // namespace veil::kms
