#include "http/request_id.h"

#include <gtest/gtest.h>

#include <set>

#include "common/uuid.h"

namespace veil::http {
namespace {

TEST(RequestIdTest, NewRequestIdIsAFreshUuidV4) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {  // crosses a refill of the per-thread buffer (256 ids)
    const std::string id = NewRequestId();
    EXPECT_TRUE(IsUuidV4(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
  }
}

TEST(RequestIdTest, ValidCorrelationIdRefusesWhatCouldForgeALogLine) {
  EXPECT_EQ(ValidCorrelationId("abc-123_X.y:z").value_or(""), "abc-123_X.y:z");
  EXPECT_FALSE(ValidCorrelationId("").has_value());
  EXPECT_FALSE(ValidCorrelationId(std::string(129, 'a')).has_value());
  EXPECT_FALSE(ValidCorrelationId("a b").has_value());
  EXPECT_FALSE(ValidCorrelationId("a\nb").has_value());
}

}  // namespace
}  // namespace veil::http
