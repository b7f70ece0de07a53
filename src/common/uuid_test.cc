#include "common/uuid.h"

#include <gtest/gtest.h>

namespace veil {
namespace {

TEST(UuidTest, NewUuidV4IsCanonicalVersion4) {
  OsRandom random;
  for (int i = 0; i < 100; ++i) {
    std::string id = NewUuidV4String(random);
    ASSERT_TRUE(IsUuidV4(id)) << id;
    EXPECT_EQ(id[14], '4');
  }
  EXPECT_NE(NewUuidV4String(random), NewUuidV4String(random));
}

TEST(UuidTest, SeededRandomGivesKnownUuid) {
  SeededRandom random(0);
  // Bytes of SplitMix64(seed 0), little-endian, with the version and variant bits forced.
  EXPECT_EQ(NewUuidV4String(random), "afcd1d7b-39a8-40e2-b465-b9a16a9e786e");
}

TEST(UuidTest, IsUuidV4RejectsNonCanonicalForms) {
  EXPECT_TRUE(IsUuidV4("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
  for (std::string_view bad : {
           "F47AC10B-58CC-4372-A567-0E02B2C3D479",           // upper case
           "{f47ac10b-58cc-4372-a567-0e02b2c3d479}",         // braces
           "urn:uuid:f47ac10b-58cc-4372-a567-0e02b2c3d479",  // urn
           "f47ac10b58cc4372a5670e02b2c3d479",               // no hyphens
           "f47ac10b-58cc-1372-a567-0e02b2c3d479",           // version 1
           "f47ac10b-58cc-4372-c567-0e02b2c3d479",           // Microsoft variant
           "f47ac10b-58cc-4372-a567-0e02b2c3d47",            // short
           "f47ac10b-58cc-4372-a567-0e02b2c3d4799",          // long
           "f47ac10b-58cc-4372-a567-0e02b2c3d47g",           // not hex
           "f47ac10b-58cc4-372-a567-0e02b2c3d479",           // hyphen misplaced
           "",
       }) {
    EXPECT_FALSE(IsUuidV4(bad)) << bad;
  }
}

TEST(UuidTest, ParseAcceptsEitherCaseAndCanonicalizes) {
  auto uuid = Uuid::Parse("F47AC10B-58CC-4372-A567-0E02B2C3D479");
  ASSERT_TRUE(uuid.has_value());
  EXPECT_EQ(uuid->ToString(), "f47ac10b-58cc-4372-a567-0e02b2c3d479");
  EXPECT_EQ(uuid->version(), 4);
  EXPECT_TRUE(uuid->is_rfc_variant());
  EXPECT_EQ(Uuid::Parse("f47ac10b58cc4372a5670e02b2c3d479").error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil
