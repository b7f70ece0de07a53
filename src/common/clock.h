// Clock: the seam for time.
//
// Code that stamps, expires or times out anything takes a Clock& instead of calling
// std::chrono::*::now(), so tests can drive time with a FakeClock. Now() is wall-clock time (for
// timestamps, token expiry); Monotonic() never jumps backwards (for timeouts, durations, leases).
//
// Thread-safety: SystemClock and FakeClock are safe to use from any thread.
#pragma once

#include <chrono>
#include <mutex>

#include "common/time.h"

namespace veil {

using MonotonicTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  virtual MonotonicTime Monotonic() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  MonotonicTime Monotonic() const override { return std::chrono::steady_clock::now(); }
};

// A clock that moves only when told. Starts at `start` (default 2026-01-01T00:00:00Z) with the
// monotonic clock at an arbitrary fixed origin.
class FakeClock final : public Clock {
 public:
  FakeClock();
  explicit FakeClock(TimePoint start);

  TimePoint Now() const override;
  MonotonicTime Monotonic() const override;

  // Sets wall-clock time (may go backwards, like a real clock being corrected); the monotonic
  // clock is not affected.
  void Set(TimePoint now);
  // Moves both clocks forward. Precondition: d >= 0.
  void Advance(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  TimePoint now_;
  MonotonicTime monotonic_;
};

}  // namespace veil
