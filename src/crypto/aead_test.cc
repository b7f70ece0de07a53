#include "crypto/aead.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/random.h"
#include "crypto/testing/hex.h"

namespace veil::crypto {
namespace {

using testing::Hex;

// AES-256 test cases 13-16 of "The Galois/Counter Mode of Operation (GCM)" (McGrew & Viega),
// the document NIST SP 800-38D refers to for its examples.
struct GcmVector {
  std::string_view key, iv, aad, plaintext, ciphertext, tag;
};
constexpr std::string_view kKey15 =
    "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr std::string_view kPlain15 =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6"
    "b525b16aedf5aa0de657ba637b391aafd255";
const GcmVector kVectors[] = {
    // Test case 13: empty plaintext and AAD.
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "", "", "530f8afbc74536b9a963b4f1c4cb738b"},
    // Test case 14: one zero block.
    {"0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
     "", "00000000000000000000000000000000", "cea7403d4d606b6e074ec5d3baf39d18",
     "d0d1c8a799996bf0265b98b5d48ab919"},
    // Test case 15: four blocks, no AAD.
    {kKey15, "cafebabefacedbaddecaf888", "", kPlain15,
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
     "828838c5f61e6393ba7a0abcc9f662898015ad",
     "b094dac5d93471bdec1a502270e3cc6c"},
    // Test case 16: partial last block and AAD.
    {kKey15, "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
     kPlain15.substr(0, 120),
     "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
     "828838c5f61e6393ba7a0abcc9f662",
     "76fc6ece0f4e1768cddf8853bb2d551b"},
};

TEST(AeadTest, GcmKnownAnswersSealAndOpen) {
  for (const GcmVector& v : kVectors) {
    auto gcm = AesGcm::Create(Hex(v.key));
    ASSERT_TRUE(gcm.has_value());
    auto sealed = gcm->Seal(Hex(v.iv), Hex(v.aad), Hex(v.plaintext));
    ASSERT_TRUE(sealed.has_value()) << sealed.error().ToString();
    // The tag is appended to the ciphertext.
    EXPECT_EQ(HexEncode(*sealed), std::string(v.ciphertext) + std::string(v.tag));
    auto opened = gcm->Open(Hex(v.iv), Hex(v.aad), *sealed);
    ASSERT_TRUE(opened.has_value()) << opened.error().ToString();
    EXPECT_EQ(HexEncode(*opened), v.plaintext);
  }
}

TEST(AeadTest, TamperingIsDetected) {
  const GcmVector& v = kVectors[3];
  const std::vector<uint8_t> key = Hex(v.key), iv = Hex(v.iv), aad = Hex(v.aad);
  const std::vector<uint8_t> sealed = AesGcmSeal(key, iv, aad, Hex(v.plaintext)).value();
  auto expect_rejected = [&](std::span<const uint8_t> k, std::span<const uint8_t> i,
                             std::span<const uint8_t> a, std::span<const uint8_t> s) {
    auto r = AesGcmOpen(k, i, a, s);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
    EXPECT_EQ(r.error().message, "AES-GCM: authentication failed");
  };
  for (size_t pos : {size_t{0}, sealed.size() / 2, sealed.size() - 1}) {  // body and tag
    std::vector<uint8_t> bad = sealed;
    bad[pos] ^= 0x01;
    expect_rejected(key, iv, aad, bad);
  }
  std::vector<uint8_t> other_key = key;
  other_key[0] ^= 0x80;
  expect_rejected(other_key, iv, aad, sealed);
  std::vector<uint8_t> other_iv = iv;
  other_iv[11] ^= 0x01;
  expect_rejected(key, other_iv, aad, sealed);
  expect_rejected(key, iv, AsBytes("crn:v1:veil:private:kms:local:a/x:i:key:other"), sealed);
  std::vector<uint8_t> truncated(sealed.begin(), sealed.end() - 1);
  expect_rejected(key, iv, aad, truncated);
}

TEST(AeadTest, FailedOpenWipesOutputBuffer) {
  OsRandom random;
  SecretBytes key = random.Secret(kAesGcmKeySize);
  std::vector<uint8_t> iv = random.Bytes(kAesGcmIvSize);
  auto gcm = AesGcm::Create(key.Reveal());
  ASSERT_TRUE(gcm.has_value());
  std::vector<uint8_t> sealed = gcm->Seal(iv, {}, AsBytes("a data encryption key")).value();
  sealed.back() ^= 0xff;
  std::vector<uint8_t> out(sealed.size() - kAesGcmTagSize, 0xcc);
  EXPECT_EQ(gcm->OpenInto(iv, {}, sealed, out).error().code, ErrorCode::kDataLoss);
  for (uint8_t b : out) ASSERT_EQ(b, 0);
}

TEST(AeadTest, InPlaceAndSecretVariants) {
  OsRandom random;
  SecretBytes key = random.Secret(kAesGcmKeySize);
  std::vector<uint8_t> iv = random.Bytes(kAesGcmIvSize);
  const std::string_view dek = "0123456789abcdef0123456789abcdef";
  auto gcm = AesGcm::Create(key.Reveal()).value();
  std::vector<uint8_t> buffer(dek.size() + kAesGcmTagSize);
  std::copy(dek.begin(), dek.end(), buffer.begin());
  ASSERT_TRUE(gcm.SealInto(iv, AsBytes("aad"), std::span(buffer).first(dek.size()), buffer));
  EXPECT_EQ(buffer, gcm.Seal(iv, AsBytes("aad"), AsBytes(dek)).value());
  auto secret = gcm.OpenSecret(iv, AsBytes("aad"), buffer);
  ASSERT_TRUE(secret.has_value());
  EXPECT_TRUE(secret->Equals(AsBytes(dek)));
  ASSERT_TRUE(gcm.OpenInto(iv, AsBytes("aad"), buffer, std::span(buffer).first(dek.size())));
  EXPECT_EQ(AsStringView(std::span(buffer).first(dek.size())), dek);
  EXPECT_TRUE(AesGcmOpenSecret(key.Reveal(), iv, AsBytes("aad"),
                               gcm.Seal(iv, AsBytes("aad"), AsBytes(dek)).value())
                  .value()
                  .Equals(AsBytes(dek)));
}

TEST(AeadTest, DetachedTagOpensInPlaceAndRejectsTampering) {
  OsRandom random;
  auto gcm = AesGcm::Create(random.Secret(kAesGcmKeySize).Reveal()).value();
  const std::vector<uint8_t> iv = random.Bytes(kAesGcmIvSize);
  const std::vector<uint8_t> plain = random.Bytes(1000);
  const std::vector<uint8_t> sealed = gcm.Seal(iv, AsBytes("aad"), plain).value();
  const std::span<const uint8_t> tag = std::span(sealed).last(kAesGcmTagSize);
  std::vector<uint8_t> buffer(sealed.begin(), sealed.end() - kAesGcmTagSize);
  ASSERT_TRUE(gcm.OpenDetachedInto(iv, AsBytes("aad"), buffer, tag, buffer));
  EXPECT_EQ(buffer, plain);

  std::vector<uint8_t> bad_tag(tag.begin(), tag.end());
  bad_tag[3] ^= 0x10;
  std::vector<uint8_t> out(plain.size(), 0xcc);
  const std::span<const uint8_t> ciphertext = std::span(sealed).first(plain.size());
  EXPECT_EQ(gcm.OpenDetachedInto(iv, AsBytes("aad"), ciphertext, bad_tag, out).error().code,
            ErrorCode::kDataLoss);
  for (uint8_t b : out) ASSERT_EQ(b, 0);
  EXPECT_EQ(gcm.OpenDetachedInto(iv, AsBytes("aad"), ciphertext, tag.first(15), out).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(gcm.OpenDetachedInto(iv, AsBytes("aad"), ciphertext, tag, std::span(out).first(9))
                .error()
                .code,
            ErrorCode::kInvalidArgument);
}

TEST(AeadTest, RejectsBadSizes) {
  EXPECT_EQ(AesGcm::Create(std::vector<uint8_t>(16)).error().code, ErrorCode::kInvalidArgument);
  auto gcm = AesGcm::Create(std::vector<uint8_t>(32, 1)).value();
  EXPECT_EQ(gcm.Seal(std::vector<uint8_t>(16), {}, AsBytes("x")).error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(gcm.Open(std::vector<uint8_t>(12), {}, std::vector<uint8_t>(15)).error().code,
            ErrorCode::kInvalidArgument);
  std::vector<uint8_t> out(3);
  EXPECT_EQ(gcm.SealInto(std::vector<uint8_t>(12), {}, AsBytes("x"), out).error().code,
            ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::crypto
