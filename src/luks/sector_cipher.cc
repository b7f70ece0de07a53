#include "luks/sector_cipher.h"

#include <openssl/evp.h>

#include <cstring>
#include <optional>
#include <string>

#include "crypto/hash.h"
#include "crypto/xts.h"

namespace veil::luks {
namespace {

enum class Mode { kXtsPlain64, kXtsPlain, kCbcEssivSha256 };

Result<Mode> ModeOf(std::string_view spec) {
  if (spec == "aes-xts-plain64") return Mode::kXtsPlain64;
  if (spec == "aes-xts-plain") return Mode::kXtsPlain;
  if (spec == "aes-cbc-essiv:sha256") return Mode::kCbcEssivSha256;
  return Unimplemented("cipher '" + std::string(spec) +
                       "' is not supported (Veil reads aes-xts-plain64, aes-xts-plain and "
                       "aes-cbc-essiv:sha256)");
}

struct CtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CtxDeleter>;

const EVP_CIPHER* AesCbc(size_t key_bytes) {
  switch (key_bytes) {
    case 16:
      return EVP_aes_128_cbc();
    case 24:
      return EVP_aes_192_cbc();
    case 32:
      return EVP_aes_256_cbc();
    default:
      return nullptr;
  }
}

// AES-CBC with ESSIV:SHA-256 IVs, as dm-crypt's "cbc-essiv:sha256".
class CbcEssiv {
 public:
  static Result<CbcEssiv> Create(std::span<const uint8_t> key) {
    const EVP_CIPHER* cbc = AesCbc(key.size());
    if (cbc == nullptr) return InvalidArgument("AES-CBC: key must be 16, 24 or 32 bytes");
    CbcEssiv c;
    c.enc_.reset(EVP_CIPHER_CTX_new());
    c.dec_.reset(EVP_CIPHER_CTX_new());
    c.essiv_.reset(EVP_CIPHER_CTX_new());
    if (!c.enc_ || !c.dec_ || !c.essiv_) return Internal("AES-CBC: out of memory");
    // The ESSIV key is the SHA-256 of the whole volume key, used with AES-256.
    crypto::Sha256Digest salt = crypto::Sha256(key);
    const bool ok = EVP_EncryptInit_ex2(c.enc_.get(), cbc, key.data(), nullptr, nullptr) == 1 &&
                    EVP_DecryptInit_ex2(c.dec_.get(), cbc, key.data(), nullptr, nullptr) == 1 &&
                    EVP_EncryptInit_ex2(c.essiv_.get(), EVP_aes_256_ecb(), salt.data(), nullptr,
                                        nullptr) == 1 &&
                    EVP_CIPHER_CTX_set_padding(c.enc_.get(), 0) == 1 &&
                    EVP_CIPHER_CTX_set_padding(c.dec_.get(), 0) == 1 &&
                    EVP_CIPHER_CTX_set_padding(c.essiv_.get(), 0) == 1;
    OPENSSL_cleanse(salt.data(), salt.size());
    if (!ok) return Internal("AES-CBC-ESSIV: key setup failed");
    return c;
  }

  Status Transform(std::span<uint8_t> sector, uint64_t iv_number, bool encrypt) {
    uint8_t block[16] = {};
    for (int i = 0; i < 8; ++i) block[i] = static_cast<uint8_t>(iv_number >> (8 * i));
    uint8_t iv[16];
    int len = 0;
    if (EVP_EncryptUpdate(essiv_.get(), iv, &len, block, sizeof block) != 1 || len != 16) {
      return Internal("AES-CBC-ESSIV: IV generation failed");
    }
    EVP_CIPHER_CTX* ctx = encrypt ? enc_.get() : dec_.get();
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, -1, nullptr) != 1 ||
        EVP_CipherUpdate(ctx, sector.data(), &len, sector.data(),
                         static_cast<int>(sector.size())) != 1 ||
        static_cast<size_t>(len) != sector.size()) {
      return Internal("AES-CBC-ESSIV: sector transform failed");
    }
    return OkStatus();
  }

 private:
  CtxPtr enc_, dec_, essiv_;
};

}  // namespace

struct SectorCipher::State {
  Layout layout;
  Mode mode = Mode::kXtsPlain64;
  SecretBytes key;  // kept for Clone()
  std::optional<crypto::XtsCipher> xts;
  std::optional<CbcEssiv> cbc;
};

Status SectorCipher::CheckSupported(std::string_view cipher_spec, size_t key_bytes) {
  const Mode mode = VEIL_TRY_VALUE(ModeOf(cipher_spec));
  const bool xts = mode != Mode::kCbcEssivSha256;
  if (xts ? (key_bytes != 32 && key_bytes != 64) : AesCbc(key_bytes) == nullptr) {
    return Unimplemented("cipher '" + std::string(cipher_spec) + "' with a " +
                         std::to_string(key_bytes * 8) + "-bit key is not supported");
  }
  return OkStatus();
}

Result<SectorCipher> SectorCipher::Create(const Layout& layout, const SecretBytes& volume_key) {
  VEIL_TRY(CheckSupported(layout.cipher_spec, layout.key_bytes));
  if (volume_key.size() != layout.key_bytes) {
    return InvalidArgument("volume key is " + std::to_string(volume_key.size()) +
                           " bytes, the layout says " + std::to_string(layout.key_bytes));
  }
  const uint32_t ss = layout.sector_size;
  if (ss < 512 || ss > 4096 || (ss & (ss - 1)) != 0) {
    return InvalidArgument("sector size " + std::to_string(ss) + " is not 512, 1024, 2048, 4096");
  }
  auto state = std::make_unique<State>();
  state->layout = layout;
  state->mode = ModeOf(layout.cipher_spec).value();
  state->key = volume_key.Clone();
  if (state->mode == Mode::kCbcEssivSha256) {
    state->cbc = VEIL_TRY_VALUE(CbcEssiv::Create(volume_key.Reveal()));
  } else {
    state->xts = VEIL_TRY_VALUE(crypto::XtsCipher::Create(volume_key.Reveal()));
  }
  return SectorCipher(std::move(state));
}

SectorCipher::SectorCipher(std::unique_ptr<State> state) : state_(std::move(state)) {}
SectorCipher::~SectorCipher() = default;
SectorCipher::SectorCipher(SectorCipher&&) noexcept = default;
SectorCipher& SectorCipher::operator=(SectorCipher&&) noexcept = default;

const Layout& SectorCipher::layout() const {
  VEIL_CHECK_MSG(state_ != nullptr, "SectorCipher used after move");
  return state_->layout;
}

Result<SectorCipher> SectorCipher::Clone() const {
  VEIL_CHECK_MSG(state_ != nullptr, "SectorCipher used after move");
  return Create(state_->layout, state_->key);
}

const char* SectorCipher::engine_name() const {
  VEIL_CHECK_MSG(state_ != nullptr, "SectorCipher used after move");
  return state_->xts ? state_->xts->engine_name() : "openssl";
}

Status SectorCipher::Encrypt(std::span<uint8_t> data, uint64_t data_offset_bytes) {
  return Transform(data, data, data_offset_bytes, true);
}

Status SectorCipher::Decrypt(std::span<uint8_t> data, uint64_t data_offset_bytes) {
  return Transform(data, data, data_offset_bytes, false);
}

Status SectorCipher::Encrypt(std::span<const uint8_t> in, std::span<uint8_t> out,
                             uint64_t data_offset_bytes) {
  return Transform(in, out, data_offset_bytes, true);
}

Status SectorCipher::Decrypt(std::span<const uint8_t> in, std::span<uint8_t> out,
                             uint64_t data_offset_bytes) {
  return Transform(in, out, data_offset_bytes, false);
}

Status SectorCipher::Transform(std::span<const uint8_t> in, std::span<uint8_t> data,
                               uint64_t offset, bool encrypt) {
  VEIL_CHECK_MSG(state_ != nullptr, "SectorCipher used after move");
  const uint32_t ss = state_->layout.sector_size;
  if (in.size() != data.size()) {
    return InvalidArgument("sector cipher: input and output differ in size");
  }
  if (data.size() % ss != 0 || offset % ss != 0) {
    return InvalidArgument("sector cipher: data size and offset must be multiples of " +
                           std::to_string(ss) + " bytes");
  }
  if (state_->mode == Mode::kXtsPlain64 && !data.empty()) {
    // The whole run in one call (XtsCipher's tiled path): consecutive sectors' IVs step by
    // ss / 512. Only a run whose IVs wrap around 2^64 takes the sector-by-sector loop below.
    const uint64_t first = state_->layout.iv_tweak + offset / kIvUnitBytes;
    const uint64_t step = ss / kIvUnitBytes;
    if (data.size() / ss - 1 <= (UINT64_MAX - first) / step) {
      return encrypt ? state_->xts->EncryptSectors(in, data, first, ss, step)
                     : state_->xts->DecryptSectors(in, data, first, ss, step);
    }
  }
  if (in.data() != data.data()) {
    if (in.data() < data.data() + data.size() && data.data() < in.data() + in.size()) {
      return InvalidArgument("sector cipher: input and output overlap");
    }
    std::memcpy(data.data(), in.data(), in.size());
  }
  for (size_t at = 0; at < data.size(); at += ss) {
    // dm-crypt without iv_large_sectors: IVs count 512-byte units (wrapping like a u64).
    uint64_t iv = state_->layout.iv_tweak + (offset + at) / kIvUnitBytes;
    const auto sector = data.subspan(at, ss);
    switch (state_->mode) {
      case Mode::kXtsPlain:
        iv &= 0xffffffffu;
        [[fallthrough]];
      case Mode::kXtsPlain64:
        VEIL_TRY(encrypt ? state_->xts->EncryptSector(sector, iv)
                         : state_->xts->DecryptSector(sector, iv));
        break;
      case Mode::kCbcEssivSha256:
        VEIL_TRY(state_->cbc->Transform(sector, iv, encrypt));
        break;
    }
  }
  return OkStatus();
}

}  // namespace veil::luks
