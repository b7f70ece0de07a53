// KmsService's secure import (docs/api-compatibility.md): the instance's import token, the
// material of create, rotate and restore bodies, and the rule that each retrieval of the token
// allows one import and each encrypted nonce is accepted once (docs/kms.md "Secure import").
#include "common/encoding.h"
#include "common/log.h"
#include "common/uuid.h"
#include "crypto/aead.h"
#include "crypto/hash.h"
#include "crypto/sign.h"
#include "kms/errors.h"
#include "kms/kms_service.h"

namespace veil::kms {
namespace {

constexpr size_t kNonceSize = 12;
constexpr int kImportRsaBits = 4096;

Result<crypto::OaepHash> OaepHashOf(std::string_view algorithm) {
  if (algorithm == "RSAES_OAEP_SHA_256" || algorithm.empty()) return crypto::OaepHash::kSha256;
  if (algorithm == "RSAES_OAEP_SHA_1") return crypto::OaepHash::kSha1;
  return KmsFail(KmsReason::kBadBody,
                 "encryptionAlgorithm must be RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1");
}

// The client's proof that it retrieved the token: the token's nonce, sealed with AES-GCM under
// the imported material itself. Returns the digest that names this proof, which
// ConsumeImportToken accepts once.
Result<std::string> VerifyNonce(const SecretBytes& nonce, const SecretBytes& material,
                                const ImportedMaterial& m) {
  auto iv = Base64Decode(m.iv);
  if (!iv || iv->size() != crypto::kAesGcmIvSize) {
    return KmsFail(KmsReason::kIncorrectNonceIv, "iv must be the base64 of 12 bytes");
  }
  auto encrypted_nonce = Base64Decode(m.encrypted_nonce);
  if (!encrypted_nonce) return KmsFail(KmsReason::kIncorrectNonce, "encryptedNonce is not base64");
  auto gcm = crypto::AesGcm::CreateAnySize(material.Reveal());
  if (!gcm) return KmsFail(KmsReason::kBadBody, "imported key material must be 16, 24 or 32 bytes");
  auto opened = gcm->OpenSecret(*iv, {}, *encrypted_nonce);
  if (!opened || !opened->Equals(nonce)) {
    return KmsFail(KmsReason::kIncorrectNonce,
                   "the encrypted nonce does not match the import token");
  }
  std::vector<uint8_t> proof = std::move(*iv);
  proof.insert(proof.end(), encrypted_nonce->begin(), encrypted_nonce->end());
  return HexEncode(crypto::Sha256(proof));
}

Status SizeFits(const SecretBytes& plain, bool root) {
  if (root) {
    if (plain.size() != 16 && plain.size() != 24 && plain.size() != 32) {
      return KmsFail(KmsReason::kBadBody, "root key material must be 16, 24 or 32 bytes");
    }
  } else if (plain.empty() || plain.size() > kMaxStandardPayload) {
    return KmsFail(KmsReason::kBadBody, "a standard key's payload has 1 to 7,500 bytes");
  }
  return OkStatus();
}

}  // namespace

Result<KmsService::ImportedPlain> KmsService::MaterialFromImport(const InstanceRef& instance,
                                                                 const ImportedMaterial& material,
                                                                 bool root) {
  ImportedPlain out;
  const bool secure = !material.encryption_algorithm.empty() || !material.encrypted_nonce.empty();
  if (secure) {
    out = VEIL_TRY_VALUE(OpenSecureImport(instance, material));
  } else {
    auto decoded = DecodeBase64Secret(material.payload);
    if (!decoded) return KmsFail(KmsReason::kBadBody, "payload is not base64");
    out.plain = std::move(*decoded);
  }
  VEIL_TRY(SizeFits(out.plain, root));
  return out;
}

Result<KmsService::ImportedPlain> KmsService::OpenSecureImport(const InstanceRef& instance,
                                                               const ImportedMaterial& material) {
  const crypto::OaepHash hash = VEIL_TRY_VALUE(OaepHashOf(material.encryption_algorithm));
  auto token = store_.GetImportToken(db_, instance.guid);
  if (!token) {
    if (token.error().code == ErrorCode::kNotFound) {
      return KmsFail(KmsReason::kBadBody, "the instance has no import token: create one first");
    }
    return tl::unexpected(token.error());
  }
  // Checked again, with the retrievals, where the import commits (ConsumeImportToken).
  if (token->expires_at <= clock_.Now()) {
    return KmsFail(KmsReason::kImportTokenExpired, "the import token has expired");
  }
  auto encrypted = Base64Decode(material.payload);
  if (!encrypted) return KmsFail(KmsReason::kBadBody, "payload is not base64");
  SecretBytes pem = VEIL_TRY_VALUE(hsm_.UnsealPayload(token->sealed_private_key));
  auto rsa = crypto::PrivateKey::FromPem(pem.Reveal());
  if (!rsa) return Internal("the import token's key does not load");
  auto decrypted = rsa->DecryptOaep(hash, *encrypted);
  if (!decrypted) {
    return KmsFail(KmsReason::kBadBody, "payload does not decrypt with the import token's key");
  }
  ImportedPlain out;
  out.plain = std::move(*decrypted);
  SecretBytes nonce = VEIL_TRY_VALUE(hsm_.UnsealPayload(token->sealed_nonce));
  std::string digest = VEIL_TRY_VALUE(VerifyNonce(nonce, out.plain, material));
  out.use = TokenUse{token->id, std::move(digest)};
  return out;
}

Status KmsService::ConsumeImportToken(store::Tx& tx, const std::string& instance_id,
                                      const TokenUse& use) {
  auto token = store_.GetImportToken(tx, instance_id);
  if (!token && token.error().code != ErrorCode::kNotFound) return tl::unexpected(token.error());
  if (!token || token->id != use.token_id) {
    return KmsFail(KmsReason::kImportTokenExpired,
                   "the import token was replaced meanwhile: retrieve the new one");
  }
  const TimePoint now = clock_.Now();
  if (token->expires_at <= now) {
    return KmsFail(KmsReason::kImportTokenExpired, "the import token has expired");
  }
  auto recorded = store_.RecordImportTokenUse(tx, instance_id, use.token_id, use.nonce_digest, now);
  if (!recorded) {
    if (recorded.error().code == ErrorCode::kAlreadyExists) {
      return KmsFail(KmsReason::kIncorrectNonce,
                     "this encrypted nonce was already used: a secure import is accepted once");
    }
    return recorded;
  }
  // The new use counts: more uses than retrievals means this import has no retrieval of its own.
  const int64_t retrieved = token->max_retrievals - token->remaining_retrievals;
  if (VEIL_TRY_VALUE(store_.CountImportTokenUses(tx, use.token_id)) > retrieved) {
    return KmsFail(KmsReason::kImportTokenExpired,
                   "each retrieval of the import token allows one import: retrieve it again or "
                   "create a new token");
  }
  return OkStatus();
}

Result<ImportToken> KmsService::CreateImportToken(const InstanceRef& instance, int64_t expiration_s,
                                                  int64_t max_retrievals) {
  if (expiration_s < 300 || expiration_s > 86400) {
    return KmsFail(KmsReason::kBadBody, "expiration is 300 to 86400 seconds");
  }
  if (max_retrievals < 1 || max_retrievals > 500) {
    return KmsFail(KmsReason::kBadBody, "maxAllowedRetrievals is 1 to 500");
  }
  crypto::PrivateKey rsa = VEIL_TRY_VALUE(crypto::PrivateKey::GenerateRsa(kImportRsaBits));
  SecretBytes pem = VEIL_TRY_VALUE(rsa.ToPem());
  SecretBytes nonce = random_.Secret(kNonceSize);
  ImportToken token;
  token.id = NewUuidV4String(random_);
  token.instance_id = instance.guid;
  token.created_at = clock_.Now();
  token.expires_at = token.created_at + std::chrono::seconds(expiration_s);
  token.max_retrievals = max_retrievals;
  token.remaining_retrievals = max_retrievals;
  token.public_key_pem = rsa.public_key().ToPem();
  token.sealed_private_key = VEIL_TRY_VALUE(hsm_.SealPayload(pem));
  token.sealed_nonce = VEIL_TRY_VALUE(hsm_.SealPayload(nonce));
  VEIL_TRY(db_.WithTransaction([&](store::Tx& tx) -> Status {
    VEIL_TRY(HoldInstance(tx, instance.guid));
    return store_.PutImportToken(tx, token);
  }));
  return token;
}

Result<ImportTokenView> KmsService::RetrieveImportToken(const InstanceRef& instance) {
  ImportTokenView view;
  view.token = VEIL_TRY_VALUE(db_.WithTransaction([&](store::Tx& tx) -> Result<ImportToken> {
    auto token = store_.GetImportToken(tx, instance.guid);
    if (!token) {
      if (token.error().code == ErrorCode::kNotFound) {
        return KmsFail(KmsReason::kNotFound, "the instance has no import token");
      }
      return tl::unexpected(token.error());
    }
    if (token->expires_at <= clock_.Now() || token->remaining_retrievals <= 0) {
      return KmsFail(KmsReason::kImportTokenExpired,
                     "the import token has expired or reached its retrieval limit");
    }
    --token->remaining_retrievals;
    VEIL_TRY(store_.SetImportTokenRemaining(tx, instance.guid, token->remaining_retrievals));
    return token;
  }));
  SecretBytes nonce = VEIL_TRY_VALUE(hsm_.UnsealPayload(view.token.sealed_nonce));
  // The nonce is not secret (it travels to the client in the clear) but proves possession.
  view.nonce_b64 = Base64Encode(nonce.Reveal());
  return view;
}

}  // namespace veil::kms
