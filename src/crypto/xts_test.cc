#include "crypto/xts.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/encoding.h"
#include "common/random.h"
#include "crypto/internal/xts_vaes.h"
#include "crypto/testing/hex.h"

namespace veil::crypto {
namespace {

using testing::Hex;

// IEEE 1619-2007 Annex B vectors (checked against the copies in Botan's test suite).
struct ShortVector {
  int number;
  std::string_view key;
  uint64_t sector;
  std::string_view plaintext, ciphertext;
};
const ShortVector kShortVectors[] = {
    {2, "1111111111111111111111111111111122222222222222222222222222222222", 0x3333333333,
     "4444444444444444444444444444444444444444444444444444444444444444",
     "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0"},
    {3, "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f022222222222222222222222222222222", 0x3333333333,
     "4444444444444444444444444444444444444444444444444444444444444444",
     "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89"},
    // Vectors 15 and 17: data units that end in a partial block (ciphertext stealing).
    {15, "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0", 0x123456789a,
     "000102030405060708090a0b0c0d0e0f10", "6c1625db4671522d3d7599601de7ca09ed"},
    {17, "fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0bfbebdbcbbbab9b8b7b6b5b4b3b2b1b0", 0x123456789a,
     "000102030405060708090a0b0c0d0e0f101112", "e5df1351c0544ba1350b3363cd8ef4beedbf9d"},
};

// Vectors 4 and 5: XTS-AES-128, 512-byte data units 0 and 1 (vector 5 encrypts vector 4's
// output). Vector 10: XTS-AES-256, data unit 0xff. All plaintexts of 4 and 10 are 00..ff twice.
constexpr std::string_view kKey4 =
    "2718281828459045235360287471352631415926535897932384626433832795";
constexpr std::string_view kKey10 =
    "27182818284590452353602874713526624977572470936999595749669676273141592653589793238462643383"
    "279502884197169399375105820974944592";
constexpr std::string_view kVector4Ciphertext =
    "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89cc78cf7f5e543445f8333d8fa"
    "7f56000005279fa5d8b5e4ad40e736ddb4d35412328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc"
    "512c8866c7e860ce93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad02655ea92dc4"
    "c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8a750e8768defffed9122810aaeb99f91"
    "72af82b604dc4b8e51bcb08235a6f4341332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f"
    "1badd03c5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e94bff94effd01a91"
    "735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc1e08298516e2c9ed03ff3c1b7860f6de76d4cecd"
    "94c8119855ef5297ca67e9f3e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344"
    "b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd74d20cc39881c213ee770b10"
    "10e4bea718846977ae119f7a023ab58cca0ad752afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539e"
    "db609ef4f79c203ebb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18deb4a427d"
    "1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568";
constexpr std::string_view kVector5Ciphertext =
    "264d3ca8512194fec312c8c9891f279fefdd608d0c027b60483a3fa811d65ee59d52d9e40ec5672d81532b38"
    "b6b089ce951f0f9c35590b8b978d175213f329bb1c2fd30f2f7f30492a61a532a79f51d36f5e31a7c9a12c28"
    "6082ff7d2394d18f783e1a8e72c722caaaa52d8f065657d2631fd25bfd8e5baad6e527d763517501c68c5edc"
    "3cdd55435c532d7125c8614deed9adaa3acade5888b87bef641c4c994c8091b5bcd387f3963fb5bc37aa922f"
    "bfe3df4e5b915e6eb514717bdd2a74079a5073f5c4bfd46adf7d282e7a393a52579d11a028da4d9cd9c77124"
    "f9648ee383b1ac763930e7162a8d37f350b2f74b8472cf09902063c6b32e8c2d9290cefbd7346d1c779a0df5"
    "0edcde4531da07b099c638e83a755944df2aef1aa31752fd323dcb710fb4bfbb9d22b925bc3577e1b8949e72"
    "9a90bbafeacf7f7879e7b1147e28ba0bae940db795a61b15ecf4df8db07b824bb062802cc98a9545bb2aaeed"
    "77cb3fc6db15dcd7d80d7d5bc406c4970a3478ada8899b329198eb61c193fb6275aa8ca340344a75a862aebe"
    "92eee1ce032fd950b47d7704a3876923b4ad62844bf4a09c4dbe8b4397184b7471360c9564880aedddb9baa4"
    "af2e75394b08cd32ff479c57a07d3eab5d54de5f9738b8d27f27a9f0ab11799d7b7ffefb2704c95c6ad12c39"
    "f1e867a4b7b1d7818a4b753dfd2a89ccb45e001a03a867b187f225dd";
constexpr std::string_view kVector10Ciphertext =
    "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b5d31e276f8fe4a8d66b317f9"
    "ac683f44680a86ac35adfc3345befecb4bb188fd5776926c49a3095eb108fd1098baec70aaa66999a72a82f2"
    "7d848b21d4a741b0c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca2a3e7a7d"
    "7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0b5781c34803fa75421c790dfe1de1834"
    "f280d7667b327f6c8cd7557e12ac3a0f93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1"
    "a8cc81ec583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a84e18e8f84252070"
    "c13e9f1f289be54fbc481457778f616015e1327a02b140f1505eb309326d68378f8374595c849d84f4c333ec"
    "4423885143cb47bd71c5edae9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
    "a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac6e333b93eb4aff0479da9a41"
    "0e4450e0dd7ae4c6e2910900575da401fc07059f645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed"
    "5376441a77ed43851ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa773dad38"
    "014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151";

std::vector<uint8_t> CountingSector() {
  std::vector<uint8_t> data(512);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
  return data;
}

TEST(XtsTest, Ieee1619ShortVectors) {
  for (const ShortVector& v : kShortVectors) {
    auto xts = XtsCipher::Create(Hex(v.key));
    ASSERT_TRUE(xts.has_value()) << v.number;
    std::vector<uint8_t> data = Hex(v.plaintext);
    ASSERT_TRUE(xts->EncryptSector(data, v.sector)) << v.number;
    EXPECT_EQ(HexEncode(data), v.ciphertext) << "vector " << v.number;
    ASSERT_TRUE(xts->DecryptSector(data, v.sector));
    EXPECT_EQ(HexEncode(data), v.plaintext) << "vector " << v.number;
  }
}

TEST(XtsTest, Ieee1619Aes128SectorsVectors4And5) {
  auto xts = XtsCipher::Create(Hex(kKey4));
  ASSERT_TRUE(xts.has_value());
  EXPECT_EQ(xts->key_size(), 32u);
  // Two consecutive 512-byte sectors in one call: sector 0 holds vector 4's plaintext, sector 1
  // holds vector 5's plaintext (= vector 4's ciphertext).
  std::vector<uint8_t> buffer = CountingSector();
  std::vector<uint8_t> ct4 = Hex(kVector4Ciphertext);
  buffer.insert(buffer.end(), ct4.begin(), ct4.end());
  ASSERT_TRUE(xts->EncryptSectors(buffer, 0, 512));
  EXPECT_EQ(HexEncode(std::span(buffer).first(512)), kVector4Ciphertext);
  EXPECT_EQ(HexEncode(std::span(buffer).subspan(512)), kVector5Ciphertext);
  ASSERT_TRUE(xts->DecryptSectors(buffer, 0, 512));
  EXPECT_EQ(std::vector<uint8_t>(buffer.begin(), buffer.begin() + 512), CountingSector());
  EXPECT_EQ(std::vector<uint8_t>(buffer.begin() + 512, buffer.end()), ct4);
}

TEST(XtsTest, Ieee1619Aes256Vector10) {
  auto xts = XtsCipher::Create(Hex(kKey10));
  ASSERT_TRUE(xts.has_value());
  EXPECT_EQ(xts->key_size(), 64u);
  std::vector<uint8_t> data = CountingSector();
  ASSERT_TRUE(xts->EncryptSector(data, 0xff));
  EXPECT_EQ(HexEncode(data), kVector10Ciphertext);
  ASSERT_TRUE(xts->DecryptSector(data, 0xff));
  EXPECT_EQ(data, CountingSector());
}

TEST(XtsTest, ManySectorsMatchSectorBySectorAt4096) {
  OsRandom random;
  auto xts = XtsCipher::Create(random.Bytes(64)).value();
  const std::vector<uint8_t> plain = random.Bytes(4096 * 8);
  std::vector<uint8_t> bulk = plain;
  ASSERT_TRUE(xts.EncryptSectors(bulk, 1000, 4096));
  for (size_t i = 0; i < 8; ++i) {
    std::vector<uint8_t> one(plain.begin() + i * 4096, plain.begin() + (i + 1) * 4096);
    ASSERT_TRUE(xts.EncryptSector(one, 1000 + i));
    EXPECT_TRUE(std::equal(one.begin(), one.end(), bulk.begin() + i * 4096)) << i;
  }
  // The tweak matters: the same plaintext in another sector encrypts differently.
  std::vector<uint8_t> a(plain.begin(), plain.begin() + 4096), b = a;
  ASSERT_TRUE(xts.EncryptSector(a, 1));
  ASSERT_TRUE(xts.EncryptSector(b, 2));
  EXPECT_NE(a, b);
  ASSERT_TRUE(xts.DecryptSectors(bulk, 1000, 4096));
  EXPECT_EQ(bulk, plain);
}

TEST(XtsTest, Ieee1619Aes256Vector10ThroughTheTiledPath) {
  // Sector 0xff as the second of three 512-byte sectors in one EncryptSectors call.
  auto xts = XtsCipher::Create(Hex(kKey10)).value();
  std::vector<uint8_t> buffer(3 * 512, 0x5a);
  std::vector<uint8_t> counting = CountingSector();
  std::copy(counting.begin(), counting.end(), buffer.begin() + 512);
  ASSERT_TRUE(xts.EncryptSectors(buffer, 0xfe, 512));
  EXPECT_EQ(HexEncode(std::span(buffer).subspan(512, 512)), kVector10Ciphertext);
  ASSERT_TRUE(xts.DecryptSectors(buffer, 0xfe, 512));
  EXPECT_TRUE(std::equal(counting.begin(), counting.end(), buffer.begin() + 512));
  EXPECT_EQ(buffer[0], 0x5a);
  EXPECT_EQ(buffer[1024], 0x5a);
}

// EncryptSectors (with the VAES engine when the CPU has it; with OpenSSL: the tiled ECB path
// below 2048-byte sectors, OpenSSL's XTS above) must equal EncryptSector (OpenSSL's AES-XTS) called
// sector by sector, for every sector size, both key sizes, tweak steps 1 and 8, sector counts that
// fill and do not fill the VAES path's batches of four and the tiles, and tweaks up to the last
// one before the wrap; in place and from one buffer to another.
TEST(XtsTest, SectorsMatchSectorBySectorForEverySizeStepKeyAndEngine) {
  OsRandom random;
  for (XtsEngine engine : {XtsEngine::kFastest, XtsEngine::kOpenSsl}) {
    for (size_t key_bytes : {32, 64}) {
      const std::vector<uint8_t> key = random.Bytes(key_bytes);
      auto xts = XtsCipher::Create(key, engine).value();
      for (size_t sector_size : {512, 1024, 2048, 4096}) {
        for (uint64_t step : {uint64_t{1}, uint64_t{8}}) {
          for (size_t sectors : {1, 3, 4, 5, 33, 70}) {
            const std::vector<uint8_t> plain = random.Bytes(sector_size * sectors);
            for (uint64_t first :
                 {uint64_t{0}, uint64_t{0x0123456789abcdef}, UINT64_MAX - (sectors - 1) * step}) {
              const std::string where = std::string(xts.engine_name()) + " " +
                                        std::to_string(key_bytes) + " " +
                                        std::to_string(sector_size) + " " + std::to_string(step) +
                                        " " + std::to_string(sectors) + " " + std::to_string(first);
              std::vector<uint8_t> bulk = plain;
              ASSERT_TRUE(xts.EncryptSectors(bulk, first, sector_size, step));
              for (size_t i = 0; i < sectors; ++i) {
                std::vector<uint8_t> one(plain.begin() + i * sector_size,
                                         plain.begin() + (i + 1) * sector_size);
                ASSERT_TRUE(xts.EncryptSector(one, first + i * step));
                ASSERT_TRUE(std::equal(one.begin(), one.end(), bulk.begin() + i * sector_size))
                    << where << " sector " << i;
              }
              std::vector<uint8_t> copy(plain.size());
              ASSERT_TRUE(xts.EncryptSectors(std::span<const uint8_t>(plain), copy, first,
                                             sector_size, step));
              ASSERT_EQ(copy, bulk) << where;
              ASSERT_TRUE(xts.DecryptSectors(std::span<const uint8_t>(bulk), copy, first,
                                             sector_size, step));
              ASSERT_EQ(copy, plain) << where;
              ASSERT_TRUE(xts.DecryptSectors(bulk, first, sector_size, step));
              ASSERT_EQ(bulk, plain) << where;
            }
          }
        }
      }
    }
  }
}

// The IEEE 1619 sector vectors through EncryptSectors on both engines.
TEST(XtsTest, Ieee1619SectorVectorsOnBothEngines) {
  for (XtsEngine engine : {XtsEngine::kFastest, XtsEngine::kOpenSsl}) {
    auto xts128 = XtsCipher::Create(Hex(kKey4), engine).value();
    std::vector<uint8_t> buffer = CountingSector();
    std::vector<uint8_t> ct4 = Hex(kVector4Ciphertext);
    buffer.insert(buffer.end(), ct4.begin(), ct4.end());
    ASSERT_TRUE(xts128.EncryptSectors(buffer, 0, 512));
    EXPECT_EQ(HexEncode(std::span(buffer).first(512)), kVector4Ciphertext) << xts128.engine_name();
    EXPECT_EQ(HexEncode(std::span(buffer).subspan(512)), kVector5Ciphertext);

    auto xts256 = XtsCipher::Create(Hex(kKey10), engine).value();
    std::vector<uint8_t> plain(5 * 512, 0x5a), cipher(5 * 512);
    std::vector<uint8_t> counting = CountingSector();
    std::copy(counting.begin(), counting.end(), plain.begin() + 4 * 512);  // sector 0xff
    ASSERT_TRUE(xts256.EncryptSectors(std::span<const uint8_t>(plain), cipher, 0xfb, 512));
    EXPECT_EQ(HexEncode(std::span(cipher).subspan(4 * 512)), kVector10Ciphertext)
        << xts256.engine_name();
  }
}

TEST(XtsTest, EngineNameSaysWhichPathRuns) {
  auto openssl = XtsCipher::Create(Hex(kKey4), XtsEngine::kOpenSsl).value();
  EXPECT_STREQ(openssl.engine_name(), "openssl");
  auto fastest = XtsCipher::Create(Hex(kKey4)).value();
  EXPECT_STREQ(fastest.engine_name(), internal::VaesXtsAvailable() ? "vaes-avx512" : "openssl");
}

TEST(XtsTest, OutOfPlaceRefusesOverlapAndSizeMismatch) {
  auto xts = XtsCipher::Create(Hex(kKey10)).value();
  std::vector<uint8_t> buffer(4096);
  const std::span<uint8_t> all(buffer);
  EXPECT_EQ(
      xts.EncryptSectors(std::span<const uint8_t>(all.first(2048)), all.subspan(512, 2048), 0, 512)
          .error()
          .code,
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      xts.EncryptSectors(std::span<const uint8_t>(all.first(1024)), all.subspan(2048, 512), 0, 512)
          .error()
          .code,
      ErrorCode::kInvalidArgument);
  EXPECT_TRUE(xts.EncryptSectors(std::span<const uint8_t>(all.first(2048)), all.subspan(2048, 2048),
                                 0, 512));
}

TEST(XtsTest, TweakStepMustBePositiveAndMustNotWrap) {
  auto xts = XtsCipher::Create(Hex(kKey4)).value();
  std::vector<uint8_t> buffer(1024);
  EXPECT_EQ(xts.EncryptSectors(buffer, 0, 512, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(xts.EncryptSectors(buffer, UINT64_MAX - 7, 512, 8).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_TRUE(xts.EncryptSectors(buffer, UINT64_MAX - 8, 512, 8));
}

TEST(XtsTest, RejectsBadKeysAndSizes) {
  EXPECT_EQ(XtsCipher::Create(std::vector<uint8_t>(48, 1)).error().code,
            ErrorCode::kInvalidArgument);
  // IEEE vector 1's all-zero key has equal halves: refused.
  EXPECT_EQ(XtsCipher::Create(std::vector<uint8_t>(32, 0)).error().code,
            ErrorCode::kInvalidArgument);
  auto xts = XtsCipher::Create(Hex(kKey4)).value();
  std::vector<uint8_t> small(15), buffer(1000);
  EXPECT_EQ(xts.EncryptSector(small, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(xts.EncryptSectors(buffer, 0, 512).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(xts.EncryptSectors(std::span(buffer).first(768), 0, 768).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(xts.EncryptSectors(std::span(buffer).first(1024), UINT64_MAX, 512).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::crypto
