// API key values: their format, generation, parsing and the salted hash that is all Veil keeps.
//
// Value (docs/formats/iam.md): base64url without padding of 49 bytes,
//   version (1 byte, 0x01) || key id (16 bytes: the UUID of "ApiKey-<uuid>") || secret (32 bytes)
// 66 characters, e.g. "AQ...". The key id makes lookup a primary-key read; the 256-bit secret
// is what proves possession. The database keeps, per key, a random 16-byte salt and
//   hash = SHA-256("veil-apikey-v1" || 0x00 || salt || secret)
// and compares hashes in constant time. A fast hash is enough because the secret is 256 random
// bits (nothing to brute-force, unlike a password); a slow KDF would cap token issuance.
//
// Secrets stay in SecretBytes: the generated value text and the parsed secret. The caller that
// must put the value into a response (once, at creation) copies it there itself.
//
// Thread-safety: pure functions (GenerateApiKey is as thread-safe as its Random).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil::iam {

inline constexpr uint8_t kApiKeyFormatVersion = 1;
inline constexpr size_t kApiKeySecretSize = 32;
inline constexpr size_t kApiKeySaltSize = 16;
inline constexpr size_t kApiKeyTextSize = 66;

using ApiKeyHash = std::array<uint8_t, 32>;

struct GeneratedApiKey {
  std::string id;      // "ApiKey-<uuid>"
  SecretBytes value;   // the 66-character text handed to the owner, once
  SecretBytes secret;  // the 32-byte secret inside it
};

struct ParsedApiKey {
  std::string id;  // "ApiKey-<uuid>"
  SecretBytes secret;
};

GeneratedApiKey GenerateApiKey(Random& random);

// Parses a value. kInvalidArgument (the message never quotes the input) when it is not 66
// characters of base64url decoding to version 1, a version-4 UUID and a secret.
[[nodiscard]] Result<ParsedApiKey> ParseApiKey(std::string_view text);

ApiKeyHash HashApiKeySecret(std::span<const uint8_t> salt, std::span<const uint8_t> secret);

// Constant time in the secret and the stored hash.
bool ApiKeySecretMatches(std::span<const uint8_t> salt, std::span<const uint8_t> stored_hash,
                         std::span<const uint8_t> secret);

// Overwrites a string's characters before it is freed (best effort: copies made by its earlier
// growth are out of reach). For request bodies and form fields that carried an API key.
void WipeString(std::string& text);

}  // namespace veil::iam
