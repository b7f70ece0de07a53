#include "crypto/xts.h"

#include <openssl/crypto.h>

#include "crypto/internal/ossl.h"

namespace veil::crypto {

using internal::OpenSslFailure;

struct XtsCipher::State {
  internal::CipherCtx enc{EVP_CIPHER_CTX_new()};
  internal::CipherCtx dec{EVP_CIPHER_CTX_new()};
  size_t key_size = 0;
};

XtsCipher::XtsCipher(std::unique_ptr<State> state) : state_(std::move(state)) {}
XtsCipher::~XtsCipher() = default;
XtsCipher::XtsCipher(XtsCipher&&) noexcept = default;
XtsCipher& XtsCipher::operator=(XtsCipher&&) noexcept = default;

Result<XtsCipher> XtsCipher::Create(std::span<const uint8_t> key) {
  const EVP_CIPHER* cipher = nullptr;
  if (key.size() == 32) {
    cipher = internal::Aes128Xts();
  } else if (key.size() == 64) {
    cipher = internal::Aes256Xts();
  } else {
    return InvalidArgument("AES-XTS: key must be 32 or 64 bytes");
  }
  const size_t half = key.size() / 2;
  if (CRYPTO_memcmp(key.data(), key.data() + half, half) == 0) {
    return InvalidArgument("AES-XTS: the two key halves must differ");
  }
  auto state = std::make_unique<State>();
  if (!state->enc || !state->dec) return OpenSslFailure(ErrorCode::kInternal, "AES-XTS: context");
  if (EVP_EncryptInit_ex2(state->enc.get(), cipher, key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(state->dec.get(), cipher, key.data(), nullptr, nullptr) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "AES-XTS: key setup");
  }
  state->key_size = key.size();
  return XtsCipher(std::move(state));
}

size_t XtsCipher::key_size() const { return state_ ? state_->key_size : 0; }

Status XtsCipher::Transform(std::span<uint8_t> data, uint64_t sector, Direction direction) {
  const bool encrypt = direction == Direction::kEncrypt;
  VEIL_CHECK_MSG(state_ != nullptr, "XtsCipher used after move");
  if (data.size() < kXtsMinDataUnit || data.size() > kXtsMaxDataUnit) {
    return InvalidArgument("AES-XTS: data unit must be 16 bytes .. 16 MiB");
  }
  uint8_t tweak[16] = {};
  for (int i = 0; i < 8; ++i) tweak[i] = static_cast<uint8_t>(sector >> (8 * i));
  EVP_CIPHER_CTX* ctx = encrypt ? state_->enc.get() : state_->dec.get();
  int len = 0;
  // Re-arm only the tweak: the cached key schedules stay.
  if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, tweak, -1, nullptr) != 1 ||
      EVP_CipherUpdate(ctx, data.data(), &len, data.data(), static_cast<int>(data.size())) != 1 ||
      static_cast<size_t>(len) != data.size()) {
    return OpenSslFailure(ErrorCode::kInternal, encrypt ? "AES-XTS: encrypt" : "AES-XTS: decrypt");
  }
  return OkStatus();
}

Status XtsCipher::TransformSectors(std::span<uint8_t> buffer, uint64_t first_sector,
                                   size_t sector_size, Direction direction) {
  if (sector_size != 512 && sector_size != 1024 && sector_size != 2048 && sector_size != 4096) {
    return InvalidArgument("AES-XTS: sector size must be 512, 1024, 2048 or 4096");
  }
  if (buffer.size() % sector_size != 0) {
    return InvalidArgument("AES-XTS: buffer is not a whole number of sectors");
  }
  const uint64_t count = buffer.size() / sector_size;
  if (count > 0 && first_sector > UINT64_MAX - (count - 1)) {
    return InvalidArgument("AES-XTS: sector numbers wrap around");
  }
  for (uint64_t i = 0; i < count; ++i) {
    VEIL_TRY(Transform(buffer.subspan(i * sector_size, sector_size), first_sector + i, direction));
  }
  return OkStatus();
}

Status XtsCipher::EncryptSector(std::span<uint8_t> data, uint64_t sector) {
  return Transform(data, sector, Direction::kEncrypt);
}
Status XtsCipher::DecryptSector(std::span<uint8_t> data, uint64_t sector) {
  return Transform(data, sector, Direction::kDecrypt);
}
Status XtsCipher::EncryptSectors(std::span<uint8_t> buffer, uint64_t first_sector,
                                 size_t sector_size) {
  return TransformSectors(buffer, first_sector, sector_size, Direction::kEncrypt);
}
Status XtsCipher::DecryptSectors(std::span<uint8_t> buffer, uint64_t first_sector,
                                 size_t sector_size) {
  return TransformSectors(buffer, first_sector, sector_size, Direction::kDecrypt);
}

}  // namespace veil::crypto
