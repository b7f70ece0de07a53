#include "common/config.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>

#include "common/strings.h"

namespace veil {
namespace {

constexpr size_t kMaxFileSize = 1 << 20;

// Quotes a typed value for an error message; long values are left out.
std::string Quote(std::string_view value) {
  if (value.size() > 64) return "(value omitted)";
  // Built piecewise: g++ 12 -O3 reports a false -Wrestrict for "'" + std::string(...) + "'".
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('\'');
  out.append(value);
  out.push_back('\'');
  return out;
}

// Parses a double-quoted value: the text between the quotes, with \" \\ \n \t escapes.
Result<std::string> Unquote(std::string_view quoted) {
  if (quoted.size() < 2 || quoted.back() != '"')
    return InvalidArgument("unterminated quoted value");
  std::string_view inner = quoted.substr(1, quoted.size() - 2);
  std::string out;
  for (size_t i = 0; i < inner.size(); ++i) {
    char c = inner[i];
    if (c == '"') return InvalidArgument("unescaped '\"' inside a quoted value");
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == inner.size()) return InvalidArgument("unterminated quoted value");
    switch (inner[i]) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      default:
        return InvalidArgument("unknown escape in a quoted value");
    }
  }
  return out;
}

// Parses a non-negative decimal number that fills `digits` exactly.
bool ParseUnsigned(std::string_view digits, uint64_t* out) {
  if (digits.empty()) return false;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *out);
  return ec == std::errc() && ptr == digits.data() + digits.size();
}

// Splits "123unit" into the number and the unit.
bool SplitNumber(std::string_view text, uint64_t* number, std::string_view* unit) {
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  *unit = text.substr(i);
  return ParseUnsigned(text.substr(0, i), number);
}

bool MultiplyChecked(uint64_t a, uint64_t b, uint64_t* out) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) return false;
  *out = a * b;
  return true;
}

}  // namespace

bool Config::IsValidKey(std::string_view key) {
  if (key.empty()) return false;
  bool segment_start = true;
  for (char c : key) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
      continue;
    }
    if (segment_start && !alnum) return false;
    if (!alnum && c != '_' && c != '-') return false;
    segment_start = false;
  }
  return !segment_start;
}

std::string Config::EnvironmentName(std::string_view key) {
  std::string name = "VEIL_";
  for (char c : key) {
    if (c == '.' || c == '-') {
      name.push_back('_');
    } else if (c >= 'a' && c <= 'z') {
      name.push_back(static_cast<char>(c - 'a' + 'A'));
    } else {
      name.push_back(c);
    }
  }
  return name;
}

void Config::SetDefault(std::string_view key, std::string_view value) {
  defaults_[std::string(key)] = Entry{std::string(value), "default"};
}

Status Config::LoadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return NotFound("config file " + path + " does not exist");
    return Unavailable("cannot open config file " + path + ": " + std::strerror(errno));
  }
  std::string text;
  char buf[4096];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileSize) {
      return ResourceExhausted("config file " + path + " is larger than 1 MiB");
    }
  }
  if (in.bad()) return Unavailable("cannot read config file " + path);
  return LoadText(text, path);
}

Status Config::LoadText(std::string_view text, std::string_view origin) {
  Layer layer;
  std::map<std::string, int, std::less<>> first_line;
  std::string section;
  int line_no = 0;
  size_t pos = 0;
  auto fail = [&](std::string_view reason) {
    return InvalidArgument(std::string(origin) + ":" + std::to_string(line_no) + ": " +
                           std::string(reason));
  };
  if (text.find('\0') != std::string_view::npos) {
    return InvalidArgument(std::string(origin) + ": contains a NUL byte");
  }
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    std::string_view line = TrimAsciiBlank(raw);
    if (line.empty() || line.front() == '#') continue;
    if (line.front() == '[') {
      if (line.back() != ']') return fail("expected [section]");
      std::string_view name = TrimAsciiBlank(line.substr(1, line.size() - 2));
      if (!IsValidKey(name)) return fail("invalid section name");
      section = std::string(name);
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) return fail("expected key = value");
    std::string_view key = TrimAsciiBlank(line.substr(0, eq));
    std::string_view value = TrimAsciiBlank(line.substr(eq + 1));
    if (!IsValidKey(key)) {
      return fail("invalid key (use lower-case letters, digits, '_', '-' and '.')");
    }
    std::string full = section.empty() ? std::string(key) : section + "." + std::string(key);
    if (auto it = first_line.find(full); it != first_line.end()) {
      return fail("duplicate key " + full + " (first set on line " + std::to_string(it->second) +
                  ")");
    }
    std::string parsed;
    if (!value.empty() && value.front() == '"') {
      auto unquoted = Unquote(value);
      if (!unquoted) return fail(unquoted.error().message);
      parsed = std::move(*unquoted);
    } else {
      parsed = std::string(value);
    }
    first_line[full] = line_no;
    layer[full] =
        Entry{std::move(parsed), "file " + std::string(origin) + ":" + std::to_string(line_no)};
  }
  file_ = std::move(layer);
  return OkStatus();
}

void Config::LoadEnvironment(const char* const* envp) {
  environment_.clear();
  if (envp == nullptr) return;
  for (const char* const* e = envp; *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (entry.substr(0, 5) != "VEIL_") continue;
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(entry.substr(0, eq));
    environment_[name] = Entry{std::string(entry.substr(eq + 1)), "environment " + name};
  }
}

Status Config::SetFlag(std::string_view key, std::string_view value) {
  if (!IsValidKey(key)) return InvalidArgument("invalid configuration key in flag");
  flags_[std::string(key)] = Entry{std::string(value), "flag " + std::string(key)};
  return OkStatus();
}

Status Config::SetFlagAssignment(std::string_view assignment) {
  size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) return InvalidArgument("expected key=value");
  return SetFlag(TrimAsciiBlank(assignment.substr(0, eq)), assignment.substr(eq + 1));
}

const Config::Entry* Config::Resolve(std::string_view key, Source* source) const {
  if (auto it = flags_.find(key); it != flags_.end()) {
    *source = Source::kFlag;
    return &it->second;
  }
  if (auto it = environment_.find(EnvironmentName(key)); it != environment_.end()) {
    *source = Source::kEnvironment;
    return &it->second;
  }
  if (auto it = file_.find(key); it != file_.end()) {
    *source = Source::kFile;
    return &it->second;
  }
  if (auto it = defaults_.find(key); it != defaults_.end()) {
    *source = Source::kDefault;
    return &it->second;
  }
  return nullptr;
}

Result<const Config::Entry*> Config::Require(std::string_view key) const {
  Source source;
  const Entry* entry = Resolve(key, &source);
  if (entry == nullptr) return NotFound("configuration key " + std::string(key) + " is not set");
  return entry;
}

bool Config::Has(std::string_view key) const {
  Source source;
  return Resolve(key, &source) != nullptr;
}

std::optional<Config::Source> Config::SourceOf(std::string_view key) const {
  Source source;
  if (Resolve(key, &source) == nullptr) return std::nullopt;
  return source;
}

Result<std::string> Config::GetString(std::string_view key) const {
  const Entry* entry = VEIL_TRY_VALUE(Require(key));
  return entry->value;
}

Result<int64_t> Config::GetInt(std::string_view key, int64_t min, int64_t max) const {
  const Entry* entry = VEIL_TRY_VALUE(Require(key));
  std::string_view text = entry->value;
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument(std::string(key) + " (" + entry->origin +
                           "): expected an integer, got " + Quote(text));
  }
  if (value < min || value > max) {
    return InvalidArgument(std::string(key) + " (" + entry->origin + "): " + std::to_string(value) +
                           " is outside [" + std::to_string(min) + ", " + std::to_string(max) +
                           "]");
  }
  return value;
}

Result<bool> Config::GetBool(std::string_view key) const {
  const Entry* entry = VEIL_TRY_VALUE(Require(key));
  auto v = ParseBool(entry->value);
  if (!v) return tl::unexpected(v.error().Wrap(std::string(key) + " (" + entry->origin + ")"));
  return *v;
}

Result<std::chrono::milliseconds> Config::GetDuration(std::string_view key) const {
  const Entry* entry = VEIL_TRY_VALUE(Require(key));
  auto v = ParseDuration(entry->value);
  if (!v) return tl::unexpected(v.error().Wrap(std::string(key) + " (" + entry->origin + ")"));
  return *v;
}

Result<uint64_t> Config::GetSize(std::string_view key) const {
  const Entry* entry = VEIL_TRY_VALUE(Require(key));
  auto v = ParseSize(entry->value);
  if (!v) return tl::unexpected(v.error().Wrap(std::string(key) + " (" + entry->origin + ")"));
  return *v;
}

Result<bool> Config::ParseBool(std::string_view text) {
  const std::string v = AsciiLower(text);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return InvalidArgument("expected true/false, yes/no, on/off or 1/0, got " + Quote(text));
}

Result<std::chrono::milliseconds> Config::ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("expected a duration such as 500ms, 30s, 2m or 1h, got " + Quote(text));
  };
  if (text == "0") return std::chrono::milliseconds(0);
  uint64_t n = 0;
  std::string_view unit;
  if (!SplitNumber(text, &n, &unit)) return bad();
  uint64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else if (unit == "h") {
    scale = 3'600'000;
  } else {
    return bad();
  }
  uint64_t ms = 0;
  if (!MultiplyChecked(n, scale, &ms) ||
      ms > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return InvalidArgument("duration " + Quote(text) + " is too large");
  }
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

Result<uint64_t> Config::ParseSize(std::string_view text) {
  uint64_t n = 0;
  std::string_view unit;
  if (!SplitNumber(text, &n, &unit)) {
    return InvalidArgument("expected a size such as 1048576, 64KiB or 1MiB, got " + Quote(text));
  }
  static constexpr struct {
    std::string_view name;
    uint64_t scale;
  } kUnits[] = {
      {"", 1},
      {"B", 1},
      {"KiB", uint64_t{1} << 10},
      {"MiB", uint64_t{1} << 20},
      {"GiB", uint64_t{1} << 30},
      {"TiB", uint64_t{1} << 40},
      {"kB", 1'000},
      {"MB", 1'000'000},
      {"GB", 1'000'000'000},
      {"TB", 1'000'000'000'000},
  };
  for (const auto& u : kUnits) {
    if (unit != u.name) continue;
    uint64_t bytes = 0;
    if (!MultiplyChecked(n, u.scale, &bytes)) {
      return InvalidArgument("size " + Quote(text) + " is too large");
    }
    return bytes;
  }
  return InvalidArgument("unknown size unit in " + Quote(text) +
                         " (use B, KiB, MiB, GiB, TiB, kB, MB, GB or TB)");
}

std::vector<std::string> Config::UnknownKeys(const std::set<std::string>& known) const {
  std::set<std::string> known_env;
  for (const std::string& key : known) known_env.insert(EnvironmentName(key));
  std::set<std::string> unknown;
  for (const auto& [key, entry] : file_) {
    if (!known.contains(key)) unknown.insert(key);
  }
  for (const auto& [key, entry] : flags_) {
    if (!known.contains(key)) unknown.insert(key);
  }
  for (const auto& [name, entry] : environment_) {
    if (!known_env.contains(name)) unknown.insert(name);
  }
  return {unknown.begin(), unknown.end()};
}

}  // namespace veil
