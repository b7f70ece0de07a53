// KeyStore: the HSM seam of the KMS. Root key material lives outside the HSM only wrapped by the
// HSM's master key; every operation that needs the plaintext of a root key runs inside the HSM.
//
// Used by src/kms (root key create/import, wrap/unwrap of DEKs, standard key payloads). The one
// production implementation is Pkcs11KeyStore (pkcs11_key_store.h), which drives any PKCS#11
// module; tests run it against a real SoftHSM2 token (softhsm_token.h).
//
// Blobs (WrappedKey) are opaque to callers and safe to store in the database: they are useless
// without the HSM's master key. Their byte layout (docs/hsm.md) is:
//   root key:        0x01 'R' || AES-KWP(master, key)        (RFC 5649, CKM_AES_KEY_WRAP_PAD)
//                    24, 32 or 40 bytes of KWP for a 16, 24 or 32-byte key (26, 34, 42 in all)
//   sealed payload:  0x01 'S' || iv(12) || AES-256-GCM(master, iv, aad = 0x01 'S', payload)
//                    || tag(16)                        (payload.size() + 30 bytes in all)
// The first byte is the format version, the second the kind; a blob of one kind is refused where
// the other is expected.
//
// Errors (all methods): kInvalidArgument for malformed input (wrong IV size, a blob too short or
// with an unknown version/kind, a payload too large); kDataLoss when a blob or ciphertext does not
// verify (tampered, truncated, foreign, wrapped by another master key, wrong aad or iv);
// kUnavailable/kResourceExhausted/kInternal for HSM failures. Messages carry the PKCS#11 CKR_ name
// and never any key material.
//
// Thread-safety: implementations are safe to call from any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil::hsm {

// An opaque blob: key material wrapped (or a payload sealed) by the HSM master key. Not secret.
using WrappedKey = std::vector<uint8_t>;

inline constexpr size_t kGcmIvSize = 12;
inline constexpr size_t kGcmTagSize = 16;
// The largest standard-key payload SealPayload accepts (Key Protect's limit).
inline constexpr size_t kMaxPayloadSize = 7500;

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // A new 256-bit AES root key generated inside the HSM and returned only wrapped by the master
  // key: the plaintext never enters Veil's memory.
  [[nodiscard]] virtual Result<WrappedKey> GenerateRootKey() = 0;

  // Imported AES root key `material` (16, 24 or 32 bytes, else kInvalidArgument) wrapped by the
  // master key. The HSM holds a copy only for this call; the caller wipes its SecretBytes.
  [[nodiscard]] virtual Result<WrappedKey> WrapRootKey(const SecretBytes& material) = 0;

  // A standard key's payload (1..kMaxPayloadSize arbitrary bytes, else kInvalidArgument) sealed
  // under the master key inside the HSM, and its inverse.
  [[nodiscard]] virtual Result<WrappedKey> SealPayload(const SecretBytes& payload) = 0;
  [[nodiscard]] virtual Result<SecretBytes> UnsealPayload(const WrappedKey& sealed) = 0;

  // AES-GCM (AES-256 for generated keys; the key's own size for imported ones) inside the HSM
  // under the root key `wrapped`, with the 12-byte `iv` (caller-generated, random, never repeated
  // under one key) and `aad`. Returns ciphertext || 16-byte tag.
  //
  // The store unwraps `wrapped` into a non-extractable HSM session object and caches it under
  // `cache_id` (the key version id) in a bounded LRU cache. A cache entry remembers its blob: a
  // different `wrapped` under the same id replaces the entry, so a stale id never selects the
  // wrong key.
  [[nodiscard]] virtual Result<std::vector<uint8_t>> Encrypt(
      std::string_view cache_id, const WrappedKey& wrapped, std::span<const uint8_t> iv,
      std::span<const uint8_t> aad, std::span<const uint8_t> plaintext) = 0;

  // The inverse of Encrypt. kDataLoss ("ciphertext does not verify") when the tag does not verify
  // (tampered or foreign ciphertext, wrong key, aad or iv); then no plaintext is returned.
  // kInvalidArgument when iv is not 12 bytes or ciphertext_and_tag is shorter than 16 bytes.
  [[nodiscard]] virtual Result<SecretBytes> Decrypt(
      std::string_view cache_id, const WrappedKey& wrapped, std::span<const uint8_t> iv,
      std::span<const uint8_t> aad, std::span<const uint8_t> ciphertext_and_tag) = 0;

  // As Decrypt, into `out` of exactly ciphertext_and_tag.size() - 16 bytes (else
  // kInvalidArgument), for a caller that reuses one locked buffer: a fresh SecretBytes costs a
  // page allocation and mlock/munlock, several times the HSM's own AES-GCM at these sizes.
  // On any error `out` is wiped.
  [[nodiscard]] virtual Status DecryptInto(std::string_view cache_id, const WrappedKey& wrapped,
                                           std::span<const uint8_t> iv,
                                           std::span<const uint8_t> aad,
                                           std::span<const uint8_t> ciphertext_and_tag,
                                           std::span<uint8_t> out) = 0;

  // Drops the cached session object of `cache_id` (key purged or destroyed). The object is
  // destroyed in the HSM as soon as no operation in flight uses it. No-op for an unknown id.
  virtual void Forget(std::string_view cache_id) = 0;
};

}  // namespace veil::hsm
