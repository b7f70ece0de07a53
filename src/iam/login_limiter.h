// LoginRateLimiter: slows down API key guessing per client address, without locking anyone out.
//
// A token bucket per client: every API key login takes one token from the bucket of the address
// it came from *before* its key is looked at (Begin), and gives it back when the key turns out
// to be good or is never judged (LoginAttempt's destructor); a refused key keeps it (Refused).
// So parallel guesses from one address are counted as they start: at most `burst` keys are ever
// being checked or refused at once, however many requests arrive together. The bucket refills at
// one token per `refill_interval` up to `burst`. While it is empty, every token request from that
// address is answered 429 with Retry-After (until one token is back) before its key is looked
// at. Other addresses, and the key's owner calling from elsewhere, are not affected; successful
// logins cost nothing once they are done.
//
// IPv6 clients are grouped by /64 (one host usually holds a whole /64). At most `max_clients`
// buckets are kept: when full, the least recently touched bucket is forgotten (a forgotten bucket
// is a full one, so memory stays bounded and the worst case is a fresh burst for an attacker
// who can spread over that many addresses).
//
// Thread-safety: every function may be called from any thread; a LoginAttempt belongs to the
// request that began it.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/clock.h"
#include "common/result.h"

namespace veil::iam {

struct LoginLimiterOptions {
  int burst = 10;
  std::chrono::milliseconds refill_interval{6000};
  size_t max_clients = 10000;
};

class LoginRateLimiter;

// One login in progress: it holds the token Begin took from its client's bucket. Unless
// Refused() is called, the destructor gives the token back (the key was good, or the request
// failed before any key was judged).
class LoginAttempt {
 public:
  LoginAttempt(LoginAttempt&& other) noexcept;
  LoginAttempt& operator=(LoginAttempt&&) = delete;
  LoginAttempt(const LoginAttempt&) = delete;
  ~LoginAttempt();

  // The key was refused: the token stays taken.
  void Refused() { limiter_ = nullptr; }

 private:
  friend class LoginRateLimiter;
  LoginAttempt(LoginRateLimiter* limiter, std::string key)
      : limiter_(limiter), key_(std::move(key)) {}

  LoginRateLimiter* limiter_;  // null once refused or moved from
  std::string key_;
};

class LoginRateLimiter {
 public:
  // `clock` (its monotonic time) must outlive the limiter and every LoginAttempt.
  LoginRateLimiter(const Clock& clock, LoginLimiterOptions options);

  // Takes one token from `client`'s bucket, atomically with the check: the attempt, or, when the
  // bucket is empty, how long until `client` may try again (at least 1 s).
  [[nodiscard]] tl::expected<LoginAttempt, std::chrono::seconds> Begin(std::string_view client);

  size_t tracked_clients() const;

  // The bucket key of an address: IPv4 as is, IPv6 cut to its /64.
  static std::string ClientKey(std::string_view address);

 private:
  friend class LoginAttempt;
  struct Bucket {
    double tokens;
    MonotonicTime updated;
    std::list<std::string>::iterator lru;
  };
  void Refill(Bucket& b, MonotonicTime now) const;
  // The bucket of `key`, made full when missing (forgetting the least recent one when full).
  Bucket& Touch(const std::string& key, MonotonicTime now);  // mu_ held
  // Gives back the token of an attempt that was not refused.
  void Release(const std::string& key);

  const Clock& clock_;
  const LoginLimiterOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // mu_
  std::list<std::string> lru_;                       // mu_, front: most recent
};

}  // namespace veil::iam
