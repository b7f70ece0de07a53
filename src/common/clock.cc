#include "common/clock.h"

#include "common/result.h"

namespace veil {
namespace {

// 2026-01-01T00:00:00Z.
constexpr std::chrono::sys_days kDefaultStart =
    std::chrono::year{2026} / std::chrono::January / std::chrono::day{1};

}  // namespace

FakeClock::FakeClock() : FakeClock(TimePoint(kDefaultStart)) {}

FakeClock::FakeClock(TimePoint start) : now_(start), monotonic_(std::chrono::hours(1)) {}

TimePoint FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return now_;
}

MonotonicTime FakeClock::Monotonic() const {
  std::lock_guard<std::mutex> lock(mu_);
  return monotonic_;
}

void FakeClock::Set(TimePoint now) {
  std::lock_guard<std::mutex> lock(mu_);
  now_ = now;
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  VEIL_CHECK(d.count() >= 0);
  std::lock_guard<std::mutex> lock(mu_);
  now_ += std::chrono::duration_cast<TimePoint::duration>(d);
  monotonic_ += std::chrono::duration_cast<MonotonicTime::duration>(d);
}

}  // namespace veil
