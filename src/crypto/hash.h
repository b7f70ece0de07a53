// Hashes, HMAC and key derivation (OpenSSL 3 EVP).
//
//   MD5 (S3 ETags and Content-MD5 only);
//   SHA-1 (only for formats that require it: LUKS1 key slots, RSA-OAEP labels), SHA-256, SHA-512;
//   HMAC-SHA256 (SigV4, token MACs) and HMAC with any of those hashes;
//   HKDF-SHA256 (RFC 5869) for deriving subkeys;
//   PBKDF2-HMAC (RFC 8018) with SHA-1/SHA-256/SHA-512 for passphrase-based keys (LUKS).
//
// Hash and HMAC functions cannot fail on valid input; if OpenSSL itself fails (out of memory) the
// process aborts. The KDFs validate their parameters and return kInvalidArgument.
//
// Thread-safety: free functions are thread-safe; a Sha256Hasher or Md5Hasher is used by one thread
// at a time.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil::crypto {

enum class HashAlgorithm { kSha1, kSha256, kSha512 };

inline constexpr size_t kSha1Size = 20;
inline constexpr size_t kSha256Size = 32;
inline constexpr size_t kSha512Size = 64;

using Sha1Digest = std::array<uint8_t, kSha1Size>;
using Sha256Digest = std::array<uint8_t, kSha256Size>;
using Sha512Digest = std::array<uint8_t, kSha512Size>;

// Digest size in bytes of `algorithm`.
size_t DigestSize(HashAlgorithm algorithm);

Sha1Digest Sha1(std::span<const uint8_t> data);
Sha256Digest Sha256(std::span<const uint8_t> data);
Sha512Digest Sha512(std::span<const uint8_t> data);
std::vector<uint8_t> Digest(HashAlgorithm algorithm, std::span<const uint8_t> data);

Sha256Digest HmacSha256(std::span<const uint8_t> key, std::span<const uint8_t> data);
std::vector<uint8_t> Hmac(HashAlgorithm algorithm, std::span<const uint8_t> key,
                          std::span<const uint8_t> data);

// Incremental SHA-256 for data that arrives in pieces (streamed bodies, hash chains).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;

  void Update(std::span<const uint8_t> data);
  // Returns the digest of everything passed to Update since construction or the last Finish,
  // and starts over.
  Sha256Digest Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// MD5, only because S3 defines ETags and Content-MD5 with it (integrity against accidents, not
// against an attacker: object storage authenticates its data with AES-GCM).
inline constexpr size_t kMd5Size = 16;
using Md5Digest = std::array<uint8_t, kMd5Size>;
Md5Digest Md5(std::span<const uint8_t> data);

class Md5Hasher {
 public:
  Md5Hasher();
  ~Md5Hasher();
  Md5Hasher(Md5Hasher&&) noexcept;
  Md5Hasher& operator=(Md5Hasher&&) noexcept;

  void Update(std::span<const uint8_t> data);
  // The digest of everything passed to Update since construction or the last Finish; starts
  // over.
  Md5Digest Finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// HKDF-SHA256 (RFC 5869): extract with `salt` (empty = HashLen zero bytes), expand with `info`
// to `length` bytes. kInvalidArgument unless 1 <= length <= 255 * 32.
[[nodiscard]] Result<SecretBytes> HkdfSha256(std::span<const uint8_t> ikm,
                                             std::span<const uint8_t> salt,
                                             std::span<const uint8_t> info, size_t length);

struct Pbkdf2Params {
  HashAlgorithm hash = HashAlgorithm::kSha256;
  uint32_t iterations = 0;  // >= 1
  size_t length = 32;       // output bytes, 1 .. 1 MiB
};

// PBKDF2-HMAC (RFC 8018 §5.2). kInvalidArgument for 0 iterations or a length out of range.
// The iteration count is the caller's policy: this function enforces no minimum so that it can
// open existing LUKS headers and check RFC vectors.
[[nodiscard]] Result<SecretBytes> Pbkdf2Hmac(const Pbkdf2Params& params,
                                             std::span<const uint8_t> password,
                                             std::span<const uint8_t> salt);

}  // namespace veil::crypto
