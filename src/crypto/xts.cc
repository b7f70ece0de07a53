#include "crypto/xts.h"

#include <openssl/crypto.h>

#if defined(__SSE2__) && !defined(VEIL_XTS_PORTABLE)
#include <emmintrin.h>

#include "crypto/internal/gf128.h"
#endif

#include <algorithm>
#include <bit>
#include <cstring>

#include "crypto/internal/ossl.h"
#include "crypto/internal/xts_vaes.h"

namespace veil::crypto {

using internal::OpenSslFailure;

namespace {

// EncryptSectors works through the buffer in tiles of this size: the tiles' tweaks (one 16-byte
// tweak per AES block) stay in the L1 cache between the two XOR passes.
constexpr size_t kTileBytes = 16 * 1024;
// Sectors of at least this size go through OpenSSL's AES-XTS one by one: the per-call cost is
// small beside the sector's own time, and OpenSSL's XTS assembly beats ECB plus two XORs.
constexpr size_t kTiledBelow = 2048;

void StoreLe64(uint8_t* p, uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  std::memcpy(p, &v, 8);
}

// x86-64 (SSE2 is part of the ABI) uses vector registers for the tweaks; -DVEIL_XTS_PORTABLE
// builds the portable version on x86 too, to test it against the same vectors.
#if defined(__SSE2__) && !defined(VEIL_XTS_PORTABLE)

using internal::MulAlpha;

inline void XorInto(uint8_t* p, __m128i t) {
  auto* block = reinterpret_cast<__m128i*>(p);
  _mm_storeu_si128(block, _mm_xor_si128(_mm_loadu_si128(block), t));
}

// dst = src ^ t, one block.
inline void XorFrom(uint8_t* dst, const uint8_t* src, __m128i t) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst),
                   _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src)), t));
}

// For each of `sectors` sectors of `blocks` blocks at `src`, whose first tweaks (encrypted
// sector numbers) are at `initial`: stores every block's tweak in `tweaks` and the block XOR its
// tweak at `tile` (which may be `src`). Four sectors at a time: their doubling chains are
// independent, so they overlap.
void ApplyTweaks(const uint8_t* src, uint8_t* tile, uint64_t* tweaks, const uint8_t* initial,
                 size_t sectors, size_t blocks) {
  auto* out = reinterpret_cast<__m128i*>(tweaks);
  auto first = [&](size_t s) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(initial + 16 * s));
  };
  size_t s = 0;
  for (; s + 4 <= sectors; s += 4) {
    __m128i t0 = first(s), t1 = first(s + 1), t2 = first(s + 2), t3 = first(s + 3);
    for (size_t j = 0; j < blocks; ++j) {
      const size_t b = s * blocks + j;
      out[b] = t0;
      out[b + blocks] = t1;
      out[b + 2 * blocks] = t2;
      out[b + 3 * blocks] = t3;
      XorFrom(tile + 16 * b, src + 16 * b, t0);
      XorFrom(tile + 16 * (b + blocks), src + 16 * (b + blocks), t1);
      XorFrom(tile + 16 * (b + 2 * blocks), src + 16 * (b + 2 * blocks), t2);
      XorFrom(tile + 16 * (b + 3 * blocks), src + 16 * (b + 3 * blocks), t3);
      t0 = MulAlpha(t0);
      t1 = MulAlpha(t1);
      t2 = MulAlpha(t2);
      t3 = MulAlpha(t3);
    }
  }
  for (; s < sectors; ++s) {
    __m128i t = first(s);
    for (size_t j = 0; j < blocks; ++j) {
      out[s * blocks + j] = t;
      XorFrom(tile + 16 * (s * blocks + j), src + 16 * (s * blocks + j), t);
      t = MulAlpha(t);
    }
  }
}

// XORs the stored tweaks back into `count` blocks.
void XorTweaks(uint8_t* tile, const uint64_t* tweaks, size_t count) {
  const auto* in = reinterpret_cast<const __m128i*>(tweaks);
  for (size_t b = 0; b < count; ++b) XorInto(tile + 16 * b, in[b]);
}

#else  // portable 64-bit version

uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// The bytes of a little-endian number as a native word (a no-op on x86).
inline uint64_t ToLe(uint64_t v) {
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// Stores the tweak (lo, hi) of one block in `t` and the block at `src` XOR the tweak at `p`.
// Everything stays in 64-bit registers: combining two 8-byte stores into a 16-byte load would
// stall store forwarding.
inline void ApplyTweak(const uint8_t* src, uint8_t* p, uint64_t* t, uint64_t lo, uint64_t hi) {
  const uint64_t w0 = ToLe(lo), w1 = ToLe(hi);
  t[0] = w0;
  t[1] = w1;
  uint64_t a, b;
  std::memcpy(&a, src, 8);
  std::memcpy(&b, src + 8, 8);
  a ^= w0;
  b ^= w1;
  std::memcpy(p, &a, 8);
  std::memcpy(p + 8, &b, 8);
}

// XORs the stored tweak words back into the block at `p`.
inline void XorBlock(uint8_t* p, const uint64_t* t) {
  uint64_t a, b;
  std::memcpy(&a, p, 8);
  std::memcpy(&b, p + 8, 8);
  a ^= t[0];
  b ^= t[1];
  std::memcpy(p, &a, 8);
  std::memcpy(p + 8, &b, 8);
}

// Multiplication by the primitive element alpha of GF(2^128) (x^128 + x^7 + x^2 + x + 1), on the
// little-endian tweak: shift left by one bit, fold the carry out of bit 127 back as 0x87.
inline void Double(uint64_t& lo, uint64_t& hi) {
  const uint64_t carry = (hi >> 63) * 0x87;
  hi = (hi << 1) | (lo >> 63);
  lo = (lo << 1) ^ carry;
}

void ApplyTweaks(const uint8_t* src, uint8_t* tile, uint64_t* tweaks, const uint8_t* initial,
                 size_t sectors, size_t blocks) {
  for (size_t s = 0; s < sectors; ++s) {
    uint64_t lo = LoadLe64(initial + 16 * s), hi = LoadLe64(initial + 16 * s + 8);
    for (size_t j = 0; j < blocks; ++j) {
      const size_t b = s * blocks + j;
      ApplyTweak(src + 16 * b, tile + 16 * b, tweaks + 2 * b, lo, hi);
      Double(lo, hi);
    }
  }
}

void XorTweaks(uint8_t* tile, const uint64_t* tweaks, size_t count) {
  for (size_t b = 0; b < count; ++b) XorBlock(tile + 16 * b, tweaks + 2 * b);
}

#endif

}  // namespace

struct XtsCipher::State {
  // AES-XTS, one data unit per call.
  internal::CipherCtx enc{EVP_CIPHER_CTX_new()};
  internal::CipherCtx dec{EVP_CIPHER_CTX_new()};
  // AES-ECB under the data key (both directions) and under the tweak key, for the tiled path.
  internal::CipherCtx data_enc{EVP_CIPHER_CTX_new()};
  internal::CipherCtx data_dec{EVP_CIPHER_CTX_new()};
  internal::CipherCtx tweak_enc{EVP_CIPHER_CTX_new()};
  size_t key_size = 0;
  // The VAES path's key schedules, when the CPU has it and the engine is kFastest.
  std::unique_ptr<internal::VaesXtsKeys> vaes;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (vaes) OPENSSL_cleanse(vaes.get(), sizeof *vaes);
  }
};

XtsCipher::XtsCipher(std::unique_ptr<State> state) : state_(std::move(state)) {}
XtsCipher::~XtsCipher() = default;
XtsCipher::XtsCipher(XtsCipher&&) noexcept = default;
XtsCipher& XtsCipher::operator=(XtsCipher&&) noexcept = default;

Result<XtsCipher> XtsCipher::Create(std::span<const uint8_t> key, XtsEngine engine) {
  const EVP_CIPHER* cipher = nullptr;
  const EVP_CIPHER* ecb = nullptr;
  if (key.size() == 32) {
    cipher = internal::Aes128Xts();
    ecb = internal::Aes128Ecb();
  } else if (key.size() == 64) {
    cipher = internal::Aes256Xts();
    ecb = internal::Aes256Ecb();
  } else {
    return InvalidArgument("AES-XTS: key must be 32 or 64 bytes");
  }
  const size_t half = key.size() / 2;
  if (CRYPTO_memcmp(key.data(), key.data() + half, half) == 0) {
    return InvalidArgument("AES-XTS: the two key halves must differ");
  }
  auto state = std::make_unique<State>();
  if (!state->enc || !state->dec || !state->data_enc || !state->data_dec || !state->tweak_enc) {
    return OpenSslFailure(ErrorCode::kInternal, "AES-XTS: context");
  }
  // Key1 (the first half) encrypts the data, key2 (the second half) the tweaks (IEEE 1619 5.1).
  if (EVP_EncryptInit_ex2(state->enc.get(), cipher, key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(state->dec.get(), cipher, key.data(), nullptr, nullptr) != 1 ||
      EVP_EncryptInit_ex2(state->data_enc.get(), ecb, key.data(), nullptr, nullptr) != 1 ||
      EVP_DecryptInit_ex2(state->data_dec.get(), ecb, key.data(), nullptr, nullptr) != 1 ||
      EVP_EncryptInit_ex2(state->tweak_enc.get(), ecb, key.data() + half, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(state->data_enc.get(), 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(state->data_dec.get(), 0) != 1 ||
      EVP_CIPHER_CTX_set_padding(state->tweak_enc.get(), 0) != 1) {
    return OpenSslFailure(ErrorCode::kInternal, "AES-XTS: key setup");
  }
  state->key_size = key.size();
  if (engine == XtsEngine::kFastest && internal::VaesXtsAvailable()) {
    state->vaes = std::make_unique<internal::VaesXtsKeys>();
    internal::VaesXtsExpandKeys(key.data(), key.size(), state->vaes.get());
  }
  return XtsCipher(std::move(state));
}

size_t XtsCipher::key_size() const { return state_ ? state_->key_size : 0; }

const char* XtsCipher::engine_name() const {
  return state_ && state_->vaes ? "vaes-avx512" : "openssl";
}

Status XtsCipher::Transform(std::span<const uint8_t> in, std::span<uint8_t> out, uint64_t sector,
                            Direction direction) {
  const bool encrypt = direction == Direction::kEncrypt;
  VEIL_CHECK_MSG(state_ != nullptr, "XtsCipher used after move");
  if (in.size() < kXtsMinDataUnit || in.size() > kXtsMaxDataUnit) {
    return InvalidArgument("AES-XTS: data unit must be 16 bytes .. 16 MiB");
  }
  uint8_t tweak[16] = {};
  for (int i = 0; i < 8; ++i) tweak[i] = static_cast<uint8_t>(sector >> (8 * i));
  EVP_CIPHER_CTX* ctx = encrypt ? state_->enc.get() : state_->dec.get();
  int len = 0;
  // Re-arm only the tweak: the cached key schedules stay.
  if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, tweak, -1, nullptr) != 1 ||
      EVP_CipherUpdate(ctx, out.data(), &len, in.data(), static_cast<int>(in.size())) != 1 ||
      static_cast<size_t>(len) != in.size()) {
    return OpenSslFailure(ErrorCode::kInternal, encrypt ? "AES-XTS: encrypt" : "AES-XTS: decrypt");
  }
  return OkStatus();
}

// XTS built from ECB (IEEE 1619 5.3.1, sectors a multiple of 16 bytes: no ciphertext stealing):
// for block j of a sector with tweak number i, T = AES-enc(key2, i) * alpha^j and
// C = AES(key1, P ^ T) ^ T, where AES is encryption or decryption of the data.
Status XtsCipher::TransformTiles(std::span<const uint8_t> in, std::span<uint8_t> buffer,
                                 uint64_t first_sector, size_t sector_size, uint64_t tweak_step,
                                 Direction direction) {
  alignas(64) uint64_t tweaks[kTileBytes / 8];              // one 16-byte tweak per block
  alignas(64) uint8_t initial[kTileBytes / 512 * 16] = {};  // the sectors' first tweaks
  EVP_CIPHER_CTX* data_ctx =
      direction == Direction::kEncrypt ? state_->data_enc.get() : state_->data_dec.get();
  const size_t blocks_per_sector = sector_size / 16;
  uint64_t sector = first_sector;
  Status status = OkStatus();
  for (size_t at = 0; at < buffer.size() && status; at += kTileBytes) {
    const size_t length = std::min(kTileBytes, buffer.size() - at);
    const size_t sectors = length / sector_size;
    for (size_t s = 0; s < sectors; ++s, sector += tweak_step) {
      StoreLe64(initial + 16 * s, sector);
      StoreLe64(initial + 16 * s + 8, 0);
    }
    int len = 0;
    const int tweak_bytes = static_cast<int>(16 * sectors);
    if (EVP_EncryptUpdate(state_->tweak_enc.get(), initial, &len, initial, tweak_bytes) != 1 ||
        len != tweak_bytes) {
      status = OpenSslFailure(ErrorCode::kInternal, "AES-XTS: tweak encryption");
      break;
    }
    uint8_t* tile = buffer.data() + at;
    ApplyTweaks(in.data() + at, tile, tweaks, initial, sectors, blocks_per_sector);
    if (EVP_CipherUpdate(data_ctx, tile, &len, tile, static_cast<int>(length)) != 1 ||
        static_cast<size_t>(len) != length) {
      status = OpenSslFailure(ErrorCode::kInternal, direction == Direction::kEncrypt
                                                        ? "AES-XTS: encrypt"
                                                        : "AES-XTS: decrypt");
      break;
    }
    XorTweaks(tile, tweaks, length / 16);
  }
  // The tweaks are derived from key2: leave none on the stack.
  OPENSSL_cleanse(tweaks, sizeof tweaks);
  OPENSSL_cleanse(initial, sizeof initial);
  return status;
}

Status XtsCipher::TransformSectors(std::span<const uint8_t> in, std::span<uint8_t> out,
                                   uint64_t first_sector, size_t sector_size, uint64_t tweak_step,
                                   Direction direction) {
  VEIL_CHECK_MSG(state_ != nullptr, "XtsCipher used after move");
  if (sector_size != 512 && sector_size != 1024 && sector_size != 2048 && sector_size != 4096) {
    return InvalidArgument("AES-XTS: sector size must be 512, 1024, 2048 or 4096");
  }
  if (in.size() != out.size()) {
    return InvalidArgument("AES-XTS: input and output differ in size");
  }
  if (in.data() != out.data() && in.data() < out.data() + out.size() &&
      out.data() < in.data() + in.size()) {
    return InvalidArgument("AES-XTS: input and output overlap");
  }
  if (in.size() % sector_size != 0) {
    return InvalidArgument("AES-XTS: buffer is not a whole number of sectors");
  }
  if (tweak_step == 0) return InvalidArgument("AES-XTS: tweak step must be positive");
  const uint64_t count = in.size() / sector_size;
  if (count > 0 && (count - 1) > (UINT64_MAX - first_sector) / tweak_step) {
    return InvalidArgument("AES-XTS: sector numbers wrap around");
  }
  if (state_->vaes) {
    internal::VaesXtsSectors(*state_->vaes, in.data(), out.data(), count, sector_size, first_sector,
                             tweak_step, direction == Direction::kEncrypt);
    return OkStatus();
  }
  if (sector_size < kTiledBelow) {
    return TransformTiles(in, out, first_sector, sector_size, tweak_step, direction);
  }
  for (uint64_t i = 0; i < count; ++i) {
    VEIL_TRY(Transform(in.subspan(i * sector_size, sector_size),
                       out.subspan(i * sector_size, sector_size), first_sector + i * tweak_step,
                       direction));
  }
  return OkStatus();
}

Status XtsCipher::EncryptSector(std::span<uint8_t> data, uint64_t sector) {
  return Transform(data, data, sector, Direction::kEncrypt);
}
Status XtsCipher::DecryptSector(std::span<uint8_t> data, uint64_t sector) {
  return Transform(data, data, sector, Direction::kDecrypt);
}
Status XtsCipher::EncryptSectors(std::span<uint8_t> buffer, uint64_t first_sector,
                                 size_t sector_size, uint64_t tweak_step) {
  return TransformSectors(buffer, buffer, first_sector, sector_size, tweak_step,
                          Direction::kEncrypt);
}
Status XtsCipher::DecryptSectors(std::span<uint8_t> buffer, uint64_t first_sector,
                                 size_t sector_size, uint64_t tweak_step) {
  return TransformSectors(buffer, buffer, first_sector, sector_size, tweak_step,
                          Direction::kDecrypt);
}
Status XtsCipher::EncryptSectors(std::span<const uint8_t> in, std::span<uint8_t> out,
                                 uint64_t first_sector, size_t sector_size, uint64_t tweak_step) {
  return TransformSectors(in, out, first_sector, sector_size, tweak_step, Direction::kEncrypt);
}
Status XtsCipher::DecryptSectors(std::span<const uint8_t> in, std::span<uint8_t> out,
                                 uint64_t first_sector, size_t sector_size, uint64_t tweak_step) {
  return TransformSectors(in, out, first_sector, sector_size, tweak_step, Direction::kDecrypt);
}

}  // namespace veil::crypto
