// HMAC credentials: the S3 access key pair a resource key of a cloud-object-storage instance
// carries (POST /v2/resource_keys with "parameters":{"HMAC":true}, docs/iam.md "Resource keys"),
// its text format, the payload it is sealed as, and the cache behind
// IamService::LookupHmacCredential, which the object storage service calls for every SigV4
// request.
//
// Format (IBM's): access_key_id is 32 lower-case hex characters (16 random bytes);
// secret_access_key is 48 lower-case hex characters (24 bytes from Random::FillSecret), kept as
// those 48 ASCII characters in SecretBytes: the text SigV4 signs with ("AWS4" + secret).
// Stored sealed (SecretSealer) as the payload
//   0x01 || access_key_id (32 ASCII) || secret_access_key (48 ASCII)     81 bytes
// (docs/formats/iam.md); unsealing checks the version and that the access key id is the row's, so
// a sealed secret copied onto another key's row is refused (kDataLoss).
//
// Thread-safety: HmacCredentialCache is safe from any thread; the rest are values and pure
// functions (GenerateHmacKeys uses the caller's Random, which is thread-safe).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "common/time.h"

namespace veil::iam {

inline constexpr size_t kAccessKeyIdSize = 32;
inline constexpr size_t kSecretAccessKeySize = 48;
inline constexpr uint8_t kHmacPayloadVersion = 0x01;
inline constexpr size_t kHmacPayloadSize = 1 + kAccessKeyIdSize + kSecretAccessKeySize;

// What the object storage service needs to check a SigV4 request signed with `access_key_id`,
// and whom to authorize it as.
struct HmacCredential {
  std::string access_key_id;
  SecretBytes secret_access_key;  // unsealed: the 48 hex characters
  std::string resource_key_id;    // the resource key's guid
  std::string account_id;
  std::string instance_guid;  // the cloud-object-storage instance it belongs to
  std::string iam_id;         // the key's service ID (iam-ServiceId-...): authorize as this subject
  std::string name;           // the resource key's name
  std::string role;           // "Reader" | "Writer" | "Manager"

  // A deep copy (the secret in its own SecretBytes).
  [[nodiscard]] HmacCredential Clone() const;
};

// True for 32 lower-case hex characters.
bool IsAccessKeyId(std::string_view text);

struct HmacKeys {
  std::string access_key_id;
  SecretBytes secret_access_key;  // 48 hex characters
};
// A new key pair from `random` (the secret through FillSecret, never outside SecretBytes).
HmacKeys GenerateHmacKeys(Random& random);

// The payload to seal for `keys` (81 bytes, above).
SecretBytes HmacPayload(const HmacKeys& keys);
// The secret access key of an unsealed payload, which must be of `access_key_id`. kDataLoss for a
// payload of another size, version or access key id.
[[nodiscard]] Result<SecretBytes> SecretOfHmacPayload(const SecretBytes& payload,
                                                      std::string_view access_key_id);

struct HmacCacheOptions {
  size_t capacity = 1024;
  std::chrono::seconds ttl{60};
};

// Credentials looked up recently, by access key id: at most `capacity` (the least recently used
// goes first), each for at most `ttl` after it was read from the store. Revoke() drops at once
// what a revocation notification names (token_verifier.h's kRevocationChannel: "identity
// <iam_id>" for a deleted or locked service ID — deleting a resource key deletes its service ID —
// and "account <id>" for a disabled account). A read that overlapped a revocation is not kept
// (generation()), so a deleted key cannot come back from a lookup that started before.
class HmacCredentialCache {
 public:
  explicit HmacCredentialCache(HmacCacheOptions options = {});

  // A copy of the entry of `access_key_id`, if there is one younger than the ttl at `now`.
  std::optional<HmacCredential> Find(std::string_view access_key_id, TimePoint now);
  // Read before the store is: pass it to Insert.
  uint64_t generation() const;
  // Keeps a copy of `credential`, read at `now`, unless a revocation came after `generation`.
  void Insert(const HmacCredential& credential, TimePoint now, uint64_t generation);
  // Applies one revocation notification.
  void Revoke(std::string_view payload);
  size_t size() const;

 private:
  struct Entry {
    HmacCredential credential;
    TimePoint read_at;
  };
  using Lru = std::list<Entry>;

  const HmacCacheOptions options_;
  mutable std::mutex mu_;
  Lru lru_;                                               // mu_; front: most recently used
  std::unordered_map<std::string, Lru::iterator> by_id_;  // mu_
  uint64_t generation_ = 0;                               // mu_; bumped by every revocation
};

}  // namespace veil::iam
