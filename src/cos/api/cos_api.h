// The object storage's HTTP API: S3 (docs/cos.md lists every operation and what is left out).
//
//   GET /                                       ListBuckets (of the credential's or the
//                                               ibm-service-instance-id's instance)
//   PUT|HEAD|DELETE /{bucket}                   CreateBucket (SSE-KP headers, LocationConstraint),
//                                               HeadBucket, DeleteBucket
//   GET /{bucket}                               ListObjects v1 / v2 (?list-type=2), ?location,
//                                               ?encryption
//   PUT|DELETE /{bucket}?encryption             Put/DeleteBucketEncryption (aws:kms)
//   PUT|GET|HEAD|DELETE /{bucket}/{key+}        PutObject, GetObject (Range, conditions,
//                                               response-* overrides), HeadObject, DeleteObject
// Path style (/{bucket}/{key}) and virtual-hosted style (Host: {bucket}.{suffix}) both work.
//
// Each request: authenticate (MakeCosAuthenticator: SigV4 with an HMAC credential, or an IAM
// bearer token) → resolve the bucket → authorize with IAM as the credential's service ID or the
// token's subject, on the bucket's instance (deny by default) → one CosService call → S3 XML.
// Every response carries x-amz-request-id; errors are S3's XML with Code, Message, Resource and
// RequestId (errors.h). The audit event gets IBM's object storage action names and the bucket's
// CRN, never a signature or a presigned URL's query.
//
// Thread-safety: handlers run concurrently; every dependency is thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "cos/cos_service.h"
#include "http/router.h"
#include "http/server.h"
#include "iam/authorizer.h"

namespace veil::cos::api {

// What an HMAC access key id stands for (IAM's resource keys).
struct HmacIdentity {
  SecretBytes secret_access_key;
  std::string access_key_id;
  std::string iam_id;  // the service ID the key acts as
  std::string account_id;
  std::string instance_guid;  // the cloud-object-storage instance it belongs to
  std::string name;
};
// kNotFound when no active key has this id.
using HmacLookup = std::function<Result<HmacIdentity>(std::string_view access_key_id)>;

// A cloud-object-storage instance as the resource controller knows it.
struct CosInstance {
  std::string guid;
  std::string account_id;
};
// kNotFound when there is no active cloud-object-storage instance of that GUID.
using CosInstanceResolver = std::function<Result<CosInstance>(std::string_view guid)>;

// Not owned: everything must outlive the server the router is handed to.
struct CosApiDeps {
  CosService* service = nullptr;
  iam::Authorizer* authorizer = nullptr;
  CosInstanceResolver resolve_instance;
  HmacLookup lookup_hmac;
  const Clock* clock = nullptr;
  // Host suffixes of virtual-hosted-style requests: Host "<bucket>.<suffix>[:port]".
  std::vector<std::string> virtual_host_suffixes = {"s3.localhost", "localhost"};
  // The largest single PUT (S3: 5 GiB); larger objects go through multipart.
  uint64_t max_put_bytes = 5ull << 30;
};

// Adds the routes above. kInvalidArgument when a dependency is missing.
[[nodiscard]] Status AddCosRoutes(http::Router& router, const CosApiDeps& deps);

// SigV4 (header or presigned query) with `deps.lookup_hmac`, else `bearer` (IAM tokens); no
// credentials: anonymous (every route refuses it). A bad signature is SignatureDoesNotMatch, an
// unknown key InvalidAccessKeyId, a clock more than 15 minutes off RequestTimeTooSkewed, an
// expired presigned URL AccessDenied.
http::Authenticator MakeCosAuthenticator(const CosApiDeps& deps, http::Authenticator bearer);

// S3's XML error body with x-amz-request-id, for the cos server's ServerHooks.
http::ErrorRenderer CosErrorRenderer();
// S3's status for the error's reason (errors.h).
http::ErrorStatusFn CosErrorStatus();

}  // namespace veil::cos::api
