// Security invariant (issue 11, item 9) for the LUKS2 binary headers and the choice of copy: a
// header libcryptsetup refuses, Veil refuses. Each case was found by the differential fuzz target
// (fuzz/luks_cryptsetup_diff_fuzz.cc) and is kept in its corpus (fuzz/luks_corpus_gen.py).
#include "luks/luks2_header.h"

#include <gtest/gtest.h>

#include <cstring>

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
}

// With one copy damaged, libcryptsetup recovers it from the other, but first probes the device
// with blkid and refuses one that holds another signature ("Device contains ambiguous signatures,
// cannot auto-recover LUKS2"): here a romfs magic where the primary was, which made the image a
// valid LUKS2 (by its secondary) and a romfs at once. Veil cannot probe as blkid does, so it
// refuses every image with a single usable copy (found by luks_cryptsetup_diff_fuzz).
TEST(Luks2Refuses, ForeignSignatureWhereACopyIsDamaged) {
  auto img = Fixture("luks2-argon2id-4096.bin");
  std::memcpy(img.data(), "-rom1fs-", 8);
  auto info = Inspect(img);
  ASSERT_FALSE(info) << "Veil accepts it";
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss) << info.error().ToString();
  EXPECT_NE(info.error().message.find("only one of the two LUKS2 metadata copies is usable"),
            std::string::npos)
      << info.error().message;
  EXPECT_FALSE(CryptsetupLoads(img));
}

// The price of that rule, a Veil limit: without a foreign signature libcryptsetup reads an image
// whose primary is damaged (from its secondary), and Veil refuses it until it is repaired.
TEST(Luks2Limits, OneDamagedCopyIsRefused) {
  auto img = Fixture("luks2-argon2id-4096.bin");
  std::memset(img.data(), 0, 8);
  EXPECT_TRUE(CryptsetupLoads(img));
  auto info = Inspect(img);
  ASSERT_FALSE(info);
  EXPECT_NE(info.error().message.find("repair the image"), std::string::npos)
      << info.error().message;
}

}  // namespace
}  // namespace veil::luks
