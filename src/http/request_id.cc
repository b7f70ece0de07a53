#include "http/request_id.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>

namespace veil::http {

namespace {

// Fills `out` from a per-thread buffer refilled from RAND_bytes; falls back to random_device
// only if OpenSSL's generator fails (it does not on a healthy system).
void RandomBytes(unsigned char* out, size_t n) {
  thread_local std::array<unsigned char, 4096> buf;
  thread_local size_t pos = buf.size();
  while (n > 0) {
    if (pos == buf.size()) {
      if (RAND_bytes(buf.data(), static_cast<int>(buf.size())) != 1) {
        std::random_device rd;
        for (auto& b : buf) b = static_cast<unsigned char>(rd());
      }
      pos = 0;
    }
    size_t take = std::min(n, buf.size() - pos);
    std::memcpy(out, buf.data() + pos, take);
    pos += take;
    out += take;
    n -= take;
  }
}

}  // namespace

std::string NewRequestId() {
  unsigned char b[16];
  RandomBytes(b, sizeof b);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0x0f]);
  }
  return out;
}

std::optional<std::string> ValidCorrelationId(std::string_view value) {
  if (value.empty() || value.size() > 128) return std::nullopt;
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return std::nullopt;
  }
  return std::string(value);
}

std::string HttpDate() {
  thread_local std::time_t cached_second = 0;
  thread_local std::string cached;
  std::time_t now = std::time(nullptr);
  if (now != cached_second || cached.empty()) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    // Formatted by hand: strftime's %a and %b follow the locale, the header must not.
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday % 7],
                  tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    cached = buf;
    cached_second = now;
  }
  return cached;
}

}  // namespace veil::http
