// Test helper: the client side of Key Protect's secure import (docs/api-compatibility.md),
// as `veil kms key import --secure` does it, for tests that import through an import token.
// Header-only; included by *_itest.cc only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/encoding.h"
#include "common/secret_bytes.h"
#include "crypto/aead.h"
#include "crypto/sign.h"
#include "kms/kms_service.h"

namespace veil::kms::testing {

// The create/rotate/restore fields that carry `material` under the token whose public key is
// `public_key_pem` and whose nonce is `nonce_b64`: payload = RSA-OAEP-SHA-256(material),
// encryptedNonce = AES-GCM(material, iv = 12 bytes of `iv_seed`, nonce). A different `iv_seed`
// makes a different (equally valid) proof of the same material.
inline ImportedMaterial SecureMaterial(const std::string& public_key_pem,
                                       const std::string& nonce_b64, const SecretBytes& material,
                                       uint8_t iv_seed = 7) {
  ImportedMaterial m;
  auto key = crypto::PublicKey::FromPem(public_key_pem);
  auto nonce = Base64Decode(nonce_b64);
  if (!key || !nonce) {
    ADD_FAILURE() << "the import token's key or nonce does not decode";
    return m;
  }
  auto payload = key->EncryptOaep(crypto::OaepHash::kSha256, material.Reveal());
  std::vector<uint8_t> iv(crypto::kAesGcmIvSize, iv_seed);
  auto sealed = crypto::AesGcmSeal(material.Reveal(), iv, {}, *nonce);
  if (!payload || !sealed) {
    ADD_FAILURE() << "cannot encrypt the material or the nonce";
    return m;
  }
  m.payload = Base64Encode(*payload);
  m.encrypted_nonce = Base64Encode(*sealed);
  m.iv = Base64Encode(iv);
  m.encryption_algorithm = "RSAES_OAEP_SHA_256";
  return m;
}

inline ImportedMaterial SecureMaterial(const ImportTokenView& token, const SecretBytes& material,
                                       uint8_t iv_seed = 7) {
  return SecureMaterial(token.token.public_key_pem, token.nonce_b64.value_or(""), material,
                        iv_seed);
}

// The plain form: base64 of the material, no token.
inline ImportedMaterial PlainMaterial(const SecretBytes& material) {
  return ImportedMaterial{Base64Encode(material.Reveal()), "", "", ""};
}

}  // namespace veil::kms::testing
