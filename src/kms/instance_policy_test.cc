#include "kms/instance_policy.h"

#include <gtest/gtest.h>

namespace veil::kms {
namespace {

// Rows a former version stored (its checks were looser for disabled policies and for the types
// Veil does not enforce) still read, so that one old row cannot make every KMS request of the
// instance fail; an enabled policy Veil enforces still fails closed.
TEST(InstancePolicyData, RowsStoredWithLooserChecksStillRead) {
  auto rotation = ReadStoredInstancePolicyData(
      "rotation", R"({"enabled":false,"attributes":{"interval_month":40}})");
  ASSERT_TRUE(rotation) << rotation.error().ToString();
  EXPECT_FALSE(rotation->enabled);
  EXPECT_FALSE(rotation->interval_month);
  auto ip = ReadStoredInstancePolicyData("allowedIP",
                                         R"({"enabled":false,"attributes":{"allowed_ip":"x"}})");
  ASSERT_TRUE(ip);
  EXPECT_TRUE(ip->allowed_ip.empty());
  auto network = ReadStoredInstancePolicyData(
      "allowedNetwork", R"({"enabled":true,"attributes":{"allowed_network":"anywhere"}})");
  ASSERT_TRUE(network);
  EXPECT_TRUE(network->enabled);
  EXPECT_FALSE(network->allowed_network);
  // Enforced and enabled: no way around the strict reading.
  EXPECT_FALSE(ReadStoredInstancePolicyData(
      "allowedIP", R"({"enabled":true,"attributes":{"allowed_ip":["not a block"]}})"));
  EXPECT_FALSE(ReadStoredInstancePolicyData("dualAuthDelete", R"({"enabled":"yes"})"));
  EXPECT_FALSE(ReadStoredInstancePolicyData("rotation", "not json"));
  // A row that parses strictly reads the same either way.
  const std::string good = R"({"enabled":true,"attributes":{"allowed_ip":["10.0.0.0/8"]}})";
  EXPECT_EQ(*ReadStoredInstancePolicyData("allowedIP", good),
            *ParseInstancePolicyData("allowedIP", std::string_view(good)));
}

}  // namespace
}  // namespace veil::kms
