// Request and correlation ids, and the Date header. Internal to src/http.
//
// Thread-safety: all functions are safe from any thread (per-thread random buffers).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace veil::http {

// A random UUIDv4 ("8-4-4-4-12" lower-case hex) from OpenSSL's CSPRNG, drawn in batches.
std::string NewRequestId();

// `value` when it is usable as a correlation id (1..128 characters of [A-Za-z0-9._:-]), else
// nullopt: a client cannot inject spaces, quotes or control characters into logs and events.
std::optional<std::string> ValidCorrelationId(std::string_view value);

// The IMF-fixdate of the Date header ("Sun, 06 Nov 1994 08:49:37 GMT"), cached per second.
std::string HttpDate();

}  // namespace veil::http
