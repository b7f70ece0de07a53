// Timestamps as text: RFC 3339 (APIs, logs) and the audit-event format.
//
// Time values are std::chrono::system_clock::time_point (UTC, nanosecond resolution with
// libstdc++). Formatting always writes UTC with 'Z'; parsing accepts any RFC 3339 offset and
// converts to UTC.
//
//   FormatRfc3339:  2026-11-28T20:30:00Z / ...00.123Z / ...00.123456Z / ...00.123456789Z
//                   (digits truncated, never rounded, so a formatted time is never in the future)
//   ParseRfc3339:   YYYY-MM-DD('T'|'t')hh:mm:ss[.1-9 digits]('Z'|'z'|(+|-)hh:mm)
//                   Rejects anything else (no spaces, no missing seconds, no leap second 60, no
//                   day 31 in a 30-day month) with kInvalidArgument; so are times a TimePoint
//                   cannot hold (64-bit nanoseconds: before 1677-09-22 or after 2262-04-10).
//   FormatAuditTime: 2026-11-28T20:30:00.12+0000 (centiseconds, always +0000), the eventTime
//                   format of the seed cloud's audit events.
//   ParseAuditTime: exactly YYYY-MM-DDThh:mm:ss.SS(+|-)hhmm.
//   FormatHttpDate: Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 §5.6.7 IMF-fixdate, the Date header),
//                   English day and month names whatever the locale.
//
// Thread-safety: pure functions; CurrentHttpDate reads the system clock and keeps a per-thread
// cache.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace veil {

using TimePoint = std::chrono::system_clock::time_point;

enum class TimePrecision { kSeconds, kMillis, kMicros, kNanos };

// Precondition: `t` lies in years 0000-9999 (every TimePoint does).
std::string FormatRfc3339(TimePoint t, TimePrecision precision = TimePrecision::kMillis);
// FormatRfc3339(t, TimePrecision::kSeconds): "2026-11-28T20:30:00Z", as IBM's APIs write dates.
std::string FormatRfc3339Seconds(TimePoint t);
[[nodiscard]] Result<TimePoint> ParseRfc3339(std::string_view text);

// Precondition: `t` lies in years 0000-9999.
std::string FormatAuditTime(TimePoint t);
[[nodiscard]] Result<TimePoint> ParseAuditTime(std::string_view text);

// Precondition: `t` lies in years 0000-9999.
std::string FormatHttpDate(TimePoint t);
// The inverse of FormatHttpDate (IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT"; the obsolete
// RFC 850 and asctime forms are refused, kInvalidArgument).
[[nodiscard]] Result<TimePoint> ParseHttpDate(std::string_view text);
// FormatHttpDate of the system clock's now, formatted once per second per thread (every HTTP
// response carries it).
std::string CurrentHttpDate();

}  // namespace veil
