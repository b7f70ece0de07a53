#include <algorithm>
#include <array>
#include <memory>

#include "common/encoding.h"
#include "common/strings.h"
#include "common/time.h"
#include "cos/api/auth.h"
#include "cos/api/routes.h"
#include "cos/errors.h"

namespace veil::cos::api {
namespace {

// Request headers an object keeps and returns as they were sent.
constexpr std::array<std::string_view, 6> kKeptHeaders = {"content-type",     "content-disposition",
                                                          "content-encoding", "cache-control",
                                                          "expires",          "content-language"};
constexpr size_t kMaxUserMetadata = 2048;  // S3: 2 KB of x-amz-meta-* names and values

}  // namespace

Result<std::map<std::string, std::string>> StoredHeaders(const http::Request& r) {
  std::map<std::string, std::string> kept;
  size_t metadata = 0;
  for (const auto& [name, value] : r.headers) {
    const std::string lower = AsciiLower(name);
    if (lower.starts_with("x-amz-meta-")) {
      metadata += lower.size() - 11 + value.size();
      auto [it, fresh] = kept.emplace(lower, value);
      if (!fresh) it->second += "," + value;
    } else if (std::find(kKeptHeaders.begin(), kKeptHeaders.end(), lower) != kKeptHeaders.end()) {
      kept[lower] = value;
    }
  }
  if (metadata > kMaxUserMetadata) {
    return S3Fail(S3Reason::kInvalidArgument, "user metadata (x-amz-meta-*) exceeds 2 KB");
  }
  // aws-chunked is the transfer's encoding, not the object's.
  if (auto it = kept.find("content-encoding"); it != kept.end()) {
    std::string rest;
    for (std::string_view part : SplitOn(it->second, ',')) {
      part = TrimAsciiSpace(part);
      if (part.empty() || part == "aws-chunked") continue;
      if (!rest.empty()) rest += ",";
      rest += part;
    }
    if (rest.empty()) {
      kept.erase(it);
    } else {
      it->second = rest;
    }
  }
  return kept;
}

Result<std::optional<std::array<uint8_t, 16>>> ContentMd5(const http::Request& r) {
  auto header = r.headers.Get("content-md5");
  if (!header) return std::optional<std::array<uint8_t, 16>>();
  auto digest = Base64Decode(*header);
  if (!digest || digest->size() != 16) {
    return S3Fail(S3Reason::kInvalidDigest, "the Content-MD5 you specified is not valid");
  }
  std::array<uint8_t, 16> md5{};
  std::copy(digest->begin(), digest->end(), md5.begin());
  return std::optional<std::array<uint8_t, 16>>(md5);
}

// The root key a request names for its object (aws:kms), "" for none.
Result<std::string> RequestRootKey(const http::Request& r) {
  auto sse = r.headers.Get("x-amz-server-side-encryption");
  auto key = r.headers.Get("x-amz-server-side-encryption-aws-kms-key-id");
  if (!sse) {
    if (key) {
      return S3Fail(S3Reason::kInvalidArgument,
                    "x-amz-server-side-encryption-aws-kms-key-id needs "
                    "x-amz-server-side-encryption: aws:kms");
    }
    return std::string();
  }
  if (*sse == "AES256") return std::string();
  if (*sse != "aws:kms") {
    return S3Fail(S3Reason::kInvalidArgument,
                  "x-amz-server-side-encryption must be AES256 or aws:kms");
  }
  if (!key || key->empty()) {
    return S3Fail(S3Reason::kInvalidArgument,
                  "aws:kms needs x-amz-server-side-encryption-aws-kms-key-id: a root key CRN");
  }
  return std::string(*key);
}

void SetEncryptionHeaders(http::Response& response, const std::string& root_key_crn) {
  if (root_key_crn.empty()) {
    response.headers.Set("x-amz-server-side-encryption", "AES256");
  } else {
    response.headers.Set("x-amz-server-side-encryption", "aws:kms");
    response.headers.Set("x-amz-server-side-encryption-aws-kms-key-id", root_key_crn);
    response.headers.Set("x-amz-server-side-encryption-bucket-key-enabled", "true");
  }
}

void AuditObject(http::RequestContext& ctx, const Bucket& bucket, std::string_view key,
                 std::string_view verb) {
  ctx.event().target.id = bucket.crn + "/" + std::string(key);
  ctx.event().target.type_uri = "cloud-object-storage/object";
  ctx.event().target.name = bucket.name + "/" + std::string(key);
  ctx.event().message =
      "Cloud Object Storage: " + std::string(verb) + " " + bucket.name + "/" + std::string(key);
}

namespace {

void SetObjectHeaders(http::Response& response, const Object& object) {
  response.headers.Set("ETag", object.etag);
  response.headers.Set("Last-Modified",
                       FormatHttpDate(TimePoint(std::chrono::milliseconds(object.modified_ms))));
  response.headers.Set("Accept-Ranges", "bytes");
  if (!object.headers.contains("content-type")) {
    response.headers.Set("Content-Type", "binary/octet-stream");
  }
  for (const auto& [name, value] : object.headers) response.headers.Set(name, value);
  SetEncryptionHeaders(response, object.root_key_crn);
}

// RFC 9110's entity tags: "*", or a list of quoted (optionally weak) tags.
bool EtagMatches(std::string_view header, std::string_view etag) {
  if (TrimAsciiSpace(header) == "*") return true;
  for (std::string_view tag : SplitOn(header, ',')) {
    tag = TrimAsciiSpace(tag);
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag || "\"" + std::string(tag) + "\"" == etag) return true;
  }
  return false;
}

std::optional<int64_t> HttpDateSeconds(std::optional<std::string_view> header) {
  if (!header) return std::nullopt;
  auto t = ParseHttpDate(*header);
  if (!t) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
}

}  // namespace

Result<int> CheckConditions(const http::Headers& headers, std::string_view prefix,
                            const Object& object) {
  const std::string p(prefix);
  const int64_t modified = object.modified_ms / 1000;
  if (auto match = headers.Get(p + "if-match")) {
    if (!EtagMatches(*match, object.etag)) {
      return S3Fail(S3Reason::kPreconditionFailed,
                    "At least one of the pre-conditions you "
                    "specified did not hold (If-Match)");
    }
  } else if (auto since = HttpDateSeconds(headers.Get(p + "if-unmodified-since"))) {
    if (modified > *since) {
      return S3Fail(S3Reason::kPreconditionFailed,
                    "At least one of the pre-conditions you specified did not hold "
                    "(If-Unmodified-Since)");
    }
  }
  if (auto none = headers.Get(p + "if-none-match")) {
    if (EtagMatches(*none, object.etag)) return 304;
  } else if (auto since = HttpDateSeconds(headers.Get(p + "if-modified-since"))) {
    if (modified <= *since) return 304;
  }
  return 0;
}

Result<ByteRange> RangeOf(std::optional<std::string_view> header, uint64_t size) {
  ByteRange whole{0, size, false};
  if (!header || !header->starts_with("bytes=")) return whole;
  std::string_view spec = header->substr(6);
  if (spec.find(',') != std::string_view::npos) return whole;
  size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return whole;
  auto first = ParseUint64(spec.substr(0, dash));
  auto last = ParseUint64(spec.substr(dash + 1));
  if (!first && !last) return whole;
  if (!first) {  // suffix: the last n bytes
    if (*last == 0) {
      return S3Fail(S3Reason::kInvalidRange, "The requested range is not satisfiable");
    }
    const uint64_t n = std::min(*last, size);
    return ByteRange{size - n, n, true};
  }
  if (dash + 1 < spec.size() && !last) return whole;
  if (last && *last < *first) return whole;
  if (*first >= size) {
    return S3Fail(S3Reason::kInvalidRange, "The requested range is not satisfiable");
  }
  const uint64_t end = last ? std::min(*last, size - 1) : size - 1;
  return ByteRange{*first, end - *first + 1, true};
}

namespace {

void ApplyOverrides(const http::Request& r, http::Response& response) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kOverrides = {{
      {"response-content-type", "Content-Type"},
      {"response-content-language", "Content-Language"},
      {"response-expires", "Expires"},
      {"response-cache-control", "Cache-Control"},
      {"response-content-disposition", "Content-Disposition"},
      {"response-content-encoding", "Content-Encoding"},
  }};
  for (const auto& [param, header] : kOverrides) {
    if (auto value = r.Query(param)) response.headers.Set(header, *value);
  }
}

// The bytes [start, start + length) of the object, pulled as the socket drains.
http::BodySource RangeSource(std::shared_ptr<ObjectReader> reader, uint64_t start,
                             uint64_t length) {
  return [reader = std::move(reader), pos = start,
          end = start + length](std::span<char> out) mutable -> Result<size_t> {
    if (pos >= end) return size_t{0};
    const size_t want = static_cast<size_t>(std::min<uint64_t>(out.size(), end - pos));
    const size_t got = VEIL_TRY_VALUE(
        reader->ReadAt(pos, std::span(reinterpret_cast<uint8_t*>(out.data()), want)));
    if (got == 0) return DataLoss("the object ended early");
    pos += got;
    return got;
  };
}

}  // namespace

Result<http::Response> PutObject(const CosApiDeps& deps, http::RequestContext& ctx,
                                 const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kPutObject));
  AuditObject(ctx, bucket, target.key, "write");
  const http::Request& r = ctx.request();
  PutObjectSpec spec;
  spec.key = target.key;
  spec.root_key_crn = VEIL_TRY_VALUE(RequestRootKey(r));
  spec.headers = VEIL_TRY_VALUE(StoredHeaders(r));
  spec.content_md5 = VEIL_TRY_VALUE(ContentMd5(r));
  if (auto none = r.headers.Get("if-none-match")) {
    if (TrimAsciiSpace(*none) != "*") {
      return S3Fail(S3Reason::kNotImplemented, "PUT accepts only If-None-Match: *");
    }
    spec.if_none_match_any = true;
  }
  auto body = VEIL_TRY_VALUE(RequestBody(deps, ctx, deps.max_put_bytes));
  Object object = VEIL_TRY_VALUE(deps.service->PutObject(bucket, spec, *body));
  ctx.event().response_data["size"] = object.size;
  http::Response response = WithRequestId(http::Response::Empty(200), ctx);
  response.headers.Set("ETag", object.etag);
  SetEncryptionHeaders(response, object.root_key_crn);
  return response;
}

Result<http::Response> GetObject(const CosApiDeps& deps, http::RequestContext& ctx,
                                 const Target& target) {
  const bool head = ctx.request().method == "HEAD";
  Bucket bucket =
      VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, head ? op::kHeadObject : op::kGetObject));
  AuditObject(ctx, bucket, target.key, head ? "head" : "read");
  Object object = VEIL_TRY_VALUE(deps.service->HeadObject(bucket, target.key));
  const int condition = VEIL_TRY_VALUE(CheckConditions(ctx.request().headers, "", object));
  if (condition == 304) {
    http::Response response = WithRequestId(http::Response::Empty(304), ctx);
    response.headers.Set("ETag", object.etag);
    response.headers.Set("Last-Modified",
                         FormatHttpDate(TimePoint(std::chrono::milliseconds(object.modified_ms))));
    return response;
  }
  ByteRange range = VEIL_TRY_VALUE(RangeOf(ctx.request().headers.Get("range"), object.size));
  // The keys are unwrapped for HEAD too: a disabled or deleted root key shows at once.
  std::shared_ptr<ObjectReader> reader = VEIL_TRY_VALUE(deps.service->OpenObject(bucket, object));
  const int status = range.partial ? 206 : 200;
  http::Response response = WithRequestId(
      http::Response::Stream(status, RangeSource(reader, range.start, range.length), range.length),
      ctx);
  SetObjectHeaders(response, object);
  if (range.partial) {
    response.headers.Set("Content-Range", "bytes " + std::to_string(range.start) + "-" +
                                              std::to_string(range.start + range.length - 1) + "/" +
                                              std::to_string(object.size));
  }
  ApplyOverrides(ctx.request(), response);
  ctx.event().response_data["size"] = range.length;
  return response;
}

Result<http::Response> DeleteObject(const CosApiDeps& deps, http::RequestContext& ctx,
                                    const Target& target) {
  Bucket bucket = VEIL_TRY_VALUE(AuthorizedBucket(deps, ctx, target, op::kDeleteObject));
  AuditObject(ctx, bucket, target.key, "delete");
  VEIL_TRY(deps.service->DeleteObject(bucket, target.key));
  return WithRequestId(http::Response::Empty(204), ctx);
}

}  // namespace veil::cos::api
