#include "cos/api/handler_support.h"

#include <chrono>

#include "common/strings.h"
#include "common/time.h"
#include "cos/api/auth.h"
#include "cos/errors.h"
#include "cos/sigv4.h"
#include "iam/api/principal.h"

namespace veil::cos::api {

Target TargetOf(const CosApiDeps& deps, const http::Request& request) {
  Target t;
  std::string_view host = request.headers.Get("host").value_or("");
  if (size_t colon = host.rfind(':');
      colon != std::string_view::npos && host.find(']') == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string_view path = request.path;
  if (path.starts_with('/')) path.remove_prefix(1);
  for (const std::string& suffix : deps.virtual_host_suffixes) {
    if (host.size() > suffix.size() + 1 && EndsWithIgnoreCase(host, suffix) &&
        host[host.size() - suffix.size() - 1] == '.') {
      t.bucket = AsciiLower(host.substr(0, host.size() - suffix.size() - 1));
      t.key = std::string(path);
      return t;
    }
  }
  size_t slash = path.find('/');
  t.bucket = std::string(path.substr(0, slash));
  if (slash != std::string_view::npos) t.key = std::string(path.substr(slash + 1));
  return t;
}

Result<CosInstance> CallerInstance(const CosApiDeps& deps, const http::RequestContext& ctx) {
  std::string guid;
  if (auto it = ctx.principal->claims.find(std::string(kClaimInstance));
      it != ctx.principal->claims.end()) {
    guid = it->second;
  } else if (auto header = ctx.request().headers.Get("ibm-service-instance-id")) {
    guid = std::string(*header);
  }
  if (guid.empty()) {
    return S3Fail(S3Reason::kInvalidArgument,
                  "a bearer token needs the ibm-service-instance-id header (the GUID of your "
                  "object storage instance) to list or create buckets");
  }
  auto instance = deps.resolve_instance(guid);
  if (!instance) {
    if (instance.error().code == ErrorCode::kNotFound) {
      return S3Fail(S3Reason::kAccessDenied,
                    "ibm-service-instance-id names no active object storage instance");
    }
    return tl::unexpected(instance.error());
  }
  return *instance;
}

Status Authorize(const CosApiDeps& deps, http::RequestContext& ctx, OpAction op,
                 const std::string& account_id, const std::string& instance_guid,
                 const std::string& bucket_name) {
  ctx.event().action = std::string(op.audit);
  iam::Subject subject = VEIL_TRY_VALUE(iam::api::SubjectOf(*ctx.principal));
  iam::ResourceAttributes resource{account_id, "cloud-object-storage", instance_guid,
                                   bucket_name.empty() ? "" : "bucket", bucket_name};
  auto decision = deps.authorizer->Authorize(subject, op.iam, resource);
  if (!decision) return tl::unexpected(decision.error());
  if (!decision->permitted) {
    return S3Fail(S3Reason::kAccessDenied,
                  "Access Denied: " + std::string(op.iam) + " is not allowed to this credential");
  }
  return OkStatus();
}

Status AuthorizeBucket(const CosApiDeps& deps, http::RequestContext& ctx, OpAction op,
                       const Bucket& bucket) {
  ctx.event().target.id = bucket.crn;
  ctx.event().target.name = bucket.name;
  ctx.event().target.type_uri = "cloud-object-storage/bucket";
  return Authorize(deps, ctx, op, bucket.account_id, bucket.instance_guid, bucket.name);
}

std::string IsoTime(int64_t ms) {
  return FormatRfc3339(TimePoint(std::chrono::milliseconds(ms)), TimePrecision::kMillis);
}

http::Response WithRequestId(http::Response response, const http::RequestContext& ctx) {
  response.headers.Set("x-amz-request-id", ctx.request_id());
  return response;
}

Result<std::string> SmallBody(http::RequestContext& ctx, size_t limit) {
  auto body = ctx.request().body().ReadAll(limit);
  if (!body && body.error().code == ErrorCode::kResourceExhausted) {
    return S3Fail(S3Reason::kMalformedXml, "the request body is too large for this operation");
  }
  return body;
}

std::string ListEncode(std::string_view text, bool url) {
  return url ? UriEncode(text, true) : std::string(text);
}

}  // namespace veil::cos::api
