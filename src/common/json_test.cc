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

}  // namespace
}  // namespace veil
