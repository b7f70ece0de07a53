// kms::Client: how Veil's own services (images `is`, block storage `server-protect`, object
// storage `cloud-object-storage`) use a customer's root key, and LocalClient, the in-process
// implementation veild wires (an HTTP implementation will serve services that run apart).
//
// Every call says whom the service acts for (ActingFor): the account of the customer whose request
// it serves (the caller of the image or volume request), never the account a key CRN names. The
// key is named by its CRN (crn:v1:veil:private:kms:<region>:a/<account>:<instance>:key:<id>), the
// way a customer hands it to a service, and must belong to that account: a key of any other
// account is refused (kPermissionDenied, UNAUTHORIZED_ERR) before it is looked up, so customer B
// cannot get the service to use account A's key by naming its CRN, whatever A authorized. Then
// the call is authorized as the service acting for that account: only a service-to-service
// authorization policy of that account (source: the service, and its instance when the policy
// names one; target: kms; role Reader or more) allows it; anything else is kPermissionDenied
// with UNAUTHORIZED_ERR. The key's state rules apply as for any caller.
//
// Thread-safety: LocalClient is safe to call from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"
#include "iam/authorizer.h"
#include "kms/kms_service.h"

namespace veil::kms {

// Whom the service acts for in one call.
struct ActingFor {
  // The account of the customer whose request the service serves (the caller of the image or
  // volume request). Required: kInvalidArgument (BAD_REQ_ERR) when empty.
  std::string account_id;
  // Optional: the service's own instance the request came through; an authorization that names
  // a source instance matches only it.
  std::string service_instance;
};

class Client {
 public:
  virtual ~Client() = default;
  [[nodiscard]] virtual Result<WrapResult> Wrap(const ActingFor& acting_for,
                                                std::string_view key_crn,
                                                std::optional<SecretBytes> plaintext,
                                                const std::vector<std::string>& aad) = 0;
  [[nodiscard]] virtual Result<UnwrapResult> Unwrap(const ActingFor& acting_for,
                                                    std::string_view key_crn,
                                                    std::string_view ciphertext,
                                                    const std::vector<std::string>& aad) = 0;
  [[nodiscard]] virtual Result<RewrapResult> Rewrap(const ActingFor& acting_for,
                                                    std::string_view key_crn,
                                                    std::string_view ciphertext,
                                                    const std::vector<std::string>& aad) = 0;
  // Records that `resource_crn` (a resource of the account acted for) is protected by the key
  // (what the key protects shows in its registrations; deleting the key then needs force, or is
  // refused with preventKeyDeletion).
  struct Registering {
    std::string resource_crn;
    std::string description;
    bool prevent_key_deletion = false;
  };
  [[nodiscard]] virtual Result<Registration> Register(const ActingFor& acting_for,
                                                      std::string_view key_crn,
                                                      const Registering& registering) = 0;
  [[nodiscard]] virtual Status Unregister(const ActingFor& acting_for, std::string_view key_crn,
                                          std::string_view resource_crn) = 0;
};

class LocalClient final : public Client {
 public:
  // `service`, `authorizer` must outlive the client. `service_name` is the IAM service name the
  // client acts as ("is", "server-protect", "cloud-object-storage").
  LocalClient(KmsService& service, iam::Authorizer& authorizer, std::string service_name);

  [[nodiscard]] Result<WrapResult> Wrap(const ActingFor& acting_for, std::string_view key_crn,
                                        std::optional<SecretBytes> plaintext,
                                        const std::vector<std::string>& aad) override;
  [[nodiscard]] Result<UnwrapResult> Unwrap(const ActingFor& acting_for, std::string_view key_crn,
                                            std::string_view ciphertext,
                                            const std::vector<std::string>& aad) override;
  [[nodiscard]] Result<RewrapResult> Rewrap(const ActingFor& acting_for, std::string_view key_crn,
                                            std::string_view ciphertext,
                                            const std::vector<std::string>& aad) override;
  [[nodiscard]] Result<Registration> Register(const ActingFor& acting_for, std::string_view key_crn,
                                              const Registering& registering) override;
  [[nodiscard]] Status Unregister(const ActingFor& acting_for, std::string_view key_crn,
                                  std::string_view resource_crn) override;

 private:
  // The key the CRN names, once it is known to be a key of the account acted for and `action`
  // is authorized for this service by that account.
  [[nodiscard]] Result<Key> Authorized(const ActingFor& acting_for, std::string_view key_crn,
                                       std::string_view action);

  KmsService& service_;
  iam::Authorizer& authorizer_;
  std::string service_name_;
  Actor actor_;
};

}  // namespace veil::kms
