#include "hsm_secret_sealer.h"

namespace veil::veild {

Result<std::vector<uint8_t>> HsmSecretSealer::Seal(const SecretBytes& secret) {
  return key_store_.SealPayload(secret);
}

Result<SecretBytes> HsmSecretSealer::Unseal(std::span<const uint8_t> sealed) {
  return key_store_.UnsealPayload(hsm::WrappedKey(sealed.begin(), sealed.end()));
}

}  // namespace veil::veild
