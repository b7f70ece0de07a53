#include "crypto/hash.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/encoding.h"
#include "crypto/testing/hex.h"

namespace veil::crypto {
namespace {

using testing::Hex;
std::string HexOf(std::span<const uint8_t> bytes) { return HexEncode(bytes); }

// FIPS 180-4 examples (NIST CSRC).
TEST(HashTest, Sha256KnownAnswers) {
  EXPECT_EQ(HexOf(Sha256(AsBytes(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexOf(Sha256(AsBytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexOf(Sha256(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HashTest, Sha1AndSha512KnownAnswers) {
  EXPECT_EQ(HexOf(Sha1(AsBytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(HexOf(Sha512(AsBytes("abc"))),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  const Sha1Digest sha1 = Sha1(AsBytes("abc"));
  EXPECT_EQ(Digest(HashAlgorithm::kSha1, AsBytes("abc")),
            std::vector<uint8_t>(sha1.begin(), sha1.end()));
  EXPECT_EQ(DigestSize(HashAlgorithm::kSha512), 64u);
}

TEST(HashTest, IncrementalSha256MatchesOneShotAndResets) {
  const std::string text(1000, 'a');
  Sha256Hasher hasher;
  for (size_t i = 0; i < text.size(); i += 7) {
    hasher.Update(AsBytes(std::string_view(text).substr(i, 7)));
  }
  EXPECT_EQ(hasher.Finish(), Sha256(AsBytes(text)));
  // After Finish the hasher starts over.
  hasher.Update(AsBytes("abc"));
  EXPECT_EQ(HexOf(hasher.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Hasher moved = std::move(hasher);
  EXPECT_EQ(moved.Finish(), Sha256(AsBytes("")));
}

// RFC 1321's test suite, whole and in pieces.
TEST(HashTest, Md5Rfc1321) {
  EXPECT_EQ(HexOf(Md5(AsBytes(""))), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(HexOf(Md5(AsBytes("abc"))), "900150983cd24fb0d6963f7d28e17f72");
  const std::string digits =
      "12345678901234567890123456789012345678901234567890123456789012345678901234567890";
  Md5Hasher hasher;
  for (size_t i = 0; i < digits.size(); i += 9) {
    hasher.Update(AsBytes(std::string_view(digits).substr(i, 9)));
  }
  EXPECT_EQ(HexOf(hasher.Finish()), "57edf4a22be3c955ac49da2e2107b67a");
  EXPECT_EQ(hasher.Finish(), Md5(AsBytes("")));
}

// RFC 4231 test cases 1, 2 and 6 (key longer than the block size).
TEST(HashTest, HmacSha256Rfc4231) {
  EXPECT_EQ(HexOf(HmacSha256(std::vector<uint8_t>(20, 0x0b), AsBytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(HexOf(HmacSha256(AsBytes("Jefe"), AsBytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HexOf(HmacSha256(std::vector<uint8_t>(131, 0xaa),
                             AsBytes("Test Using Larger Than Block-Size Key - Hash Key First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(Hmac(HashAlgorithm::kSha256, AsBytes("Jefe"), AsBytes("what do ya want for nothing?")),
            Hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

// RFC 5869 Appendix A, test cases 1-3.
TEST(HashTest, HkdfSha256Rfc5869) {
  struct Case {
    std::vector<uint8_t> ikm, salt, info;
    size_t length;
    std::string_view okm;
  };
  std::vector<uint8_t> ikm2, salt2, info2;
  for (int i = 0; i < 80; ++i) {
    ikm2.push_back(static_cast<uint8_t>(i));
    salt2.push_back(static_cast<uint8_t>(0x60 + i));
    info2.push_back(static_cast<uint8_t>(0xb0 + i));
  }
  const Case cases[] = {
      {std::vector<uint8_t>(22, 0x0b), Hex("000102030405060708090a0b0c"),
       Hex("f0f1f2f3f4f5f6f7f8f9"), 42,
       "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"},
      {ikm2, salt2, info2, 82,
       "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e5"
       "90e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"},
      {std::vector<uint8_t>(22, 0x0b),
       {},
       {},
       42,
       "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"},
  };
  for (const Case& c : cases) {
    auto okm = HkdfSha256(c.ikm, c.salt, c.info, c.length);
    ASSERT_TRUE(okm.has_value()) << okm.error().ToString();
    EXPECT_EQ(HexEncode(okm->Reveal()), c.okm);
  }
  EXPECT_EQ(HkdfSha256(cases[0].ikm, {}, {}, 0).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(HkdfSha256(cases[0].ikm, {}, {}, 255 * 32 + 1).error().code,
            ErrorCode::kInvalidArgument);
}

// RFC 6070 (PBKDF2-HMAC-SHA1) and RFC 7914 §11 (PBKDF2-HMAC-SHA256).
TEST(HashTest, Pbkdf2KnownAnswers) {
  struct Case {
    HashAlgorithm hash;
    std::string_view password, salt;
    uint32_t iterations;
    std::string_view dk;
  };
  const Case cases[] = {
      {HashAlgorithm::kSha1, "password", "salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"},
      {HashAlgorithm::kSha1, "password", "salt", 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"},
      {HashAlgorithm::kSha1, "password", "salt", 4096, "4b007901b765489abead49d926f721d065a429c1"},
      {HashAlgorithm::kSha1, "passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt",
       4096, "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"},
      {HashAlgorithm::kSha1, std::string_view("pass\0word", 9), std::string_view("sa\0lt", 5), 4096,
       "56fa6aa75548099dcc37d7f03425e0c3"},
      {HashAlgorithm::kSha256, "passwd", "salt", 1,
       "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
       "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"},
  };
  for (const Case& c : cases) {
    Pbkdf2Params params;
    params.hash = c.hash;
    params.iterations = c.iterations;
    params.length = c.dk.size() / 2;
    auto dk = Pbkdf2Hmac(params, AsBytes(c.password), AsBytes(c.salt));
    ASSERT_TRUE(dk.has_value()) << dk.error().ToString();
    EXPECT_EQ(HexEncode(dk->Reveal()), c.dk) << c.password << " / " << c.iterations;
  }
  Pbkdf2Params bad;
  bad.iterations = 0;
  EXPECT_EQ(Pbkdf2Hmac(bad, AsBytes("p"), AsBytes("s")).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace veil::crypto
