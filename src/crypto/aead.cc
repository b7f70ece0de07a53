#include "crypto/aead.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <array>
#include <climits>

#include "crypto/internal/ossl.h"

namespace veil::crypto {
namespace {

using internal::OpenSslFailure;

// EVP_*Update takes an int length: feed larger inputs in pieces.
constexpr size_t kMaxChunk = size_t{1} << 30;

bool UpdateAad(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> aad) {
  while (!aad.empty()) {
    const size_t n = std::min(aad.size(), kMaxChunk);
    int len = 0;
    if (EVP_CipherUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(n)) != 1) return false;
    aad = aad.subspan(n);
  }
  return true;
}

bool UpdateData(EVP_CIPHER_CTX* ctx, std::span<const uint8_t> in, uint8_t* out) {
  while (!in.empty()) {
    const size_t n = std::min(in.size(), kMaxChunk);
    int len = 0;
    if (EVP_CipherUpdate(ctx, out, &len, in.data(), static_cast<int>(n)) != 1) return false;
    // GCM is a stream mode: every input byte produces one output byte at once.
    if (static_cast<size_t>(len) != n) return false;
    in = in.subspan(n);
    out += n;
  }
  return true;
}

}  // namespace

struct AesGcm::State {
  internal::CipherCtx enc{EVP_CIPHER_CTX_new()};
  internal::CipherCtx dec{EVP_CIPHER_CTX_new()};
};

AesGcm::AesGcm(std::unique_ptr<State> state) : state_(std::move(state)) {}
AesGcm::~AesGcm() = default;
AesGcm::AesGcm(AesGcm&&) noexcept = default;
AesGcm& AesGcm::operator=(AesGcm&&) noexcept = default;

Result<AesGcm> AesGcm::Create(std::span<const uint8_t> key) {
  if (key.size() != kAesGcmKeySize) return InvalidArgument("AES-256-GCM: key must be 32 bytes");
  return CreateAnySize(key);
}

Result<AesGcm> AesGcm::CreateAnySize(std::span<const uint8_t> key) {
  const EVP_CIPHER* cipher = nullptr;
  switch (key.size()) {
    case 16:
      cipher = EVP_aes_128_gcm();
      break;
    case 24:
      cipher = EVP_aes_192_gcm();
      break;
    case 32:
      cipher = internal::Aes256Gcm();
      break;
    default:
      return InvalidArgument("AES-GCM: key must be 16, 24 or 32 bytes");
  }
  auto state = std::make_unique<State>();
  if (!state->enc || !state->dec) return OpenSslFailure(ErrorCode::kInternal, "AES-GCM: context");
  if (EVP_EncryptInit_ex2(state->enc.get(), cipher, key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(state->dec.get(), cipher, key.data(), nullptr, nullptr) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "AES-GCM: key setup");
  }
  return AesGcm(std::move(state));
}

Status AesGcm::SealInto(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                        std::span<const uint8_t> plaintext, std::span<uint8_t> out) {
  VEIL_CHECK_MSG(state_ != nullptr, "AesGcm used after move");
  if (iv.size() != kAesGcmIvSize) return InvalidArgument("AES-GCM: IV must be 12 bytes");
  if (out.size() != plaintext.size() + kAesGcmTagSize) {
    return InvalidArgument("AES-GCM: output must be plaintext size + 16 bytes");
  }
  EVP_CIPHER_CTX* ctx = state_->enc.get();
  // Re-arming with only a new IV keeps the key schedule and resets the GCM state.
  if (EVP_EncryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr) != 1 || !UpdateAad(ctx, aad) ||
      !UpdateData(ctx, plaintext, out.data())) {
    return OpenSslFailure(ErrorCode::kInternal, "AES-GCM: encrypt");
  }
  int len = 0;
  uint8_t* tag = out.data() + plaintext.size();
  if (EVP_EncryptFinal_ex(ctx, tag, &len) != 1 || len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAesGcmTagSize), tag) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "AES-GCM: encrypt final");
  }
  return OkStatus();
}

Result<std::vector<uint8_t>> AesGcm::Seal(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                          std::span<const uint8_t> plaintext) {
  std::vector<uint8_t> out(plaintext.size() + kAesGcmTagSize);
  VEIL_TRY(SealInto(iv, aad, plaintext, out));
  return out;
}

Status AesGcm::OpenInto(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                        std::span<const uint8_t> sealed, std::span<uint8_t> out) {
  if (sealed.size() < kAesGcmTagSize) return InvalidArgument("AES-GCM: input shorter than the tag");
  const size_t n = sealed.size() - kAesGcmTagSize;
  if (out.size() != n) return InvalidArgument("AES-GCM: output must be input size - 16 bytes");
  return OpenDetachedInto(iv, aad, sealed.first(n), sealed.subspan(n), out);
}

Status AesGcm::OpenDetachedInto(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                std::span<const uint8_t> ciphertext, std::span<const uint8_t> tag,
                                std::span<uint8_t> out) {
  VEIL_CHECK_MSG(state_ != nullptr, "AesGcm used after move");
  if (iv.size() != kAesGcmIvSize) return InvalidArgument("AES-GCM: IV must be 12 bytes");
  if (tag.size() != kAesGcmTagSize) return InvalidArgument("AES-GCM: tag must be 16 bytes");
  if (out.size() != ciphertext.size()) {
    return InvalidArgument("AES-GCM: output must be the ciphertext's size");
  }
  // Copy the tag first: it may lie where in-place decryption writes (OpenInto's `sealed` tail),
  // and OpenSSL takes it through a non-const pointer.
  std::array<uint8_t, kAesGcmTagSize> expected;
  std::copy(tag.begin(), tag.end(), expected.begin());
  EVP_CIPHER_CTX* ctx = state_->dec.get();
  if (EVP_DecryptInit_ex2(ctx, nullptr, nullptr, iv.data(), nullptr) != 1 || !UpdateAad(ctx, aad) ||
      !UpdateData(ctx, ciphertext, out.data()) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(expected.size()),
                          expected.data()) != 1) {
    if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
    return OpenSslFailure(ErrorCode::kInternal, "AES-GCM: decrypt");
  }
  int len = 0;
  uint8_t final_block[16];
  if (EVP_DecryptFinal_ex(ctx, final_block, &len) != 1) {
    // Unauthenticated plaintext must not escape.
    if (!out.empty()) OPENSSL_cleanse(out.data(), out.size());
    internal::ClearOpenSslErrors();
    return DataLoss("AES-GCM: authentication failed");
  }
  return OkStatus();
}

Result<std::vector<uint8_t>> AesGcm::Open(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                          std::span<const uint8_t> sealed) {
  if (sealed.size() < kAesGcmTagSize) return InvalidArgument("AES-GCM: input shorter than the tag");
  std::vector<uint8_t> out(sealed.size() - kAesGcmTagSize);
  VEIL_TRY(OpenInto(iv, aad, sealed, out));
  return out;
}

Result<SecretBytes> AesGcm::OpenSecret(std::span<const uint8_t> iv, std::span<const uint8_t> aad,
                                       std::span<const uint8_t> sealed) {
  if (sealed.size() < kAesGcmTagSize) return InvalidArgument("AES-GCM: input shorter than the tag");
  SecretBytes out(sealed.size() - kAesGcmTagSize);
  VEIL_TRY(OpenInto(iv, aad, sealed, out.RevealMutable()));
  return out;
}

Result<std::vector<uint8_t>> AesGcmSeal(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                        std::span<const uint8_t> aad,
                                        std::span<const uint8_t> plaintext) {
  AesGcm gcm = VEIL_TRY_VALUE(AesGcm::Create(key));
  return gcm.Seal(iv, aad, plaintext);
}

Result<std::vector<uint8_t>> AesGcmOpen(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                        std::span<const uint8_t> aad,
                                        std::span<const uint8_t> sealed) {
  AesGcm gcm = VEIL_TRY_VALUE(AesGcm::Create(key));
  return gcm.Open(iv, aad, sealed);
}

Result<SecretBytes> AesGcmOpenSecret(std::span<const uint8_t> key, std::span<const uint8_t> iv,
                                     std::span<const uint8_t> aad,
                                     std::span<const uint8_t> sealed) {
  AesGcm gcm = VEIL_TRY_VALUE(AesGcm::Create(key));
  return gcm.OpenSecret(iv, aad, sealed);
}

}  // namespace veil::crypto
