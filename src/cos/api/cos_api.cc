#include "cos/api/cos_api.h"

#include <array>

#include "cos/api/routes.h"
#include "cos/errors.h"
#include "http/error_map.h"

namespace veil::cos::api {
namespace {

bool Has(const http::Request& r, std::string_view name) { return r.Query(name).has_value(); }

// Subresources S3 has and Veil does not serve (yet): refused as NotImplemented, never taken for
// a plain object or bucket request.
constexpr std::array<std::string_view, 14> kUnsupported = {
    "acl",         "cors",      "lifecycle",  "policy",      "tagging",
    "versioning",  "website",   "logging",    "replication", "notification",
    "object-lock", "retention", "legal-hold", "versionId"};

Status CheckSupported(const http::Request& r) {
  for (std::string_view name : kUnsupported) {
    if (Has(r, name)) {
      return S3Fail(S3Reason::kNotImplemented,
                    "the ?" + std::string(name) + " subresource is not implemented");
    }
  }
  return OkStatus();
}

Result<Op> BucketOp(const http::Request& r) {
  const std::string& m = r.method;
  if (m == "GET") {
    if (Has(r, "location")) return &GetBucketLocation;
    if (Has(r, "uploads")) return &ListMultipartUploads;
    if (Has(r, "encryption")) return &GetBucketEncryption;
    VEIL_TRY(CheckSupported(r));
    return &ListObjects;
  }
  if (m == "PUT") {
    if (Has(r, "encryption")) return &PutBucketEncryption;
    VEIL_TRY(CheckSupported(r));
    return &CreateBucket;
  }
  if (m == "DELETE") {
    if (Has(r, "encryption")) return &DeleteBucketEncryption;
    VEIL_TRY(CheckSupported(r));
    return &DeleteBucket;
  }
  if (m == "HEAD") return &HeadBucket;
  if (m == "POST" && Has(r, "delete")) return &DeleteObjects;
  VEIL_TRY(CheckSupported(r));
  return S3Fail(S3Reason::kMethodNotAllowed, "the method is not allowed on a bucket");
}

Result<Op> ObjectOp(const http::Request& r) {
  VEIL_TRY(CheckSupported(r));
  const std::string& m = r.method;
  const bool upload = Has(r, "uploadId");
  if (m == "PUT") {
    if (upload || Has(r, "partNumber")) return &UploadPart;
    if (r.headers.Has("x-amz-copy-source")) return &CopyObject;
    return &PutObject;
  }
  if (m == "POST") {
    if (Has(r, "uploads")) return &CreateMultipartUpload;
    if (upload) return &CompleteMultipartUpload;
  }
  if (m == "GET" && upload) return &ListParts;
  if (m == "GET" || m == "HEAD") return &GetObject;
  if (m == "DELETE") return upload ? &AbortMultipartUpload : &DeleteObject;
  return S3Fail(S3Reason::kMethodNotAllowed, "the method is not allowed on an object");
}

Result<http::Response> Dispatch(const CosApiDeps& deps, http::RequestContext& ctx) {
  const Target target = TargetOf(deps, ctx.request());
  Op op = nullptr;
  if (target.bucket.empty()) {
    if (ctx.request().method != "GET") {
      return S3Fail(S3Reason::kMethodNotAllowed, "only GET lists buckets");
    }
    op = &ListBuckets;
  } else if (target.key.empty()) {
    op = VEIL_TRY_VALUE(BucketOp(ctx.request()));
  } else {
    op = VEIL_TRY_VALUE(ObjectOp(ctx.request()));
  }
  return op(deps, ctx, target);
}

http::Response RenderCosError(const Error& error, int status, const http::RequestContext& ctx) {
  Error shown = error;
  if (!error.ReasonAs<S3Reason>()) {
    // A transport rejection's status says more than its code (405 is kInvalidArgument).
    S3Reason reason = S3ReasonOf(error);
    if (status == 405) reason = S3Reason::kMethodNotAllowed;
    if (status == 408) reason = S3Reason::kRequestTimeout;
    if (status == 413) reason = S3Reason::kEntityTooLarge;
    shown = Error(reason, error.message);
  }
  http::Response response = http::RenderXmlError(shown, status, ctx);
  response.headers.Set("x-amz-request-id", ctx.request_id());
  return response;
}

}  // namespace

Status AddCosRoutes(http::Router& router, const CosApiDeps& deps) {
  if (deps.service == nullptr || deps.authorizer == nullptr || !deps.resolve_instance ||
      !deps.lookup_hmac || deps.clock == nullptr) {
    return InvalidArgument("cos API: a dependency is missing");
  }
  http::Handler handler = [deps](http::RequestContext& ctx) { return Dispatch(deps, ctx); };
  http::RouteOptions small;
  small.action = std::string(op::kRequest);
  small.body_limit = 64 * 1024;  // read whole before a worker is taken
  http::RouteOptions large = small;
  // Virtual-hosted-style object uploads arrive on /{bucket}, so every PUT and POST route takes
  // an object's body; handlers that want a small body read it with their own limit.
  large.body_limit = deps.max_put_bytes;
  VEIL_TRY(router.Add("GET", "/", handler, small));
  for (std::string_view path : {"/{bucket}", "/{bucket}/{key*}"}) {
    for (std::string_view method : {"GET", "HEAD", "DELETE"}) {
      VEIL_TRY(router.Add(std::string(method), path, handler, small));
    }
    for (std::string_view method : {"PUT", "POST"}) {
      VEIL_TRY(router.Add(std::string(method), path, handler, large));
    }
  }
  return OkStatus();
}

http::ErrorRenderer CosErrorRenderer() { return &RenderCosError; }

http::ErrorStatusFn CosErrorStatus() {
  return [](const Error& error) {
    if (auto reason = error.ReasonAs<S3Reason>()) return S3ReasonStatus(*reason);
    return http::HttpStatusFor(error.code);
  };
}

}  // namespace veil::cos::api
