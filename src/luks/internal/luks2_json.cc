#include "luks/internal/luks2_json.h"

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <set>

#include "common/encoding.h"
#include "luks/internal/fields.h"
#include "luks/luks2_metadata.h"

namespace veil::luks::internal {

namespace json = boost::json;

namespace {

// Pass 1 (see the header).
class StrictJsonHandler {
 public:
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::string problem;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    scopes_.emplace_back();
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    scopes_.pop_back();
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t, json::error_code&) { return true; }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    if (!scopes_.back().insert(key_).second) {
      return Fail("duplicate key \"" + (IsDisplayable(key_) ? key_ : "?") + "\"", ec);
    }
    key_.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code& ec) {
    return Fail("non-integral number", ec);
  }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

 private:
  bool Fail(std::string why, json::error_code& ec) {
    problem = std::move(why);
    ec = json::make_error_code(json::error::syntax);
    return false;
  }
  std::vector<std::set<std::string>> scopes_;
  std::string key_;
};

// "<path>.<key>", or "<key>" at the top level.
std::string Join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

}  // namespace

json::parse_options StrictJsonOptions() {
  json::parse_options opt;
  opt.max_depth = kMaxJsonDepth;
  opt.allow_comments = false;
  opt.allow_trailing_commas = false;
  opt.allow_invalid_utf8 = false;
  return opt;
}

Status CheckJsonText(std::string_view text) {
  // libcryptsetup reads exactly one object from the first byte of the area (validate_json_area:
  // "Opening character must be left curly bracket"); Boost.JSON would skip whitespace first.
  if (text.empty() || text.front() != '{') {
    return DataLoss("LUKS2 metadata: the JSON area does not start with '{'");
  }
  json::basic_parser<StrictJsonHandler> parser(StrictJsonOptions());
  json::error_code ec;
  const size_t n = parser.write_some(false, text.data(), text.size(), ec);
  if (ec || n != text.size()) {
    const std::string why =
        !parser.handler().problem.empty() ? parser.handler().problem : ec.message();
    return DataLoss("LUKS2 metadata: invalid JSON: " + why);
  }
  return OkStatus();
}

Error Bad(const std::string& path, std::string_view what) {
  return Error(ErrorCode::kDataLoss, "LUKS2 metadata: " + path + ": " + std::string(what));
}

Result<const json::value*> Field(const json::object& o, std::string_view key,
                                 const std::string& path) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return tl::unexpected(Bad(Join(path, key), "missing"));
  return v;
}

Result<const json::object*> ObjectField(const json::object& o, std::string_view key,
                                        const std::string& path) {
  const json::value* v = VEIL_TRY_VALUE(Field(o, key, path));
  if (!v->is_object()) return tl::unexpected(Bad(Join(path, key), "not an object"));
  return &v->get_object();
}

Result<const json::array*> ArrayField(const json::object& o, std::string_view key,
                                      const std::string& path) {
  const json::value* v = VEIL_TRY_VALUE(Field(o, key, path));
  if (!v->is_array()) return tl::unexpected(Bad(Join(path, key), "not an array"));
  return &v->get_array();
}

Result<std::string> AsDisplayString(const json::value& v, const std::string& path) {
  if (!v.is_string()) return tl::unexpected(Bad(path, "not a string"));
  const json::string& s = v.get_string();
  std::string out(s.data(), s.size());
  if (!IsDisplayable(out)) return tl::unexpected(Bad(path, "contains control characters"));
  return out;
}

Result<std::string> StringField(const json::object& o, std::string_view key,
                                const std::string& path) {
  const json::value* v = VEIL_TRY_VALUE(Field(o, key, path));
  std::string s = VEIL_TRY_VALUE(AsDisplayString(*v, Join(path, key)));
  // libcryptsetup's json_contains_string: a field it reads as a string must not be empty.
  if (s.empty()) return tl::unexpected(Bad(Join(path, key), "empty"));
  return s;
}

Result<uint64_t> IntField(const json::object& o, std::string_view key, const std::string& path) {
  const json::value* v = VEIL_TRY_VALUE(Field(o, key, path));
  const std::string p = Join(path, key);
  if (const int64_t* i = v->if_int64()) {
    if (*i < 0) return tl::unexpected(Bad(p, "negative"));
    return static_cast<uint64_t>(*i);
  }
  if (const uint64_t* u = v->if_uint64()) return *u;
  return tl::unexpected(Bad(p, "not an integer"));
}

Result<uint64_t> ParseU64(std::string_view text, const std::string& path) {
  if (text.empty() || text.size() > 20) return tl::unexpected(Bad(path, "not a uint64 string"));
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return tl::unexpected(Bad(path, "not a uint64 string"));
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return tl::unexpected(Bad(path, "out of range"));
    value = value * 10 + digit;
  }
  return value;
}

Result<uint64_t> U64Field(const json::object& o, std::string_view key, const std::string& path) {
  const std::string p = Join(path, key);
  const std::string s = VEIL_TRY_VALUE(StringField(o, key, path));
  return ParseU64(s, p);
}

Result<uint32_t> ParseId(std::string_view name, const std::string& path, uint32_t max) {
  // Canonical only: libcryptsetup finds keyslot 0 and segment 0 by the names "0" (snprintf "%u")
  // and compares references as strings, so "00" would be a second name for what it calls 0.
  if (name.empty() || name.size() > 9 ||
      !std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (name.size() > 1 && name[0] == '0')) {
    return tl::unexpected(Bad(path, "object name is not a decimal number without leading zeros"));
  }
  const uint32_t id = static_cast<uint32_t>(std::stoul(std::string(name)));
  if (id >= max) return tl::unexpected(Bad(path, "id out of range"));
  return id;
}

Result<size_t> Base64Field(const json::object& o, std::string_view key, const std::string& path) {
  const std::string s = VEIL_TRY_VALUE(StringField(o, key, path));
  auto decoded = Base64Decode(s);
  if (!decoded) return tl::unexpected(Bad(Join(path, key), "invalid base64"));
  return decoded->size();
}

Result<std::vector<uint32_t>> IdArray(const json::object& o, std::string_view key,
                                      const std::string& path, uint32_t max) {
  const json::array* a = VEIL_TRY_VALUE(ArrayField(o, key, path));
  std::vector<uint32_t> ids;
  for (size_t i = 0; i < a->size(); ++i) {
    const std::string p = Join(path, key) + "[" + std::to_string(i) + "]";
    const std::string s = VEIL_TRY_VALUE(AsDisplayString((*a)[i], p));
    ids.push_back(VEIL_TRY_VALUE(ParseId(s, p, max)));
  }
  return ids;
}

Result<std::vector<std::string>> StringArray(const json::array& a, const std::string& path) {
  std::vector<std::string> out;
  for (size_t i = 0; i < a.size(); ++i) {
    out.push_back(VEIL_TRY_VALUE(AsDisplayString(a[i], path + "[" + std::to_string(i) + "]")));
  }
  return out;
}

}  // namespace veil::luks::internal
