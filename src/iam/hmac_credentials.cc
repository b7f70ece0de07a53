#include "iam/hmac_credentials.h"

#include <algorithm>
#include <utility>

#include "common/encoding.h"

namespace veil::iam {

HmacCredential HmacCredential::Clone() const {
  HmacCredential c;
  c.access_key_id = access_key_id;
  c.secret_access_key = secret_access_key.Clone();
  c.resource_key_id = resource_key_id;
  c.account_id = account_id;
  c.instance_guid = instance_guid;
  c.iam_id = iam_id;
  c.name = name;
  c.role = role;
  return c;
}

bool IsAccessKeyId(std::string_view text) {
  return text.size() == kAccessKeyIdSize && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

HmacKeys GenerateHmacKeys(Random& random) {
  HmacKeys keys;
  keys.access_key_id = HexEncode(random.Bytes(kAccessKeyIdSize / 2));
  const SecretBytes raw = random.Secret(kSecretAccessKeySize / 2);
  keys.secret_access_key = SecretBytes(kSecretAccessKeySize);
  HexEncodeInto(raw.Reveal(), keys.secret_access_key.RevealMutable());
  return keys;
}

SecretBytes HmacPayload(const HmacKeys& keys) {
  SecretBytes payload(kHmacPayloadSize);
  std::span<uint8_t> out = payload.RevealMutable();
  out[0] = kHmacPayloadVersion;
  std::copy(keys.access_key_id.begin(), keys.access_key_id.end(), out.begin() + 1);
  std::span<const uint8_t> secret = keys.secret_access_key.Reveal();
  std::copy(secret.begin(), secret.end(), out.begin() + 1 + kAccessKeyIdSize);
  return payload;
}

Result<SecretBytes> SecretOfHmacPayload(const SecretBytes& payload,
                                        std::string_view access_key_id) {
  std::span<const uint8_t> in = payload.Reveal();
  if (in.size() != kHmacPayloadSize || in[0] != kHmacPayloadVersion) {
    return DataLoss("iam: a sealed HMAC secret is not in the format this version reads");
  }
  // The access key id is not secret: a plain comparison.
  if (access_key_id.size() != kAccessKeyIdSize ||
      !std::equal(access_key_id.begin(), access_key_id.end(), in.begin() + 1)) {
    return DataLoss("iam: the sealed HMAC secret of access key " + std::string(access_key_id) +
                    " belongs to another access key");
  }
  return SecretBytes(in.subspan(1 + kAccessKeyIdSize));
}

HmacCredentialCache::HmacCredentialCache(HmacCacheOptions options) : options_(options) {}

std::optional<HmacCredential> HmacCredentialCache::Find(std::string_view access_key_id,
                                                        TimePoint now) {
  std::lock_guard lock(mu_);
  auto it = by_id_.find(std::string(access_key_id));
  if (it == by_id_.end()) return std::nullopt;
  const Entry& e = *it->second;
  // A clock that went back counts as expired too: the entry is read again.
  if (now >= e.read_at + options_.ttl || now < e.read_at) {
    lru_.erase(it->second);
    by_id_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return e.credential.Clone();
}

uint64_t HmacCredentialCache::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

void HmacCredentialCache::Insert(const HmacCredential& credential, TimePoint now,
                                 uint64_t generation) {
  if (options_.capacity == 0) return;
  std::lock_guard lock(mu_);
  if (generation != generation_) return;
  if (auto it = by_id_.find(credential.access_key_id); it != by_id_.end()) {
    lru_.erase(it->second);
    by_id_.erase(it);
  }
  while (lru_.size() >= options_.capacity) {
    by_id_.erase(lru_.back().credential.access_key_id);
    lru_.pop_back();
  }
  lru_.push_front(Entry{credential.Clone(), now});
  by_id_[credential.access_key_id] = lru_.begin();
}

void HmacCredentialCache::Revoke(std::string_view payload) {
  const size_t space = payload.find(' ');
  const std::string_view kind = payload.substr(0, space);
  const std::string_view id =
      space == std::string_view::npos ? std::string_view() : payload.substr(space + 1);
  std::lock_guard lock(mu_);
  ++generation_;
  for (auto it = lru_.begin(); it != lru_.end();) {
    const HmacCredential& c = it->credential;
    const bool named =
        (kind == "identity" && c.iam_id == id) || (kind == "account" && c.account_id == id);
    if (named) {
      by_id_.erase(c.access_key_id);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
}

size_t HmacCredentialCache::size() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace veil::iam
