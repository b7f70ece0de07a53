// Security invariant (issue 11, item 9) for the LUKS2 binary headers and the choice of copy: a
// header libcryptsetup refuses, Veil refuses. Each case was found by the differential fuzz target
// (fuzz/luks_cryptsetup_diff_fuzz.cc) and is kept in its corpus (fuzz/luks_corpus_gen.py).
#include "luks/luks2_header.h"

#include <gtest/gtest.h>

#include "luks/inspect.h"
#include "luks/test_support.h"

namespace veil::luks {
namespace {

using testing::CryptsetupLoads;
using testing::FixLuks2Checksum;
using testing::Fixture;
using testing::StoreBe64At;

// libcryptsetup scans for a secondary copy only when the primary is absent or damaged. A primary
// whose checksum verifies is there, even with an hdr_size outside the spec's table (it checks only
// 16 KiB..4 MiB): its JSON area then runs into the secondary, libcryptsetup finds it invalid, looks
// for the secondary at that hdr_size only, finds none, and refuses the image. Veil treated such a
// primary as damaged and used the secondary it found by scanning.
TEST(Luks2Refuses, ChecksummedPrimaryOfAnOddSizeInFrontOfAValidSecondary) {
  auto img = Fixture("luks2-argon2id-4096.bin");
  ASSERT_TRUE(Inspect(img));
  StoreBe64At(img, 8, 16505);
  FixLuks2Checksum(img, 0);
  auto info = Inspect(img);
  ASSERT_FALSE(info) << "Veil accepts it";
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss) << info.error().ToString();
  EXPECT_NE(info.error().message.find("invalid hdr_size 16505"), std::string::npos)
      << info.error().message;
  EXPECT_FALSE(CryptsetupLoads(img));

  // Without its checksum the same primary is damaged: both use the secondary.
  img[448] ^= 1;
  info = Inspect(img);
  ASSERT_TRUE(info) << info.error().ToString();
  EXPECT_NE(info->warnings.at(0).find("using the secondary"), std::string::npos);
  EXPECT_TRUE(CryptsetupLoads(img));
}

}  // namespace
}  // namespace veil::luks
