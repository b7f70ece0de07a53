#include "iam/api_key.h"

#include <algorithm>
#include <vector>

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/uuid.h"
#include "crypto/compare.h"
#include "crypto/hash.h"
#include "iam/model.h"

namespace veil::iam {
namespace {

constexpr size_t kRawSize = 1 + 16 + kApiKeySecretSize;  // 49
constexpr std::string_view kHashDomain = "veil-apikey-v1";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// base64url without padding of `in`, written straight into `out` (no other copy of the text).
void EncodeInto(std::span<const uint8_t> in, std::span<uint8_t> out) {
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8) | in[i + 2];
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 18) & 63]);
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 12) & 63]);
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 6) & 63]);
    out[o++] = static_cast<uint8_t>(kAlphabet[v & 63]);
  }
  if (in.size() - i == 1) {
    const uint32_t v = uint32_t{in[i]} << 16;
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 18) & 63]);
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 12) & 63]);
  } else if (in.size() - i == 2) {
    const uint32_t v = (uint32_t{in[i]} << 16) | (uint32_t{in[i + 1]} << 8);
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 18) & 63]);
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 12) & 63]);
    out[o++] = static_cast<uint8_t>(kAlphabet[(v >> 6) & 63]);
  }
}

}  // namespace

GeneratedApiKey GenerateApiKey(Random& random) {
  SecretBytes raw(kRawSize);
  std::span<uint8_t> r = raw.RevealMutable();
  r[0] = kApiKeyFormatVersion;
  Uuid uuid = NewUuidV4(random);
  std::copy(uuid.bytes.begin(), uuid.bytes.end(), r.begin() + 1);
  random.FillSecret(r.subspan(17, kApiKeySecretSize));

  GeneratedApiKey key;
  key.id = std::string(kApiKeyPrefix) + uuid.ToString();
  key.secret = SecretBytes(std::span<const uint8_t>(r.subspan(17, kApiKeySecretSize)));
  key.value = SecretBytes(kApiKeyTextSize);
  EncodeInto(raw.Reveal(), key.value.RevealMutable());
  return key;
}

Result<ParsedApiKey> ParseApiKey(std::string_view text) {
  if (text.size() != kApiKeyTextSize) return InvalidArgument("malformed API key");
  auto raw = DecodeBase64UrlSecret(text);
  if (!raw || raw->size() != kRawSize) return InvalidArgument("malformed API key");
  std::span<const uint8_t> r = raw->Reveal();
  if (r[0] != kApiKeyFormatVersion) return InvalidArgument("malformed API key");
  Uuid uuid;
  std::copy(r.begin() + 1, r.begin() + 17, uuid.bytes.begin());
  if (uuid.version() != 4 || !uuid.is_rfc_variant()) return InvalidArgument("malformed API key");
  ParsedApiKey key;
  key.id = std::string(kApiKeyPrefix) + uuid.ToString();
  key.secret = SecretBytes(r.subspan(17, kApiKeySecretSize));
  return key;
}

ApiKeyHash HashApiKeySecret(std::span<const uint8_t> salt, std::span<const uint8_t> secret) {
  crypto::Sha256Hasher hasher;
  hasher.Update(AsBytes(kHashDomain));
  const uint8_t zero = 0;
  hasher.Update(std::span<const uint8_t>(&zero, 1));
  hasher.Update(salt);
  hasher.Update(secret);
  return hasher.Finish();
}

bool ApiKeySecretMatches(std::span<const uint8_t> salt, std::span<const uint8_t> stored_hash,
                         std::span<const uint8_t> secret) {
  ApiKeyHash computed = HashApiKeySecret(salt, secret);
  return crypto::ConstantTimeEquals(computed, stored_hash);
}

void WipeString(std::string& text) {
  volatile char* p = text.data();
  for (size_t i = 0; i < text.size(); ++i) p[i] = 0;
  text.clear();
}

}  // namespace veil::iam
