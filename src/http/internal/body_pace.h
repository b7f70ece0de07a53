// BodyPace: the deadline of each read of a streamed request body. A client must never stall
// longer than `stall`, and after a grace period it must have sent at least `min_rate` bytes per
// second on average since the body began (as Apache's mod_reqtimeout MinRate): a client that
// trickles a large upload cannot hold its worker much longer than an honest slow one would.
// Internal to src/http.
//
// Thread-safety: one per request, used by its session only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace veil::http::internal {

class BodyPace {
 public:
  using Clock = std::chrono::steady_clock;

  // `min_rate` 0: only the stall limit applies.
  BodyPace(Clock::time_point start, std::chrono::milliseconds grace,
           std::chrono::milliseconds stall, uint64_t min_rate)
      : start_(start), grace_(grace), stall_(stall), min_rate_(min_rate) {}

  void Received(uint64_t bytes) { received_ += bytes; }
  uint64_t received() const { return received_; }

  // When the next read must have completed, reading at `now`.
  Clock::time_point Deadline(Clock::time_point now) const {
    return std::min(now + stall_, RateDeadline());
  }
  // Whether a read that timed out at `now` broke the rate rule rather than the stall limit.
  bool TooSlow(Clock::time_point now) const { return now >= RateDeadline(); }

 private:
  Clock::time_point RateDeadline() const {
    if (min_rate_ == 0) return Clock::time_point::max();
    // received / min_rate seconds of credit, in microseconds, capped far beyond any real body.
    const uint64_t credit_us =
        std::min<uint64_t>(received_ / min_rate_, uint64_t{1} << 32) * 1000000 +
        (received_ % min_rate_) * 1000000 / min_rate_;
    return start_ + grace_ + std::chrono::microseconds(credit_us);
  }

  Clock::time_point start_;
  std::chrono::milliseconds grace_;
  std::chrono::milliseconds stall_;
  uint64_t min_rate_;
  uint64_t received_ = 0;
};

}  // namespace veil::http::internal
