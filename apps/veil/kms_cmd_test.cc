#include "kms_cmd.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "crypto/aead.h"
#include "crypto/sign.h"

namespace veil::cli {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) { return AsBytes(s); }

TEST(ParseStateList, AcceptsNumbersAndNamesWithoutDuplicates) {
  auto s = ParseStateList("0,1,2,3,5");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(*s, "0,1,2,3,5");
  auto names = ParseStateList("active, Deactivated,1,destroyed,pre-activation");
  ASSERT_TRUE(names) << names.error().message;
  EXPECT_EQ(*names, "1,3,5,0");
}

TEST(ParseStateList, RejectsWhatIsNotAState) {
  for (const char* bad : {"4", "", "1,,2", "6", "-1", "1;2", "enabled", "01x"}) {
    auto s = ParseStateList(bad);
    EXPECT_FALSE(s) << bad;
    if (!s) {
      EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

TEST(KeyStateText, NamesEveryState) {
  EXPECT_EQ(KeyStateText(0), "Pre-activation");
  EXPECT_EQ(KeyStateText(1), "Active");
  EXPECT_EQ(KeyStateText(2), "Suspended");
  EXPECT_EQ(KeyStateText(3), "Deactivated");
  EXPECT_EQ(KeyStateText(5), "Destroyed");
  EXPECT_EQ(KeyStateText(4), "4");
}

TEST(KmsExitCode, FollowsStatusAndReason) {
  const Error conflict(ErrorCode::kAlreadyExists, "conflict");
  EXPECT_EQ(KmsExitCode(conflict, {409, "KEY_ACTION_INVALID_STATE_ERR"}),
            ExitCode(KmsExit::kKeyState));
  EXPECT_EQ(KmsExitCode(conflict, {409, "PROTECTED_RESOURCE_ERR"}), ExitCode(KmsExit::kConflict));
  EXPECT_EQ(KmsExitCode(conflict, {409, ""}), ExitCode(KmsExit::kConflict));
  const Error invalid(ErrorCode::kInvalidArgument, "x");
  EXPECT_EQ(KmsExitCode(invalid, {410, "KEY_DELETED_ERR"}), ExitCode(KmsExit::kKeyState));
  EXPECT_EQ(KmsExitCode(invalid, {422, "UNPROCESSABLE_CIPHERTEXT_ERR"}),
            ExitCode(KmsExit::kCiphertext));
  EXPECT_EQ(KmsExitCode(invalid, {422, "KEY_INVALID_STATE_ERR"}), ExitCode(KmsExit::kKeyState));
  EXPECT_EQ(KmsExitCode(Error(ErrorCode::kNotFound, "x"), {404, "KEY_NOT_FOUND_ERR"}),
            ExitCode(ApiExit::kNotFound));
  // Without a KMS answer, or for the statuses every command shares: ApiExitCode.
  EXPECT_EQ(KmsExitCode(invalid, {400, "BAD_BODY_ERR"}), ExitCode(ApiExit::kUsage));
  EXPECT_EQ(KmsExitCode(invalid, {}), ExitCode(ApiExit::kUsage));
  EXPECT_EQ(KmsExitCode(Error(ErrorCode::kPermissionDenied, "x"), {403, "UNAUTHORIZED_ERR"}),
            ExitCode(ApiExit::kPermissionDenied));
  EXPECT_EQ(KmsExitCode(Error(ErrorCode::kUnauthenticated, "x"), {}),
            ExitCode(ApiExit::kUnauthenticated));
  EXPECT_EQ(KmsExitCode(Error(ErrorCode::kUnavailable, "x"), {}), ExitCode(ApiExit::kFailed));
}

TEST(Base64Secret, MatchesTheEncoder) {
  for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    SecretBytes b = Base64Secret(Bytes(s));
    EXPECT_EQ(std::string(AsStringView(b.Reveal())), Base64Encode(Bytes(s))) << s;
  }
  std::vector<uint8_t> all(256);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(std::string(AsStringView(Base64Secret(all).Reveal())), Base64Encode(all));
}

TEST(JsonWithSecret, SplicesTheBase64OfTheSecretIntoThePlaceholder) {
  SecretBytes dek(Bytes("0123456789abcdef0123456789abcdef"));
  boost::json::object body{{"aad", boost::json::array{"a", "b\"c"}},
                           {"plaintext", kSecretPlaceholder}};
  auto text = JsonWithSecret(body, dek);
  ASSERT_TRUE(text) << text.error().message;
  boost::json::value parsed = boost::json::parse(AsStringView(text->Reveal()));
  EXPECT_EQ(parsed.at("plaintext").as_string(), Base64Encode(dek.Reveal()));
  EXPECT_EQ(parsed.at("aad").as_array()[1].as_string(), "b\"c");

  // Nested, as in a key collection.
  boost::json::object nested{{"resources", boost::json::array{boost::json::object{
                                               {"name", "k"}, {"payload", kSecretPlaceholder}}}}};
  auto n = JsonWithSecret(nested, dek);
  ASSERT_TRUE(n);
  boost::json::value nested_parsed = boost::json::parse(AsStringView(n->Reveal()));
  EXPECT_EQ(nested_parsed.at("resources").as_array()[0].at("payload").as_string(),
            Base64Encode(dek.Reveal()));
}

TEST(JsonWithSecret, RefusesAMissingOrRepeatedPlaceholder) {
  SecretBytes s(Bytes("x"));
  EXPECT_FALSE(JsonWithSecret(boost::json::object{{"plaintext", "x"}}, s));
  // A user value equal to the placeholder makes it ambiguous: refused, never guessed.
  EXPECT_FALSE(JsonWithSecret(
      boost::json::object{{"name", kSecretPlaceholder}, {"payload", kSecretPlaceholder}}, s));
}

TEST(SealForImport, TheKmsSideOpensItWithTheTokensPrivateKey) {
  auto rsa = crypto::PrivateKey::GenerateRsa(2048);
  ASSERT_TRUE(rsa) << rsa.error().message;
  const std::string pem = rsa->public_key().ToPem();
  const std::vector<uint8_t> nonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const std::vector<uint8_t> iv(12, 7);
  SecretBytes material(Bytes("K3y-material-of-thirty-two-bytes"));
  ASSERT_EQ(material.size(), 32u);
  auto f = SealForImport(pem, nonce, material, iv);
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->algorithm, "RSAES_OAEP_SHA_256");
  EXPECT_EQ(f->iv, Base64Encode(iv));

  // What KmsService::MaterialFromImport does with the fields.
  auto encrypted = Base64Decode(f->payload);
  ASSERT_TRUE(encrypted);
  auto plain = rsa->DecryptOaep(crypto::OaepHash::kSha256, *encrypted);
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_TRUE(plain->Equals(material));
  auto gcm = crypto::AesGcm::CreateAnySize(plain->Reveal());
  ASSERT_TRUE(gcm);
  auto sealed_nonce = Base64Decode(f->encrypted_nonce);
  ASSERT_TRUE(sealed_nonce);
  auto opened = gcm->Open(iv, {}, *sealed_nonce);
  ASSERT_TRUE(opened) << opened.error().message;
  EXPECT_EQ(*opened, nonce);
  // The payload is not the material in the clear.
  EXPECT_EQ(f->payload.find(Base64Encode(material.Reveal())), std::string::npos);
}

TEST(SealForImport, RefusesBadInput) {
  auto rsa = crypto::PrivateKey::GenerateRsa(2048);
  ASSERT_TRUE(rsa);
  const std::string pem = rsa->public_key().ToPem();
  const std::vector<uint8_t> nonce(16, 1), iv(12, 2);
  SecretBytes odd(Bytes("twenty-bytes-of-key"));
  EXPECT_FALSE(SealForImport(pem, nonce, odd, iv));
  SecretBytes good(Bytes("sixteen-byte-key"));
  EXPECT_TRUE(SealForImport(pem, nonce, good, iv));
  EXPECT_FALSE(SealForImport("not a pem", nonce, good, iv));
  EXPECT_FALSE(SealForImport(pem, nonce, good, std::vector<uint8_t>(16, 2)));
}

}  // namespace
}  // namespace veil::cli
