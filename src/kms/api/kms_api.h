// The KMS's HTTP API: Key Protect v2 under /api/v2/ (docs/kms.md; docs/api-compatibility.md).
//
//   POST|GET|HEAD /api/v2/keys                          create/import, list, total (Key-Total)
//   GET|PATCH|DELETE /api/v2/keys/{id}                  get (payload: standard keys), move ring,
//                                                       delete (?force=true, prefer)
//   POST /api/v2/keys/{id}?action=<name>                the older action form
//   POST /api/v2/keys/{id}/actions/<name>               wrap unwrap rewrap rotate disable enable
//                                                       setKeyForDeletion unsetKeyForDeletion sync
//                                                       restore
//   GET /api/v2/keys/{id}/metadata, /versions           metadata, versions
//   POST /api/v2/keys/{id}/restore, DELETE .../purge    restore, purge
//   GET|PUT /api/v2/keys/{id}/policies                  rotation, dualAuthDelete
//   GET|PUT /api/v2/instance/policies                   instance policies
//   POST|DELETE /api/v2/keys/{id}/aliases/{alias}       aliases
//   POST|DELETE /api/v2/key_rings/{id}, GET key_rings   key rings
//   GET /api/v2/keys/{id}/registrations, GET /api/v2/keys/registrations?urlEncodedResourceCRNQuery
//   POST|PATCH|PUT|DELETE /api/v2/keys/{id}/registrations/{crn}   (service principals only)
//   POST|GET /api/v2/import_token
//
// Each handler: resolve the `bluemix-instance` → authenticate (the server's authenticator) →
// parse → authorize with IAM (deny by default; action names are Key Protect's audit actions)
// → one KmsService call → render. Errors render in Key Protect's dialect (errors.h) with its
// reason codes and statuses; the audit event gets the action, target CRN, severity and Key
// Protect's requestData/responseData fields, never a payload, DEK or nonce.
//
// Thread-safety: handlers run concurrently; every dependency is thread-safe.
#pragma once

#include <functional>
#include <string_view>

#include "common/result.h"
#include "http/context.h"
#include "http/router.h"
#include "iam/authorizer.h"
#include "kms/kms_service.h"

namespace veil::kms::api {

// The KMS instance a `bluemix-instance` GUID names: kNotFound when the resource controller has
// no such instance, or when it is not a "kms" instance.
using InstanceResolver = std::function<Result<InstanceRef>(std::string_view guid)>;

// Not owned: everything must outlive the server the router is handed to.
struct KmsApiDeps {
  KmsService* service = nullptr;
  iam::Authorizer* authorizer = nullptr;
  InstanceResolver resolve_instance;
};

// Adds the routes above. kInvalidArgument when a dependency is missing.
[[nodiscard]] Status AddKmsRoutes(http::Router& router, const KmsApiDeps& deps);

// The renderer for the kms server's ServerHooks: every error in Key Protect's body (with
// Cache-Control: no-store).
http::ErrorRenderer KmsErrorRenderer();
// The status for the kms server's ServerHooks: Key Protect's status of the error's reason code
// (errors.h), e.g. 410 for KEY_DELETED_ERR.
http::ErrorStatusFn KmsErrorStatus();

}  // namespace veil::kms::api
