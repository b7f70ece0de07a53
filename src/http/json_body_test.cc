#include "http/json_body.h"

#include <gtest/gtest.h>

#include <string>

namespace veil::http {
namespace {

TEST(ParseJson, ParsesOneValue) {
  auto v = ParseJson(R"({"a":[1,2.5,"x",null,true]})");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_TRUE(v->is_object());
}

TEST(ParseJson, EmptyAndMalformedTextAreInvalidArgument) {
  for (std::string_view text : {"", " ", "{", "[1,]", "{\"a\":1}x", "nul"}) {
    auto v = ParseJson(text);
    ASSERT_FALSE(v) << text;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument) << text;
  }
}

TEST(ParseJson, NestingDeeperThanTheLimitIsRefused) {
  EXPECT_TRUE(ParseJson(std::string(64, '[') + std::string(64, ']')));
  EXPECT_FALSE(ParseJson(std::string(65, '[') + std::string(65, ']')));
}

// Boost.JSON reads 1e400 as an infinity and writes it back as "Infinity", which is not JSON: a
// body holding one would be stored as text nothing can read again.
TEST(ParseJson, NumberBeyondDoubleRangeIsRefused) {
  for (std::string_view text : {"1e400", "-1e400", R"({"policy_data":{"x":[1E999]}})"}) {
    auto v = ParseJson(text);
    ASSERT_FALSE(v) << text;
    EXPECT_EQ(v.error().code, ErrorCode::kInvalidArgument) << text;
    EXPECT_NE(v.error().message.find("out of range"), std::string::npos);
  }
}

}  // namespace
}  // namespace veil::http
