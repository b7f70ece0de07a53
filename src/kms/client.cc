#include "kms/client.h"

#include "common/crn.h"
#include "kms/errors.h"

namespace veil::kms {

LocalClient::LocalClient(KmsService& service, iam::Authorizer& authorizer, std::string service_name)
    : service_(service), authorizer_(authorizer), service_name_(std::move(service_name)) {
  actor_.iam_id = iam::ServiceIamId(service_name_);
  actor_.is_service = true;
  actor_.service_name = service_name_;
}

Result<Key> LocalClient::Authorized(std::string_view key_crn, std::string_view action) {
  auto crn = Crn::Parse(key_crn);
  if (!crn || crn->service != "kms" || crn->resource_type != "key" || crn->account.empty() ||
      crn->service_instance.empty() || crn->resource.empty()) {
    return KmsFail("BAD_REQ_ERR", "not the CRN of a KMS key: " + std::string(key_crn));
  }
  iam::Subject subject = iam::ServiceSubject(service_name_, crn->account);
  iam::ResourceAttributes resource{crn->account, "kms", crn->service_instance, "key",
                                   crn->resource};
  iam::Decision d = VEIL_TRY_VALUE(authorizer_.Authorize(subject, action, resource));
  if (!d.permitted) {
    return tl::unexpected(Error(ErrorCode::kPermissionDenied,
                                "UNAUTHORIZED_ERR: " + service_name_ + " is not authorized to " +
                                    std::string(action) +
                                    " with this key: the key's account "
                                    "must authorize it (veil iam authorization create)"));
  }
  InstanceRef instance{crn->service_instance, crn->account, ""};
  Key key = VEIL_TRY_VALUE(service_.GetKey(instance, crn->resource));
  if (key.account_id != crn->account) {
    return KmsFail("KEY_NOT_FOUND_ERR", "Key does not exist: " + crn->resource);
  }
  return key;
}

Result<WrapResult> LocalClient::Wrap(std::string_view key_crn, std::optional<SecretBytes> plaintext,
                                     const std::vector<std::string>& aad) {
  Key key = VEIL_TRY_VALUE(Authorized(key_crn, "kms.secrets.wrap"));
  return service_.Wrap(key, std::move(plaintext), aad);
}

Result<UnwrapResult> LocalClient::Unwrap(std::string_view key_crn, std::string_view ciphertext,
                                         const std::vector<std::string>& aad) {
  Key key = VEIL_TRY_VALUE(Authorized(key_crn, "kms.secrets.unwrap"));
  return service_.Unwrap(key, ciphertext, aad);
}

Result<RewrapResult> LocalClient::Rewrap(std::string_view key_crn, std::string_view ciphertext,
                                         const std::vector<std::string>& aad) {
  Key key = VEIL_TRY_VALUE(Authorized(key_crn, "kms.secrets.rewrap"));
  return service_.Rewrap(key, ciphertext, aad);
}

Result<Registration> LocalClient::Register(std::string_view key_crn, std::string_view resource_crn,
                                           std::string description, bool prevent_key_deletion) {
  Key key = VEIL_TRY_VALUE(Authorized(key_crn, "kms.registrations.create"));
  return service_.CreateRegistration(key, resource_crn, std::move(description),
                                     prevent_key_deletion, "", actor_);
}

Status LocalClient::Unregister(std::string_view key_crn, std::string_view resource_crn) {
  Key key = VEIL_TRY_VALUE(Authorized(key_crn, "kms.registrations.delete"));
  return service_.DeleteRegistration(key, resource_crn, actor_);
}

}  // namespace veil::kms
