#include "kms/errors.h"

#include <gtest/gtest.h>

namespace veil::kms {
namespace {

TEST(KmsReasonTest, AReasonGivesItsCodeAndNameAndIsReadBackTyped) {
  Error e = KmsError(KmsReason::kKeyActionInvalidState, "Key is not in a valid state");
  EXPECT_EQ(e.code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(e.message, "Key is not in a valid state");
  EXPECT_EQ(e.ReasonAs<KmsReason>(), KmsReason::kKeyActionInvalidState);
  EXPECT_TRUE(e.Is(KmsReason::kKeyActionInvalidState));
  EXPECT_EQ(ReasonOf(e), KmsReason::kKeyActionInvalidState);
  EXPECT_EQ(KmsReasonName(ReasonOf(e)), "KEY_ACTION_INVALID_STATE_ERR");
  EXPECT_EQ(e.ToString(),
            "FailedPrecondition [KEY_ACTION_INVALID_STATE_ERR]: Key is not in a valid state");
  EXPECT_EQ(KmsError(KmsReason::kKeyDeleted, "x").code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(KmsError(KmsReason::kUnprocessableCiphertext, "x").code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(KmsError(KmsReason::kKeyNotFound, "x").code, ErrorCode::kNotFound);
}

TEST(KmsReasonTest, WrappingKeepsTheReason) {
  Error e = KmsError(KmsReason::kKeyDeleted, "gone").Wrap("unwrap");
  EXPECT_EQ(e.message, "unwrap: gone");
  EXPECT_TRUE(e.Is(KmsReason::kKeyDeleted));
  const Error base = KmsError(KmsReason::kKeyDeleted, "gone");
  EXPECT_TRUE(base.Wrap("again").Is(KmsReason::kKeyDeleted));
}

TEST(KmsReasonTest, APlainErrorGetsTheDefaultReasonOfItsCode) {
  EXPECT_EQ(ReasonOf(Error(ErrorCode::kNotFound, "gone")), KmsReason::kNotFound);
  EXPECT_EQ(ReasonOf(Error(ErrorCode::kPermissionDenied, "no")), KmsReason::kUnauthorized);
  EXPECT_EQ(ReasonOf(Error(ErrorCode::kFailedPrecondition, "no")), KmsReason::kConflict);
  EXPECT_EQ(ReasonOf(Error(ErrorCode::kInternal, "x")), KmsReason::kInternalServer);
  EXPECT_FALSE(Error(ErrorCode::kNotFound, "gone").ReasonAs<KmsReason>());
}

// The old model carried the reason as a "CODE: text" prefix and parsed it back out of the
// message, so a message that started with a code's name took that code.
TEST(KmsReasonTest, AMessageThatLooksLikeAReasonIsNotTakenForOne) {
  const Error e(ErrorCode::kInternal, "KEY_DELETED_ERR: x");
  EXPECT_EQ(ReasonOf(e), KmsReason::kInternalServer);
}

TEST(KmsReasonTest, EveryReasonHasADistinctNameThatReadsBack) {
  for (int v = 0; v <= static_cast<int>(KmsReason::kGatewayTimeout); ++v) {
    const auto reason = static_cast<KmsReason>(v);
    const std::string_view name = KmsReasonName(reason);
    ASSERT_FALSE(name.empty());
    EXPECT_EQ(KmsReasonNamed(name), reason) << name;
  }
  EXPECT_FALSE(KmsReasonNamed("NOPE"));
}

}  // namespace
}  // namespace veil::kms
