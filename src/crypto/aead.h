// AES-256-GCM authenticated encryption (NIST SP 800-38D) for wrapping keys and sealing records.
//
// Layout: Seal returns ciphertext || tag, the 16-byte tag APPENDED (as in JWE/AWS/most wire
// formats); Open takes the same layout. The IV is always 12 bytes and is the caller's
// responsibility: it must never repeat under one key (use Random::Fill for a fresh IV per message,
// and store it next to the ciphertext). The AAD is authenticated, not encrypted; bind context
// into it (e.g. the CRN of the key or volume) so a ciphertext cannot be replayed elsewhere.
//
// Errors: kInvalidArgument for a wrong key/IV/output size; kDataLoss "authentication failed" when
// the tag does not verify (wrong key, IV, AAD, or tampered ciphertext); on that error no
// plaintext is returned and any output buffer is wiped.
//
// AesGcm keeps the AES key schedule for repeated use (many records under one key); its *Into
// forms allocate nothing, for bulk data (object chunks) sealed and opened in the caller's buffers.
// Thread-safety: an AesGcm is used by one thread at a time; the free functions are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil::crypto {

inline constexpr size_t kAesGcmKeySize = 32;
inline constexpr size_t kAesGcmIvSize = 12;
inline constexpr size_t kAesGcmTagSize = 16;

class AesGcm {
 public:
  // `key` must be 32 bytes (AES-256). The key is copied into OpenSSL's context, which wipes it
  // when this object is destroyed.
  [[nodiscard]] static Result<AesGcm> Create(std::span<const uint8_t> key);
  // AES-128/192/256-GCM by the key's size (16, 24 or 32 bytes; kInvalidArgument otherwise), for
  // keys that others chose (an imported Key Protect key checks its nonce with its own size).
  [[nodiscard]] static Result<AesGcm> CreateAnySize(std::span<const uint8_t> key);

  ~AesGcm();
  AesGcm(AesGcm&&) noexcept;
  AesGcm& operator=(AesGcm&&) noexcept;

  // ciphertext || tag, plaintext.size() + 16 bytes.
  [[nodiscard]] Result<std::vector<uint8_t>> Seal(std::span<const uint8_t> iv,
                                                  std::span<const uint8_t> aad,
                                                  std::span<const uint8_t> plaintext);
  // As Seal, into `out` of exactly plaintext.size() + 16 bytes. `out` may start at
  // plaintext.data() (in place) but must not otherwise overlap it.
  [[nodiscard]] Status SealInto(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                std::span<const uint8_t> plaintext, std::span<uint8_t> out);

  // The plaintext of `sealed` (ciphertext || tag, at least 16 bytes).
  [[nodiscard]] Result<std::vector<uint8_t>> Open(std::span<const uint8_t> iv,
                                                  std::span<const uint8_t> aad,
                                                  std::span<const uint8_t> sealed);
  // As Open, for plaintexts that are secrets (unwrapped keys): never held outside SecretBytes.
  [[nodiscard]] Result<SecretBytes> OpenSecret(std::span<const uint8_t> iv,
                                               std::span<const uint8_t> aad,
                                               std::span<const uint8_t> sealed);
  // As Open, into `out` of exactly sealed.size() - 16 bytes (in place allowed, as for SealInto).
  [[nodiscard]] Status OpenInto(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                std::span<const uint8_t> sealed, std::span<uint8_t> out);
  // As OpenInto, with the 16-byte tag held apart from the ciphertext, for readers that scatter a
  // record's ciphertext straight into its final place (preadv) and its tag elsewhere. `out` has
  // exactly ciphertext.size() bytes and may be ciphertext.data() (in place). Allocates nothing.
  [[nodiscard]] Status OpenDetachedInto(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                        std::span<const uint8_t> ciphertext,
                                        std::span<const uint8_t> tag, std::span<uint8_t> out);

 private:
  struct State;
  explicit AesGcm(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One-shot forms of AesGcm::Create(key) followed by Seal / Open / OpenSecret.
[[nodiscard]] Result<std::vector<uint8_t>> AesGcmSeal(std::span<const uint8_t> key,
                                                      std::span<const uint8_t> iv,
                                                      std::span<const uint8_t> aad,
                                                      std::span<const uint8_t> plaintext);
[[nodiscard]] Result<std::vector<uint8_t>> AesGcmOpen(std::span<const uint8_t> key,
                                                      std::span<const uint8_t> iv,
                                                      std::span<const uint8_t> aad,
                                                      std::span<const uint8_t> sealed);
[[nodiscard]] Result<SecretBytes> AesGcmOpenSecret(std::span<const uint8_t> key,
                                                   std::span<const uint8_t> iv,
                                                   std::span<const uint8_t> aad,
                                                   std::span<const uint8_t> sealed);

}  // namespace veil::crypto
