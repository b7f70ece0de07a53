// The log facade: leveled, structured-ish lines to stderr (or a file), with redaction.
//
// Every line passes through Redact() before it is written, so that anything that looks like a
// secret (Authorization headers, bearer tokens, JWTs, API keys, `apikey=`/`passphrase=`/
// `password=`/`secret=`/`token=` values, PEM private keys, SigV4 signatures) becomes
// "[redacted]". Redaction is a safety net: callers must still never log secrets on purpose.
//
// Usage:  VEIL_LOG_INFO("veild", "listening on {}:{}", addr, port)  -- no: we do not use fmt.
//         log::Info("veild", "listening on " + addr);
//
// Thread-safety: all functions are safe to call from any thread; each line is written whole.
#pragma once

#include <string>
#include <string_view>

namespace veil::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Parses "debug|info|warn|error|off" (case-insensitive). Unknown -> false.
bool ParseLevel(std::string_view text, Level* out);

// Process-wide settings, set once by the composition root (apps/*/main.cc) before threads start.
void SetLevel(Level level);
Level GetLevel();
// Writes lines to this file (appending, mode 0600) instead of stderr; empty path = stderr.
// Returns false when the file cannot be opened (stderr is kept).
bool SetFile(const std::string& path);

// Replaces secret-looking substrings with [redacted]. Pure; exposed for tests and for callers
// that build messages to show to users.
std::string Redact(std::string_view text);

// Writes "2026-11-28T20:30:00.123Z INFO  component: message" (message redacted).
void Write(Level level, std::string_view component, std::string_view message);

inline void Debug(std::string_view c, std::string_view m) { Write(Level::kDebug, c, m); }
inline void Info(std::string_view c, std::string_view m) { Write(Level::kInfo, c, m); }
inline void Warn(std::string_view c, std::string_view m) { Write(Level::kWarn, c, m); }
inline void Error(std::string_view c, std::string_view m) { Write(Level::kError, c, m); }

}  // namespace veil::log
