#include "kms/api/instance_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace veil::kms::api {
namespace {

using std::chrono::milliseconds;

// The inner resolver counts its calls; "gone" is unknown.
struct Inner {
  int calls = 0;
  InstanceResolver Resolver() {
    return [this](std::string_view guid) -> Result<InstanceRef> {
      ++calls;
      if (guid == "gone") return NotFound("no such instance");
      return InstanceRef{std::string(guid), "acc-" + std::string(guid), "crn:" + std::string(guid)};
    };
  }
};

TEST(CachedInstanceResolverTest, AnswersFromTheCacheUntilTheTtlPasses) {
  FakeClock clock;
  Inner inner;
  InstanceResolver resolve = CachedInstanceResolver(inner.Resolver(), clock, milliseconds(1000));
  for (int i = 0; i < 3; ++i) {
    auto a = resolve("a");
    ASSERT_TRUE(a.has_value());
    EXPECT_EQ(a->guid, "a");
    EXPECT_EQ(a->account_id, "acc-a");
    EXPECT_EQ(a->crn, "crn:a");
  }
  EXPECT_EQ(inner.calls, 1);
  clock.Advance(milliseconds(999));
  ASSERT_TRUE(resolve("a").has_value());
  EXPECT_EQ(inner.calls, 1);
  clock.Advance(milliseconds(1));  // expired: asks again
  ASSERT_TRUE(resolve("a").has_value());
  EXPECT_EQ(inner.calls, 2);
}

TEST(CachedInstanceResolverTest, UnknownGuidsAreNotCached) {
  FakeClock clock;
  Inner inner;
  InstanceResolver resolve = CachedInstanceResolver(inner.Resolver(), clock, milliseconds(1000));
  for (int i = 0; i < 2; ++i) {
    auto r = resolve("gone");
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
  }
  EXPECT_EQ(inner.calls, 2);
}

TEST(CachedInstanceResolverTest, KeepsAtMostCapacityGuids) {
  FakeClock clock;
  Inner inner;
  InstanceResolver resolve =
      CachedInstanceResolver(inner.Resolver(), clock, milliseconds(1000), /*capacity=*/2);
  ASSERT_TRUE(resolve("a").has_value());
  ASSERT_TRUE(resolve("b").has_value());
  ASSERT_TRUE(resolve("a").has_value());
  EXPECT_EQ(inner.calls, 2);
  ASSERT_TRUE(resolve("c").has_value());  // full: the cache empties, then holds c
  ASSERT_TRUE(resolve("c").has_value());
  EXPECT_EQ(inner.calls, 3);
  ASSERT_TRUE(resolve("a").has_value());
  EXPECT_EQ(inner.calls, 4);
}

}  // namespace
}  // namespace veil::kms::api
