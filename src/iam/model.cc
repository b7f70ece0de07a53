#include "iam/model.h"

#include "common/crn.h"
#include "common/uuid.h"

namespace veil::iam {

std::string IdentityCrn(std::string_view account_id, std::string_view type, std::string_view id) {
  Crn crn;
  crn.service = std::string(kIdentityService);
  crn.region = "";  // IAM is global, as IBM's iam-identity CRNs are
  crn.account = std::string(account_id);
  crn.resource_type = std::string(type);
  crn.resource = std::string(id);
  return crn.ToString();
}

std::string InstanceCrn(std::string_view service, std::string_view region,
                        std::string_view account_id, std::string_view guid) {
  Crn crn;
  crn.service = std::string(service);
  crn.region = std::string(region);
  crn.account = std::string(account_id);
  crn.service_instance = std::string(guid);
  return crn.ToString();
}

std::string ResourceKeyCrn(std::string_view service, std::string_view region,
                           std::string_view account_id, std::string_view instance_guid,
                           std::string_view key_guid) {
  Crn crn;
  crn.service = std::string(service);
  crn.region = std::string(region);
  crn.account = std::string(account_id);
  crn.service_instance = std::string(instance_guid);
  crn.resource_type = "resource-key";
  crn.resource = std::string(key_guid);
  return crn.ToString();
}

std::string Identity::crn() const {
  return IdentityCrn(account_id, kind == IdentityKind::kUser ? "user" : "serviceid", id);
}

std::string ApiKey::crn() const { return IdentityCrn(account_id, "apikey", id); }

bool IsAccountId(std::string_view text) {
  if (text.size() != 32) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<IdentityKind> KindOfIamId(std::string_view iam_id) {
  if (iam_id.starts_with(kServiceIdIamPrefix) &&
      IsUuidV4(iam_id.substr(kServiceIdIamPrefix.size()))) {
    return IdentityKind::kServiceId;
  }
  if (iam_id.starts_with(kUserPrefix) && IsUuidV4(iam_id.substr(kUserPrefix.size()))) {
    return IdentityKind::kUser;
  }
  return std::nullopt;
}

Result<std::string> IamIdFromAnyId(std::string_view id) {
  if (KindOfIamId(id)) return std::string(id);
  if (id.starts_with(kServiceIdPrefix) && IsUuidV4(id.substr(kServiceIdPrefix.size()))) {
    return "iam-" + std::string(id);
  }
  return InvalidArgument("not a service ID or user id");
}

}  // namespace veil::iam
