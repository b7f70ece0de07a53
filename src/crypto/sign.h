// Digital signatures: RSA PKCS#1 v1.5 with SHA-256 (JWS "RS256") and ECDSA P-256 with SHA-256
// (JWS "ES256"), for IAM access tokens and audit checkpoints.
//
// PrivateKey and PublicKey are opaque handles (OpenSSL EVP_PKEY inside). Accepted keys: RSA with a
// modulus of at least 2048 bits, and EC keys on P-256; anything else is kInvalidArgument.
// ES256 signatures are DER-encoded (ECDSA-Sig-Value) as OpenSSL produces them; JWS wants the raw
// 64-byte r||s form: convert with EcdsaDerToRaw / EcdsaRawToDer.
//
// Errors: kInvalidArgument for malformed keys or an algorithm that does not match the key type;
// kUnauthenticated "signature verification failed" when a signature does not verify (including a
// malformed signature); kInternal when OpenSSL fails otherwise.
//
// Thread-safety: PrivateKey and PublicKey are immutable after creation; const methods may be
// called from many threads at once. PublicKey is cheap to copy (shared, reference-counted).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil::crypto {

enum class KeyType { kRsa, kEcP256 };
enum class SignatureAlgorithm { kRs256, kEs256 };
// RSA-OAEP's hash (the same for OAEP and MGF1; the label is empty), as Key Protect's secure
// import uses: RSAES_OAEP_SHA_256 and the legacy RSAES_OAEP_SHA_1.
enum class OaepHash { kSha256, kSha1 };

// RFC 7518 §6.3.1 public parameters, base64url without padding.
struct RsaPublicJwk {
  std::string n;
  std::string e;
};
// RFC 7518 §6.2.1 public parameters for crv "P-256", base64url without padding (32 bytes each).
struct EcPublicJwk {
  std::string x;
  std::string y;
};

class PublicKey {
 public:
  // "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo).
  [[nodiscard]] static Result<PublicKey> FromPem(std::string_view pem);
  // SubjectPublicKeyInfo DER.
  [[nodiscard]] static Result<PublicKey> FromDer(std::span<const uint8_t> der);
  [[nodiscard]] static Result<PublicKey> FromRsaJwk(const RsaPublicJwk& jwk);
  [[nodiscard]] static Result<PublicKey> FromEcJwk(const EcPublicJwk& jwk);

  KeyType type() const;
  // Modulus size for RSA, 256 for P-256.
  int bits() const;

  std::string ToPem() const;
  std::vector<uint8_t> ToDer() const;
  // kFailedPrecondition if the key is not of that type.
  [[nodiscard]] Result<RsaPublicJwk> ToRsaJwk() const;
  [[nodiscard]] Result<EcPublicJwk> ToEcJwk() const;

  // OK iff `signature` is a valid `algorithm` signature of `data` under this key.
  // RSA-OAEP encryption (RSA keys only; kInvalidArgument otherwise or when `plaintext` is too
  // long for the key).
  [[nodiscard]] Result<std::vector<uint8_t>> EncryptOaep(OaepHash hash,
                                                         std::span<const uint8_t> plaintext) const;
  [[nodiscard]] Status Verify(SignatureAlgorithm algorithm, std::span<const uint8_t> data,
                              std::span<const uint8_t> signature) const;

 private:
  struct Impl;
  explicit PublicKey(std::shared_ptr<const Impl> impl);
  std::shared_ptr<const Impl> impl_;
  friend class PrivateKey;
};

class PrivateKey {
 public:
  // kInvalidArgument unless bits is 2048, 3072 or 4096. Slow: RSA-4096 may take seconds.
  [[nodiscard]] static Result<PrivateKey> GenerateRsa(int bits);
  [[nodiscard]] static Result<PrivateKey> GenerateEcP256();
  // Unencrypted PEM: PKCS#8 ("PRIVATE KEY") or traditional ("RSA PRIVATE KEY", "EC PRIVATE
  // KEY"). Encrypted PEM is rejected (never prompts for a passphrase).
  [[nodiscard]] static Result<PrivateKey> FromPem(std::span<const uint8_t> pem);

  ~PrivateKey();
  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;

  KeyType type() const;
  int bits() const;
  // The matching public key (holds no private material).
  PublicKey public_key() const;
  // Unencrypted PKCS#8 PEM: protect it (e.g. wrap it with a KMS key) before storing it.
  [[nodiscard]] Result<SecretBytes> ToPem() const;

  // RSA-OAEP decryption. kInvalidArgument for a non-RSA key; kDataLoss when the ciphertext does
  // not decrypt (wrong key, hash or padding), with no detail (no padding oracle).
  [[nodiscard]] Result<SecretBytes> DecryptOaep(OaepHash hash,
                                                std::span<const uint8_t> ciphertext) const;

  // RS256 needs an RSA key, ES256 a P-256 key (kInvalidArgument otherwise).
  [[nodiscard]] Result<std::vector<uint8_t>> Sign(SignatureAlgorithm algorithm,
                                                  std::span<const uint8_t> data) const;

 private:
  struct Impl;
  explicit PrivateKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// DER ECDSA-Sig-Value (P-256) -> 64-byte r||s, each big-endian and left-padded to 32 bytes.
[[nodiscard]] Result<std::vector<uint8_t>> EcdsaDerToRaw(std::span<const uint8_t> der);
// 64-byte r||s -> DER ECDSA-Sig-Value.
[[nodiscard]] Result<std::vector<uint8_t>> EcdsaRawToDer(std::span<const uint8_t> raw);

}  // namespace veil::crypto
