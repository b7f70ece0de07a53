// Constants of the qcow2 on-disk format (QEMU docs/interop/qcow2.txt), shared by Qcow2Reader and
// Qcow2Writer. All on-disk integers are big-endian.
//
// Thread-safety: constants only.
#pragma once

#include <cstdint>

namespace veil::disk::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kV2HeaderLength = 72;
inline constexpr uint32_t kV3MinHeaderLength = 104;
// What QEMU (and Qcow2Writer) writes: the v3 fields up to compression_type, padded to 8.
inline constexpr uint32_t kV3HeaderLength = 112;

// Header field offsets.
inline constexpr uint32_t kOffVersion = 4;
inline constexpr uint32_t kOffBackingFileOffset = 8;
inline constexpr uint32_t kOffBackingFileSize = 16;
inline constexpr uint32_t kOffClusterBits = 20;
inline constexpr uint32_t kOffSize = 24;
inline constexpr uint32_t kOffCryptMethod = 32;
inline constexpr uint32_t kOffL1Size = 36;
inline constexpr uint32_t kOffL1TableOffset = 40;
inline constexpr uint32_t kOffRefcountTableOffset = 48;
inline constexpr uint32_t kOffRefcountTableClusters = 56;
inline constexpr uint32_t kOffNbSnapshots = 60;
inline constexpr uint32_t kOffSnapshotsOffset = 64;
inline constexpr uint32_t kOffIncompatibleFeatures = 72;
inline constexpr uint32_t kOffCompatibleFeatures = 80;
inline constexpr uint32_t kOffAutoclearFeatures = 88;
inline constexpr uint32_t kOffRefcountOrder = 96;
inline constexpr uint32_t kOffHeaderLength = 100;
inline constexpr uint32_t kOffCompressionType = 104;

inline constexpr uint32_t kCryptNone = 0;
inline constexpr uint32_t kCryptAes = 1;
inline constexpr uint32_t kCryptLuks = 2;

inline constexpr uint64_t kIncompatDirty = 1u << 0;
inline constexpr uint64_t kIncompatCorrupt = 1u << 1;
inline constexpr uint64_t kIncompatDataFile = 1u << 2;
inline constexpr uint64_t kIncompatCompression = 1u << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1u << 4;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0x00000000;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtFullDiskEncryption = 0x0537be77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

// L1 and standard L2 entries: bits 9-55 are the host offset.
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ULL;
inline constexpr uint64_t kFlagCopied = 1ULL << 63;      // refcount is exactly one
inline constexpr uint64_t kFlagCompressed = 1ULL << 62;  // L2: compressed cluster descriptor
inline constexpr uint64_t kFlagZero = 1ULL;              // L2 (v3): the cluster reads as zeros

inline constexpr uint32_t kMinClusterBits = 9;   // 512 bytes
inline constexpr uint32_t kMaxClusterBits = 21;  // 2 MiB, QEMU's limit
inline constexpr uint32_t kMaxRefcountOrder = 6;
// QEMU's implementation limits, which Veil shares so that what it writes QEMU opens.
inline constexpr uint64_t kMaxL1Bytes = uint64_t{32} << 20;
inline constexpr uint64_t kMaxRefcountTableBytes = uint64_t{8} << 20;
// L1/L2 entries address 56 bits of host offset; no virtual disk beyond 64 PiB is accepted.
inline constexpr uint64_t kMaxVirtualSize = uint64_t{1} << 56;
// Sanity cap on the LUKS header region (a LUKS1 header with 8 keyslots of 512-bit keys and 4000
// stripes is about 2 MiB).
inline constexpr uint64_t kMaxCryptoHeaderBytes = uint64_t{64} << 20;

}  // namespace veil::disk::qcow2
