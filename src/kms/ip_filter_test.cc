#include "kms/ip_filter.h"

#include <gtest/gtest.h>

namespace veil::kms {
namespace {

std::vector<IpBlock> Blocks(std::initializer_list<const char*> texts) {
  std::vector<IpBlock> out;
  for (const char* t : texts) out.push_back(ParseIpBlock(t).value());
  return out;
}

TEST(IpFilterTest, ParsesBlocksAndRefusesTheRest) {
  EXPECT_TRUE(ParseIpBlock("10.0.0.0/8"));
  EXPECT_TRUE(ParseIpBlock("192.0.2.7"));
  EXPECT_TRUE(ParseIpBlock("2001:db8::/32"));
  EXPECT_TRUE(ParseIpBlock("::1"));
  EXPECT_EQ(ParseIpBlock("192.0.2.7")->prefix, 32);
  EXPECT_EQ(ParseIpBlock("::1")->prefix, 128);
  for (const char* bad : {"", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0/8", "host",
                          "2001:db8::/129", "10.0.0.0/8x", "1.2.3.4.5"}) {
    EXPECT_FALSE(ParseIpBlock(bad)) << bad;
  }
}

TEST(IpFilterTest, MatchesByPrefix) {
  auto blocks = Blocks({"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "172.16.0.0/12"});
  EXPECT_TRUE(IpAllowed(blocks, "10.200.3.4"));
  EXPECT_TRUE(IpAllowed(blocks, "192.0.2.7"));
  EXPECT_FALSE(IpAllowed(blocks, "192.0.2.8"));
  EXPECT_TRUE(IpAllowed(blocks, "172.31.255.255"));
  EXPECT_FALSE(IpAllowed(blocks, "172.32.0.0"));
  EXPECT_TRUE(IpAllowed(blocks, "2001:db8:1::5"));
  EXPECT_FALSE(IpAllowed(blocks, "2001:db9::1"));
  EXPECT_TRUE(IpAllowed(blocks, "::ffff:10.1.2.3"));  // IPv4-mapped
  EXPECT_FALSE(IpAllowed(blocks, "127.0.0.1"));
  EXPECT_FALSE(IpAllowed(blocks, "not-an-address"));
  EXPECT_TRUE(IpAllowed(Blocks({"0.0.0.0/0"}), "203.0.113.9"));
  EXPECT_FALSE(IpAllowed(Blocks({"0.0.0.0/0"}), "::1"));
  EXPECT_FALSE(IpAllowed({}, "10.0.0.1"));
}

// inet_pton reads a C string, so the bytes after a NUL went unseen: "10.0.0.1\0junk" was stored
// as an allowedIP block although it is no address.
TEST(IpFilterTest, EmbeddedNulIsRefused) {
  using namespace std::string_view_literals;
  EXPECT_FALSE(ParseIpBlock("10.0.0.1\0junk"sv));
  EXPECT_FALSE(ParseIpBlock("10.0.0.0\0/8"sv));
  EXPECT_FALSE(ParseIpBlock("10.0.0.0/8\0"sv));
  EXPECT_FALSE(ParseIpBlock("::1\0"sv));
  EXPECT_FALSE(IpAllowed(Blocks({"10.0.0.0/8"}), "10.0.0.1\0x"sv));
}

// from_chars takes a sign: "10.0.0.0/-0" was read as /0, a block that allows every address.
TEST(IpFilterTest, SignedPrefixLengthIsRefused) {
  for (std::string_view bad : {"10.0.0.0/-0", "10.0.0.0/+8", "10.0.0.0/ 8", "10.0.0.0/0008",
                               "::/-0", "10.0.0.0/", "10.0.0.0/8/8"}) {
    EXPECT_FALSE(ParseIpBlock(bad)) << bad;
  }
  EXPECT_EQ(ParseIpBlock("10.0.0.0/008")->prefix, 8);
  EXPECT_EQ(ParseIpBlock("::/128")->prefix, 128);
}

}  // namespace
}  // namespace veil::kms
