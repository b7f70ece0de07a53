#include "iam/login_limiter.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace veil::iam {

LoginAttempt::LoginAttempt(LoginAttempt&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), key_(std::move(other.key_)) {}

LoginAttempt::~LoginAttempt() {
  if (limiter_ != nullptr) limiter_->Release(key_);
}

LoginRateLimiter::LoginRateLimiter(const Clock& clock, LoginLimiterOptions options)
    : clock_(clock), options_(options) {}

std::string LoginRateLimiter::ClientKey(std::string_view address) {
  if (address.find(':') == std::string_view::npos) return std::string(address);
  // An IPv4-mapped IPv6 address is its IPv4 address.
  if (address.starts_with("::ffff:") && address.find('.') != std::string_view::npos) {
    return std::string(address.substr(7));
  }
  // Expand to 8 groups and keep the first 4 (the /64).
  std::string_view a = address;
  if (size_t pct = a.find('%'); pct != std::string_view::npos) a = a.substr(0, pct);
  auto split = [](std::string_view s) {
    std::vector<std::string> out;
    while (!s.empty()) {
      size_t colon = s.find(':');
      out.emplace_back(s.substr(0, colon));
      if (colon == std::string_view::npos) break;
      s.remove_prefix(colon + 1);
    }
    return out;
  };
  const size_t gap = a.find("::");
  std::vector<std::string> head = split(gap == std::string_view::npos ? a : a.substr(0, gap));
  std::vector<std::string> tail =
      gap == std::string_view::npos ? std::vector<std::string>{} : split(a.substr(gap + 2));
  std::vector<std::string> groups = head;
  for (size_t i = head.size() + tail.size(); i < 8; ++i) groups.emplace_back("0");
  groups.insert(groups.end(), tail.begin(), tail.end());
  std::string key = "v6:";
  for (size_t i = 0; i < 4 && i < groups.size(); ++i) {
    std::string g = groups[i];
    std::transform(g.begin(), g.end(), g.begin(), [](char c) {
      return (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    g.erase(0, std::min(g.find_first_not_of('0'), g.size() - 1));
    key += g;
    key += i < 3 ? ":" : "::/64";
  }
  return key;
}

void LoginRateLimiter::Refill(Bucket& b, MonotonicTime now) const {
  const double elapsed = std::chrono::duration<double>(now - b.updated).count() /
                         std::chrono::duration<double>(options_.refill_interval).count();
  if (elapsed > 0) b.tokens = std::min<double>(options_.burst, b.tokens + elapsed);
  b.updated = now;
}

LoginRateLimiter::Bucket& LoginRateLimiter::Touch(const std::string& key, MonotonicTime now) {
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    while (buckets_.size() >= options_.max_clients && !lru_.empty()) {
      buckets_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(key);
    it =
        buckets_.emplace(key, Bucket{static_cast<double>(options_.burst), now, lru_.begin()}).first;
  } else {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
  }
  Refill(it->second, now);
  return it->second;
}

tl::expected<LoginAttempt, std::chrono::seconds> LoginRateLimiter::Begin(std::string_view client) {
  std::string key = ClientKey(client);
  const MonotonicTime now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  Bucket& b = Touch(key, now);
  // The check and the taking are one step under the lock: requests that arrive together cannot
  // all see the last token.
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return LoginAttempt(this, std::move(key));
  }
  const double wait =
      (1.0 - b.tokens) * std::chrono::duration<double>(options_.refill_interval).count();
  return tl::unexpected(
      std::chrono::seconds(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait)))));
}

void LoginRateLimiter::Release(const std::string& key) {
  const MonotonicTime now = clock_.Monotonic();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  // A bucket forgotten meanwhile is a full one: nothing to give back.
  if (it == buckets_.end()) return;
  Bucket& b = it->second;
  Refill(b, now);
  b.tokens = std::min<double>(options_.burst, b.tokens + 1.0);
  // A full bucket is what a missing one means: forget it, so clients that only ever log in
  // successfully hold no memory.
  if (b.tokens >= options_.burst) {
    lru_.erase(b.lru);
    buckets_.erase(it);
  }
}

size_t LoginRateLimiter::tracked_clients() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace veil::iam
