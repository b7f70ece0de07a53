#include "http/internal/address_limits.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace veil::http::internal {
namespace {

using Kind = AddressLimits::Kind;

TEST(AddressLimitsTest, EachAddressGetsItsOwnShare) {
  AddressLimits limits(2, 1);
  auto a1 = limits.TryAcquire("127.0.0.2", Kind::kConnection);
  auto a2 = limits.TryAcquire("127.0.0.2", Kind::kConnection);
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(limits.TryAcquire("127.0.0.2", Kind::kConnection));
  // Another address is not affected, nor another kind.
  EXPECT_TRUE(limits.TryAcquire("127.0.0.3", Kind::kConnection));
  auto r = limits.TryAcquire("127.0.0.2", Kind::kRequest);
  ASSERT_TRUE(r);
  EXPECT_FALSE(limits.TryAcquire("127.0.0.2", Kind::kRequest));
  EXPECT_EQ(limits.count("127.0.0.2", Kind::kConnection), 2u);
}

TEST(AddressLimitsTest, ReleasingATicketFreesItsSlotOnce) {
  AddressLimits limits(1, 0);
  {
    auto t = limits.TryAcquire("10.0.0.1", Kind::kConnection);
    ASSERT_TRUE(t);
    auto moved = std::move(*t);  // the moved-from ticket releases nothing
    EXPECT_FALSE(limits.TryAcquire("10.0.0.1", Kind::kConnection));
  }
  EXPECT_EQ(limits.count("10.0.0.1", Kind::kConnection), 0u);
  EXPECT_TRUE(limits.TryAcquire("10.0.0.1", Kind::kConnection));
}

TEST(AddressLimitsTest, ZeroMeansNoCap) {
  AddressLimits limits(0, 0);
  std::vector<AddressLimits::Ticket> held;
  for (int i = 0; i < 1000; ++i) {
    auto t = limits.TryAcquire("10.0.0.1", Kind::kRequest);
    ASSERT_TRUE(t);
    held.push_back(std::move(*t));
  }
  EXPECT_EQ(limits.count("10.0.0.1", Kind::kRequest), 1000u);
}

TEST(AddressLimitsTest, AnIpv6HostCannotEscapeItsShareByChangingAddressesInItsSlash64) {
  const unsigned char a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
  const unsigned char b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0xde, 0xad, 0, 0, 0, 0, 0, 9};
  const unsigned char other[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_EQ(LimitKey(a, 16), "2001:db8:1:2::/64");
  EXPECT_EQ(LimitKey(a, 16), LimitKey(b, 16));
  EXPECT_NE(LimitKey(a, 16), LimitKey(other, 16));
  AddressLimits limits(1, 0);
  auto first = limits.TryAcquire(LimitKey(a, 16), Kind::kConnection);
  ASSERT_TRUE(first);
  EXPECT_FALSE(limits.TryAcquire(LimitKey(b, 16), Kind::kConnection));
}

TEST(AddressLimitsTest, Ipv4AndIpv4MappedAddressesShareTheirKey) {
  const unsigned char v4[4] = {127, 0, 0, 2};
  const unsigned char mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
  EXPECT_EQ(LimitKey(v4, 4), "127.0.0.2");
  EXPECT_EQ(LimitKey(mapped, 16), "127.0.0.2");
}

}  // namespace
}  // namespace veil::http::internal
