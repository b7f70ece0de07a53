// The LUKS1 on-disk header (the "phdr", LUKS1 spec §3.1): parsing and sanity checks.
//
// All integers are big-endian. A phdr is 592 bytes: magic, version 1, cipher name/mode, hash spec,
// payload offset (512-byte sectors), key bytes, the master-key digest (PBKDF2, 20 bytes), its
// salt and iterations, the UUID, and 8 key slots of 48 bytes each (state, PBKDF2 iterations and
// salt, key-material offset in sectors, AF stripes).
//
// Used by Inspect(); callers go through inspect.h.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"
#include "luks/header_info.h"

namespace veil::luks {

inline constexpr size_t kLuksMagicSize = 6;
inline constexpr uint8_t kLuksMagic[kLuksMagicSize] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
inline constexpr size_t kLuks1HeaderSize = 592;
inline constexpr uint32_t kLuks1KeyslotCount = 8;
inline constexpr uint32_t kLuks1KeyEnabled = 0x00AC71F3;
inline constexpr uint32_t kLuks1KeyDisabled = 0x0000DEAD;
// The only AF stripe count cryptsetup (and QEMU) accept.
inline constexpr uint32_t kAfStripes = 4000;
inline constexpr size_t kMaxKeyBytes = 512;

// Parses a LUKS1 phdr. Preconditions: the bytes start with kLuksMagic and version 1.
// kDataLoss for a truncated or inconsistent header: impossible sizes or states, keyslot areas
// overlapping the phdr, each other or the payload.
[[nodiscard]] Result<HeaderInfo> ParseLuks1Header(std::span<const uint8_t> bytes);

}  // namespace veil::luks
