// Config: daemon and CLI settings from four layers with ONE precedence rule.
//
//   command-line flags  >  environment (VEIL_*)  >  config file  >  built-in defaults
//
// A key is a dotted lower-case name such as "http.read-timeout". Each layer is loaded once at
// start-up by the composition root (apps/*/main.cc), in any order: the precedence is fixed by the
// layer, not by the order of the calls. docs/configuration.md documents the format for users.
//
//   - Defaults: SetDefault(key, value), one per known key.
//   - File: "key = value" lines, '#' comment lines, blank lines, and "[section]" headers that
//     prefix the keys after them ("[http]" + "read-timeout = 30s" -> "http.read-timeout"). A value
//     may be double-quoted to keep leading/trailing spaces or a leading '#' (escapes \" \\ \n \t).
//     '#' starts a comment only at the start of a line, so values may contain '#'. Malformed lines,
//     invalid keys and duplicate keys are rejected with "<file>:<line>: <reason>".
//   - Environment: key "http.read-timeout" is read from VEIL_HTTP_READ_TIMEOUT (upper-cased, '.'
//   and
//     '-' become '_').
//   - Flags: SetFlag(key, value), e.g. from a repeated `--set key=value` option or from dedicated
//     options the composition root maps to keys.
//
// Typed getters parse on every call and return kNotFound when no layer sets the key and
// kInvalidArgument (naming the key and the layer it came from) when the text does not parse.
// Error messages may quote the offending value only for typed getters (ints, sizes, durations,
// booleans), never for strings.
//
// Thread-safety: load everything first, then share: const methods may run concurrently; the
// loading methods need external synchronization.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil {

class Config {
 public:
  enum class Source { kDefault, kFile, kEnvironment, kFlag };

  void SetDefault(std::string_view key, std::string_view value);

  // Reads and parses a config file, replacing any previously loaded file layer.
  // kNotFound if it does not exist, kInvalidArgument for malformed content (with line numbers),
  // kResourceExhausted if larger than 1 MiB, kUnavailable for other I/O errors.
  [[nodiscard]] Status LoadFile(const std::string& path);
  // Parses config text; `origin` names it in error messages (usually the file path).
  [[nodiscard]] Status LoadText(std::string_view text, std::string_view origin);
  // Takes the VEIL_* entries of a NULL-terminated "NAME=value" array such as `environ`,
  // replacing any previously loaded environment layer.
  void LoadEnvironment(const char* const* envp);
  // Sets a flag-layer value. kInvalidArgument if `key` is not a valid key.
  [[nodiscard]] Status SetFlag(std::string_view key, std::string_view value);
  // SetFlag from "key=value" text.
  [[nodiscard]] Status SetFlagAssignment(std::string_view assignment);

  bool Has(std::string_view key) const;
  // The layer the effective value of `key` comes from; nullopt when unset.
  std::optional<Source> SourceOf(std::string_view key) const;

  [[nodiscard]] Result<std::string> GetString(std::string_view key) const;
  // A decimal integer (optional leading '-') within [min, max].
  [[nodiscard]] Result<int64_t> GetInt(std::string_view key, int64_t min, int64_t max) const;
  // true/false, yes/no, on/off, 1/0 (case-insensitive).
  [[nodiscard]] Result<bool> GetBool(std::string_view key) const;
  // "<n>ms", "<n>s", "<n>m", "<n>h", or "0".
  [[nodiscard]] Result<std::chrono::milliseconds> GetDuration(std::string_view key) const;
  // "<n>" bytes, or "<n>B", "<n>KiB|MiB|GiB|TiB" (powers of 1024), "<n>kB|MB|GB|TB" (of 1000).
  [[nodiscard]] Result<uint64_t> GetSize(std::string_view key) const;

  // Everything set in the file, environment or flag layers that `known` does not name, sorted:
  // file and flag keys as written, environment variables by their VEIL_* name. For a daemon to
  // warn about typos. (Every VEIL_* variable counts, so a variable meant for another program,
  // e.g. the CLI's VEIL_ENDPOINT, is reported unless listed.)
  std::vector<std::string> UnknownKeys(const std::set<std::string>& known) const;

  // "http.read-timeout" -> "VEIL_HTTP_READ_TIMEOUT".
  static std::string EnvironmentName(std::string_view key);
  // Lower-case segments of [a-z0-9_-] joined by '.', each starting with a letter or digit.
  static bool IsValidKey(std::string_view key);

  // The parsers behind the typed getters, for values that do not come from a Config.
  [[nodiscard]] static Result<bool> ParseBool(std::string_view text);
  [[nodiscard]] static Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
  [[nodiscard]] static Result<uint64_t> ParseSize(std::string_view text);

 private:
  struct Entry {
    std::string value;
    std::string origin;  // for messages: "file veil.conf:12", "environment VEIL_X", ...
  };
  using Layer = std::map<std::string, Entry, std::less<>>;

  const Entry* Resolve(std::string_view key, Source* source) const;
  Result<const Entry*> Require(std::string_view key) const;

  Layer defaults_;
  Layer file_;
  Layer environment_;  // keyed by environment variable name
  Layer flags_;
};

}  // namespace veil
