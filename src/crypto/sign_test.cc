#include "crypto/sign.h"

#include <gtest/gtest.h>

#include "common/bytes.h"
#include "common/encoding.h"

namespace veil::crypto {
namespace {

// Generated once with the openssl CLI (openssl genpkey; openssl dgst -sha256 -sign) over
// kMessage: fixed keys and signatures made by an independent implementation.
constexpr std::string_view kMessage = "veil known-answer message";
constexpr std::string_view kRsaPrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQDcpSvW4xEC4k0F\n"
    "ora3GaosABinxUS/VOllf43jo77CMjIYegAbYqTSh64MEjN4OBmHvMKuxm11lPSl\n"
    "6qX1b2PmlpUg/A/ZCVLOiOUtOVLF1P/RxXES695+OInDicDgcqUm+sNaGVx63Js9\n"
    "B0SaqDVN6UvTyOVUnZkoFDhXxiNKCmqamD9as59d9ZwuLWVKzAkM/wf40A6npYgG\n"
    "4mYFCj8SPgWUh4xKdMdYfrV9TFKonb8Pdc3irGfF1zqp3a3IoEDBK11YnKMqAgNN\n"
    "kZwYh7wFFNmIKXw71/fYQdhAqTmENu6bU1zSktbmjtVPjOI/0m9mvNuu5nRqX8ae\n"
    "W4OgKtiHAgMBAAECggEALIUZSOUNECdoQhxYQK6pgvJMB0ILAo4X/9ZSY12tRlLJ\n"
    "f93R+rSXLDGbQS1E/FtZb2V7ZLd9640wJfAoJ1Mf9a1pjru9WN4EOs8tasgXtvoo\n"
    "2gM8MwSroo024uD/LWqEf052r03RtqqfmhtG0OviwYMyvRtaho28EvWtfqxof24l\n"
    "nIXQVpox6DwzgKu1geovNBGdgSxVnayfcqSzuf30aVYkFAiU94Dx096/eK+NbgIM\n"
    "Yw8uj8Gx9EgNHNbeH3x9v3JhGK4OX+LiEoGcVgeIxizpmp0iPdnla2kzdGfUx5b/\n"
    "g/sQneemtPiyEV0W/9eyYB9nfmZA4uYauj74kw7aUQKBgQD417MiHD/5eRZnc3Xd\n"
    "Z8Jqc9xhwW1VmgzLz/ybivAvtQiiX8+JAHjnfbh0hmilhdaNXUeP8ijdiY0ezr46\n"
    "qv8XG8+V9JGH3RrCrgRo4y96pWG4kcpceGs4+84UdTe0HRSJEqzcNQK86cp6ZGUD\n"
    "olIJCuxYG26hNHol/VZbFaD8EQKBgQDi/diU6A84d0kWh/PIodm7SLW9u4be/1zf\n"
    "lDyGHWow1LugtSV9nDSNdF771UB2yuphyuREXjgQIEa2mSzY3zjZa+Wqd3LEEVbD\n"
    "iL4YbnemitkvH5LYgF7ehvzLNRKn9gfrpZ7Lok96OI+Fuxy2JUQIZCmnBHH2mMGd\n"
    "y7Q1z8ADFwKBgDn0Ck0UZTXVpIkdU8LnqlieeSHvKWZ5RSemXb9f4UZLFCK0y6Gt\n"
    "kXrgRbgloXODMw+jPMpibHAD2/Dj11vUfSpFmNfkqIwKy3OxkWdYGbOnlpWkpotY\n"
    "pCgWRM1w6zMwXpr51XZHhka28CgG/5uUDyT5/UcbxG0YyqXUVWtLIz3xAoGAFfSd\n"
    "tVF432pSTHab8uUMzVusEI0J75ndntaUwBgqREzfVR0QYkTwpFoEMfGfiZ3467qX\n"
    "N7GxVIX6sQDB4Lw+oHEaRtHE7QgMT19zm6NbuWUmurMgHgbUpkuCOhmJE2vtujJL\n"
    "2MB7VYQRBctibI/QM8uUZ847Q7Hk0GF6rdXJacMCgYBBbqm92cwH/ffPlsJrs6i2\n"
    "cU2YVFK8sbIxxBUR91XeD6m3xpKlcr2vABedgxVS18NvNlJm3yVX0Cc5hXymHK+a\n"
    "qON8UV2xGQQR39cPY/q5bsJLOXgEdy9uCOwe2sawMteCY3y5SFAqOhTim1eRHunu\n"
    "4d2PY2tpfPI9TYrWDGs4Hg==\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kRsaSignatureBase64 =
    "kev8ayuC5zWPvVQ/0OLci2MXshOeKCzRCOW7esWiAd7p3VDgGJH0tpVZBOC6K4n++WBgHgvCyc27HG7qCvlZzoEL"
    "fM7JfJ+vj+wKeL+//Jca1rHLlfm5VqfnilSuBfjdoyPpgi54Caq8BkZSZuFYEcshnArBbwNhdf/5ELsvdh2AFvmu"
    "yZ1xRJZrH2QnLQ6Bk5e6vsC3ifjt91TPHKRR+o/ls/1YYIODdKyXEyaB9XdwaIr16Q9z3PLaVboffDoy+L7f2JF6"
    "n5IUVoLQ41L8bBS/qXSi2F5SE7OQzB+MTqYF5DYUH+TKJWfB02N63n7tEa7rX7uD5muJA7JhpFwYsg==";
constexpr std::string_view kRsaJwkN =
    "3KUr1uMRAuJNBaK2txmqLAAYp8VEv1TpZX-N46O-"
    "wjIyGHoAG2Kk0oeuDBIzeDgZh7zCrsZtdZT0peql9W9j5paVIPwP2QlSzojlLTlSxdT_0cVxEuvefjiJw4nA4HKl"
    "JvrDWhlcetybPQdEmqg1TelL08jlVJ2ZKBQ4V8YjSgpqmpg_WrOfXfWcLi1lSswJDP8H-"
    "NAOp6WIBuJmBQo_Ej4FlIeMSnTHWH61fUxSqJ2_D3XN4qxnxdc6qd2tyKBAwStdWJyjKgIDTZGcGIe8BRTZiCl8O"
    "9f32EHYQKk5hDbum1Nc0pLW5o7VT4ziP9JvZrzbruZ0al_GnluDoCrYhw";
constexpr std::string_view kEcPrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSmvEiyOBZGUNg+1N\n"
    "8PmAxFmhXyklF1cSr2jmrYm/WomhRANCAARSKJKCwLExEjAIOMbbJepFIfHkbkEx\n"
    "2TDJ5Z+/2eVeU37dhwnk167F4vBQwPGi0NKNIpYSj/9ozWx9AF4pBn8w\n"
    "-----END PRIVATE KEY-----\n";
constexpr std::string_view kEcSignatureBase64 =
    "MEUCIQDd4iBnop0VmlSQbQVb7yc7QvhOxquH0qbAac/+wFE7wwIgAjEOVCUhlnaH8CsmJv0rgIU8uG3xzpaxlKEG"
    "Aqx9pqA=";
constexpr std::string_view kEcJwkX = "UiiSgsCxMRIwCDjG2yXqRSHx5G5BMdkwyeWfv9nlXlM";
constexpr std::string_view kEcJwkY = "ft2HCeTXrsXi8FDA8aLQ0o0ilhKP_2jNbH0AXikGfzA";

std::vector<uint8_t> B64(std::string_view text) { return Base64Decode(text).value(); }

PrivateKey LoadKey(std::string_view pem) {
  auto key = PrivateKey::FromPem(AsBytes(pem));
  EXPECT_TRUE(key.has_value()) << key.error().ToString();
  return std::move(*key);
}

// RS256 is deterministic: our signature must equal the openssl CLI's byte for byte.
TEST(SignTest, Rs256MatchesFixedSignatureFromOpensslCli) {
  PrivateKey key = LoadKey(kRsaPrivatePem);
  EXPECT_EQ(key.type(), KeyType::kRsa);
  EXPECT_EQ(key.bits(), 2048);
  auto signature = key.Sign(SignatureAlgorithm::kRs256, AsBytes(kMessage));
  ASSERT_TRUE(signature.has_value()) << signature.error().ToString();
  EXPECT_EQ(Base64Encode(*signature), kRsaSignatureBase64);
  EXPECT_TRUE(key.public_key().Verify(SignatureAlgorithm::kRs256, AsBytes(kMessage),
                                      B64(kRsaSignatureBase64)));
}

TEST(SignTest, Es256VerifiesFixedSignatureFromOpensslCli) {
  PrivateKey key = LoadKey(kEcPrivatePem);
  EXPECT_EQ(key.type(), KeyType::kEcP256);
  PublicKey pub = key.public_key();
  EXPECT_TRUE(pub.Verify(SignatureAlgorithm::kEs256, AsBytes(kMessage), B64(kEcSignatureBase64)));
  // Raw r||s (JWS form) round-trips to the same DER.
  auto raw = EcdsaDerToRaw(B64(kEcSignatureBase64));
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 64u);
  EXPECT_EQ(EcdsaRawToDer(*raw).value(), B64(kEcSignatureBase64));
}

TEST(SignTest, TamperedMessageOrSignatureFails) {
  PrivateKey rsa = LoadKey(kRsaPrivatePem);
  PrivateKey ec = LoadKey(kEcPrivatePem);
  struct Case {
    const PrivateKey* key;
    SignatureAlgorithm algorithm;
    std::vector<uint8_t> signature;
  } cases[] = {{&rsa, SignatureAlgorithm::kRs256, B64(kRsaSignatureBase64)},
               {&ec, SignatureAlgorithm::kEs256, B64(kEcSignatureBase64)}};
  for (const Case& c : cases) {
    PublicKey pub = c.key->public_key();
    auto status = pub.Verify(c.algorithm, AsBytes("veil known-answer messagE"), c.signature);
    ASSERT_FALSE(status.has_value());
    EXPECT_EQ(status.error().code, ErrorCode::kUnauthenticated);
    for (size_t pos : {size_t{0}, c.signature.size() / 2, c.signature.size() - 1}) {
      std::vector<uint8_t> bad = c.signature;
      bad[pos] ^= 0x01;
      EXPECT_FALSE(pub.Verify(c.algorithm, AsBytes(kMessage), bad).has_value()) << pos;
    }
    EXPECT_FALSE(pub.Verify(c.algorithm, AsBytes(kMessage), {}).has_value());
  }
  // A signature by the other key, and an algorithm that does not fit the key.
  auto rsa2 = PrivateKey::GenerateRsa(2048).value();
  EXPECT_FALSE(rsa2.public_key()
                   .Verify(SignatureAlgorithm::kRs256, AsBytes(kMessage), B64(kRsaSignatureBase64))
                   .has_value());
  EXPECT_EQ(rsa.public_key()
                .Verify(SignatureAlgorithm::kEs256, AsBytes(kMessage), B64(kEcSignatureBase64))
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(ec.Sign(SignatureAlgorithm::kRs256, AsBytes(kMessage)).error().code,
            ErrorCode::kInvalidArgument);
}

TEST(SignTest, GeneratedKeysSignAndVerify) {
  auto ec = PrivateKey::GenerateEcP256();
  ASSERT_TRUE(ec.has_value());
  EXPECT_EQ(ec->bits(), 256);
  auto sig = ec->Sign(SignatureAlgorithm::kEs256, AsBytes("checkpoint 42"));
  ASSERT_TRUE(sig.has_value());
  EXPECT_TRUE(ec->public_key().Verify(SignatureAlgorithm::kEs256, AsBytes("checkpoint 42"), *sig));
  auto rsa = PrivateKey::GenerateRsa(2048);
  ASSERT_TRUE(rsa.has_value());
  auto rsig = rsa->Sign(SignatureAlgorithm::kRs256, AsBytes("token"));
  ASSERT_TRUE(rsig.has_value());
  EXPECT_EQ(rsig->size(), 256u);
  EXPECT_TRUE(rsa->public_key().Verify(SignatureAlgorithm::kRs256, AsBytes("token"), *rsig));
  EXPECT_EQ(PrivateKey::GenerateRsa(1024).error().code, ErrorCode::kInvalidArgument);
}

TEST(SignTest, JwkExportMatchesIndependentComputationAndImports) {
  PublicKey rsa = LoadKey(kRsaPrivatePem).public_key();
  auto jwk = rsa.ToRsaJwk();
  ASSERT_TRUE(jwk.has_value());
  EXPECT_EQ(jwk->n, kRsaJwkN);
  EXPECT_EQ(jwk->e, "AQAB");
  auto imported = PublicKey::FromRsaJwk(*jwk);
  ASSERT_TRUE(imported.has_value()) << imported.error().ToString();
  EXPECT_TRUE(
      imported->Verify(SignatureAlgorithm::kRs256, AsBytes(kMessage), B64(kRsaSignatureBase64)));
  EXPECT_EQ(rsa.ToEcJwk().error().code, ErrorCode::kFailedPrecondition);

  PublicKey ec = LoadKey(kEcPrivatePem).public_key();
  auto ec_jwk = ec.ToEcJwk();
  ASSERT_TRUE(ec_jwk.has_value());
  EXPECT_EQ(ec_jwk->x, kEcJwkX);
  EXPECT_EQ(ec_jwk->y, kEcJwkY);
  auto ec_imported = PublicKey::FromEcJwk(*ec_jwk);
  ASSERT_TRUE(ec_imported.has_value()) << ec_imported.error().ToString();
  EXPECT_TRUE(
      ec_imported->Verify(SignatureAlgorithm::kEs256, AsBytes(kMessage), B64(kEcSignatureBase64)));
  // A point that is not on the curve is refused.
  EcPublicJwk off_curve = *ec_jwk;
  off_curve.y = Base64UrlEncode(std::vector<uint8_t>(32, 0x01));
  EXPECT_EQ(PublicKey::FromEcJwk(off_curve).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(PublicKey::FromRsaJwk({"AQAB", "AQAB"}).has_value());  // tiny modulus
}

TEST(SignTest, PemAndDerRoundTrips) {
  PrivateKey key = LoadKey(kEcPrivatePem);
  auto pem = key.ToPem();
  ASSERT_TRUE(pem.has_value());
  EXPECT_EQ(pem->ToString(), "[redacted]");
  EXPECT_TRUE(AsStringView(pem->Reveal()).starts_with("-----BEGIN PRIVATE KEY-----"));
  PrivateKey again = LoadKey(AsStringView(pem->Reveal()));
  EXPECT_EQ(again.public_key().ToDer(), key.public_key().ToDer());

  const std::string pub_pem = key.public_key().ToPem();
  EXPECT_TRUE(pub_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
  auto pub = PublicKey::FromPem(pub_pem);
  ASSERT_TRUE(pub.has_value());
  EXPECT_EQ(pub->ToDer(), key.public_key().ToDer());
  EXPECT_EQ(PublicKey::FromDer(pub->ToDer()).value().type(), KeyType::kEcP256);
}

TEST(SignTest, RejectsMalformedAndUnsupportedKeys) {
  EXPECT_EQ(PrivateKey::FromPem(AsBytes("not a key")).error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .error()
                .code,
            ErrorCode::kInvalidArgument);
  // An encrypted PEM fails without prompting for a passphrase.
  // (passphrase "veil-test", made with openssl genpkey -aes-128-cbc)
  constexpr std::string_view kEncrypted =
      "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
      "MIHsMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgHlMjbxJI8aAICCAAw\n"
      "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEAQIEEOm+Ios5a8wC+Ayn0YZxqZMEgZAh\n"
      "hgQySbeVOnjjbsgEq+sI1dTi/rRzgjBdKIM/TTp8I4ERnzJ+w1kMd/JsDEsYKQ+X\n"
      "ze6FVykwANmf0eOTTvYopUkZ0bYNuCd2iXvAtC6ExdUuW+IhShbCP0DoGq/H0MW4\n"
      "XZEUhEDozFSDqwrong3wkz1Pq/oVidXBVRcU9q/OyfURYJ5H9Dv3/8vHgpiGmtw=\n"
      "-----END ENCRYPTED PRIVATE KEY-----\n";
  EXPECT_FALSE(PrivateKey::FromPem(AsBytes(kEncrypted)).has_value());
  // Ed25519 is not a supported signing key type here.
  constexpr std::string_view kEd25519 =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
      "-----END PRIVATE KEY-----\n";
  EXPECT_EQ(PrivateKey::FromPem(AsBytes(kEd25519)).error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(EcdsaDerToRaw(std::vector<uint8_t>{0x30, 0x01, 0x00}).has_value());
  EXPECT_FALSE(EcdsaRawToDer(std::vector<uint8_t>(63)).has_value());
}

}  // namespace
}  // namespace veil::crypto
