#include "common/json.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace veil {
namespace {

TEST(AllNumbersFinite, OrdinaryNumbersAreFinite) {
  EXPECT_TRUE(
      AllNumbersFinite(boost::json::parse(R"({"a":[1,-2,3.5,1e308,18446744073709551615]})")));
  EXPECT_TRUE(AllNumbersFinite(boost::json::parse("1e-400")));  // underflows to 0
}

// Boost.JSON reads 1e400 as an infinity, and writes it back as "Infinity", which is not JSON.
TEST(AllNumbersFinite, NumberBeyondDoubleRangeIsRefused) {
  EXPECT_FALSE(AllNumbersFinite(boost::json::parse("1e400")));
  EXPECT_FALSE(AllNumbersFinite(boost::json::parse("-1e400")));
  EXPECT_FALSE(AllNumbersFinite(boost::json::parse(R"({"a":{"b":[0,[1E999]]}})")));
}

TEST(JsonFields, AbsentAndNullAreEmptyAndOtherTypesNameTheField) {
  const boost::json::object o =
      boost::json::parse(R"({"s":"x","b":true,"l":["a","b"],"n":null,"i":1,"mixed":["a",1]})")
          .as_object();
  EXPECT_EQ(*json::OptionalString(o, "s"), std::optional<std::string>("x"));
  EXPECT_EQ(*json::OptionalString(o, "n"), std::nullopt);
  EXPECT_EQ(*json::OptionalString(o, "absent"), std::nullopt);
  EXPECT_EQ(*json::OptionalBool(o, "b"), std::optional<bool>(true));
  EXPECT_EQ(*json::OptionalStringList(o, "l"), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(json::OptionalStringList(o, "absent")->empty());
  EXPECT_EQ(*json::RequiredString(o, "s"), "x");

  auto wrong = json::OptionalString(o, "i");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(wrong.error().message, "i must be a string");
  EXPECT_EQ(json::OptionalBool(o, "s").error().message, "s must be a boolean");
  EXPECT_EQ(json::OptionalStringList(o, "s").error().message, "s must be an array");
  EXPECT_EQ(json::OptionalStringList(o, "mixed").error().message, "mixed must hold strings");
  EXPECT_EQ(json::RequiredString(o, "n").error().message, "n is required");
}

}  // namespace
}  // namespace veil
