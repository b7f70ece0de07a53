// AES-XTS (IEEE 1619 / NIST SP 800-38E) for disk sectors: the cipher of LUKS2 volumes
// ("aes-xts-plain64").
//
// Key: 32 bytes (AES-128-XTS) or 64 bytes (AES-256-XTS, what cryptsetup uses by default); the two
// halves are the data key and the tweak key and must differ (kInvalidArgument otherwise, as
// OpenSSL refuses to encrypt with equal halves).
//
// Tweak: "plain64": the sector number as a 64-bit little-endian integer in the first 8 bytes of the
// 16-byte tweak, the rest zero (IEEE 1619's data unit sequence number for sectors < 2^64). The
// sector number counts units of the sector size passed (dm-crypt's iv_large_sectors). LUKS2 does
// NOT use that mode: with 4096-byte sectors its IV still counts 512-byte units (proven against
// cryptsetup in src/luks), so luks::SectorCipher passes tweak_step = sector_size / 512.
//
// Speed: an XtsCipher expands the key once into cached OpenSSL contexts. EncryptSector runs
// OpenSSL's AES-XTS and re-arms only the tweak, which costs ~100 ns per call (EVP dispatch): a
// quarter of a 512-byte sector's time. EncryptSectors therefore takes another path for sectors
// smaller than 2048 bytes: it computes the sector tweaks of a 16 KiB tile with one AES-ECB call
// under the tweak key, derives every block's tweak by doubling in GF(2^128) (IEEE 1619 5.2), and
// runs the data through one bulk AES-ECB call between two XORs: about 1.5x faster at 512 bytes.
// On CPUs with VAES, VPCLMULQDQ and AVX-512 (Ice Lake, Zen 4 and later), EncryptSectors and
// DecryptSectors take a third path for every sector size: Veil's own loop over the CPU's AES
// instructions, four blocks per instruction, tweaks and XORs in registers, one pass over memory
// (crypto/internal/xts_vaes.h): about twice OpenSSL 3.0's AES-XTS, which uses one block per
// instruction. All paths give identical output (IEEE 1619 vectors and cross-checks in
// xts_test.cc). Data are transformed in place or from one buffer to another; nothing is allocated
// per call.
//
// Thread-safety: an XtsCipher is used by one thread at a time (create one per worker thread).
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/result.h"

namespace veil::crypto {

inline constexpr size_t kXtsMinDataUnit = 16;
// IEEE 1619 caps a data unit at 2^20 AES blocks.
inline constexpr size_t kXtsMaxDataUnit = size_t{16} << 20;

// Which implementation EncryptSectors / DecryptSectors use.
enum class XtsEngine {
  kFastest,  // VAES when the CPU has it, else OpenSSL
  kOpenSsl,  // OpenSSL only (the reference the fast path is tested against)
};

class XtsCipher {
 public:
  [[nodiscard]] static Result<XtsCipher> Create(std::span<const uint8_t> key,
                                                XtsEngine engine = XtsEngine::kFastest);

  ~XtsCipher();
  XtsCipher(XtsCipher&&) noexcept;
  XtsCipher& operator=(XtsCipher&&) noexcept;

  // 32 or 64.
  size_t key_size() const;
  // "vaes-avx512" or "openssl": what EncryptSectors / DecryptSectors run.
  const char* engine_name() const;

  // Encrypts / decrypts `data` in place as one data unit with tweak `sector`.
  // kInvalidArgument unless 16 <= data.size() <= 16 MiB (a partial last block is allowed:
  // ciphertext stealing).
  [[nodiscard]] Status EncryptSector(std::span<uint8_t> data, uint64_t sector);
  [[nodiscard]] Status DecryptSector(std::span<uint8_t> data, uint64_t sector);

  // Encrypts / decrypts `buffer` in place as consecutive sectors of `sector_size` bytes. Sector i
  // (from 0) has tweak first_sector + i * tweak_step: tweak_step is 1 when tweaks count sectors,
  // and sector_size / 512 for dm-crypt's 4096-byte sectors whose IVs still count 512-byte units
  // (LUKS2 without iv_large_sectors). kInvalidArgument unless sector_size is 512, 1024, 2048 or
  // 4096, buffer.size() is a multiple of it, tweak_step > 0, and the tweaks do not wrap around.
  [[nodiscard]] Status EncryptSectors(std::span<uint8_t> buffer, uint64_t first_sector,
                                      size_t sector_size, uint64_t tweak_step = 1);
  [[nodiscard]] Status DecryptSectors(std::span<uint8_t> buffer, uint64_t first_sector,
                                      size_t sector_size, uint64_t tweak_step = 1);
  // The same from `in` to `out`, which must be the same size and either the same memory or not
  // overlap (kInvalidArgument otherwise): saves a copy when the input is mapped or read-only.
  [[nodiscard]] Status EncryptSectors(std::span<const uint8_t> in, std::span<uint8_t> out,
                                      uint64_t first_sector, size_t sector_size,
                                      uint64_t tweak_step = 1);
  [[nodiscard]] Status DecryptSectors(std::span<const uint8_t> in, std::span<uint8_t> out,
                                      uint64_t first_sector, size_t sector_size,
                                      uint64_t tweak_step = 1);

 private:
  struct State;
  enum class Direction { kEncrypt, kDecrypt };
  explicit XtsCipher(std::unique_ptr<State> state);
  Status Transform(std::span<const uint8_t> in, std::span<uint8_t> out, uint64_t sector,
                   Direction direction);
  Status TransformSectors(std::span<const uint8_t> in, std::span<uint8_t> out,
                          uint64_t first_sector, size_t sector_size, uint64_t tweak_step,
                          Direction direction);
  Status TransformTiles(std::span<const uint8_t> in, std::span<uint8_t> out, uint64_t first_sector,
                        size_t sector_size, uint64_t tweak_step, Direction direction);
  std::unique_ptr<State> state_;
};

}  // namespace veil::crypto
