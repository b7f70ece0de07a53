// SecretSealer: how IAM keeps a secret it must read back (the secret access key of a resource
// key's HMAC credential) without ever storing it in the clear: sealed under a key that IAM does
// not hold. IAM knows no HSM (src/iam depends on no src/hsm); veild gives it one implementation,
// HsmSecretSealer (apps/veild/hsm_secret_sealer.h), over the KMS's hsm::KeyStore, whose
// SealPayload/UnsealPayload run AES-256-GCM inside the HSM under its master key. Tests use
// iam::testing::InMemorySecretSealer (src/iam/testing/iam_fixture.h) or the HSM one over SoftHSM2.
//
// API keys are not sealed: they are only ever compared, so IAM stores a salted hash of them.
//
// Errors: Seal: kInvalidArgument for an empty or too large secret (at most 7500 bytes, the HSM's
// payload limit); Unseal: kDataLoss when `sealed` does not verify (tampered, foreign, or sealed
// under another key), kInvalidArgument when it is malformed; both: kUnavailable/kInternal when
// the HSM fails. Messages never carry the secret.
//
// Thread-safety: implementations are safe to call from any number of threads at once.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/secret_bytes.h"

namespace veil::iam {

class SecretSealer {
 public:
  virtual ~SecretSealer() = default;

  // An opaque blob, safe to store (useless without the sealing key), holding `secret`.
  [[nodiscard]] virtual Result<std::vector<uint8_t>> Seal(const SecretBytes& secret) = 0;
  // The secret a blob of Seal holds.
  [[nodiscard]] virtual Result<SecretBytes> Unseal(std::span<const uint8_t> sealed) = 0;
};

}  // namespace veil::iam
