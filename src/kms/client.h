// kms::Client: how Veil's own services (images `is`, block storage `server-protect`, object
// storage `cloud-object-storage`) use a customer's root key, and LocalClient, the in-process
// implementation veild wires (an HTTP implementation will serve services that run apart).
//
// The key is named by its CRN (crn:v1:veil:private:kms:<region>:a/<account>:<instance>:key:<id>),
// the way a customer hands it to a service. Each call is authorized as the service acting for the
// key's account: only a service-to-service authorization policy in that account (source: the
// service, target: kms, role Reader or more) allows it; anything else is kPermissionDenied with
// UNAUTHORIZED_ERR. The key's state rules apply as for any caller.
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

class Client {
 public:
  virtual ~Client() = default;
  [[nodiscard]] virtual Result<WrapResult> Wrap(std::string_view key_crn,
                                                std::optional<SecretBytes> plaintext,
                                                const std::vector<std::string>& aad) = 0;
  [[nodiscard]] virtual Result<UnwrapResult> Unwrap(std::string_view key_crn,
                                                    std::string_view ciphertext,
                                                    const std::vector<std::string>& aad) = 0;
  [[nodiscard]] virtual Result<RewrapResult> Rewrap(std::string_view key_crn,
                                                    std::string_view ciphertext,
                                                    const std::vector<std::string>& aad) = 0;
  // Records that `resource_crn` is protected by the key (what the key protects shows in its
  // registrations; deleting the key then needs force, or is refused with preventKeyDeletion).
  [[nodiscard]] virtual Result<Registration> Register(std::string_view key_crn,
                                                      std::string_view resource_crn,
                                                      std::string description,
                                                      bool prevent_key_deletion) = 0;
  [[nodiscard]] virtual Status Unregister(std::string_view key_crn,
                                          std::string_view resource_crn) = 0;
};

class LocalClient final : public Client {
 public:
  // `service`, `authorizer` must outlive the client. `service_name` is the IAM service name the
  // client acts as ("is", "server-protect", "cloud-object-storage").
  LocalClient(KmsService& service, iam::Authorizer& authorizer, std::string service_name);

  [[nodiscard]] Result<WrapResult> Wrap(std::string_view key_crn,
                                        std::optional<SecretBytes> plaintext,
                                        const std::vector<std::string>& aad) override;
  [[nodiscard]] Result<UnwrapResult> Unwrap(std::string_view key_crn, std::string_view ciphertext,
                                            const std::vector<std::string>& aad) override;
  [[nodiscard]] Result<RewrapResult> Rewrap(std::string_view key_crn, std::string_view ciphertext,
                                            const std::vector<std::string>& aad) override;
  [[nodiscard]] Result<Registration> Register(std::string_view key_crn,
                                              std::string_view resource_crn,
                                              std::string description,
                                              bool prevent_key_deletion) override;
  [[nodiscard]] Status Unregister(std::string_view key_crn, std::string_view resource_crn) override;

 private:
  // The key the CRN names, once `action` is authorized for this service in the key's account.
  [[nodiscard]] Result<Key> Authorized(std::string_view key_crn, std::string_view action);

  KmsService& service_;
  iam::Authorizer& authorizer_;
  std::string service_name_;
  Actor actor_;
};

}  // namespace veil::kms
