// Security invariant (issue 11, item 9) for LUKS1: Veil refuses every phdr that libcryptsetup 2.6
// refuses. The cases the differential corpus (fuzz/luks_corpus_gen.py) found, each shown refused
// by both; the genuine header, accepted by both, is the control.
#include "luks/luks1_header.h"

#include <gtest/gtest.h>

#include "luks/inspect.h"
#include "luks/test_support.h"

namespace veil::luks {
namespace {

using testing::CryptsetupLoads;
using testing::Fixture;

std::vector<uint8_t> WithHash(const std::string& hash) {
  auto img = Fixture("luks1-aes-xts-plain64-sha256.bin");
  std::fill_n(img.begin() + 72, 32, 0);
  std::copy(hash.begin(), hash.end(), img.begin() + 72);
  return img;
}

TEST(Luks1Refuses, HashLibcryptsetupCannotCompute) {
  const auto genuine = WithHash("sha256");
  ASSERT_TRUE(Inspect(genuine));
  ASSERT_TRUE(CryptsetupLoads(genuine, /*luks1=*/true));
  // Unknown to it, or a digest under the 20 bytes a LUKS1 master-key digest needs (md5).
  for (const char* hash : {"md5", "sha257", "crc32"}) {
    const auto img = WithHash(hash);
    auto info = Inspect(img);
    ASSERT_FALSE(info) << hash;
    EXPECT_EQ(info.error().code, ErrorCode::kUnimplemented) << info.error().ToString();
    EXPECT_NE(info.error().message.find("hash spec '" + std::string(hash) + "'"), std::string::npos)
        << info.error().message;
    EXPECT_FALSE(CryptsetupLoads(img, /*luks1=*/true)) << hash;
  }
}

// libcryptsetup multiplies the key-material offset (in sectors) by 512 in 32 bits: 2^23 sectors
// wraps to 0, "inside the header", and it refuses the phdr; Veil, in 64 bits, read 4 GiB. With a
// detached header (payload offset 0) nothing else bounded it.
TEST(Luks1Refuses, KeyMaterialOffsetPastFourGiB) {
  auto img = Fixture("luks1-aes-xts-plain64-sha256.bin");
  testing::StoreBe32At(img, 104, 0);                       // detached: payload offset 0
  testing::StoreBe32At(img, 208 + 7 * 48 + 40, 1u << 23);  // keyslot 7's key material
  auto info = Inspect(img);
  ASSERT_FALSE(info) << "Veil accepts it";
  EXPECT_EQ(info.error().code, ErrorCode::kDataLoss) << info.error().ToString();
  EXPECT_NE(info.error().message.find("keyslot 7: key material at or past 4 GiB"),
            std::string::npos)
      << info.error().message;
  EXPECT_FALSE(CryptsetupLoads(img, /*luks1=*/true));
}

}  // namespace
}  // namespace veil::luks
