// LoginRateLimiter: slows down API key guessing per client address, without locking anyone out.
//
// A token bucket per client: each refused API key takes one token from the bucket of the address
// it came from; the bucket refills at one token per `refill_interval` up to `burst`. While a
// bucket is empty, every token request from that address is answered 429 with Retry-After (until
// one token is back) before its key is even looked at. Other addresses, and the key's owner
// calling from elsewhere, are not affected; successful logins take nothing.
//
// IPv6 clients are grouped by /64 (one host usually holds a whole /64). At most `max_clients`
// buckets are kept: when full, the least recently touched bucket is forgotten (a forgotten bucket
// is a full one, so memory stays bounded and the worst case is a fresh burst for an attacker
// who can spread over that many addresses).
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace veil::iam {

struct LoginLimiterOptions {
  int burst = 10;
  std::chrono::milliseconds refill_interval{6000};
  size_t max_clients = 10000;
};

class LoginRateLimiter {
 public:
  // `clock` (its monotonic time) must outlive the limiter.
  LoginRateLimiter(const Clock& clock, LoginLimiterOptions options);

  // nullopt when `client` may try a key now; otherwise how long until it may (at least 1 s).
  std::optional<std::chrono::seconds> Check(std::string_view client);
  // Takes one token from `client`'s bucket (a refused key).
  void RecordFailure(std::string_view client);

  size_t tracked_clients() const;

  // The bucket key of an address: IPv4 as is, IPv6 cut to its /64.
  static std::string ClientKey(std::string_view address);

 private:
  struct Bucket {
    double tokens;
    MonotonicTime updated;
    std::list<std::string>::iterator lru;
  };
  void Refill(Bucket& b, MonotonicTime now) const;

  const Clock& clock_;
  const LoginLimiterOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // mu_
  std::list<std::string> lru_;                       // mu_, front: most recent
};

}  // namespace veil::iam
