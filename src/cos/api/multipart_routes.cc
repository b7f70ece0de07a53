// Multipart uploads and copies (routes.h).
#include <algorithm>

#include "common/encoding.h"
#include "common/strings.h"
#include "cos/api/auth.h"
#include "cos/api/routes.h"
#include "cos/errors.h"
#include "cos/sigv4.h"
#include "cos/xml.h"

namespace veil::cos::api {
namespace {

constexpr size_t kCompleteBodyLimit = 4 << 20;  // 10,000 parts of ~100 bytes, with room
constexpr size_t kMaxListParts = 1000;

http::Response Xml(int status, std::string body, const http::RequestContext& ctx) {
  return WithRequestId(http::Response::Xml(status, std::move(body)), ctx);
}

Result<Upload> UploadOf(const CosApiDeps& deps, const http::RequestContext& ctx,
                        const Bucket& bucket, const Target& target) {
  return deps.service->GetUpload(bucket, target.key, ctx.request().Query("uploadId").value_or(""));
}

std::string Owner(const http::RequestContext& ctx) {
  return ctx.principal ? ctx.principal->id : std::string();
}

void AppendPrincipal(XmlWriter& xml, std::string_view element, const std::string& id) {
  xml.Open(element).Element("ID", id).Element("DisplayName", id).Close();
}

struct CopySource {
  std::string bucket;
  std::string key;
};

// x-amz-copy-source: "[/]bucket/key" URL-encoded, optionally "?versionId=null".
Result<CopySource> ParseCopySource(std::string_view header) {
  std::string_view raw = header;
  if (size_t q = raw.find('?'); q != std::string_view::npos) {
    if (raw.substr(q + 1) != "versionId=null") {
      return S3Fail(S3Reason::kNotImplemented, "object versions are not implemented");
    }
    raw = raw.substr(0, q);
  }
  auto decoded = PercentDecode(raw);
  if (!decoded) return S3Fail(S3Reason::kInvalidArgument, "x-amz-copy-source is not URL-encoded");
  std::string_view path = *decoded;
  if (path.starts_with('/')) path.remove_prefix(1);
  size_t slash = path.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) {
    return S3Fail(S3Reason::kInvalidArgument, "x-amz-copy-source must be bucket/key");
  }
  return CopySource{std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

struct OpenedSource {
  Object object;
  std::shared_ptr<ObjectReader> reader;
};

// The copy source, authorized for reading (`op`), its x-amz-copy-source-if-* conditions held,
// opened.
Result<OpenedSource> OpenCopySource(const CosApiDeps& deps, http::RequestContext& ctx,
                                    OpAction op) {
  const http::Request& r = ctx.request();
  CopySource source =
      VEIL_TRY_VALUE(ParseCopySource(r.headers.Get("x-amz-copy-source").value_or("")));
  Bucket bucket = VEIL_TRY_VALUE(deps.service->GetBucket(source.bucket));
  // Authorized as a read of the source, then the event goes back to the destination's action.
  const std::string action = ctx.event().action;
  const audit::Target target = ctx.event().target;
  VEIL_TRY(AuthorizeBucket(deps, ctx, op, bucket));
  ctx.event().action = action;
  ctx.event().target = target;
  ctx.event().request_data["copy_source"] = source.bucket + "/" + source.key;
  Object object = VEIL_TRY_VALUE(deps.service->HeadObject(bucket, source.key));
  if (VEIL_TRY_VALUE(CheckConditions(r.headers, "x-amz-copy-source-", object)) != 0) {
    return S3Fail(S3Reason::kPreconditionFailed,
                  "At least one of the pre-conditions you specified did not hold (copy source)");
  }
  std::shared_ptr<ObjectReader> reader = VEIL_TRY_VALUE(deps.service->OpenObject(bucket, object));
  return OpenedSource{std::move(object), std::move(reader)};
}

Result<std::vector<CompletePart>> ParseComplete(std::string_view body) {
  auto doc = ParseXml(body);
  if (!doc) return S3Fail(S3Reason::kMalformedXml, doc.error().message);
  if (doc->name != "CompleteMultipartUpload") {
    return S3Fail(S3Reason::kMalformedXml, "the root element must be CompleteMultipartUpload");
  }
  std::vector<CompletePart> parts;
  for (const XmlElement* part : doc->Children("Part")) {
    const XmlElement* number = part->Child("PartNumber");
    const XmlElement* etag = part->Child("ETag");
    auto n = number ? ParseUint64(TrimAsciiSpace(number->text)) : std::nullopt;
    if (!n || !etag || *n < 1 || *n > kMaxParts) {
      return S3Fail(S3Reason::kMalformedXml, "each Part needs a PartNumber (1-10000) and an ETag");
    }
    parts.push_back(CompletePart{static_cast<uint32_t>(*n), std::string(etag->text)});
  }
  if (parts.size() > kMaxParts) return S3Fail(S3Reason::kMalformedXml, "more than 10000 parts");
  return parts;
}

}  // namespace

Result<http::Response> CreateMultipartUpload(const CosApiDeps& deps, http::RequestContext& ctx,
                                             const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kStartUpload));
  AuditObject(ctx, bucket, target.key, "begin a multipart upload of");
  CreateUploadSpec spec;
  spec.key = target.key;
  spec.root_key_crn = VEIL_TRY_VALUE(RequestRootKey(ctx.request()));
  spec.headers = VEIL_TRY_VALUE(StoredHeaders(ctx.request()));
  spec.owner = Owner(ctx);
  Upload upload = VEIL_TRY_VALUE(deps.service->CreateUpload(bucket, spec));
  XmlWriter xml;
  xml.Open("InitiateMultipartUploadResult", kS3Xmlns)
      .Element("Bucket", bucket.name)
      .Element("Key", upload.key)
      .Element("UploadId", upload.id)
      .Close();
  http::Response response = Xml(200, xml.Finish(), ctx);
  SetEncryptionHeaders(response, upload.root_key_crn);
  ctx.event().request_data["upload_id"] = upload.id;
  return response;
}

Result<http::Response> UploadPart(const CosApiDeps& deps, http::RequestContext& ctx,
                                  const Target& target) {
  const bool copy = ctx.request().headers.Has("x-amz-copy-source");
  Bucket bucket =
      VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, copy ? op::kCopyPart : op::kUploadPart));
  AuditObject(ctx, bucket, target.key, "upload a part of");
  Upload upload = VEIL_TRY_VALUE(UploadOf(deps, ctx, bucket, target));
  auto number = ParseUint64(ctx.request().Query("partNumber").value_or(""));
  if (!number || *number < 1 || *number > kMaxParts) {
    return S3Fail(S3Reason::kInvalidArgument, "Part number must be an integer between 1 and 10000");
  }
  ctx.event().request_data["part_number"] = *number;
  std::unique_ptr<UploadBody> body;
  std::optional<std::array<uint8_t, 16>> md5;
  if (copy) {
    OpenedSource source = VEIL_TRY_VALUE(OpenCopySource(deps, ctx, op::kPartCopySource));
    ByteRange range{0, source.object.size, false};
    if (auto header = ctx.request().headers.Get("x-amz-copy-source-range")) {
      range = VEIL_TRY_VALUE(RangeOf(*header, source.object.size));
      if (!range.partial) {
        return S3Fail(S3Reason::kInvalidArgument,
                      "x-amz-copy-source-range must be bytes=first-last");
      }
    }
    body = ObjectRangeBody(source.reader, range.start, range.length);
  } else {
    md5 = VEIL_TRY_VALUE(ContentMd5(ctx.request()));
    body = VEIL_TRY_VALUE(RequestBody(deps, ctx, deps.max_put_bytes));
  }
  Part part = VEIL_TRY_VALUE(
      deps.service->UploadPart(bucket, upload, static_cast<uint32_t>(*number), md5, *body));
  if (copy) {
    XmlWriter xml;
    xml.Open("CopyPartResult", kS3Xmlns)
        .Element("LastModified", IsoTime(part.modified_ms))
        .Element("ETag", part.etag)
        .Close();
    return Xml(200, xml.Finish(), ctx);
  }
  http::Response response = WithRequestId(http::Response::Empty(200), ctx);
  response.headers.Set("ETag", part.etag);
  SetEncryptionHeaders(response, upload.root_key_crn);
  return response;
}

Result<http::Response> CompleteMultipartUpload(const CosApiDeps& deps, http::RequestContext& ctx,
                                               const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kCompleteUpload));
  AuditObject(ctx, bucket, target.key, "complete a multipart upload of");
  Upload upload = VEIL_TRY_VALUE(UploadOf(deps, ctx, bucket, target));
  const std::string body = VEIL_TRY_VALUE(SmallBody(ctx, kCompleteBodyLimit));
  std::vector<CompletePart> parts = VEIL_TRY_VALUE(ParseComplete(body));
  Object object = VEIL_TRY_VALUE(deps.service->CompleteUpload(bucket, upload, parts));
  XmlWriter xml;
  xml.Open("CompleteMultipartUploadResult", kS3Xmlns)
      .Element("Location", "/" + bucket.name + "/" + UriEncode(object.key, true))
      .Element("Bucket", bucket.name)
      .Element("Key", object.key)
      .Element("ETag", object.etag)
      .Close();
  http::Response response = Xml(200, xml.Finish(), ctx);
  SetEncryptionHeaders(response, object.root_key_crn);
  ctx.event().response_data["size"] = object.size;
  ctx.event().response_data["parts"] = parts.size();
  return response;
}

Result<http::Response> AbortMultipartUpload(const CosApiDeps& deps, http::RequestContext& ctx,
                                            const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kAbortUpload));
  AuditObject(ctx, bucket, target.key, "abort a multipart upload of");
  Upload upload = VEIL_TRY_VALUE(UploadOf(deps, ctx, bucket, target));
  VEIL_TRY(deps.service->AbortUpload(bucket, upload));
  return WithRequestId(http::Response::Empty(204), ctx);
}

Result<http::Response> ListParts(const CosApiDeps& deps, http::RequestContext& ctx,
                                 const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kListParts));
  AuditObject(ctx, bucket, target.key, "list the parts of");
  Upload upload = VEIL_TRY_VALUE(UploadOf(deps, ctx, bucket, target));
  const http::Request& r = ctx.request();
  const uint32_t marker = static_cast<uint32_t>(std::min<uint64_t>(
      ParseUint64(r.Query("part-number-marker").value_or("0")).value_or(0), kMaxParts));
  const size_t max_parts = static_cast<size_t>(std::min<uint64_t>(
      ParseUint64(r.Query("max-parts").value_or("1000")).value_or(1000), kMaxListParts));
  auto parts = VEIL_TRY_VALUE(deps.service->ListParts(upload, marker, max_parts + 1));
  const bool truncated = parts.size() > max_parts;
  if (truncated) parts.resize(max_parts);
  XmlWriter xml;
  xml.Open("ListPartsResult", kS3Xmlns)
      .Element("Bucket", bucket.name)
      .Element("Key", upload.key)
      .Element("UploadId", upload.id);
  AppendPrincipal(xml, "Initiator", upload.owner);
  AppendPrincipal(xml, "Owner", bucket.account_id);
  xml.Element("StorageClass", "STANDARD")
      .Element("PartNumberMarker", std::to_string(marker))
      .Element("NextPartNumberMarker",
               parts.empty() ? "0" : std::to_string(parts.back().part_number))
      .Element("MaxParts", std::to_string(max_parts))
      .Element("IsTruncated", truncated ? "true" : "false");
  for (const Part& p : parts) {
    xml.Open("Part")
        .Element("PartNumber", std::to_string(p.part_number))
        .Element("LastModified", IsoTime(p.modified_ms))
        .Element("ETag", p.etag)
        .Element("Size", std::to_string(p.size))
        .Close();
  }
  xml.Close();
  return Xml(200, xml.Finish(), ctx);
}

Result<http::Response> ListMultipartUploads(const CosApiDeps& deps, http::RequestContext& ctx,
                                            const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kListUploads));
  ctx.event().message = "Cloud Object Storage: list multipart uploads of bucket " + bucket.name;
  const http::Request& r = ctx.request();
  const std::string prefix(r.Query("prefix").value_or(""));
  const std::string key_marker(r.Query("key-marker").value_or(""));
  const std::string id_marker(r.Query("upload-id-marker").value_or(""));
  const size_t max_uploads = static_cast<size_t>(std::min<uint64_t>(
      ParseUint64(r.Query("max-uploads").value_or("1000")).value_or(1000), 1000));
  auto uploads = VEIL_TRY_VALUE(
      deps.service->ListUploads(bucket, prefix, key_marker, id_marker, max_uploads + 1));
  const bool truncated = uploads.size() > max_uploads;
  if (truncated) uploads.resize(max_uploads);
  XmlWriter xml;
  xml.Open("ListMultipartUploadsResult", kS3Xmlns)
      .Element("Bucket", bucket.name)
      .Element("KeyMarker", key_marker)
      .Element("UploadIdMarker", id_marker)
      .Element("NextKeyMarker", uploads.empty() ? "" : uploads.back().key)
      .Element("NextUploadIdMarker", uploads.empty() ? "" : uploads.back().id)
      .Element("Prefix", prefix)
      .Element("MaxUploads", std::to_string(max_uploads))
      .Element("IsTruncated", truncated ? "true" : "false");
  for (const Upload& u : uploads) {
    xml.Open("Upload").Element("Key", u.key).Element("UploadId", u.id);
    AppendPrincipal(xml, "Initiator", u.owner);
    AppendPrincipal(xml, "Owner", bucket.account_id);
    xml.Element("StorageClass", "STANDARD").Element("Initiated", IsoTime(u.initiated_ms)).Close();
  }
  xml.Close();
  return Xml(200, xml.Finish(), ctx);
}

Result<http::Response> CopyObject(const CosApiDeps& deps, http::RequestContext& ctx,
                                  const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kCopyObject));
  AuditObject(ctx, bucket, target.key, "copy into");
  const http::Request& r = ctx.request();
  OpenedSource source = VEIL_TRY_VALUE(OpenCopySource(deps, ctx, op::kCopySource));
  PutObjectSpec spec;
  spec.key = target.key;
  spec.root_key_crn = VEIL_TRY_VALUE(RequestRootKey(r));
  const std::string directive(r.headers.Get("x-amz-metadata-directive").value_or("COPY"));
  if (directive == "REPLACE") {
    spec.headers = VEIL_TRY_VALUE(StoredHeaders(r));
  } else if (directive == "COPY") {
    spec.headers = source.object.headers;
  } else {
    return S3Fail(S3Reason::kInvalidArgument, "x-amz-metadata-directive must be COPY or REPLACE");
  }
  auto body = ObjectRangeBody(source.reader, 0, source.object.size);
  Object object = VEIL_TRY_VALUE(deps.service->PutObject(bucket, spec, *body));
  XmlWriter xml;
  xml.Open("CopyObjectResult", kS3Xmlns)
      .Element("LastModified", IsoTime(object.modified_ms))
      .Element("ETag", object.etag)
      .Close();
  http::Response response = Xml(200, xml.Finish(), ctx);
  SetEncryptionHeaders(response, object.root_key_crn);
  ctx.event().response_data["size"] = object.size;
  return response;
}

}  // namespace veil::cos::api
