// Key Protect's error dialect: the HTTP status of each KMS reason and the error body.
//
// The KMS service fails with typed reasons (kms/errors.h); this file is the one place that
// gives each its status, e.g. kKeyDeleted (KEY_DELETED_ERR) 410, kUnprocessableCiphertext 422.
// A plain Error (no KmsReason) is answered with the default reason of its code. A rejection by
// the transport (405, 408, 413, 431) keeps the status the server chose and takes its reason
// from it. The body:
//   {"metadata":{"collectionType":"application/vnd.ibm.kms.error+json","collectionTotal":1},
//    "resources":[{"errorMsg":"Gone: <text>. Please see `reasons` for more details.",
//                  "reasons":[{"code":"KEY_DELETED_ERR","message":"<text>","status":410,
//                              "moreInfo":"..."}]}]}
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "common/result.h"
#include "http/context.h"
#include "kms/errors.h"

namespace veil::kms::api {

// Key Protect's status for `reason`.
int StatusOf(KmsReason reason);

// An error as the dialect answers it.
struct KpError {
  KmsReason reason = KmsReason::kInternalServer;
  std::string text;
  int status = 500;
};

// `transport_status`, when not 0, is the status the server chose for a rejection (405, 408,
// 413, 431) and wins for a plain Error.
KpError KpErrorOf(const Error& error, int transport_status = 0);

// The body above, with `error.status`.
http::Response RenderKpError(const KpError& error);

}  // namespace veil::kms::api
