#include "crypto/compare.h"

#include <gtest/gtest.h>

#include "common/bytes.h"

namespace veil::crypto {
namespace {

TEST(CompareTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals(AsBytes("mac-value"), AsBytes("mac-value")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("mac-value"), AsBytes("mac-valuE")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("Mac-value"), AsBytes("mac-value")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes("mac-value"), AsBytes("mac-value!")));
  EXPECT_FALSE(ConstantTimeEquals(AsBytes(""), AsBytes("x")));
  EXPECT_TRUE(ConstantTimeEquals({}, {}));
}

}  // namespace
}  // namespace veil::crypto
