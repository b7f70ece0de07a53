// The S3 operations, one function each, dispatched by cos_api.cc from the method, the target
// (bucket, key) and the query's subresource.
//
// Thread-safety: handlers run concurrently; every dependency is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "common/result.h"
#include "cos/api/cos_api.h"
#include "cos/api/handler_support.h"
#include "http/context.h"
#include "http/response.h"

namespace veil::cos::api {

using Op = Result<http::Response> (*)(const CosApiDeps&, http::RequestContext&, const Target&);

// bucket_routes.cc
Result<http::Response> ListBuckets(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> CreateBucket(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> HeadBucket(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> DeleteBucket(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> GetBucketLocation(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> GetBucketEncryption(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> PutBucketEncryption(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> DeleteBucketEncryption(const CosApiDeps&, http::RequestContext&,
                                              const Target&);
Result<http::Response> ListObjects(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> DeleteObjects(const CosApiDeps&, http::RequestContext&, const Target&);

// object_routes.cc
Result<http::Response> PutObject(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> GetObject(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> DeleteObject(const CosApiDeps&, http::RequestContext&, const Target&);

// multipart_routes.cc
Result<http::Response> CreateMultipartUpload(const CosApiDeps&, http::RequestContext&,
                                             const Target&);
Result<http::Response> UploadPart(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> CompleteMultipartUpload(const CosApiDeps&, http::RequestContext&,
                                               const Target&);
Result<http::Response> AbortMultipartUpload(const CosApiDeps&, http::RequestContext&,
                                            const Target&);
Result<http::Response> ListParts(const CosApiDeps&, http::RequestContext&, const Target&);
Result<http::Response> ListMultipartUploads(const CosApiDeps&, http::RequestContext&,
                                            const Target&);
Result<http::Response> CopyObject(const CosApiDeps&, http::RequestContext&, const Target&);

// object_routes.cc, shared with multipart_routes.cc
[[nodiscard]] Result<std::map<std::string, std::string>> StoredHeaders(const http::Request& r);
[[nodiscard]] Result<std::optional<std::array<uint8_t, 16>>> ContentMd5(const http::Request& r);
[[nodiscard]] Result<std::string> RequestRootKey(const http::Request& r);
void SetEncryptionHeaders(http::Response& response, const std::string& root_key_crn);
// RFC 9110 §13.2.2's order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since,
// the headers named with `prefix` ("" or "x-amz-copy-source-"). Returns 304 for "not
// modified", PreconditionFailed for a failed precondition, 0 to go on.
[[nodiscard]] Result<int> CheckConditions(const http::Headers& headers, std::string_view prefix,
                                          const Object& object);
struct ByteRange {
  uint64_t start = 0;
  uint64_t length = 0;
  bool partial = false;
};
// "bytes=a-b", "bytes=a-", "bytes=-n" (one range; anything else is ignored, as RFC 9110
// allows). InvalidRange when the range starts past the end.
[[nodiscard]] Result<ByteRange> RangeOf(std::optional<std::string_view> header, uint64_t size);
void AuditObject(http::RequestContext& ctx, const Bucket& bucket, std::string_view key,
                 std::string_view verb);

// The bucket the target names, authorized for `action` (NoSuchBucket, AccessDenied).
[[nodiscard]] Result<Bucket> AuthorizedBucket(const CosApiDeps& deps, http::RequestContext& ctx,
                                              const Target& target, OpAction op);

}  // namespace veil::cos::api
