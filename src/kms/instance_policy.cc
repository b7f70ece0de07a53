#include "kms/instance_policy.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "kms/errors.h"
#include "kms/ip_filter.h"

namespace veil::kms {
namespace {

constexpr std::string_view kAllowedNetworks[] = {"public-and-private", "private-only"};

struct AccessAttribute {
  std::string_view name;
  std::optional<bool> InstancePolicyData::*field;
};
constexpr AccessAttribute kAccessAttributes[] = {
    {"create_root_key", &InstancePolicyData::create_root_key},
    {"create_standard_key", &InstancePolicyData::create_standard_key},
    {"import_root_key", &InstancePolicyData::import_root_key},
    {"import_standard_key", &InstancePolicyData::import_standard_key},
    {"enforce_token", &InstancePolicyData::enforce_token},
};

Status ReadRotation(const boost::json::object& attributes, InstancePolicyData& out) {
  const boost::json::value* interval = attributes.if_contains("interval_month");
  if (interval == nullptr) {
    if (out.enabled) {
      return KmsFail(KmsReason::kBadBody, "rotation needs attributes.interval_month from 1 to 12");
    }
    return OkStatus();
  }
  if (!interval->is_int64() || interval->get_int64() < 1 || interval->get_int64() > 12) {
    return KmsFail(KmsReason::kBadBody, "rotation needs attributes.interval_month from 1 to 12");
  }
  out.interval_month = static_cast<int>(interval->get_int64());
  return OkStatus();
}

Status ReadAllowedIp(const boost::json::object& attributes, InstancePolicyData& out) {
  const boost::json::value* list = attributes.if_contains("allowed_ip");
  if (list != nullptr && !list->is_array()) {
    return KmsFail(KmsReason::kBadBody,
                   "allowedIP needs attributes.allowed_ip: a list of CIDR blocks");
  }
  if (list != nullptr) {
    for (const boost::json::value& v : list->get_array()) {
      if (!v.is_string() || !ParseIpBlock(v.get_string())) {
        return KmsFail(KmsReason::kBadBody,
                       "allowed_ip holds IPv4 or IPv6 CIDR blocks, such as "
                       "10.0.0.0/8 or 2001:db8::/32");
      }
      out.allowed_ip.emplace_back(v.get_string());
    }
  }
  if (out.enabled && out.allowed_ip.empty()) {
    return KmsFail(KmsReason::kBadBody,
                   "allowedIP needs attributes.allowed_ip: a list of CIDR blocks");
  }
  return OkStatus();
}

Status ReadAllowedNetwork(const boost::json::object& attributes, InstancePolicyData& out) {
  const boost::json::value* network = attributes.if_contains("allowed_network");
  if (network == nullptr) return OkStatus();
  for (std::string_view known : kAllowedNetworks) {
    if (network->is_string() && network->get_string() == known) {
      out.allowed_network = std::string(known);
      return OkStatus();
    }
  }
  return KmsFail(KmsReason::kBadBody,
                 "allowed_network is \"public-and-private\" or \"private-only\"");
}

Status ReadAccess(const boost::json::object& attributes, InstancePolicyData& out) {
  for (const auto& kv : attributes) {
    const AccessAttribute* known = nullptr;
    for (const AccessAttribute& a : kAccessAttributes) {
      if (kv.key() == a.name) known = &a;
    }
    if (known == nullptr) {
      return KmsFail(KmsReason::kBadBody,
                     "unknown keyCreateImportAccess attribute " + std::string(kv.key()));
    }
    if (!kv.value().is_bool()) {
      return KmsFail(KmsReason::kBadBody, std::string(kv.key()) + " must be a boolean");
    }
    out.*(known->field) = kv.value().get_bool();
  }
  return OkStatus();
}

}  // namespace

bool IsInstancePolicyType(std::string_view type) {
  for (std::string_view t : kInstancePolicyTypes) {
    if (type == t) return true;
  }
  return false;
}

Result<InstancePolicyData> ParseInstancePolicyData(std::string_view type,
                                                   const boost::json::value& data) {
  if (!data.is_object()) return KmsFail(KmsReason::kBadBody, "policy_data must be an object");
  const boost::json::object& o = data.get_object();
  InstancePolicyData out;
  const boost::json::value* enabled = o.if_contains("enabled");
  if (enabled == nullptr || !enabled->is_bool()) {
    return KmsFail(KmsReason::kBadBody, "policy_data.enabled must be a boolean");
  }
  out.enabled = enabled->get_bool();
  static const boost::json::object kNone;
  const boost::json::object* attributes = &kNone;
  if (const boost::json::value* a = o.if_contains("attributes")) {
    if (!a->is_object()) {
      return KmsFail(KmsReason::kBadBody, "policy_data.attributes must be an object");
    }
    attributes = &a->get_object();
  }
  if (type == "rotation") VEIL_TRY(ReadRotation(*attributes, out));
  if (type == "allowedIP") VEIL_TRY(ReadAllowedIp(*attributes, out));
  if (type == "allowedNetwork") VEIL_TRY(ReadAllowedNetwork(*attributes, out));
  if (type == "keyCreateImportAccess") VEIL_TRY(ReadAccess(*attributes, out));
  return out;
}

Result<InstancePolicyData> ParseInstancePolicyData(std::string_view type,
                                                   std::string_view json_text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json_text, ec);
  if (ec) {
    return KmsFail(KmsReason::kBadBody, "policy_data of " + std::string(type) + " is not JSON");
  }
  return ParseInstancePolicyData(type, v);
}

Result<InstancePolicyData> ReadStoredInstancePolicyData(std::string_view type,
                                                        std::string_view json_text) {
  auto strict = ParseInstancePolicyData(type, json_text);
  if (strict) return strict;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(json_text, ec);
  const boost::json::value* enabled =
      !ec && v.is_object() ? v.get_object().if_contains("enabled") : nullptr;
  if (enabled == nullptr || !enabled->is_bool()) return strict;
  const bool enforced = type != "allowedNetwork" && type != "metrics";
  if (enabled->get_bool() && enforced) return strict;
  InstancePolicyData data;
  data.enabled = enabled->get_bool();
  return data;
}

boost::json::object InstancePolicyDataJson(const InstancePolicyData& data) {
  boost::json::object attributes;
  if (data.interval_month) attributes["interval_month"] = *data.interval_month;
  if (!data.allowed_ip.empty()) {
    boost::json::array list;
    for (const std::string& block : data.allowed_ip) list.emplace_back(block);
    attributes["allowed_ip"] = std::move(list);
  }
  if (data.allowed_network) attributes["allowed_network"] = *data.allowed_network;
  for (const AccessAttribute& a : kAccessAttributes) {
    if (const std::optional<bool>& value = data.*(a.field)) attributes[a.name] = *value;
  }
  boost::json::object o;
  o["enabled"] = data.enabled;
  if (!attributes.empty()) o["attributes"] = std::move(attributes);
  return o;
}

std::string InstancePolicyDataText(const InstancePolicyData& data) {
  return boost::json::serialize(InstancePolicyDataJson(data));
}

}  // namespace veil::kms
