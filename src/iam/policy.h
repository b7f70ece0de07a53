// Policies: who (subject) may act with which roles on what (resource).
//
//   access         subject {iam_id}; roles: platform and service roles; resource {accountId,
//                  serviceName?, serviceInstance?, resourceType?, resource?}
//   authorization  service to service: subject {serviceName, accountId?, serviceInstance?,
//                  resourceType?} (the source); roles: service roles only; resource {accountId,
//                  serviceName, serviceInstance?} (the target)
//
// A resource attribute left out matches anything; every attribute given must equal the
// request's (operator "stringEquals", the only one supported). ParsePolicySpec checks the shape
// of a policy as the API receives it (IBM's v1 JSON, docs/api-compatibility.md) and is
// also the reader of the stored form (docs/formats/iam.md); IamService checks what needs the
// database (the account, the subject's existence).
//
// Thread-safety: value types and pure functions.
#pragma once

#include <boost/json/fwd.hpp>
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/time.h"
#include "iam/roles.h"

namespace veil::iam {

enum class PolicyType { kAccess, kAuthorization };
std::string_view PolicyTypeName(PolicyType type);

struct PolicyAttribute {
  std::string name;
  std::string value;

  friend bool operator==(const PolicyAttribute&, const PolicyAttribute&) = default;
};

struct PolicySpec {
  PolicyType type = PolicyType::kAccess;
  std::vector<PolicyAttribute> subject;  // the attributes of the one subject
  std::vector<Role> roles;               // at least one, no duplicates
  std::vector<PolicyAttribute> resource;
  std::string description;

  std::optional<std::string_view> SubjectValue(std::string_view name) const;
  std::optional<std::string_view> ResourceValue(std::string_view name) const;
};

// Whether `a` and `b` grant the same thing: the same type, subject and resource attributes and
// roles, in any order (descriptions aside).
bool SameGrant(const PolicySpec& a, const PolicySpec& b);

struct Policy : PolicySpec {
  std::string id;
  std::string account_id;
  int64_t version = 1;
  TimePoint created_at;
  std::string created_by;
  TimePoint modified_at;
  std::string modified_by;
};

// Parses {"type", "subjects":[{"attributes":[{"name","value"}]}], "roles":[{"role_id"}],
// "resources":[{"attributes":[{"name","value","operator"?}]}], "description"?}. Unknown
// top-level fields are ignored (IBM clients send more); everything named above is strict.
// kInvalidArgument, naming the field, for: a type other than access/authorization; not exactly
// one subject and one resource; an attribute not allowed for the type (see above) or repeated; a
// value that is empty, longer than 256 characters or has characters outside [A-Za-z0-9._~-]; an
// operator other than stringEquals; no roles, more than 20, an unknown role_id, a platform role
// in an authorization policy, or a service-specific role of another service than the resource's
// serviceName; a missing required attribute; a description over 300 characters.
[[nodiscard]] Result<PolicySpec> ParsePolicySpec(const boost::json::value& json);

// {"type","subjects","roles":[{"role_id"}],"resources","description"}, readable by
// ParsePolicySpec.
boost::json::object PolicySpecToJson(const PolicySpec& spec);

}  // namespace veil::iam
