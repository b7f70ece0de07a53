#include "store/database.h"

#include <gtest/gtest.h>

namespace veil::store {
namespace {

Row MakeRow() {
  auto cols = std::make_shared<const std::vector<std::string>>(
      std::vector<std::string>{"n", "d", "t", "b", "z"});
  return Row(cols, {std::int64_t{42}, 1.5, std::string("hi"), Blob{0, 1, 2}, kSqlNull});
}

TEST(RowTest, TypedAccessByIndexAndName) {
  Row row = MakeRow();
  ASSERT_EQ(row.size(), 5u);
  EXPECT_EQ(*row.GetInt64(0), 42);
  EXPECT_EQ(*row.GetInt64("n"), 42);
  EXPECT_EQ(*row.GetDouble("d"), 1.5);
  EXPECT_EQ(*row.GetDouble("n"), 42.0);  // the one widening allowed
  EXPECT_EQ(*row.GetText("t"), "hi");
  EXPECT_EQ(*row.GetBlob("b"), (Blob{0, 1, 2}));
  EXPECT_TRUE(*row.IsNull("z"));
  EXPECT_FALSE(*row.IsNull(0));
  EXPECT_EQ(TypeOf(*row.Get(3)), ValueType::kBlob);
}

TEST(RowTest, WrongTypeMissingColumnAndNullAreErrorsNotCrashes) {
  Row row = MakeRow();
  Result<std::int64_t> wrong = row.GetInt64("t");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(wrong.error().message.find("'t' is text, not int64"), std::string::npos)
      << wrong.error().message;
  EXPECT_EQ(row.GetText("nope").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(row.GetText(99).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(row.GetText("z").error().code, ErrorCode::kInvalidArgument);   // NULL is not text
  EXPECT_EQ(row.GetInt64("d").error().code, ErrorCode::kInvalidArgument);  // no narrowing
}

TEST(NotifyRulesTest, ChannelAndPayloadFollowPostgresLimits) {
  EXPECT_TRUE(ValidateChannel("key_disabled"));
  EXPECT_FALSE(ValidateChannel(""));
  EXPECT_FALSE(ValidateChannel("Key-Disabled"));
  EXPECT_FALSE(ValidateChannel(std::string(64, 'a')));
  EXPECT_TRUE(ValidatePayload(std::string(7998, 'x')));
  EXPECT_FALSE(ValidatePayload(std::string(7999, 'x')));
  EXPECT_FALSE(ValidatePayload(std::string("a\0b", 3)));
}

TEST(SubscriptionTest, CancelRunsOnceAndMoveTransfersOwnership) {
  int cancelled = 0;
  {
    Subscription a([&] { ++cancelled; });
    Subscription b = std::move(a);
    EXPECT_FALSE(a.active());  // NOLINT(bugprone-use-after-move): testing the moved-from state
    EXPECT_TRUE(b.active());
    b.Cancel();
    b.Cancel();
    EXPECT_EQ(cancelled, 1);
  }
  EXPECT_EQ(cancelled, 1);
}

}  // namespace
}  // namespace veil::store
