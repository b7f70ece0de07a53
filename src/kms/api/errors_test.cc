// One error model, three dialects: the same Error, with or without a service's typed reason,
// rendered by Key Protect's dialect (kms/api/errors.h), the IBM platform / VPC JSON dialect and
// the S3 XML dialect (http/error_map.h). Each takes the status from its service's table (for a
// reason) or from src/http's one ErrorCode table (for a plain error), and the code word from the
// reason's name or from the status.
#include "kms/api/errors.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>

#include "http/error_map.h"

namespace veil::kms::api {
namespace {

// Two reason families of services still to come, declared as those services will declare theirs.
enum class StorageReason { kNoSuchBucket };
enum class VpcReason { kVolumeNotFound };

ErrorCode StorageCode(int) { return ErrorCode::kNotFound; }
std::string_view StorageName(int) { return "NoSuchBucket"; }
ErrorCode VpcCode(int) { return ErrorCode::kNotFound; }
std::string_view VpcName(int) { return "volume_not_found"; }
constexpr ErrorDomain kStorageDomain{"storage", &StorageCode, &StorageName};
constexpr ErrorDomain kVpcDomain{"vpc", &VpcCode, &VpcName};
const ErrorDomain& ErrorDomainOf(StorageReason) { return kStorageDomain; }
const ErrorDomain& ErrorDomainOf(VpcReason) { return kVpcDomain; }

http::RequestContext Ctx() {
  http::Request request;
  request.path = "/bucket/object";
  return http::RequestContext(std::move(request), "req-7", "corr-7");
}

std::string KpCode(const http::Response& r) {
  auto v = boost::json::parse(r.body);
  return std::string(v.at("resources").at(0).at("reasons").at(0).at("code").as_string());
}
std::string VpcCodeOf(const http::Response& r) {
  auto v = boost::json::parse(r.body);
  return std::string(v.at("errors").at(0).at("code").as_string());
}

TEST(ErrorDialectsTest, OnePlainErrorInEachDialect) {
  const Error e(ErrorCode::kNotFound, "nothing by that name <here>");
  const auto ctx = Ctx();
  const int status = http::HttpStatusFor(e.code);
  ASSERT_EQ(status, 404);

  const http::Response kp = RenderKpError(KpErrorOf(e));
  EXPECT_EQ(kp.status, 404);
  EXPECT_EQ(KpCode(kp), "NOT_FOUND_ERR");

  const http::Response vpc = http::RenderJsonError(e, status, ctx);
  EXPECT_EQ(vpc.status, 404);
  EXPECT_EQ(VpcCodeOf(vpc), "not_found");

  const http::Response s3 = http::RenderXmlError(e, status, ctx);
  EXPECT_EQ(s3.status, 404);
  EXPECT_EQ(s3.headers.Get("Content-Type"), "application/xml");
  EXPECT_EQ(s3.body,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NotFound</Code>"
            "<Message>nothing by that name &lt;here&gt;</Message><Resource>/bucket/object"
            "</Resource><RequestId>req-7</RequestId></Error>");
}

TEST(ErrorDialectsTest, ATypedReasonNamesItselfInItsDialect) {
  const auto ctx = Ctx();
  const Error kms = KmsError(KmsReason::kKeyDeleted, "the key was deleted");
  const KpError kp = KpErrorOf(kms);
  EXPECT_EQ(kp.status, 410);  // the KP dialect's table, not the generic 409 of its code
  EXPECT_EQ(KpCode(RenderKpError(kp)), "KEY_DELETED_ERR");

  const Error bucket(StorageReason::kNoSuchBucket, "no bucket named b");
  EXPECT_EQ(bucket.code, ErrorCode::kNotFound);
  const http::Response s3 = http::RenderXmlError(bucket, http::HttpStatusFor(bucket.code), ctx);
  EXPECT_NE(s3.body.find("<Code>NoSuchBucket</Code>"), std::string::npos) << s3.body;

  const Error volume(VpcReason::kVolumeNotFound, "no volume v-1");
  const http::Response vpc = http::RenderJsonError(volume, http::HttpStatusFor(volume.code), ctx);
  EXPECT_EQ(vpc.status, 404);
  EXPECT_EQ(VpcCodeOf(vpc), "volume_not_found");

  // A reason belongs to its own family only.
  EXPECT_FALSE(bucket.ReasonAs<KmsReason>());
  EXPECT_FALSE(kms.ReasonAs<StorageReason>());
  EXPECT_EQ(ReasonOf(bucket), KmsReason::kNotFound);  // KP answers a foreign reason by its code
}

TEST(ErrorDialectsTest, KpStatusesComeFromTheReasonOrTheTransport) {
  EXPECT_EQ(StatusOf(KmsReason::kUnprocessableCiphertext), 422);
  EXPECT_EQ(StatusOf(KmsReason::kKeyActionInvalidState), 409);
  EXPECT_EQ(KpErrorOf(Error(ErrorCode::kPermissionDenied, "no")).status, 403);
  EXPECT_EQ(KpErrorOf(Error(ErrorCode::kUnauthenticated, "no")).status, 401);
  EXPECT_EQ(KpErrorOf(KmsError(KmsReason::kUnauthorized, "no")).status, 401);
  const KpError too_big = KpErrorOf(http::BodyTooLarge(10), http::kStatusPayloadTooLarge);
  EXPECT_EQ(too_big.reason, KmsReason::kBodyTooLarge);
  EXPECT_EQ(too_big.status, 413);
  // A reason the handler gave wins over the transport's status.
  EXPECT_EQ(KpErrorOf(KmsError(KmsReason::kBadBody, "x"), 413).reason, KmsReason::kBadBody);
}

}  // namespace
}  // namespace veil::kms::api
