#include "iam/token_cache.h"

#include <cstring>

namespace veil::iam {

VerifiedTokenCache::VerifiedTokenCache(size_t capacity)
    : per_shard_(capacity / kShards > 0 ? capacity / kShards : 1) {}

size_t VerifiedTokenCache::DigestHash::operator()(const crypto::Sha256Digest& d) const {
  // The digest is uniformly random already: its first bytes are a perfect hash.
  size_t h;
  std::memcpy(&h, d.data() + 1, sizeof h);
  return h;
}

std::shared_ptr<const VerifiedToken> VerifiedTokenCache::Find(const crypto::Sha256Digest& digest,
                                                              TimePoint now,
                                                              std::chrono::seconds leeway) {
  Shard& shard = ShardOf(digest);
  std::lock_guard lock(shard.mu);
  auto it = shard.index.find(digest);
  if (it == shard.index.end()) return nullptr;
  if (now >= it->second->second->exp + leeway) {
    shard.lru.erase(it->second);
    shard.index.erase(it);
    return nullptr;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
  return it->second->second;
}

void VerifiedTokenCache::Insert(const crypto::Sha256Digest& digest,
                                std::shared_ptr<const VerifiedToken> token) {
  Shard& shard = ShardOf(digest);
  std::lock_guard lock(shard.mu);
  if (auto it = shard.index.find(digest); it != shard.index.end()) {
    it->second->second = std::move(token);
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);
    return;
  }
  while (shard.index.size() >= per_shard_ && !shard.lru.empty()) {
    shard.index.erase(shard.lru.back().first);
    shard.lru.pop_back();
  }
  shard.lru.emplace_front(digest, std::move(token));
  shard.index.emplace(digest, shard.lru.begin());
}

size_t VerifiedTokenCache::Drop(const std::function<bool(const VerifiedToken&)>& match) {
  size_t dropped = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    for (auto it = shard.lru.begin(); it != shard.lru.end();) {
      if (match(*it->second)) {
        shard.index.erase(it->first);
        it = shard.lru.erase(it);
        ++dropped;
      } else {
        ++it;
      }
    }
  }
  return dropped;
}

size_t VerifiedTokenCache::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mu);
    n += shard.index.size();
  }
  return n;
}

}  // namespace veil::iam
