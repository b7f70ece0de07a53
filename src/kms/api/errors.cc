#include "kms/api/errors.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "http/error_map.h"
#include "kms/api/render.h"

namespace veil::kms::api {
namespace {

// The reason of a rejection the transport made before a handler ran; nullopt for others.
std::optional<KmsReason> ReasonOfTransportStatus(int status) {
  switch (status) {
    case http::kStatusMethodNotAllowed:
      return KmsReason::kMethodNotAllowed;
    case http::kStatusRequestTimeout:
      return KmsReason::kRequestTimeout;
    case http::kStatusPayloadTooLarge:
      return KmsReason::kBodyTooLarge;
    case http::kStatusHeaderTooLarge:
      return KmsReason::kHeaderTooLarge;
    default:
      return std::nullopt;
  }
}

}  // namespace

// No default: -Wswitch names a reason added without its status.
int StatusOf(KmsReason reason) {
  switch (reason) {
    case KmsReason::kBadBody:
    case KmsReason::kBadReq:
    case KmsReason::kBearerSubExtraction:
    case KmsReason::kBodyQueryParamMismatch:
    case KmsReason::kCollectionTotalMismatch:
    case KmsReason::kIncorrectNonce:
    case KmsReason::kIncorrectNonceIv:
    case KmsReason::kKeyExpired:
    case KmsReason::kKeyImptReq:
    case KmsReason::kKeyPayloadReq:
    case KmsReason::kKeyRestoreExpired:
    case KmsReason::kKeyRootReq:
    case KmsReason::kMissingInstanceHeader:
    case KmsReason::kNoBody:
    case KmsReason::kNumCollectionResource:
      return 400;
    case KmsReason::kUnauthorized:
      return 401;
    case KmsReason::kConfigRuleConflict:
    case KmsReason::kFeatureRestricted:
    case KmsReason::kResourceOwner:
    case KmsReason::kServiceOnly:
    case KmsReason::kForbidden:
      return 403;
    case KmsReason::kInstanceNotFound:
    case KmsReason::kKeyNotFound:
    case KmsReason::kNotFound:
      return 404;
    case KmsReason::kMethodNotAllowed:
      return 405;
    case KmsReason::kRequestTimeout:
      return 408;
    case KmsReason::kAuthorizationsNotMet:
    case KmsReason::kConflict:
    case KmsReason::kDuplicateAlias:
    case KmsReason::kImportTokenExpired:
    case KmsReason::kKeyActionInvalidState:
    case KmsReason::kKeyAliasQuota:
    case KmsReason::kKeyCreateImportAccess:
    case KmsReason::kKeyRingNotEmpty:
    case KmsReason::kKeyRotationNotPermitted:
    case KmsReason::kNotDualAuth:
    case KmsReason::kPrevKeyDel:
    case KmsReason::kProtectedResource:
    case KmsReason::kReqTooEarly:
      return 409;
    case KmsReason::kKeyDeleted:
      return 410;
    case KmsReason::kBodyTooLarge:
      return 413;
    case KmsReason::kInvalidSigExp:
    case KmsReason::kKeyInvalidState:
    case KmsReason::kKeyRootReqReg:
    case KmsReason::kKeyVersionInvalid:
    case KmsReason::kUnprocessableCiphertext:
      return 422;
    case KmsReason::kTooManyRequests:
      return 429;
    case KmsReason::kHeaderTooLarge:
      return 431;
    case KmsReason::kIncompleteMetadata:
    case KmsReason::kInternalServer:
      return 500;
    case KmsReason::kNotImplemented:
      return 501;
    case KmsReason::kServiceUnavailable:
      return 503;
    case KmsReason::kGatewayTimeout:
      return 504;
  }
  return 500;
}

KpError KpErrorOf(const Error& error, int transport_status) {
  KpError out;
  out.text = error.message;
  if (auto reason = error.ReasonAs<KmsReason>()) {
    out.reason = *reason;
  } else if (auto transport = ReasonOfTransportStatus(transport_status)) {
    out.reason = *transport;
  } else {
    out.reason = ReasonOf(error);
  }
  out.status = StatusOf(out.reason);
  // UNAUTHORIZED_ERR is listed under 401, but a denial (an authenticated caller without the
  // role) keeps 403, as Key Protect answers it.
  if (error.code == ErrorCode::kPermissionDenied) out.status = 403;
  return out;
}

http::Response RenderKpError(const KpError& error) {
  std::string phrase(http::ReasonPhrase(error.status));
  boost::json::object r;
  r["code"] = KmsReasonName(error.reason);
  r["message"] = error.text;
  r["status"] = error.status;
  r["moreInfo"] = "https://cloud.ibm.com/apidocs/key-protect";
  boost::json::object resource;
  resource["errorMsg"] = phrase + ": " + error.text + ". Please see `reasons` for more details.";
  resource["reasons"] = boost::json::array{r};
  boost::json::object metadata;
  metadata["collectionType"] = internal::kErrorType;
  metadata["collectionTotal"] = 1;
  boost::json::object body;
  body["metadata"] = std::move(metadata);
  body["resources"] = boost::json::array{resource};
  return http::Response::Json(error.status, body);
}

}  // namespace veil::kms::api
