#include "kms/errors.h"

#include <array>
#include <utility>

namespace veil::kms {
namespace {

struct ReasonInfo {
  std::string_view code;
  int status;
};

constexpr std::array kReasons = std::to_array<ReasonInfo>({
    {"BAD_BODY_ERR", 400},
    {"BAD_REQ_ERR", 400},
    {"BEARER_SUB_EXTRACTION_ERR", 400},
    {"BODY_QUERY_PARAM_MISMATCH_ERR", 400},
    {"COLLECTION_TOTAL_MISMATCH_ERR", 400},
    {"INCORRECT_NONCE_ERR", 400},
    {"INCORRECT_NONCE_IV_ERR", 400},
    {"KEY_EXPIRED_ERR", 400},
    {"KEY_IMPT_REQ_ERR", 400},
    {"KEY_PAYLOAD_REQ_ERR", 400},
    {"KEY_RESTORE_EXPIRED", 400},
    {"KEY_ROOT_REQ_ERR", 400},
    {"MISSING_INSTANCE_HEADER_ERR", 400},
    {"NO_BODY_ERR", 400},
    {"NUM_COLLECTION_RESOURCE_ERR", 400},
    {"UNAUTHORIZED_ERR", 401},
    {"CONFIG_RULE_CONFLICT_ERR", 403},
    {"FEATURE_RESTRICTED_ERR", 403},
    {"RESOURCE_OWNER_ERR", 403},
    {"SERVICE_ONLY_ERR", 403},
    {"FORBIDDEN_ERR", 403},
    {"INSTANCE_NOT_FOUND_ERR", 404},
    {"KEY_NOT_FOUND_ERR", 404},
    {"NOT_FOUND_ERR", 404},
    {"METHOD_NOT_ALLOWED_ERR", 405},
    {"REQUEST_TIMEOUT_ERR", 408},
    {"AUTHORIZATIONS_NOT_MET", 409},
    {"CONFLICT_ERR", 409},
    {"DUPLICATE_ALIAS_ERR", 409},
    {"IMPORT_TOKEN_EXPIRED_ERR", 409},
    {"KEY_ACTION_INVALID_STATE_ERR", 409},
    {"KEY_ALIAS_QUOTA_ERR", 409},
    {"KEY_CREATE_IMPORT_ACCESS_ERR", 409},
    {"KEY_RING_NOT_EMPTY_ERR", 409},
    {"KEY_ROTATION_NOT_PERMITTED", 409},
    {"NOT_DUAL_AUTH_ERR", 409},
    {"PREV_KEY_DEL_ERR", 409},
    {"PROTECTED_RESOURCE_ERR", 409},
    {"REQ_TOO_EARLY_ERR", 409},
    {"KEY_DELETED_ERR", 410},
    {"BODY_TOO_LARGE_ERR", 413},
    {"HEADER_TOO_LARGE_ERR", 431},
    {"INVALID_SIG_EXP_ERR", 422},
    {"KEY_INVALID_STATE_ERR", 422},
    {"KEY_ROOT_REQ_REG_ERR", 422},
    {"KEY_VERSION_INVALID", 422},
    {"UNPROCESSABLE_CIPHERTEXT_ERR", 422},
    {"TOO_MANY_REQUESTS_ERR", 429},
    {"INCOMPLETE_METADATA_ERR", 500},
    {"INTERNAL_SERVER_ERR", 500},
    {"NOT_IMPLEMENTED_ERR", 501},
    {"SERVICE_UNAVAILABLE_ERR", 503},
    {"GATEWAY_TIMEOUT_ERR", 504},
});

ErrorCode CodeForStatus(int status) {
  switch (status) {
    case 400:
    case 422:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
    case 410:
      return ErrorCode::kFailedPrecondition;
    case 413:
    case 429:
      return ErrorCode::kResourceExhausted;
    case 501:
      return ErrorCode::kUnimplemented;
    case 503:
      return ErrorCode::kUnavailable;
    case 504:
      return ErrorCode::kDeadlineExceeded;
    default:
      return ErrorCode::kInternal;
  }
}

std::string_view DefaultReason(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
      return "BAD_BODY_ERR";
    case ErrorCode::kUnauthenticated:
    case ErrorCode::kPermissionDenied:
      return "UNAUTHORIZED_ERR";
    case ErrorCode::kNotFound:
      return "NOT_FOUND_ERR";
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
      return "CONFLICT_ERR";
    case ErrorCode::kResourceExhausted:
      return "TOO_MANY_REQUESTS_ERR";
    case ErrorCode::kUnavailable:
      return "SERVICE_UNAVAILABLE_ERR";
    case ErrorCode::kDeadlineExceeded:
      return "GATEWAY_TIMEOUT_ERR";
    case ErrorCode::kUnimplemented:
      return "NOT_IMPLEMENTED_ERR";
    default:
      return "INTERNAL_SERVER_ERR";
  }
}

std::string_view ReasonForTransportStatus(int status) {
  switch (status) {
    case 405:
      return "METHOD_NOT_ALLOWED_ERR";
    case 408:
      return "REQUEST_TIMEOUT_ERR";
    case 413:
      return "BODY_TOO_LARGE_ERR";
    case 431:
      return "HEADER_TOO_LARGE_ERR";
    default:
      return {};
  }
}

}  // namespace

int StatusOfReason(std::string_view code) {
  for (const ReasonInfo& r : kReasons) {
    if (r.code == code) return r.status;
  }
  return 0;
}

Error KmsError(std::string_view reason, std::string_view text) {
  int status = StatusOfReason(reason);
  VEIL_CHECK_MSG(status != 0, "unknown KMS reason code");
  std::string message(reason);
  message += ": ";
  message += text;
  return Error(CodeForStatus(status), std::move(message));
}

Reason ReasonOf(const Error& error, int http_status) {
  const std::string& m = error.message;
  size_t colon = m.find(": ");
  if (colon != std::string::npos) {
    std::string_view code(m.data(), colon);
    if (int status = StatusOfReason(code); status != 0) {
      return {std::string(code), m.substr(colon + 2), status};
    }
  }
  if (std::string_view transport = ReasonForTransportStatus(http_status); !transport.empty()) {
    return {std::string(transport), m, http_status};
  }
  std::string_view code = DefaultReason(error.code);
  int status = StatusOfReason(code);
  if (error.code == ErrorCode::kUnauthenticated) status = 401;
  if (error.code == ErrorCode::kPermissionDenied) status = 403;
  if (error.code == ErrorCode::kAlreadyExists || error.code == ErrorCode::kFailedPrecondition) {
    status = 409;
  }
  return {std::string(code), m, status};
}

}  // namespace veil::kms
