// HsmSecretSealer: IAM's SecretSealer (iam/secret_sealer.h) over the HSM: each secret is sealed
// with hsm::KeyStore::SealPayload, AES-256-GCM inside the HSM under its master key (docs/hsm.md
// "sealed payload"), so the HMAC secrets of resource keys are stored only as blobs that are
// useless without the HSM. veild wires it (daemon.cc) over the KMS's Pkcs11KeyStore; IAM itself
// knows no HSM.
//
// Thread-safety: as the KeyStore (any number of threads at once).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hsm/key_store.h"
#include "iam/secret_sealer.h"

namespace veil::veild {

class HsmSecretSealer final : public iam::SecretSealer {
 public:
  // `key_store` must outlive the sealer.
  explicit HsmSecretSealer(hsm::KeyStore& key_store) : key_store_(key_store) {}

  [[nodiscard]] Result<std::vector<uint8_t>> Seal(const SecretBytes& secret) override;
  [[nodiscard]] Result<SecretBytes> Unseal(std::span<const uint8_t> sealed) override;

 private:
  hsm::KeyStore& key_store_;
};

}  // namespace veil::veild
