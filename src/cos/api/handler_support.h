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

// Audit and IAM action names (docs/cos.md "Roles and actions").
namespace action {
inline constexpr std::string_view kBucketList = "cloud-object-storage.bucket.list";
inline constexpr std::string_view kBucketCreate = "cloud-object-storage.bucket.create";
inline constexpr std::string_view kBucketRead = "cloud-object-storage.bucket.read";
inline constexpr std::string_view kBucketDelete = "cloud-object-storage.bucket.delete";
inline constexpr std::string_view kBucketListObjects = "cloud-object-storage.bucket.list_objects";
inline constexpr std::string_view kBucketPutEncryption =
    "cloud-object-storage.bucket.put_encryption";
inline constexpr std::string_view kObjectRead = "cloud-object-storage.object.read";
inline constexpr std::string_view kObjectHead = "cloud-object-storage.object.head";
inline constexpr std::string_view kObjectWrite = "cloud-object-storage.object.write";
inline constexpr std::string_view kObjectDelete = "cloud-object-storage.object.delete";
inline constexpr std::string_view kRequest = "cloud-object-storage.request";
}  // namespace action

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

// AccessDenied unless IAM allows the caller `action` on the bucket (or, with an empty bucket
// name, on the instance). Fills the audit event's action and target.
[[nodiscard]] Status Authorize(const CosApiDeps& deps, http::RequestContext& ctx,
                               std::string_view action, const std::string& account_id,
                               const std::string& instance_guid, const std::string& bucket_name);
[[nodiscard]] Status AuthorizeBucket(const CosApiDeps& deps, http::RequestContext& ctx,
                                     std::string_view action, const Bucket& bucket);

// "2009-10-12T17:50:30.000Z" (S3's XML dates).
std::string IsoTime(int64_t ms);
// The response's x-amz-request-id.
http::Response WithRequestId(http::Response response, const http::RequestContext& ctx);
// The body of a small request (XML configurations) within `limit`.
[[nodiscard]] Result<std::string> SmallBody(http::RequestContext& ctx, size_t limit);
// S3's encoding-type=url for keys and prefixes in listings.
std::string ListEncode(std::string_view text, bool url);

}  // namespace veil::cos::api
