// Layout: what the data path needs to know about a LUKS container, and nothing secret.
//
// Produced by Inspect() (from an untrusted header) and by CreateHeader() (for a header Veil just
// made); consumed by SectorCipher and by the image pipeline, which writes or reads the payload at
// `payload_offset_bytes`.
//
// IV convention (docs/formats/luks.md): the IV of the sector that starts at byte `o` of the payload
// is `iv_tweak + o / 512`, for every sector size. LUKS1 always uses 512-byte sectors; LUKS2 with
// 4096-byte sectors still counts IVs in 512-byte units, because cryptsetup never sets dm-crypt's
// `iv_large_sectors` for LUKS2 (proved against cryptsetup's own encryption in
// sector_cipher_itest.cc).
//
// Thread-safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veil::luks {

enum class Version { kLuks1 = 1, kLuks2 = 2 };

// "luks1" or "luks2".
std::string_view VersionName(Version version);

// IVs count units of this many bytes, whatever the sector size.
inline constexpr uint32_t kIvUnitBytes = 512;

struct Layout {
  Version version = Version::kLuks1;
  // dm-crypt notation: "aes-xts-plain64", "aes-cbc-essiv:sha256", ...
  std::string cipher_spec;
  // Volume key size in bytes (64 for AES-256-XTS).
  size_t key_bytes = 0;
  // Encryption unit: 512 for LUKS1; 512, 1024, 2048 or 4096 for LUKS2.
  uint32_t sector_size = 512;
  // Where the encrypted payload starts in the container, in bytes.
  uint64_t payload_offset_bytes = 0;
  // Added to the IV of every sector, in 512-byte units (LUKS2 segment `iv_tweak`; 0 for LUKS1).
  uint64_t iv_tweak = 0;
  // LUKS2 segments with a fixed size; unset when the payload runs to the end of the device
  // ("dynamic") and always for LUKS1.
  std::optional<uint64_t> payload_size_bytes;
  std::string uuid;
};

}  // namespace veil::luks
