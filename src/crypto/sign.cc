#include "crypto/sign.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <climits>
#include <cstring>

#include "common/encoding.h"
#include "crypto/internal/ossl.h"

namespace veil::crypto {
namespace {

using internal::OpenSslFailure;

constexpr int kMinRsaBits = 2048;
constexpr size_t kP256FieldSize = 32;

const uint8_t kEmpty[1] = {0};
const uint8_t* DataOrEmpty(std::span<const uint8_t> s) { return s.empty() ? kEmpty : s.data(); }

Result<KeyType> Classify(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    if (EVP_PKEY_get_bits(pkey) < kMinRsaBits) {
      return InvalidArgument("RSA keys must have at least 2048 bits");
    }
    return KeyType::kRsa;
  }
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1 ||
        std::strcmp(group, "prime256v1") != 0) {
      internal::ClearOpenSslErrors();
      return InvalidArgument("only EC keys on P-256 are supported");
    }
    return KeyType::kEcP256;
  }
  return InvalidArgument("unsupported key type (expected RSA or EC P-256)");
}

bool Matches(SignatureAlgorithm algorithm, KeyType type) {
  return (algorithm == SignatureAlgorithm::kRs256 && type == KeyType::kRsa) ||
         (algorithm == SignatureAlgorithm::kEs256 && type == KeyType::kEcP256);
}

// A passphrase callback that refuses: encrypted PEM fails instead of prompting on a terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

std::vector<uint8_t> SpkiDer(EVP_PKEY* pkey) {
  int len = i2d_PUBKEY(pkey, nullptr);
  VEIL_CHECK_MSG(len > 0, "i2d_PUBKEY failed");
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  VEIL_CHECK(i2d_PUBKEY(pkey, &p) == len);
  return der;
}

Result<internal::Pkey> PkeyFromData(const char* type, OSSL_PARAM_BLD* bld) {
  internal::Params params(OSSL_PARAM_BLD_to_param(bld));
  internal::PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return OpenSslFailure(ErrorCode::kInvalidArgument, "invalid public key parameters");
  }
  return internal::Pkey(raw);
}

Result<std::string> BnParamBase64Url(EVP_PKEY* pkey, const char* name) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "reading RSA public parameters");
  }
  internal::Bignum bn(raw);
  std::vector<uint8_t> bytes(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), bytes.data());
  return Base64UrlEncode(bytes);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PublicKey

struct PublicKey::Impl {
  internal::Pkey pkey;
  KeyType type;
};

PublicKey::PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

Result<PublicKey> PublicKey::FromDer(std::span<const uint8_t> der) {
  if (der.size() > LONG_MAX) return InvalidArgument("public key too large");
  const uint8_t* p = der.data();
  internal::Pkey pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
  if (!pkey || p != der.data() + der.size()) {
    return OpenSslFailure(ErrorCode::kInvalidArgument, "malformed SubjectPublicKeyInfo");
  }
  KeyType type = VEIL_TRY_VALUE(Classify(pkey.get()));
  return PublicKey(std::make_shared<const Impl>(Impl{std::move(pkey), type}));
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  if (pem.size() > INT_MAX) return InvalidArgument("public key too large");
  internal::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslFailure(ErrorCode::kInternal, "BIO");
  internal::Pkey pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) return OpenSslFailure(ErrorCode::kInvalidArgument, "malformed PEM public key");
  KeyType type = VEIL_TRY_VALUE(Classify(pkey.get()));
  return PublicKey(std::make_shared<const Impl>(Impl{std::move(pkey), type}));
}

Result<PublicKey> PublicKey::FromRsaJwk(const RsaPublicJwk& jwk) {
  auto n = Base64UrlDecode(jwk.n);
  auto e = Base64UrlDecode(jwk.e);
  if (!n || !e || n->empty() || e->empty() || (*n)[0] == 0 || (*e)[0] == 0 || e->size() > 8) {
    return InvalidArgument("JWK: n and e must be unpadded base64url big-endian integers");
  }
  internal::Bignum bn_n(BN_bin2bn(n->data(), static_cast<int>(n->size()), nullptr));
  internal::Bignum bn_e(BN_bin2bn(e->data(), static_cast<int>(e->size()), nullptr));
  internal::ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "JWK: building RSA parameters");
  }
  internal::Pkey pkey = VEIL_TRY_VALUE(PkeyFromData("RSA", bld.get()));
  KeyType type = VEIL_TRY_VALUE(Classify(pkey.get()));
  return PublicKey(std::make_shared<const Impl>(Impl{std::move(pkey), type}));
}

Result<PublicKey> PublicKey::FromEcJwk(const EcPublicJwk& jwk) {
  auto x = Base64UrlDecode(jwk.x);
  auto y = Base64UrlDecode(jwk.y);
  if (!x || !y || x->size() != kP256FieldSize || y->size() != kP256FieldSize) {
    return InvalidArgument("JWK: x and y must be 32-byte unpadded base64url values");
  }
  uint8_t point[1 + 2 * kP256FieldSize];
  point[0] = 0x04;  // uncompressed
  std::memcpy(point + 1, x->data(), kP256FieldSize);
  std::memcpy(point + 1 + kP256FieldSize, y->data(), kP256FieldSize);
  internal::ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) !=
          1) {
    return OpenSslFailure(ErrorCode::kInternal, "JWK: building EC parameters");
  }
  // Decoding the point checks that it lies on the curve.
  internal::Pkey pkey = VEIL_TRY_VALUE(PkeyFromData("EC", bld.get()));
  internal::PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return OpenSslFailure(ErrorCode::kInvalidArgument, "JWK: invalid P-256 public key");
  }
  return PublicKey(std::make_shared<const Impl>(Impl{std::move(pkey), KeyType::kEcP256}));
}

KeyType PublicKey::type() const { return impl_->type; }
int PublicKey::bits() const { return EVP_PKEY_get_bits(impl_->pkey.get()); }

std::string PublicKey::ToPem() const {
  internal::Bio bio(BIO_new(BIO_s_mem()));
  VEIL_CHECK(bio != nullptr);
  VEIL_CHECK(PEM_write_bio_PUBKEY(bio.get(), impl_->pkey.get()) == 1);
  return BioToString(bio.get());
}

std::vector<uint8_t> PublicKey::ToDer() const { return SpkiDer(impl_->pkey.get()); }

Result<RsaPublicJwk> PublicKey::ToRsaJwk() const {
  if (impl_->type != KeyType::kRsa) return FailedPrecondition("not an RSA key");
  RsaPublicJwk jwk;
  jwk.n = VEIL_TRY_VALUE(BnParamBase64Url(impl_->pkey.get(), OSSL_PKEY_PARAM_RSA_N));
  jwk.e = VEIL_TRY_VALUE(BnParamBase64Url(impl_->pkey.get(), OSSL_PKEY_PARAM_RSA_E));
  return jwk;
}

Result<EcPublicJwk> PublicKey::ToEcJwk() const {
  if (impl_->type != KeyType::kEcP256) return FailedPrecondition("not an EC P-256 key");
  uint8_t point[1 + 2 * kP256FieldSize];
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(impl_->pkey.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
                                      sizeof(point), &len) != 1 ||
      len != sizeof(point) || point[0] != 0x04) {
    return OpenSslFailure(ErrorCode::kInternal, "reading the EC public point");
  }
  std::span<const uint8_t> all(point);
  return EcPublicJwk{Base64UrlEncode(all.subspan(1, kP256FieldSize)),
                     Base64UrlEncode(all.subspan(1 + kP256FieldSize, kP256FieldSize))};
}

Status PublicKey::Verify(SignatureAlgorithm algorithm, std::span<const uint8_t> data,
                         std::span<const uint8_t> signature) const {
  if (!Matches(algorithm, impl_->type)) {
    return InvalidArgument("signature algorithm does not match the key type");
  }
  internal::MdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md ||
      EVP_DigestVerifyInit(md.get(), &pctx, internal::Sha256(), nullptr, impl_->pkey.get()) != 1 ||
      (impl_->type == KeyType::kRsa &&
       EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
    return OpenSslFailure(ErrorCode::kInternal, "signature verification setup");
  }
  const int rc = EVP_DigestVerify(md.get(), DataOrEmpty(signature), signature.size(),
                                  DataOrEmpty(data), data.size());
  internal::ClearOpenSslErrors();
  if (rc != 1) return Unauthenticated("signature verification failed");
  return OkStatus();
}

// ---------------------------------------------------------------------------------------------
// PrivateKey

struct PrivateKey::Impl {
  internal::Pkey pkey;
  KeyType type;
};

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrivateKey::~PrivateKey() = default;
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;

Result<PrivateKey> PrivateKey::GenerateRsa(int bits) {
  if (bits != 2048 && bits != 3072 && bits != 4096) {
    return InvalidArgument("RSA key size must be 2048, 3072 or 4096 bits");
  }
  internal::Pkey pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (!pkey) return OpenSslFailure(ErrorCode::kInternal, "RSA key generation");
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), KeyType::kRsa}));
}

Result<PrivateKey> PrivateKey::GenerateEcP256() {
  internal::Pkey pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!pkey) return OpenSslFailure(ErrorCode::kInternal, "EC key generation");
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), KeyType::kEcP256}));
}

Result<PrivateKey> PrivateKey::FromPem(std::span<const uint8_t> pem) {
  if (pem.size() > INT_MAX) return InvalidArgument("private key too large");
  internal::Bio bio(BIO_new_mem_buf(DataOrEmpty(pem), static_cast<int>(pem.size())));
  if (!bio) return OpenSslFailure(ErrorCode::kInternal, "BIO");
  internal::Pkey pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, &NoPassphrase, nullptr));
  if (!pkey) {
    return OpenSslFailure(ErrorCode::kInvalidArgument, "malformed or encrypted PEM private key");
  }
  KeyType type = VEIL_TRY_VALUE(Classify(pkey.get()));
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey), type}));
}

KeyType PrivateKey::type() const { return impl_->type; }
int PrivateKey::bits() const { return EVP_PKEY_get_bits(impl_->pkey.get()); }

PublicKey PrivateKey::public_key() const {
  // Round-trip through SubjectPublicKeyInfo so the PublicKey shares no private material.
  std::vector<uint8_t> der = SpkiDer(impl_->pkey.get());
  auto key = PublicKey::FromDer(der);
  VEIL_CHECK_MSG(key.has_value(), "re-reading our own public key failed");
  return std::move(*key);
}

Result<SecretBytes> PrivateKey::ToPem() const {
  // The secure-memory BIO wipes its buffer when freed.
  internal::Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "PEM encoding of the private key");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
}

Result<std::vector<uint8_t>> PrivateKey::Sign(SignatureAlgorithm algorithm,
                                              std::span<const uint8_t> data) const {
  if (!Matches(algorithm, impl_->type)) {
    return InvalidArgument("signature algorithm does not match the key type");
  }
  internal::MdCtx md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md ||
      EVP_DigestSignInit(md.get(), &pctx, internal::Sha256(), nullptr, impl_->pkey.get()) != 1 ||
      (impl_->type == KeyType::kRsa &&
       EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)) {
    return OpenSslFailure(ErrorCode::kInternal, "signing setup");
  }
  size_t len = static_cast<size_t>(EVP_PKEY_get_size(impl_->pkey.get()));
  std::vector<uint8_t> signature(len);
  if (EVP_DigestSign(md.get(), signature.data(), &len, DataOrEmpty(data), data.size()) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "signing");
  }
  signature.resize(len);  // DER ECDSA signatures vary in length
  return signature;
}

// ---------------------------------------------------------------------------------------------
// RSA-OAEP

namespace {

// Sets OAEP padding with `hash` for OAEP and MGF1 on an initialized encrypt/decrypt context.
bool SetOaep(EVP_PKEY_CTX* ctx, OaepHash hash) {
  const EVP_MD* md = hash == OaepHash::kSha256 ? EVP_sha256() : EVP_sha1();
  return EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) == 1;
}

}  // namespace

Result<std::vector<uint8_t>> PublicKey::EncryptOaep(OaepHash hash,
                                                    std::span<const uint8_t> plaintext) const {
  if (impl_->type != KeyType::kRsa) return InvalidArgument("RSA-OAEP needs an RSA key");
  internal::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 || !SetOaep(ctx.get(), hash)) {
    return OpenSslFailure(ErrorCode::kInternal, "RSA-OAEP setup");
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, DataOrEmpty(plaintext), plaintext.size()) != 1) {
    return OpenSslFailure(ErrorCode::kInvalidArgument, "RSA-OAEP: plaintext too long");
  }
  std::vector<uint8_t> out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, DataOrEmpty(plaintext), plaintext.size()) !=
      1) {
    return OpenSslFailure(ErrorCode::kInvalidArgument, "RSA-OAEP: plaintext too long");
  }
  out.resize(len);
  return out;
}

Result<SecretBytes> PrivateKey::DecryptOaep(OaepHash hash,
                                            std::span<const uint8_t> ciphertext) const {
  if (impl_->type != KeyType::kRsa) return InvalidArgument("RSA-OAEP needs an RSA key");
  internal::PkeyCtx ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 || !SetOaep(ctx.get(), hash)) {
    return OpenSslFailure(ErrorCode::kInternal, "RSA-OAEP setup");
  }
  size_t len = static_cast<size_t>(EVP_PKEY_get_size(impl_->pkey.get()));
  SecretBytes out(len);
  if (EVP_PKEY_decrypt(ctx.get(), out.RevealMutable().data(), &len, DataOrEmpty(ciphertext),
                       ciphertext.size()) != 1) {
    internal::ClearOpenSslErrors();
    return DataLoss("RSA-OAEP: the ciphertext does not decrypt with this key");
  }
  SecretBytes exact(out.Reveal().first(len));
  return exact;
}

// ---------------------------------------------------------------------------------------------
// ECDSA signature encodings

Result<std::vector<uint8_t>> EcdsaDerToRaw(std::span<const uint8_t> der) {
  if (der.size() > 256) return InvalidArgument("ECDSA signature: too long");
  const uint8_t* p = der.data();
  internal::EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    internal::ClearOpenSslErrors();
    return InvalidArgument("ECDSA signature: malformed DER");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::vector<uint8_t> raw(2 * kP256FieldSize);
  if (BN_bn2binpad(r, raw.data(), kP256FieldSize) < 0 ||
      BN_bn2binpad(s, raw.data() + kP256FieldSize, kP256FieldSize) < 0) {
    internal::ClearOpenSslErrors();
    return InvalidArgument("ECDSA signature: r or s larger than 32 bytes");
  }
  return raw;
}

Result<std::vector<uint8_t>> EcdsaRawToDer(std::span<const uint8_t> raw) {
  if (raw.size() != 2 * kP256FieldSize)
    return InvalidArgument("ECDSA signature: expected 64 bytes");
  internal::Bignum r(BN_bin2bn(raw.data(), kP256FieldSize, nullptr));
  internal::Bignum s(BN_bin2bn(raw.data() + kP256FieldSize, kP256FieldSize, nullptr));
  internal::EcdsaSig sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "ECDSA signature encoding");
  }
  (void)r.release();  // owned by sig now
  (void)s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return OpenSslFailure(ErrorCode::kInternal, "ECDSA signature encoding");
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) {
    return OpenSslFailure(ErrorCode::kInternal, "ECDSA signature encoding");
  }
  return der;
}

}  // namespace veil::crypto
