// Creating and opening LUKS1/LUKS2 containers: headers and keyslots through libcryptsetup (the
// reference implementation), never the payload (that is SectorCipher's job).
//
// libcryptsetup works here on an anonymous in-memory file (memfd_create, opened by libcryptsetup
// as /proc/self/fd/N): no device-mapper, no root, nothing written to a filesystem, nothing left
// behind if the process dies. The memfd holds only header metadata and encrypted keyslots.
//
//   CreateHeader    builds a complete header + keyslot area (the bytes before the payload) with
//                   crypt_format + crypt_keyslot_add_by_volume_key for a volume key the caller
//                   chose; the pipeline writes those bytes, then the payload encrypted by
//                   SectorCipher.
//   OpenVolumeKey   recovers the volume key of a container from a passphrase: Veil's parser
//                   (inspect.h) and the OpenLimits run first, on the exact bytes that
//                   libcryptsetup then loads (a private copy), so an image cannot make
//                   libcryptsetup spend more than the limits allow.
//
// Passphrases are bytes, exactly as cryptsetup's --key-file reads them (no newline stripping).
// Veil's two conventions for the DEK (docs/formats/luks.md) are chosen by the caller.
//
// Thread-safety: all functions may run concurrently (each uses its own libcryptsetup context).
// They block for the PBKDF (seconds by design): run them off any event loop.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/random.h"
#include "common/result.h"
#include "common/secret_bytes.h"
#include "luks/layout.h"
#include "luks/limits.h"

namespace veil::luks {

// cryptsetup's --key-file default maximum (8 MiB).
inline constexpr size_t kMaxPassphraseBytes = size_t{8} << 20;

struct PbkdfOptions {
  // "pbkdf2", "argon2id" or "argon2i"; empty = the version's default, as cryptsetup 2.6:
  // pbkdf2 for LUKS1, argon2id for LUKS2.
  std::string type;
  // PBKDF2 hash (and, for LUKS1, the header hash spec; LUKS2 also uses it for the AF splitter).
  std::string hash = "sha256";
  // cryptsetup's --iter-time: the benchmark aims at this many milliseconds.
  uint32_t iter_time_ms = 2000;
  // cryptsetup's --pbkdf-memory and --pbkdf-parallel (Argon2 only; cryptsetup caps memory at
  // half the RAM and lanes at the online CPUs when it benchmarks).
  uint32_t memory_kib = 1'048'576;
  uint32_t parallel = 4;
  // A fixed cost instead of a benchmark (cryptsetup's --pbkdf-force-iterations): PBKDF2
  // iterations (>= 1000) or Argon2 time cost (>= 4). For tests and reproducible costs.
  std::optional<uint32_t> iterations;
};

struct CreateOptions {
  Version version = Version::kLuks1;
  std::string cipher = "aes";
  std::string mode = "xts-plain64";
  // 64 = AES-256-XTS (cryptsetup's and QEMU's default), or 32.
  size_t key_bytes = 64;
  // LUKS1: 512. LUKS2: 512 (default, so the image can be given a LUKS1 header for QEMU) or 4096.
  uint32_t sector_size = 512;
  PbkdfOptions pbkdf;
  // Where the payload starts; 0 = cryptsetup's default (LUKS1 2 MiB, LUKS2 16 MiB).
  uint64_t data_offset_bytes = 0;
  // Empty = random.
  std::string uuid;
  // LUKS2 only.
  std::string label;
};

struct HeaderBlob {
  // Everything before the payload: exactly layout.payload_offset_bytes bytes.
  std::vector<uint8_t> bytes;
  Layout layout;
};

// `key_bytes` random bytes for a volume key, drawn with Random::FillSecret.
// kInvalidArgument unless key_bytes is 32 or 64 (the AES-XTS sizes Veil writes).
[[nodiscard]] Result<SecretBytes> GenerateVolumeKey(Random& random, size_t key_bytes);

// Builds a header with one keyslot (slot 0) that stores `volume_key` under `passphrase`.
// Veil writes only aes-xts-plain64 (kUnimplemented otherwise). kInvalidArgument for inconsistent
// options (LUKS1 with Argon2 or 4096-byte sectors, a label on LUKS1, a key of the wrong size, an
// empty or > 8 MiB passphrase, an offset too small for the header) with libcryptsetup's reason.
[[nodiscard]] Result<HeaderBlob> CreateHeader(const CreateOptions& options,
                                              const SecretBytes& volume_key,
                                              std::span<const uint8_t> passphrase);

struct OpenedVolume {
  SecretBytes volume_key;
  Layout layout;
  // The keyslot that the passphrase opened.
  uint32_t keyslot = 0;
};

// Opens the container (or detached header) at `path` with `passphrase`.
// Errors, in the order they are checked (no key is derived before the last step):
//   kNotFound / kPermissionDenied / kUnavailable   the file cannot be read
//   kInvalidArgument   "not a LUKS image"; empty or oversized passphrase
//   kDataLoss          corrupt or truncated header, areas past the end of the file
//   kUnimplemented     unsupported LUKS feature or payload cipher (checked before any PBKDF)
//   kResourceExhausted every usable keyslot (or its digest) is over `limits`
//   kFailedPrecondition no active keyslot protects the data segment
//   kPermissionDenied  "no keyslot opens with this passphrase"
[[nodiscard]] Result<OpenedVolume> OpenVolumeKey(const std::string& path,
                                                 std::span<const uint8_t> passphrase,
                                                 const OpenLimits& limits = {});
// The same for a header held in memory (e.g. read from inside a qcow2 image): `header_bytes`
// must contain the whole metadata and keyslot area (HeaderInfo::metadata_end_bytes).
[[nodiscard]] Result<OpenedVolume> OpenVolumeKey(std::span<const uint8_t> header_bytes,
                                                 std::span<const uint8_t> passphrase,
                                                 const OpenLimits& limits = {});

}  // namespace veil::luks
