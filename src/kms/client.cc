#include "kms/client.h"

#include "common/crn.h"
#include "kms/errors.h"

namespace veil::kms {
namespace {

// 403 UNAUTHORIZED_ERR, Key Protect's answer to a caller that may not use the key: a plain
// kPermissionDenied, whose default reason that is (a message prefixed with the reason would take
// the reason's own status, 401, meant for a missing or bad token).
tl::unexpected<Error> Denied(const std::string& text) {
  return tl::unexpected(Error(ErrorCode::kPermissionDenied, text));
}

}  // namespace

LocalClient::LocalClient(KmsService& service, iam::Authorizer& authorizer, std::string service_name)
    : service_(service), authorizer_(authorizer), service_name_(std::move(service_name)) {
  actor_.iam_id = iam::ServiceIamId(service_name_);
  actor_.is_service = true;
  actor_.service_name = service_name_;
}

Result<Key> LocalClient::Authorized(const ActingFor& acting_for, std::string_view key_crn,
                                    std::string_view action) {
  if (acting_for.account_id.empty()) {
    return KmsFail(KmsReason::kBadReq, service_name_ + " must say which account it acts for");
  }
  auto crn = Crn::Parse(key_crn);
  if (!crn || crn->service != "kms" || crn->resource_type != "key" || crn->account.empty() ||
      crn->service_instance.empty() || crn->resource.empty()) {
    return KmsFail(KmsReason::kBadReq, "not the CRN of a KMS key: " + std::string(key_crn));
  }
  // A customer names the key; the service acts for the customer. A key of any other account is
  // refused before it is looked up (its existence is not the customer's to learn), whatever that
  // account authorized.
  if (crn->account != acting_for.account_id) {
    return Denied(service_name_ + " acts for account " + acting_for.account_id +
                  " and cannot use a key of another account");
  }
  // Looked up in the account acted for only: the resource's account is that account.
  iam::Subject subject =
      iam::ServiceSubject(service_name_, acting_for.account_id, acting_for.service_instance);
  iam::ResourceAttributes resource{acting_for.account_id, "kms", crn->service_instance, "key",
                                   crn->resource};
  iam::Decision d = VEIL_TRY_VALUE(authorizer_.Authorize(subject, action, resource));
  if (!d.permitted) {
    return Denied(service_name_ + " is not authorized to " + std::string(action) +
                  " with this key: the key's account must authorize it (veil iam authorization "
                  "create)");
  }
  InstanceRef instance{crn->service_instance, acting_for.account_id, ""};
  Key key = VEIL_TRY_VALUE(service_.GetKey(instance, crn->resource));
  // The CRN's instance may be another account's: the key must be the account's own.
  if (key.account_id != acting_for.account_id) {
    return KmsFail(KmsReason::kKeyNotFound, "Key does not exist: " + crn->resource);
  }
  return key;
}

Result<WrapResult> LocalClient::Wrap(const ActingFor& acting_for, std::string_view key_crn,
                                     std::optional<SecretBytes> plaintext,
                                     const std::vector<std::string>& aad) {
  Key key = VEIL_TRY_VALUE(Authorized(acting_for, key_crn, "kms.secrets.wrap"));
  return service_.Wrap(key, std::move(plaintext), aad);
}

Result<UnwrapResult> LocalClient::Unwrap(const ActingFor& acting_for, std::string_view key_crn,
                                         std::string_view ciphertext,
                                         const std::vector<std::string>& aad) {
  Key key = VEIL_TRY_VALUE(Authorized(acting_for, key_crn, "kms.secrets.unwrap"));
  return service_.Unwrap(key, ciphertext, aad);
}

Result<RewrapResult> LocalClient::Rewrap(const ActingFor& acting_for, std::string_view key_crn,
                                         std::string_view ciphertext,
                                         const std::vector<std::string>& aad) {
  Key key = VEIL_TRY_VALUE(Authorized(acting_for, key_crn, "kms.secrets.rewrap"));
  return service_.Rewrap(key, ciphertext, aad);
}

Result<Registration> LocalClient::Register(const ActingFor& acting_for, std::string_view key_crn,
                                           const Registering& registering) {
  Key key = VEIL_TRY_VALUE(Authorized(acting_for, key_crn, "kms.registrations.create"));
  return service_.CreateRegistration(key, registering.resource_crn, registering.description,
                                     registering.prevent_key_deletion, "", actor_);
}

Status LocalClient::Unregister(const ActingFor& acting_for, std::string_view key_crn,
                               std::string_view resource_crn) {
  Key key = VEIL_TRY_VALUE(Authorized(acting_for, key_crn, "kms.registrations.delete"));
  return service_.DeleteRegistration(key, resource_crn, actor_);
}

}  // namespace veil::kms
