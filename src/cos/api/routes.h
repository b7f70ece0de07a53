// The S3 operations, one function each, dispatched by cos_api.cc from the method, the target
// (bucket, key) and the query's subresource.
//
// Thread-safety: handlers run concurrently; every dependency is thread-safe.
#pragma once

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

// The bucket the target names, authorized for `action` (NoSuchBucket, AccessDenied).
[[nodiscard]] Result<Bucket> AuthorizedBucket(const CosApiDeps& deps, http::RequestContext& ctx,
                                              const Target& target, std::string_view action);

}  // namespace veil::cos::api
