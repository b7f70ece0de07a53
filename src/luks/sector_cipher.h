// SectorCipher: Veil's own engine for the payload sectors of a LUKS container (the data path of
// `veil image encrypt|decrypt`), compatible with dm-crypt as cryptsetup sets it up.
//
// Ciphers (dm-crypt notation, as in Layout::cipher_spec):
//   aes-xts-plain64       AES-XTS, 32- or 64-byte keys (AES-128/256); tweak = IV as 64-bit LE.
//   aes-xts-plain         the same with the IV truncated to 32 bits (old LUKS1 images).
//   aes-cbc-essiv:sha256  AES-CBC, 16/24/32-byte keys; IV = AES-256-ECB under SHA-256(volume key)
//                         of the IV number as a 16-byte LE block (LUKS1's default before 1.6).
// Anything else is kUnimplemented.
//
// IVs: the sector that starts at byte `o` of the payload has IV number iv_tweak + o / 512, for
// every sector size (see layout.h; cryptsetup does not set iv_large_sectors for LUKS2).
//
// Speed: keys are expanded once per instance; each sector only re-arms the IV.
//
// Thread-safety: an instance is used by one thread at a time; Clone() one per worker thread.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/result.h"
#include "common/secret_bytes.h"
#include "luks/layout.h"

namespace veil::luks {

class SectorCipher {
 public:
  // kUnimplemented for a cipher spec Veil does not implement; kInvalidArgument for a key whose
  // size does not match the layout or the cipher, a sector size other than 512..4096 (powers of
  // two), or an XTS key with equal halves.
  [[nodiscard]] static Result<SectorCipher> Create(const Layout& layout,
                                                   const SecretBytes& volume_key);
  // Whether Create() would accept this cipher spec with a key of `key_bytes` (no key needed).
  [[nodiscard]] static Status CheckSupported(std::string_view cipher_spec, size_t key_bytes);

  ~SectorCipher();
  SectorCipher(SectorCipher&&) noexcept;
  SectorCipher& operator=(SectorCipher&&) noexcept;

  // Encrypts / decrypts `data` in place: whole sectors, the first of which starts at byte
  // `data_offset_bytes` of the payload. kInvalidArgument unless both data.size() and
  // data_offset_bytes are multiples of the sector size.
  [[nodiscard]] Status Encrypt(std::span<uint8_t> data, uint64_t data_offset_bytes);
  [[nodiscard]] Status Decrypt(std::span<uint8_t> data, uint64_t data_offset_bytes);
  // The same from `in` to `out` (same size; the same memory or not overlapping): the XTS ciphers
  // read `in` and write `out` in one pass, the others copy first.
  [[nodiscard]] Status Encrypt(std::span<const uint8_t> in, std::span<uint8_t> out,
                               uint64_t data_offset_bytes);
  [[nodiscard]] Status Decrypt(std::span<const uint8_t> in, std::span<uint8_t> out,
                               uint64_t data_offset_bytes);

  // An independent instance with the same key (for another thread).
  [[nodiscard]] Result<SectorCipher> Clone() const;

  const Layout& layout() const;
  // What runs the cipher: "vaes-avx512" (XTS on a CPU with VAES) or "openssl".
  const char* engine_name() const;
  uint32_t sector_size() const { return layout().sector_size; }

 private:
  struct State;
  explicit SectorCipher(std::unique_ptr<State> state);
  Status Transform(std::span<const uint8_t> in, std::span<uint8_t> data, uint64_t data_offset_bytes,
                   bool encrypt);
  std::unique_ptr<State> state_;
};

}  // namespace veil::luks
