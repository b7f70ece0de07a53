// Instance policies (Key Protect's /instance/policies, docs/kms.md): the policy types and their
// policy_data, typed. The one codec between the JSON form (the API's request and response bodies,
// and the stored row, docs/formats/kms-store.md) and InstancePolicyData, so that the API checks a
// policy once and the service reads fields, not JSON.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/fwd.hpp>
#include <string>
#include <string_view>

#include "common/result.h"
#include "kms/model.h"

namespace veil::kms {

// The instance policy types, in the order the API lists them.
inline constexpr std::string_view kInstancePolicyTypes[] = {
    "dualAuthDelete", "rotation", "allowedNetwork",
    "allowedIP",      "metrics",  "keyCreateImportAccess"};

// Whether `type` is one of kInstancePolicyTypes.
bool IsInstancePolicyType(std::string_view type);

// policy_data of `type`: {"enabled": bool, "attributes": {...}} with the attributes its type
// knows (rotation: interval_month 1-12, required when enabled; allowedIP: allowed_ip, CIDR blocks
// (ParseIpBlock), not empty when enabled; allowedNetwork: allowed_network "public-and-private" |
// "private-only"; keyCreateImportAccess: the five booleans of InstancePolicyData, and nothing
// else). Other fields are ignored. BAD_BODY_ERR naming the field otherwise.
[[nodiscard]] Result<InstancePolicyData> ParseInstancePolicyData(std::string_view type,
                                                                 const boost::json::value& data);
// The same, from JSON text (a stored row, or a caller inside veild).
[[nodiscard]] Result<InstancePolicyData> ParseInstancePolicyData(std::string_view type,
                                                                 std::string_view json_text);

// A stored row's data (kms_store.cc): as ParseInstancePolicyData, except that a row a former
// version stored with looser checks still reads: the attributes of a disabled policy, and of
// the types Veil does not enforce (allowedNetwork, metrics), are dropped when they do not parse.
// An enabled policy that Veil enforces must parse (it fails closed).
[[nodiscard]] Result<InstancePolicyData> ReadStoredInstancePolicyData(std::string_view type,
                                                                      std::string_view json_text);

// policy_data as JSON: "enabled", and "attributes" when one is set. ParseInstancePolicyData
// reads it back to an equal value.
boost::json::object InstancePolicyDataJson(const InstancePolicyData& data);
std::string InstancePolicyDataText(const InstancePolicyData& data);

}  // namespace veil::kms
