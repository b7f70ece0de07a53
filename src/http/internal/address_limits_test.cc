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

}  // namespace
}  // namespace veil::http::internal
