// Key Protect reason codes (docs/api-compatibility.md, "Errors") in Veil's one error model.
//
// An Error the KMS returns may carry a reason code: its message is "<REASON>: <text>", where
// <REASON> is one of the codes below. KmsError() builds such errors with the ErrorCode that
// matches the reason's HTTP status; ReasonOf() reads the reason back (or picks the default
// reason for a plain Error's code), and StatusOfReason() gives the status the error body
// carries. The KP error dialect (api/errors.h) renders them.
//
//   400 BAD_BODY_ERR, BODY_QUERY_PARAM_MISMATCH_ERR, COLLECTION_TOTAL_MISMATCH_ERR,
//       INCORRECT_NONCE_ERR, INCORRECT_NONCE_IV_ERR, KEY_EXPIRED_ERR, KEY_IMPT_REQ_ERR,
//       KEY_PAYLOAD_REQ_ERR, KEY_RESTORE_EXPIRED, KEY_ROOT_REQ_ERR, NO_BODY_ERR,
//       NUM_COLLECTION_RESOURCE_ERR, MISSING_INSTANCE_HEADER_ERR*, BAD_REQ_ERR*
//   401 UNAUTHORIZED_ERR          403 UNAUTHORIZED_ERR (denied), SERVICE_ONLY_ERR,
//                                     KEY_CREATE_IMPORT_ACCESS_ERR is 409 (spec)
//   404 KEY_NOT_FOUND_ERR*, NOT_FOUND_ERR*, INSTANCE_NOT_FOUND_ERR*
//   409 AUTHORIZATIONS_NOT_MET, IMPORT_TOKEN_EXPIRED_ERR, KEY_ACTION_INVALID_STATE_ERR,
//       KEY_CREATE_IMPORT_ACCESS_ERR, KEY_ROTATION_NOT_PERMITTED, NOT_DUAL_AUTH_ERR,
//       PREV_KEY_DEL_ERR, PROTECTED_RESOURCE_ERR, REQ_TOO_EARLY_ERR, KEY_ALIAS_QUOTA_ERR*,
//       DUPLICATE_ALIAS_ERR*, KEY_RING_NOT_EMPTY_ERR*, CONFLICT_ERR*
//   410 KEY_DELETED_ERR
//   413 BODY_TOO_LARGE_ERR*       429 TOO_MANY_REQUESTS_ERR*
//   422 KEY_INVALID_STATE_ERR, KEY_VERSION_INVALID, UNPROCESSABLE_CIPHERTEXT_ERR
//   500 INTERNAL_SERVER_ERR*, INCOMPLETE_METADATA_ERR     503 SERVICE_UNAVAILABLE_ERR*
// (* Veil's names where Key Protect lists none; docs/kms.md "Errors".)
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"

namespace veil::kms {

// An error with `reason` (one of the codes above; VEIL_CHECKed) and `text` (no secret).
Error KmsError(std::string_view reason, std::string_view text);
inline tl::unexpected<Error> KmsFail(std::string_view reason, std::string_view text) {
  return tl::unexpected<Error>(KmsError(reason, text));
}

struct Reason {
  std::string code;
  std::string text;  // the message without the reason prefix
  int status = 500;
};

// The reason an error carries, or the default reason of its ErrorCode (kNotFound ->
// NOT_FOUND_ERR 404, kPermissionDenied -> UNAUTHORIZED_ERR 403, ...). `http_status`, when given,
// is the status the transport chose (405, 408, 413, 431) and wins for plain errors.
Reason ReasonOf(const Error& error, int http_status = 0);

// The status of a known reason code; 0 for an unknown one.
int StatusOfReason(std::string_view code);

}  // namespace veil::kms
