#include <algorithm>

#include "common/encoding.h"
#include "common/strings.h"
#include "cos/api/routes.h"
#include "cos/errors.h"
#include "cos/xml.h"
#include "crypto/hash.h"

namespace veil::cos::api {
namespace {

constexpr size_t kConfigBodyLimit = 64 * 1024;
constexpr size_t kDeleteBodyLimit = 2 << 20;
constexpr size_t kMaxDeleteKeys = 1000;

http::Response Xml(int status, std::string body, const http::RequestContext& ctx) {
  return WithRequestId(http::Response::Xml(status, std::move(body)), ctx);
}

http::Response Empty(int status, const http::RequestContext& ctx) {
  return WithRequestId(http::Response::Empty(status), ctx);
}

Result<XmlElement> ParseBody(std::string_view body, std::string_view root) {
  auto doc = ParseXml(body);
  if (!doc) return S3Fail(S3Reason::kMalformedXml, doc.error().message);
  if (doc->name != root) {
    return S3Fail(S3Reason::kMalformedXml, "the XML root element must be " + std::string(root));
  }
  return std::move(*doc);
}

Status CheckContentMd5(const http::RequestContext& ctx, std::string_view body) {
  auto header = ctx.request().headers.Get("content-md5");
  if (!header) return OkStatus();
  auto digest = Base64Decode(*header);
  if (!digest || digest->size() != crypto::kMd5Size) {
    return S3Fail(S3Reason::kInvalidDigest, "the Content-MD5 you specified is not valid");
  }
  const auto actual =
      crypto::Md5(std::span(reinterpret_cast<const uint8_t*>(body.data()), body.size()));
  if (!std::equal(actual.begin(), actual.end(), digest->begin())) {
    return S3Fail(S3Reason::kBadDigest, "the Content-MD5 you specified did not match the body");
  }
  return OkStatus();
}

void AppendOwner(XmlWriter& xml, const std::string& account) {
  xml.Open("Owner").Element("ID", account).Element("DisplayName", account).Close();
}

}  // namespace

Result<Bucket> AuthorizedBucket(const CosApiDeps& deps, http::RequestContext& ctx,
                                const Target& target, OpAction op) {
  ctx.event().action = std::string(op.audit);
  Bucket bucket = VEIL_TRY_VALUE(deps.service->GetBucket(target.bucket));
  VEIL_TRY(AuthorizeBucket(deps, ctx, op, bucket));
  return bucket;
}

Result<http::Response> ListBuckets(const CosApiDeps& deps, http::RequestContext& ctx,
                                   const Target&) {
  ctx.event().action = std::string(op::kListBuckets.audit);
  CosInstance instance = VEIL_TRY_VALUE(CallerInstance(deps, ctx));
  VEIL_TRY(Authorize(deps, ctx, op::kListBuckets, instance.account_id, instance.guid, ""));
  auto buckets = VEIL_TRY_VALUE(deps.service->ListBuckets(instance.guid));
  XmlWriter xml;
  xml.Open("ListAllMyBucketsResult", kS3Xmlns);
  AppendOwner(xml, instance.account_id);
  xml.Open("Buckets");
  for (const Bucket& b : buckets) {
    xml.Open("Bucket").Element("Name", b.name).Element("CreationDate", IsoTime(b.created_ms));
    xml.Close();
  }
  xml.Close().Close();
  ctx.event().message = "Cloud Object Storage: list buckets";
  return Xml(200, xml.Finish(), ctx);
}

Result<http::Response> CreateBucket(const CosApiDeps& deps, http::RequestContext& ctx,
                                    const Target& target) {
  ctx.event().action = std::string(op::kCreateBucket.audit);
  CosInstance instance = VEIL_TRY_VALUE(CallerInstance(deps, ctx));
  VEIL_TRY(
      Authorize(deps, ctx, op::kCreateBucket, instance.account_id, instance.guid, target.bucket));
  CreateBucketSpec spec;
  spec.name = target.bucket;
  spec.account_id = instance.account_id;
  spec.instance_guid = instance.guid;
  const std::string body = VEIL_TRY_VALUE(SmallBody(ctx, kConfigBodyLimit));
  if (!TrimAsciiSpace(body).empty()) {
    XmlElement config = VEIL_TRY_VALUE(ParseBody(body, "CreateBucketConfiguration"));
    if (const XmlElement* location = config.Child("LocationConstraint")) {
      spec.location = std::string(TrimAsciiSpace(location->text));
    }
  }
  const auto& headers = ctx.request().headers;
  auto algorithm = headers.Get("ibm-sse-kp-encryption-algorithm");
  auto root_key = headers.Get("ibm-sse-kp-customer-root-key-crn");
  if (algorithm || root_key) {
    if (!algorithm || *algorithm != "AES256" || !root_key || root_key->empty()) {
      return S3Fail(S3Reason::kInvalidArgument,
                    "SSE-KP needs ibm-sse-kp-encryption-algorithm: AES256 and "
                    "ibm-sse-kp-customer-root-key-crn: <root key CRN>");
    }
    spec.sse_kp_root_key_crn = std::string(*root_key);
  }
  Bucket bucket = VEIL_TRY_VALUE(deps.service->CreateBucket(spec));
  ctx.event().target.id = bucket.crn;
  ctx.event().target.name = bucket.name;
  ctx.event().target.type_uri = "cloud-object-storage/bucket";
  ctx.event().message = "Cloud Object Storage: create bucket " + bucket.name;
  ctx.event().request_data["location"] = bucket.location;
  if (!bucket.sse_kp_root_key_crn.empty()) {
    ctx.event().request_data["sse_kp_root_key_crn"] = bucket.sse_kp_root_key_crn;
  }
  http::Response response = Empty(200, ctx);
  response.headers.Set("Location", "/" + bucket.name);
  return response;
}

Result<http::Response> HeadBucket(const CosApiDeps& deps, http::RequestContext& ctx,
                                  const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kHeadBucket));
  http::Response response = Empty(200, ctx);
  response.headers.Set("x-amz-bucket-region", deps.service->options().region);
  response.headers.Set("ibm-sse-kp-enabled", bucket.sse_kp_root_key_crn.empty() ? "False" : "True");
  if (!bucket.sse_kp_root_key_crn.empty()) {
    response.headers.Set("ibm-sse-kp-crk-id", bucket.sse_kp_root_key_crn);
  }
  ctx.event().message = "Cloud Object Storage: head bucket " + bucket.name;
  return response;
}

Result<http::Response> DeleteBucket(const CosApiDeps& deps, http::RequestContext& ctx,
                                    const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kDeleteBucket));
  VEIL_TRY(deps.service->DeleteBucket(bucket));
  ctx.event().message = "Cloud Object Storage: delete bucket " + bucket.name;
  return Empty(204, ctx);
}

Result<http::Response> GetBucketLocation(const CosApiDeps& deps, http::RequestContext& ctx,
                                         const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kGetLocation));
  XmlWriter xml;
  xml.Element("LocationConstraint", bucket.location);
  std::string body = xml.Finish();
  // The element carries S3's namespace, as S3 sends it.
  body.replace(body.find("<LocationConstraint>"), 20,
               "<LocationConstraint xmlns=\"" + std::string(kS3Xmlns) + "\">");
  ctx.event().message = "Cloud Object Storage: get location of bucket " + bucket.name;
  return Xml(200, std::move(body), ctx);
}

Result<http::Response> GetBucketEncryption(const CosApiDeps& deps, http::RequestContext& ctx,
                                           const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kGetEncryption));
  const std::string& root = bucket.DefaultRootKey();
  XmlWriter xml;
  xml.Open("ServerSideEncryptionConfiguration", kS3Xmlns).Open("Rule");
  xml.Open("ApplyServerSideEncryptionByDefault");
  xml.Element("SSEAlgorithm", root.empty() ? "AES256" : "aws:kms");
  if (!root.empty()) xml.Element("KMSMasterKeyID", root);
  xml.Close().Element("BucketKeyEnabled", "true").Close().Close();
  ctx.event().message = "Cloud Object Storage: get encryption of bucket " + bucket.name;
  return Xml(200, xml.Finish(), ctx);
}

Result<http::Response> PutBucketEncryption(const CosApiDeps& deps, http::RequestContext& ctx,
                                           const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kPutEncryption));
  const std::string body = VEIL_TRY_VALUE(SmallBody(ctx, kConfigBodyLimit));
  VEIL_TRY(CheckContentMd5(ctx, body));
  XmlElement config = VEIL_TRY_VALUE(ParseBody(body, "ServerSideEncryptionConfiguration"));
  const XmlElement* rule = config.Child("Rule");
  const XmlElement* by_default = rule ? rule->Child("ApplyServerSideEncryptionByDefault") : nullptr;
  const XmlElement* algorithm = by_default ? by_default->Child("SSEAlgorithm") : nullptr;
  if (algorithm == nullptr) {
    return S3Fail(S3Reason::kMalformedXml,
                  "expected Rule/ApplyServerSideEncryptionByDefault/SSEAlgorithm");
  }
  const XmlElement* key = by_default->Child("KMSMasterKeyID");
  std::string root;
  if (algorithm->text == "aws:kms") {
    if (key == nullptr || key->text.empty()) {
      return S3Fail(S3Reason::kInvalidArgument, "aws:kms needs KMSMasterKeyID: a root key CRN");
    }
    root = key->text;
  } else if (algorithm->text != "AES256") {
    return S3Fail(S3Reason::kInvalidArgument, "SSEAlgorithm must be AES256 or aws:kms");
  }
  if (!bucket.sse_kp_root_key_crn.empty()) {
    return S3Fail(S3Reason::kInvalidRequest,
                  "the bucket was created with SSE-KP: its root key cannot be changed");
  }
  VEIL_TRY(deps.service->SetBucketEncryption(bucket, root));
  ctx.event().message = "Cloud Object Storage: set encryption of bucket " + bucket.name;
  if (!root.empty()) ctx.event().request_data["kms_key"] = root;
  return Empty(200, ctx);
}

Result<http::Response> DeleteBucketEncryption(const CosApiDeps& deps, http::RequestContext& ctx,
                                              const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kDeleteEncryption));
  VEIL_TRY(deps.service->SetBucketEncryption(bucket, ""));
  ctx.event().message = "Cloud Object Storage: delete encryption of bucket " + bucket.name;
  return Empty(204, ctx);
}

namespace {

struct ListParams {
  bool v2 = false;
  bool url = false;
  bool fetch_owner = false;
  ListSpec spec;
  std::string marker;  // v1 marker, v2 continuation-token (as given), v2 start-after
  std::string start_after;
  size_t max_keys = 1000;
};

Result<ListParams> ListParamsOf(const http::Request& r) {
  ListParams p;
  p.v2 = r.Query("list-type").value_or("") == "2";
  if (auto e = r.Query("encoding-type")) {
    if (*e != "url") return S3Fail(S3Reason::kInvalidArgument, "encoding-type must be url");
    p.url = true;
  }
  p.fetch_owner = r.Query("fetch-owner").value_or("") == "true";
  p.spec.prefix = std::string(r.Query("prefix").value_or(""));
  p.spec.delimiter = std::string(r.Query("delimiter").value_or(""));
  if (auto m = r.Query("max-keys")) {
    auto v = ParseUint64(*m);
    if (!v) return S3Fail(S3Reason::kInvalidArgument, "max-keys must be a non-negative integer");
    p.max_keys = static_cast<size_t>(std::min<uint64_t>(*v, 1000));
  }
  p.spec.max_keys = p.max_keys;
  if (p.v2) {
    p.start_after = std::string(r.Query("start-after").value_or(""));
    p.spec.after = p.start_after;
    if (auto token = r.Query("continuation-token")) {
      p.marker = std::string(*token);
      auto decoded = Base64UrlDecode(*token);
      if (!decoded) return S3Fail(S3Reason::kInvalidArgument, "the continuation token is invalid");
      p.spec.after = std::string(decoded->begin(), decoded->end());
    }
  } else {
    p.marker = std::string(r.Query("marker").value_or(""));
    p.spec.after = p.marker;
  }
  return p;
}

void AppendListing(XmlWriter& xml, const ListParams& p, const ListResult& result,
                   const Bucket& bucket) {
  for (const Object& o : result.objects) {
    xml.Open("Contents")
        .Element("Key", ListEncode(o.key, p.url))
        .Element("LastModified", IsoTime(o.modified_ms))
        .Element("ETag", o.etag)
        .Element("Size", std::to_string(o.size));
    if (!p.v2 || p.fetch_owner) AppendOwner(xml, bucket.account_id);
    xml.Element("StorageClass", "STANDARD").Close();
  }
  for (const std::string& prefix : result.common_prefixes) {
    xml.Open("CommonPrefixes").Element("Prefix", ListEncode(prefix, p.url)).Close();
  }
}

}  // namespace

Result<http::Response> ListObjects(const CosApiDeps& deps, http::RequestContext& ctx,
                                   const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kListObjects));
  ListParams p = VEIL_TRY_VALUE(ListParamsOf(ctx.request()));
  ListResult result = VEIL_TRY_VALUE(deps.service->ListObjects(bucket, p.spec));
  XmlWriter xml;
  xml.Open("ListBucketResult", kS3Xmlns).Element("Name", bucket.name);
  xml.Element("Prefix", ListEncode(p.spec.prefix, p.url));
  if (p.v2) {
    xml.Element("KeyCount", std::to_string(result.objects.size() + result.common_prefixes.size()));
    if (!p.marker.empty()) xml.Element("ContinuationToken", p.marker);
    if (result.truncated) {
      xml.Element(
          "NextContinuationToken",
          Base64UrlEncode(std::span(reinterpret_cast<const uint8_t*>(result.next_marker.data()),
                                    result.next_marker.size())));
    }
    if (!p.start_after.empty()) xml.Element("StartAfter", ListEncode(p.start_after, p.url));
  } else {
    xml.Element("Marker", ListEncode(p.marker, p.url));
    if (result.truncated && !p.spec.delimiter.empty()) {
      xml.Element("NextMarker", ListEncode(result.next_marker, p.url));
    }
  }
  xml.Element("MaxKeys", std::to_string(p.max_keys));
  if (!p.spec.delimiter.empty()) xml.Element("Delimiter", ListEncode(p.spec.delimiter, p.url));
  if (p.url) xml.Element("EncodingType", "url");
  xml.Element("IsTruncated", result.truncated ? "true" : "false");
  AppendListing(xml, p, result, bucket);
  xml.Close();
  ctx.event().message = "Cloud Object Storage: list objects of bucket " + bucket.name;
  return Xml(200, xml.Finish(), ctx);
}

Result<http::Response> DeleteObjects(const CosApiDeps& deps, http::RequestContext& ctx,
                                     const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kDeleteObjects));
  const std::string body = VEIL_TRY_VALUE(SmallBody(ctx, kDeleteBodyLimit));
  VEIL_TRY(CheckContentMd5(ctx, body));
  XmlElement request = VEIL_TRY_VALUE(ParseBody(body, "Delete"));
  const XmlElement* quiet = request.Child("Quiet");
  const bool is_quiet = quiet != nullptr && TrimAsciiSpace(quiet->text) == "true";
  auto objects = request.Children("Object");
  if (objects.empty() || objects.size() > kMaxDeleteKeys) {
    return S3Fail(S3Reason::kMalformedXml, "Delete names 1 to 1000 objects");
  }
  XmlWriter xml;
  xml.Open("DeleteResult", kS3Xmlns);
  for (const XmlElement* object : objects) {
    const XmlElement* key = object->Child("Key");
    if (key == nullptr) return S3Fail(S3Reason::kMalformedXml, "an Object without a Key");
    auto deleted = deps.service->DeleteObject(bucket, key->text);
    if (deleted) {
      if (!is_quiet) xml.Open("Deleted").Element("Key", key->text).Close();
    } else {
      xml.Open("Error").Element("Key", key->text);
      xml.Element("Code", S3ReasonName(S3ReasonOf(deleted.error())));
      xml.Element("Message", deleted.error().message).Close();
    }
  }
  xml.Close();
  ctx.event().message = "Cloud Object Storage: delete " + std::to_string(objects.size()) +
                        " objects of bucket " + bucket.name;
  ctx.event().request_data["count"] = objects.size();
  return Xml(200, xml.Finish(), ctx);
}

}  // namespace veil::cos::api
