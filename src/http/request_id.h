// Request and correlation ids. Internal to src/http.
//
// Thread-safety: all functions are safe from any thread (per-thread random buffers).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace veil::http {

// A random UUIDv4 (common/uuid.h's canonical form) from OsRandom, drawn in per-thread batches.
// Like OsRandom it aborts when the operating system's generator fails (common/random.h).
std::string NewRequestId();

// `value` when it is usable as a correlation id (1..128 characters of [A-Za-z0-9._:-]), else
// nullopt: a client cannot inject spaces, quotes or control characters into logs and events.
std::optional<std::string> ValidCorrelationId(std::string_view value);

}  // namespace veil::http
