#include "luks/sector_cipher.h"

#include <gtest/gtest.h>

#include <numeric>

#include "crypto/xts.h"
#include "luks/test_support.h"

namespace veil::luks {
namespace {

using testing::Hex;
using testing::Pattern;

SecretBytes KeyOf(size_t n, uint8_t first) {
  std::vector<uint8_t> k(n);
  std::iota(k.begin(), k.end(), first);
  return SecretBytes(k);
}

Layout MakeLayout(std::string spec, size_t key_bytes, uint32_t sector_size, uint64_t tweak = 0) {
  Layout l;
  l.version = sector_size == 512 ? Version::kLuks1 : Version::kLuks2;
  l.cipher_spec = std::move(spec);
  l.key_bytes = key_bytes;
  l.sector_size = sector_size;
  l.iv_tweak = tweak;
  return l;
}

std::string EncryptDigest(const Layout& l, const SecretBytes& key, uint64_t offset) {
  auto data = Pattern(16384, 1);
  auto c = SectorCipher::Create(l, key);
  EXPECT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(c->Encrypt(data, offset));
  return Hex(crypto::Sha256(data));
}

// Expected values computed independently with Python's `cryptography` (AES-XTS with the tweak as
// a 16-byte little-endian IV number; CBC with ESSIV = AES-256-ECB under SHA-256(key)), with the IV
// number = iv_tweak + offset / 512: docs/formats/luks.md.
TEST(SectorCipher, KnownAnswers) {
  ASSERT_EQ(Hex(crypto::Sha256(Pattern(16384, 1))),
            "e3266e39dc70e2c33775602b1ac0fabc2bbe02d23fed3c5ef47def5e32ae3526");
  const SecretBytes k64 = KeyOf(64, 0);
  const SecretBytes k32 = KeyOf(32, 100);
  EXPECT_EQ(EncryptDigest(MakeLayout("aes-xts-plain64", 64, 512), k64, 1 << 20),
            "97aa38b8c5fc876a9def1af5854cd35c7e7811eec6b15635746729ed29425651");
  EXPECT_EQ(EncryptDigest(MakeLayout("aes-xts-plain64", 64, 4096, 3), k64, 8192),
            "2ccff4a71e30e18feed5f3039904ce4e63ec5cd9305028b4168c510607355313");
  EXPECT_EQ(EncryptDigest(MakeLayout("aes-xts-plain64", 32, 4096), k32, 0),
            "ff8053c548033a306d8f6c2e0258be70167282bebc39f7fff90216aa89aeee73");
  EXPECT_EQ(EncryptDigest(MakeLayout("aes-xts-plain", 64, 512, 0xfffffffe), k64, 0),
            "84edc37e678d25329931dc14ddd759fc8774f1b5dc3416439d2631fb90736d59");
  EXPECT_EQ(EncryptDigest(MakeLayout("aes-cbc-essiv:sha256", 32, 512), k32, 4096),
            "cc98f3d90f3aec3efc847298ec1c6ac22e9a36741d05970398c0040b51cdc9c5");
  EXPECT_EQ(EncryptDigest(MakeLayout("aes-cbc-essiv:sha256", 32, 4096), k32, 0),
            "d4a896d2451b70ecd72c57feb18b5dcb0321d1eb7c2b8fcf45298d9828f81a4e");
}

// With 4096-byte sectors the IV still counts 512-byte units: sector n of the payload has IV 8n.
TEST(SectorCipher, Ivs4096CountIn512ByteUnits) {
  const SecretBytes key = KeyOf(64, 0);
  auto data = Pattern(8192, 2);
  auto c = SectorCipher::Create(MakeLayout("aes-xts-plain64", 64, 4096), key);
  ASSERT_TRUE(c);
  auto mine = data;
  ASSERT_TRUE(c->Encrypt(mine, 4096 * 10));
  auto xts = crypto::XtsCipher::Create(key.Reveal());
  ASSERT_TRUE(xts);
  auto ref = data;
  ASSERT_TRUE(xts->EncryptSector(std::span(ref).first(4096), 80));
  ASSERT_TRUE(xts->EncryptSector(std::span(ref).subspan(4096), 88));
  EXPECT_EQ(mine, ref);
}

TEST(SectorCipher, RoundTripsAndClonesAgree) {
  for (const Layout& l :
       {MakeLayout("aes-xts-plain64", 64, 512), MakeLayout("aes-xts-plain64", 32, 4096, 77),
        MakeLayout("aes-xts-plain", 64, 512), MakeLayout("aes-cbc-essiv:sha256", 16, 512),
        MakeLayout("aes-cbc-essiv:sha256", 24, 1024)}) {
    const SecretBytes key = KeyOf(l.key_bytes, 9);
    auto c = SectorCipher::Create(l, key);
    ASSERT_TRUE(c) << l.cipher_spec << ": " << c.error().ToString();
    auto clone = c->Clone();
    ASSERT_TRUE(clone);
    const auto plain = Pattern(3 * 4096, 3);
    auto a = plain, b = plain;
    ASSERT_TRUE(c->Encrypt(a, 4096 * 5));
    ASSERT_TRUE(clone->Encrypt(b, 4096 * 5));
    EXPECT_EQ(a, b) << l.cipher_spec;
    EXPECT_NE(a, plain);
    ASSERT_TRUE(clone->Decrypt(a, 4096 * 5));
    EXPECT_EQ(a, plain) << l.cipher_spec;
    // A sector decrypted at the wrong offset is garbage.
    ASSERT_TRUE(c->Encrypt(b, 0));
    ASSERT_TRUE(c->Decrypt(b, l.sector_size));
    EXPECT_NE(b, plain);
  }
}

TEST(SectorCipher, MisalignedDataIsInvalidArgument) {
  auto c = SectorCipher::Create(MakeLayout("aes-xts-plain64", 64, 4096), KeyOf(64, 0));
  ASSERT_TRUE(c);
  std::vector<uint8_t> data(4096);
  EXPECT_EQ(c->Encrypt(data, 512).error().code, ErrorCode::kInvalidArgument);
  std::vector<uint8_t> odd(4096 + 512);
  EXPECT_EQ(c->Decrypt(odd, 0).error().code, ErrorCode::kInvalidArgument);
  std::vector<uint8_t> empty;
  EXPECT_TRUE(c->Encrypt(empty, 0));
}

TEST(SectorCipher, UnsupportedCiphersAndKeys) {
  EXPECT_EQ(
      SectorCipher::Create(MakeLayout("serpent-xts-plain64", 64, 512), KeyOf(64, 0)).error().code,
      ErrorCode::kUnimplemented);
  EXPECT_EQ(SectorCipher::Create(MakeLayout("aes-cbc-plain", 32, 512), KeyOf(32, 0)).error().code,
            ErrorCode::kUnimplemented);
  EXPECT_EQ(SectorCipher::Create(MakeLayout("aes-xts-plain64", 48, 512), KeyOf(48, 0)).error().code,
            ErrorCode::kUnimplemented);
  // Key size disagreeing with the layout.
  EXPECT_EQ(SectorCipher::Create(MakeLayout("aes-xts-plain64", 64, 512), KeyOf(32, 0)).error().code,
            ErrorCode::kInvalidArgument);
  // XTS with equal halves.
  EXPECT_EQ(
      SectorCipher::Create(MakeLayout("aes-xts-plain64", 64, 512), SecretBytes(64)).error().code,
      ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      SectorCipher::Create(MakeLayout("aes-xts-plain64", 64, 8192), KeyOf(64, 0)).error().code,
      ErrorCode::kInvalidArgument);
  EXPECT_TRUE(SectorCipher::CheckSupported("aes-cbc-essiv:sha256", 32));
  EXPECT_FALSE(SectorCipher::CheckSupported("aes-cbc-essiv:sha256", 64));
}

}  // namespace
}  // namespace veil::luks
