// What every S3 handler shares: the bucket and key a request names (path or virtual-hosted
// style), the caller's subject and instance, authorization, the audit event, and S3's
// conventions for dates, ETags and headers.
//
// Thread-safety: pure functions over the request.
#pragma once

#include <string>
#include <string_view>

#include "common/result.h"
#include "cos/api/cos_api.h"
#include "cos/model.h"
#include "http/context.h"
#include "http/response.h"

namespace veil::cos::api {

inline constexpr std::string_view kS3Xmlns = "http://s3.amazonaws.com/doc/2006-03-01/";

// What an S3 operation is to IAM (the action a role must allow: IBM's object storage IAM
// actions, iam/action_table.h) and to the audit trail (IBM's Activity Tracker event names).
// docs/cos.md "Roles and actions" has the table.
struct OpAction {
  std::string_view iam;
  std::string_view audit;
};
namespace op {
#define VEIL_COS_OP(name, iam_action, audit_action)                          \
  inline constexpr OpAction name {                                           \
    "cloud-object-storage." iam_action, "cloud-object-storage." audit_action \
  }
VEIL_COS_OP(kListBuckets, "account.get_account_buckets", "bucket.list");
VEIL_COS_OP(kCreateBucket, "bucket.put_bucket", "bucket.create");
VEIL_COS_OP(kHeadBucket, "bucket.head", "bucket-metadata.read");
VEIL_COS_OP(kDeleteBucket, "bucket.delete_bucket", "bucket.delete");
VEIL_COS_OP(kGetLocation, "bucket.get_location", "bucket-location.read");
VEIL_COS_OP(kGetEncryption, "bucket.list_crk_id", "bucket-encryption.read");
VEIL_COS_OP(kPutEncryption, "bucket.put_encryption", "bucket-encryption.update");
VEIL_COS_OP(kDeleteEncryption, "bucket.delete_encryption", "bucket-encryption.delete");
VEIL_COS_OP(kListObjects, "bucket.get", "object.list");
VEIL_COS_OP(kListUploads, "bucket.get_uploads", "bucket-multipart.list");
VEIL_COS_OP(kPutObject, "object.put", "object.create");
VEIL_COS_OP(kGetObject, "object.get", "object.read");
VEIL_COS_OP(kHeadObject, "object.head", "object-metadata.read");
VEIL_COS_OP(kDeleteObject, "object.delete", "object.delete");
VEIL_COS_OP(kDeleteObjects, "object.post_multi_delete", "object-batch.delete");
VEIL_COS_OP(kCopyObject, "object.copy", "object.copy");
VEIL_COS_OP(kCopySource, "object.copy_get", "object.copy");
VEIL_COS_OP(kPartCopySource, "object.copy_part_get", "object-multipart.copy");
VEIL_COS_OP(kStartUpload, "object.post_initiate_upload", "object-multipart.start");
VEIL_COS_OP(kUploadPart, "object.put_part", "object-multipart.upload");
VEIL_COS_OP(kCopyPart, "object.copy_part", "object-multipart.copy");
VEIL_COS_OP(kCompleteUpload, "object.post_complete_upload", "object-multipart.complete");
VEIL_COS_OP(kAbortUpload, "object.delete_upload", "object-multipart.cancel");
VEIL_COS_OP(kListParts, "object.get_uploads", "object-multipart.list");
#undef VEIL_COS_OP
// The route's action until the handler knows the operation (a request refused before it).
inline constexpr std::string_view kRequest = "cloud-object-storage.request.receive";
}  // namespace op

// The bucket and key a request names: Host "<bucket>.<suffix>" (virtual-hosted style) or the
// first path segment (path style). Both empty for "/" (ListBuckets).
struct Target {
  std::string bucket;
  std::string key;
};
Target TargetOf(const CosApiDeps& deps, const http::Request& request);

// The instance a bucket-less request (ListBuckets, CreateBucket) is about: the HMAC
// credential's, or the ibm-service-instance-id header's for a bearer token (required then).
[[nodiscard]] Result<CosInstance> CallerInstance(const CosApiDeps& deps,
                                                 const http::RequestContext& ctx);

// AccessDenied unless IAM allows the caller `op`'s IAM action on the bucket (or, with an empty
// bucket name, on the instance). Sets the audit event's action to `op`'s.
[[nodiscard]] Status Authorize(const CosApiDeps& deps, http::RequestContext& ctx, OpAction op,
                               const std::string& account_id, const std::string& instance_guid,
                               const std::string& bucket_name);
// Authorize on `bucket`, and the event's target is the bucket.
[[nodiscard]] Status AuthorizeBucket(const CosApiDeps& deps, http::RequestContext& ctx, OpAction op,
                                     const Bucket& bucket);

// "2009-10-12T17:50:30.000Z" (S3's XML dates).
std::string IsoTime(int64_t ms);
// The response's x-amz-request-id.
http::Response WithRequestId(http::Response response, const http::RequestContext& ctx);
// The body of a small request (XML configurations) within `limit`.
[[nodiscard]] Result<std::string> SmallBody(http::RequestContext& ctx, size_t limit);
// S3's encoding-type=url for keys and prefixes in listings.
std::string ListEncode(std::string_view text, bool url);

}  // namespace veil::cos::api
