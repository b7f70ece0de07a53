#include "iam/policy.h"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <set>
#include <tuple>

namespace veil::iam {
namespace {

constexpr size_t kMaxValue = 256;
constexpr size_t kMaxRoles = 20;
constexpr size_t kMaxDescription = 300;

bool ValidValue(std::string_view v) {
  if (v.empty() || v.size() > kMaxValue) return false;
  for (char c : v) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.' || c == '~';
    if (!ok) return false;
  }
  return true;
}

struct AttributeRules {
  std::vector<std::string_view> allowed;
  std::vector<std::string_view> required;
};

AttributeRules SubjectRules(PolicyType type) {
  if (type == PolicyType::kAccess) return {{"iam_id"}, {"iam_id"}};
  return {{"accountId", "serviceName", "serviceInstance", "resourceType"}, {"serviceName"}};
}

AttributeRules ResourceRules(PolicyType type) {
  if (type == PolicyType::kAccess) {
    return {{"accountId", "serviceName", "serviceInstance", "resourceType", "resource"},
            {"accountId"}};
  }
  return {{"accountId", "serviceName", "serviceInstance"}, {"accountId", "serviceName"}};
}

// Parses [{"attributes":[...]}] with exactly one element.
Result<std::vector<PolicyAttribute>> ParseAttributeList(const boost::json::object& body,
                                                        std::string_view field,
                                                        const AttributeRules& rules,
                                                        bool allow_operator) {
  const std::string f(field);
  const boost::json::value* list = body.if_contains(field);
  if (list == nullptr || !list->is_array()) return InvalidArgument(f + " must be an array");
  if (list->as_array().size() != 1) return InvalidArgument(f + " must hold exactly one element");
  const boost::json::value& item = list->as_array()[0];
  const boost::json::value* attrs =
      item.is_object() ? item.as_object().if_contains("attributes") : nullptr;
  if (attrs == nullptr || !attrs->is_array() || attrs->as_array().empty()) {
    return InvalidArgument(f + "[0].attributes must be a non-empty array");
  }
  std::vector<PolicyAttribute> out;
  std::set<std::string, std::less<>> seen;
  for (const boost::json::value& a : attrs->as_array()) {
    if (!a.is_object()) return InvalidArgument(f + " attributes must be objects");
    const boost::json::object& o = a.as_object();
    const boost::json::value* name = o.if_contains("name");
    const boost::json::value* value = o.if_contains("value");
    if (name == nullptr || !name->is_string()) {
      return InvalidArgument(f + " attribute without a string name");
    }
    std::string n(name->as_string());
    bool allowed = false;
    for (std::string_view a_name : rules.allowed) allowed = allowed || a_name == n;
    if (!allowed) return InvalidArgument(f + " attribute '" + n + "' is not allowed here");
    if (!seen.insert(n).second) return InvalidArgument(f + " attribute '" + n + "' is repeated");
    if (value == nullptr || !value->is_string() || !ValidValue(value->as_string())) {
      return InvalidArgument(f + " attribute '" + n +
                             "' needs a value of 1-256 characters [A-Za-z0-9._~-]");
    }
    if (const boost::json::value* op = o.if_contains("operator")) {
      if (!allow_operator || !op->is_string() || op->as_string() != "stringEquals") {
        return InvalidArgument(f + " attribute '" + n + "': the only operator is stringEquals");
      }
    }
    out.push_back({std::move(n), std::string(value->as_string())});
  }
  for (std::string_view r : rules.required) {
    if (!seen.contains(r))
      return InvalidArgument(f + " must have the attribute '" + std::string(r) + "'");
  }
  return out;
}

std::optional<std::string_view> Find(const std::vector<PolicyAttribute>& attrs,
                                     std::string_view name) {
  for (const PolicyAttribute& a : attrs) {
    if (a.name == name) return a.value;
  }
  return std::nullopt;
}

boost::json::array AttributesToJson(const std::vector<PolicyAttribute>& attrs, bool with_op) {
  boost::json::array list;
  for (const PolicyAttribute& a : attrs) {
    boost::json::object o;
    o["name"] = a.name;
    o["value"] = a.value;
    if (with_op) o["operator"] = "stringEquals";
    list.push_back(std::move(o));
  }
  boost::json::object wrapper;
  wrapper["attributes"] = std::move(list);
  return boost::json::array{std::move(wrapper)};
}

}  // namespace

std::string_view PolicyTypeName(PolicyType type) {
  return type == PolicyType::kAccess ? "access" : "authorization";
}

bool SameGrant(const PolicySpec& a, const PolicySpec& b) {
  auto attributes = [](std::vector<PolicyAttribute> v) {
    std::sort(v.begin(), v.end(), [](const PolicyAttribute& x, const PolicyAttribute& y) {
      return std::tie(x.name, x.value) < std::tie(y.name, y.value);
    });
    return v;
  };
  auto roles = [](const std::vector<Role>& v) {
    std::vector<std::string> ids;
    for (const Role& r : v) ids.push_back(r.role_id());
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  return a.type == b.type && attributes(a.subject) == attributes(b.subject) &&
         attributes(a.resource) == attributes(b.resource) && roles(a.roles) == roles(b.roles);
}

std::optional<std::string_view> PolicySpec::SubjectValue(std::string_view name) const {
  return Find(subject, name);
}

std::optional<std::string_view> PolicySpec::ResourceValue(std::string_view name) const {
  return Find(resource, name);
}

Result<PolicySpec> ParsePolicySpec(const boost::json::value& json) {
  if (!json.is_object()) return InvalidArgument("the policy must be a JSON object");
  const boost::json::object& body = json.as_object();
  PolicySpec spec;
  const boost::json::value* type = body.if_contains("type");
  if (type == nullptr || !type->is_string()) return InvalidArgument("type is required");
  if (type->as_string() == "access") {
    spec.type = PolicyType::kAccess;
  } else if (type->as_string() == "authorization") {
    spec.type = PolicyType::kAuthorization;
  } else {
    return InvalidArgument("type must be access or authorization");
  }
  spec.subject =
      VEIL_TRY_VALUE(ParseAttributeList(body, "subjects", SubjectRules(spec.type), false));
  spec.resource =
      VEIL_TRY_VALUE(ParseAttributeList(body, "resources", ResourceRules(spec.type), true));

  const boost::json::value* roles = body.if_contains("roles");
  if (roles == nullptr || !roles->is_array() || roles->as_array().empty()) {
    return InvalidArgument("roles must be a non-empty array");
  }
  if (roles->as_array().size() > kMaxRoles) return InvalidArgument("too many roles (at most 20)");
  const std::string target_service(spec.ResourceValue("serviceName").value_or(""));
  for (const boost::json::value& r : roles->as_array()) {
    const boost::json::value* id = r.is_object() ? r.as_object().if_contains("role_id") : nullptr;
    if (id == nullptr || !id->is_string()) return InvalidArgument("each role needs a role_id");
    Role role = VEIL_TRY_VALUE(Role::Parse(id->as_string()));
    if (spec.type == PolicyType::kAuthorization && role.kind != RoleKind::kService) {
      return InvalidArgument("an authorization policy grants service roles only");
    }
    if (!role.service.empty() && role.service != target_service) {
      return InvalidArgument("role " + role.name + " belongs to " + role.service +
                             ": the resource's serviceName must be " + role.service);
    }
    bool duplicate = false;
    for (const Role& have : spec.roles) duplicate = duplicate || have == role;
    if (!duplicate) spec.roles.push_back(std::move(role));
  }
  if (const boost::json::value* d = body.if_contains("description"); d && !d->is_null()) {
    if (!d->is_string() || d->as_string().size() > kMaxDescription) {
      return InvalidArgument("description must be a string of at most 300 characters");
    }
    spec.description = std::string(d->as_string());
  }
  return spec;
}

boost::json::object PolicySpecToJson(const PolicySpec& spec) {
  boost::json::object out;
  out["type"] = PolicyTypeName(spec.type);
  out["subjects"] = AttributesToJson(spec.subject, false);
  boost::json::array roles;
  for (const Role& r : spec.roles) {
    boost::json::object o;
    o["role_id"] = r.role_id();
    roles.push_back(std::move(o));
  }
  out["roles"] = std::move(roles);
  out["resources"] = AttributesToJson(spec.resource, true);
  if (!spec.description.empty()) out["description"] = spec.description;
  return out;
}

}  // namespace veil::iam
