#include "common/json.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <cmath>
#include <vector>

namespace veil {

bool AllNumbersFinite(const boost::json::value& v) {
  std::vector<const boost::json::value*> pending{&v};
  while (!pending.empty()) {
    const boost::json::value* x = pending.back();
    pending.pop_back();
    if (x->is_double()) {
      if (!std::isfinite(x->get_double())) return false;
    } else if (x->is_array()) {
      for (const boost::json::value& item : x->get_array()) pending.push_back(&item);
    } else if (x->is_object()) {
      for (const auto& kv : x->get_object()) pending.push_back(&kv.value());
    }
  }
  return true;
}

namespace json {

Result<std::optional<std::string>> OptionalString(const boost::json::object& o,
                                                  std::string_view name) {
  const boost::json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<std::string>();
  if (!v->is_string()) return InvalidArgument(std::string(name) + " must be a string");
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<std::optional<bool>> OptionalBool(const boost::json::object& o, std::string_view name) {
  const boost::json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return std::optional<bool>();
  if (!v->is_bool()) return InvalidArgument(std::string(name) + " must be a boolean");
  return std::optional<bool>(v->get_bool());
}

Result<std::vector<std::string>> OptionalStringList(const boost::json::object& o,
                                                    std::string_view name) {
  std::vector<std::string> out;
  const boost::json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return out;
  if (!v->is_array()) return InvalidArgument(std::string(name) + " must be an array");
  for (const boost::json::value& item : v->get_array()) {
    if (!item.is_string()) return InvalidArgument(std::string(name) + " must hold strings");
    out.emplace_back(item.get_string());
  }
  return out;
}

Result<std::string> RequiredString(const boost::json::object& o, std::string_view name) {
  auto v = VEIL_TRY_VALUE(OptionalString(o, name));
  if (!v || v->empty()) return InvalidArgument(std::string(name) + " is required");
  return std::move(*v);
}

}  // namespace json

}  // namespace veil
