#include "common/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>

#include "common/encoding.h"
#include "common/strings.h"
#include "common/time.h"

namespace veil::log {
namespace {

constexpr std::string_view kRedacted = "[redacted]";

struct Sink {
  std::mutex mu;
  int fd = STDERR_FILENO;  // guarded by mu
};

Sink& GetSink() {
  static Sink* sink = new Sink();  // never destroyed: logging may run during static destruction
  return *sink;
}

std::atomic<Level> g_level{Level::kInfo};

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
// Characters of a key name such as "X-Amz-Signature", "client_secret" or "db.password".
bool IsIdentChar(char c) { return IsAlnum(c) || c == '_' || c == '-' || c == '.'; }
bool IsBase64UrlChar(char c) { return IsAlnum(c) || c == '_' || c == '-'; }
// RFC 6750 b64token characters.
bool IsTokenChar(char c) {
  return IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' ||
         c == '=';
}

// Key names whose value is a secret: a key matches when it ends with one of these
// (case-insensitive), so "client_secret", "X-Amz-Signature" and "refreshToken" match too.
constexpr std::array<std::string_view, 14> kSecretKeySuffixes = {
    "authorization", "apikey",
    "api_key",       "api-key",
    "passphrase",    "password",
    "passwd",        "secret",
    "token",         "signature",
    "private_key",   "private-key",
    "privatekey",    "secret_access_key",
};
// Keys whose value runs to the end of the line (it contains spaces and commas).
constexpr std::array<std::string_view, 2> kWholeLineKeys = {"authorization", "cookie"};

bool IsSecretKey(std::string_view key) {
  for (std::string_view s : kSecretKeySuffixes) {
    if (EndsWithIgnoreCase(key, s)) return true;
  }
  for (std::string_view s : kWholeLineKeys) {
    if (EndsWithIgnoreCase(key, s)) return true;
  }
  return false;
}

bool IsWholeLineKey(std::string_view key) {
  for (std::string_view s : kWholeLineKeys) {
    if (EndsWithIgnoreCase(key, s)) return true;
  }
  return false;
}

// Length of a JWT-shaped token (eyJ<b64url>.<b64url>.<b64url>*) at the start of `s`, or 0.
size_t MatchJwt(std::string_view s) {
  if (s.substr(0, 3) != "eyJ") return 0;
  size_t i = 0;
  for (int segment = 0; segment < 3; ++segment) {
    size_t start = i;
    while (i < s.size() && IsBase64UrlChar(s[i])) ++i;
    // Header and payload are non-empty; the signature may be empty (alg "none").
    if (segment < 2 && i == start) return 0;
    if (segment < 2) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
  }
  return i;
}

// Length of a PEM private key block at the start of `s` (to the END line, or to the end of the
// text if the block is cut off), or 0.
size_t MatchPemPrivateKey(std::string_view s) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  if (s.substr(0, kBegin.size()) != kBegin) return 0;
  size_t label_end = s.find("-----", kBegin.size());
  if (label_end == std::string_view::npos) return 0;
  std::string_view label = s.substr(kBegin.size(), label_end - kBegin.size());
  if (label.find('\n') != std::string_view::npos || !label.ends_with("PRIVATE KEY")) return 0;
  std::string end_marker = "-----END " + std::string(label) + "-----";
  size_t end = s.find(end_marker, label_end);
  return end == std::string_view::npos ? s.size() : end + end_marker.size();
}

// If `text` at `pos` (just after a secret key name) continues with a separator and a value,
// appends the separator with the value redacted and returns the new position; otherwise npos.
size_t RedactAssignedValue(std::string_view text, size_t pos, bool whole_line, std::string* out) {
  size_t k = pos;
  if (k < text.size() && (text[k] == '"' || text[k] == '\'')) ++k;  // closing quote of a JSON key
  while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
  if (k >= text.size() || (text[k] != '=' && text[k] != ':')) return std::string_view::npos;
  ++k;
  while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
  if (k >= text.size()) return std::string_view::npos;
  // A PEM block is redacted whole by the caller's scan, not just up to its first space.
  if (MatchPemPrivateKey(text.substr(k)) > 0) return std::string_view::npos;
  const char open = text[k];
  if (open == '"' || open == '\'') {
    size_t v = k + 1;
    while (v < text.size() && text[v] != open) v += (text[v] == '\\') ? 2 : 1;
    if (v == k + 1) return std::string_view::npos;  // empty value: nothing to hide
    out->append(text.substr(pos, k + 1 - pos));
    out->append(kRedacted);
    if (v >= text.size()) return text.size();
    out->push_back(open);
    return v + 1;
  }
  size_t v = k;
  if (whole_line) {
    while (v < text.size() && text[v] != '\r' && text[v] != '\n') ++v;
  } else {
    constexpr std::string_view kStop = " \t\r\n&,;\"'<>(){}[]";
    while (v < text.size() && kStop.find(text[v]) == std::string_view::npos) ++v;
  }
  if (v == k) return std::string_view::npos;
  out->append(text.substr(pos, k - pos));
  out->append(kRedacted);
  return v;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO ";
    case Level::kWarn:
      return "WARN ";
    case Level::kError:
      return "ERROR";
    case Level::kOff:
      return "OFF  ";
  }
  return "?    ";
}

// Escapes control characters so that one call always yields exactly one line (no log forging).
void AppendEscaped(std::string* out, std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if ((u < 0x20 && c != '\t') || u == 0x7f) {
      out->append("\\x");
      AppendHex(out, u);
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

bool ParseLevel(std::string_view text, Level* out) {
  static constexpr std::pair<std::string_view, Level> kLevels[] = {
      {"debug", Level::kDebug}, {"info", Level::kInfo}, {"warn", Level::kWarn},
      {"error", Level::kError}, {"off", Level::kOff},
  };
  for (const auto& [name, level] : kLevels) {
    if (EqualsIgnoreCase(text, name)) {
      *out = level;
      return true;
    }
  }
  return false;
}

void SetLevel(Level level) { g_level.store(level, std::memory_order_relaxed); }

Level GetLevel() { return g_level.load(std::memory_order_relaxed); }

bool SetFile(const std::string& path) {
  int fd = STDERR_FILENO;
  if (!path.empty()) {
    fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return false;
  }
  Sink& sink = GetSink();
  std::lock_guard<std::mutex> lock(sink.mu);
  if (sink.fd != STDERR_FILENO) ::close(sink.fd);
  sink.fd = fd;
  return true;
}

std::string Redact(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '-') {
      if (size_t n = MatchPemPrivateKey(text.substr(i))) {
        out.append(kRedacted);
        i += n;
        continue;
      }
    }
    if (!IsIdentChar(c) || (i > 0 && IsIdentChar(text[i - 1]))) {
      out.push_back(c);
      ++i;
      continue;
    }
    // At the start of a word.
    if (size_t n = MatchJwt(text.substr(i))) {
      out.append(kRedacted);
      i += n;
      continue;
    }
    size_t end = i;
    while (end < text.size() && IsIdentChar(text[end])) ++end;
    std::string_view word = text.substr(i, end - i);
    if (EqualsIgnoreCase(word, "bearer")) {
      size_t k = end;
      while (k < text.size() && (text[k] == ' ' || text[k] == '\t')) ++k;
      size_t v = k;
      while (v < text.size() && IsTokenChar(text[v])) ++v;
      if (k > end && v > k) {
        out.append(text.substr(i, k - i));
        out.append(kRedacted);
        i = v;
        continue;
      }
    }
    if (IsSecretKey(word)) {
      out.append(word);
      size_t next = RedactAssignedValue(text, end, IsWholeLineKey(word), &out);
      if (next != std::string_view::npos) {
        i = next;
        continue;
      }
      i = end;
      continue;
    }
    out.append(word);
    i = end;
  }
  return out;
}

void Write(Level level, std::string_view component, std::string_view message) {
  if (level == Level::kOff || level < GetLevel()) return;
  std::string line = FormatRfc3339(std::chrono::system_clock::now(), TimePrecision::kMillis);
  line.push_back(' ');
  line.append(LevelName(level));
  line.push_back(' ');
  AppendEscaped(&line, component);
  line.append(": ");
  AppendEscaped(&line, Redact(message));
  line.push_back('\n');

  Sink& sink = GetSink();
  std::lock_guard<std::mutex> lock(sink.mu);
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(sink.fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing log sink
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace veil::log
