#include "cos/errors.h"

#include <gtest/gtest.h>

namespace veil::cos {
namespace {

TEST(S3ErrorsTest, ReasonsCarryS3sCodesAndStatuses) {
  EXPECT_EQ(S3ReasonName(S3Reason::kNoSuchKey), "NoSuchKey");
  EXPECT_EQ(S3ReasonStatus(S3Reason::kNoSuchKey), 404);
  EXPECT_EQ(S3ReasonName(S3Reason::kInternalError), "InternalError");
  EXPECT_EQ(S3ReasonStatus(S3Reason::kInternalError), 500);
  EXPECT_EQ(S3ReasonStatus(S3Reason::kPreconditionFailed), 412);
  EXPECT_EQ(S3ReasonStatus(S3Reason::kNotModified), 304);
  EXPECT_EQ(S3ReasonStatus(S3Reason::kInvalidRange), 416);
  EXPECT_EQ(S3ReasonName(S3Reason::kKmsDisabled), "KMS.DisabledException");
  EXPECT_EQ(S3ReasonName(S3Reason::kContentSha256Mismatch), "XAmzContentSHA256Mismatch");
  EXPECT_EQ(S3ReasonName(S3Reason::kExpiredToken), "ExpiredToken");
  Error e = S3Error(S3Reason::kBucketNotEmpty, "x");
  EXPECT_EQ(e.code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(S3ReasonOf(e), S3Reason::kBucketNotEmpty);
}

TEST(S3ErrorsTest, PlainErrorsMapToS3Codes) {
  EXPECT_EQ(S3ReasonOf(Error(ErrorCode::kNotFound, "")), S3Reason::kNoSuchKey);
  EXPECT_EQ(S3ReasonOf(Error(ErrorCode::kUnauthenticated, "")), S3Reason::kAccessDenied);
  EXPECT_EQ(S3ReasonOf(Error(ErrorCode::kResourceExhausted, "")), S3Reason::kEntityTooLarge);
  EXPECT_EQ(S3ReasonOf(Error(ErrorCode::kDataLoss, "")), S3Reason::kInternalError);
}

}  // namespace
}  // namespace veil::cos
