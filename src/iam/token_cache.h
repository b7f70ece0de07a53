// VerifiedTokenCache: tokens that passed every check, so that a request carrying one again pays
// a hash and a map lookup instead of an RSA verification and database reads.
//
// Key: SHA-256 of the whole token string (a token altered anywhere, signature included, is
// another key and goes through full verification). Value: what verification established, with
// the token's expiry; an entry is never returned at or after exp + leeway, and is dropped then.
// Bounded: `capacity` entries over 16 shards, each an LRU list, so memory stays fixed whatever
// clients send. Drop() removes every entry matching a predicate (revocations).
//
// Thread-safety: every function may be called from any thread (one mutex per shard).
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/time.h"
#include "crypto/hash.h"

namespace veil::iam {

// What a verified token says about its bearer.
struct VerifiedToken {
  std::string iam_id;
  std::string id;
  std::string name;
  std::string sub;
  std::string sub_type;  // "ServiceId" | "user"
  std::string account_id;
  std::string apikey_id;  // the API key it was issued for
  std::string jti;
  TimePoint iat;
  TimePoint exp;
};

class VerifiedTokenCache {
 public:
  explicit VerifiedTokenCache(size_t capacity);

  // The entry of `digest` if present and `now` < its exp + leeway (an expired one is dropped).
  std::shared_ptr<const VerifiedToken> Find(const crypto::Sha256Digest& digest, TimePoint now,
                                            std::chrono::seconds leeway);
  // Adds or replaces; evicts the least recently used entry of the shard when it is full.
  void Insert(const crypto::Sha256Digest& digest, std::shared_ptr<const VerifiedToken> token);
  // Removes every entry for which `match` is true; returns how many.
  size_t Drop(const std::function<bool(const VerifiedToken&)>& match);
  size_t size() const;

 private:
  struct DigestHash {
    size_t operator()(const crypto::Sha256Digest& d) const;
  };
  struct Shard {
    using Entry = std::pair<crypto::Sha256Digest, std::shared_ptr<const VerifiedToken>>;
    mutable std::mutex mu;
    std::list<Entry> lru;  // front: most recently used
    std::unordered_map<crypto::Sha256Digest, std::list<Entry>::iterator, DigestHash> index;
  };
  static constexpr size_t kShards = 16;

  Shard& ShardOf(const crypto::Sha256Digest& digest) { return shards_[digest[0] % kShards]; }

  const size_t per_shard_;
  std::array<Shard, kShards> shards_;
};

}  // namespace veil::iam
