#include "cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/bytes.h"
#include "common/file.h"
#include "common/strings.h"

namespace veil::cli {

Result<BaseUrl> ParseBaseUrl(const std::string& text) {
  BaseUrl url;
  std::string rest;
  if (text.rfind("http://", 0) == 0) {
    url.scheme = "http";
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    url.scheme = "https";
    rest = text.substr(8);
  } else {
    return InvalidArgument("endpoint '" + text + "' must start with http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) {
    return InvalidArgument("endpoint '" + text + "' must not have a path");
  }
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {  // [::1]:8440
    auto close = rest.find(']');
    if (close == std::string::npos) return InvalidArgument("endpoint '" + text + "': bad IPv6");
    url.host = rest.substr(0, close + 1);
    if (close + 1 < rest.size()) {
      if (rest[close + 1] != ':') return InvalidArgument("endpoint '" + text + "': bad port");
      port_text = rest.substr(close + 2);
    }
  } else {
    auto colon = rest.rfind(':');
    url.host = rest.substr(0, colon);
    if (colon != std::string::npos) port_text = rest.substr(colon + 1);
  }
  if (url.host.empty()) return InvalidArgument("endpoint '" + text + "' has no host");
  url.port = 8440;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      return InvalidArgument("endpoint '" + text + "' has a bad port");
    }
    url.port = static_cast<uint16_t>(value);
  }
  return url;
}

std::string ServiceUrl(const BaseUrl& base, uint16_t offset) {
  return base.scheme + "://" + base.host + ":" + std::to_string(base.port + offset);
}

std::string BaseUrlText(const BaseUrl& base) { return ServiceUrl(base, 0); }

std::string ProfileDir() {
  if (const char* home = std::getenv("VEIL_HOME"); home && *home) return home;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.veil";
}

Result<std::map<std::string, std::string>> ReadProfile(const std::string& dir) {
  std::map<std::string, std::string> profile;
  std::ifstream in(dir + "/config");
  if (!in) return profile;
  std::string line;
  int number = 0;
  auto trim = [](std::string_view s) { return std::string(TrimAsciiSpace(s)); };
  while (std::getline(in, line)) {
    ++number;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    auto eq = line.find('=');
    if (eq == std::string::npos) {
      return InvalidArgument(dir + "/config:" + std::to_string(number) + ": expected key = value");
    }
    profile[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return profile;
}

Status SetProfileValue(const std::string& dir, const std::string& key, const std::string& value) {
  if (key.empty() || TrimAsciiSpace(key) != key ||
      key.find_first_of("=\r\n#") != std::string::npos) {
    return InvalidArgument("'" + key + "' cannot be a profile key");
  }
  if (value.find_first_of("\r\n") != std::string::npos || TrimAsciiSpace(value) != value) {
    return InvalidArgument("a profile value is one line without surrounding white space");
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Internal("cannot create " + dir + ": " + std::strerror(errno));
  }
  const std::string path = dir + "/config";
  std::string text;
  bool done = false;
  {
    std::ifstream in(path);
    std::string line;
    while (in && std::getline(in, line)) {
      const std::string_view trimmed = TrimAsciiSpace(line);
      const size_t eq = trimmed.find('=');
      const bool is_key = !trimmed.empty() && trimmed[0] != '#' && eq != std::string::npos &&
                          TrimAsciiSpace(trimmed.substr(0, eq)) == key;
      if (!is_key) {
        text += line + "\n";
      } else if (!done) {
        if (!value.empty()) text += key + " = " + value + "\n";
        done = true;
      }
    }
  }
  if (!done && !value.empty()) text += key + " = " + value + "\n";
  return WriteFileAtomically(path, AsBytes(text), 0600);
}

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

namespace {

void AppendJson(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out += "null";
      return;
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case boost::json::kind::int64:
      out += std::to_string(v.get_int64());
      return;
    case boost::json::kind::uint64:
      out += std::to_string(v.get_uint64());
      return;
    case boost::json::kind::double_: {
      const double d = v.get_double();
      char text[32];
      const auto [end, ec] = std::to_chars(text, text + sizeof text, d);  // shortest round trip
      if (!std::isfinite(d) || ec != std::errc()) {
        out += "null";
      } else {
        out.append(text, end);
      }
      return;
    }
    case boost::json::kind::string:
      out += boost::json::serialize(v.get_string());
      return;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const boost::json::value& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        AppendJson(out, item);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(member.key());
        out += ':';
        AppendJson(out, member.value());
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string JsonText(const boost::json::value& v) {
  std::string out;
  AppendJson(out, v);
  return out;
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::ostringstream out;
  auto emit = [&](const std::vector<std::string>& row, bool upper) {
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      if (upper) cell = AsciiUpper(cell);
      out << cell;
      if (i + 1 < width.size()) out << std::string(width[i] - cell.size() + 2, ' ');
    }
    out << '\n';
  };
  emit(header, true);
  for (const auto& row : rows) emit(row, false);
  return out.str();
}

}  // namespace veil::cli
