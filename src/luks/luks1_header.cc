#include "luks/luks1_header.h"

#include <algorithm>
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "luks/internal/fields.h"

namespace veil::luks {
namespace {

using internal::FixedString;
using internal::LoadBe32;

constexpr size_t kSector = 512;
// phdr field offsets (LUKS1 spec, figure 1) and key slot field offsets (figure 2).
constexpr size_t kCipherNameAt = 8, kCipherModeAt = 40, kHashSpecAt = 72, kNameSize = 32;
constexpr size_t kPayloadOffsetAt = 104, kKeyBytesAt = 108, kMkDigestIterAt = 164;
constexpr size_t kUuidAt = 168, kUuidSize = 40;
constexpr size_t kKeyslotsAt = 208, kKeyslotSize = 48;
constexpr size_t kSlotActive = 0, kSlotIterations = 4, kSlotKeyMaterial = 40, kSlotStripes = 44;
constexpr size_t kSaltSize = 32;

std::string SlotName(uint32_t i) { return "LUKS1 keyslot " + std::to_string(i); }

// The hash specs Veil reads: those libcryptsetup computes with OpenSSL 3's default provider (it
// refuses a LUKS1 header whose hash it cannot compute, or whose digest is under 20 bytes, such as
// md5). Hashes that need OpenSSL's legacy provider (whirlpool) or another spelling are left out.
constexpr std::array<std::string_view, 12> kLuks1Hashes = {
    "sha1",     "sha224",   "sha256",   "sha384",   "sha512",      "ripemd160",
    "sha3-224", "sha3-256", "sha3-384", "sha3-512", "blake2b-512", "blake2s-256"};

// Keyslot `i` of the header `b`, checked against what `info` already holds (key size, hash,
// cipher, payload offset).
Result<KeyslotInfo> ParseKeyslot(std::span<const uint8_t> b, uint32_t i, const HeaderInfo& info,
                                 uint32_t payload_sectors) {
  const uint32_t key_bytes = static_cast<uint32_t>(info.layout.key_bytes);
  const uint64_t area_size = (uint64_t{key_bytes} * kAfStripes + kSector - 1) / kSector * kSector;
  const size_t at = kKeyslotsAt + i * kKeyslotSize;
  KeyslotInfo slot;
  slot.id = i;
  slot.type = "luks1";
  const uint32_t state = LoadBe32(b, at + kSlotActive);
  if (state == kLuks1KeyEnabled) {
    slot.state = KeyslotState::kActive;
  } else if (state == kLuks1KeyDisabled) {
    slot.state = KeyslotState::kInactive;
  } else {
    return DataLoss(SlotName(i) + ": invalid state field");
  }
  const uint32_t stripes = LoadBe32(b, at + kSlotStripes);
  if (stripes != kAfStripes) {
    return DataLoss(SlotName(i) + ": " + std::to_string(stripes) + " AF stripes (only " +
                    std::to_string(kAfStripes) + " is valid)");
  }
  slot.key_bytes = key_bytes;
  slot.kdf.type = "pbkdf2";
  slot.kdf.hash = info.hash_spec;
  slot.kdf.iterations = LoadBe32(b, at + kSlotIterations);
  slot.kdf.salt_bytes = kSaltSize;
  if (slot.state == KeyslotState::kActive && slot.kdf.iterations == 0) {
    return DataLoss(SlotName(i) + ": zero PBKDF2 iterations");
  }
  slot.af_type = "luks1";
  slot.af_hash = info.hash_spec;
  slot.af_stripes = stripes;
  slot.area_encryption = info.layout.cipher_spec;
  slot.area_key_bytes = key_bytes;
  slot.area_offset = uint64_t{LoadBe32(b, at + kSlotKeyMaterial)} * kSector;
  slot.area_size = area_size;
  if (slot.state == KeyslotState::kActive) slot.digest = 0;
  if (slot.area_offset < kLuks1HeaderSize) {
    return DataLoss(SlotName(i) + ": key material overlaps the header");
  }
  // libcryptsetup computes the byte offset in 32 bits (keyMaterialOffset * 512): from 4 GiB on
  // it wraps, and the header it checks is not the one Veil reads.
  if (slot.area_offset >= (uint64_t{1} << 32)) {
    return DataLoss(SlotName(i) + ": key material at or past 4 GiB");
  }
  if (payload_sectors != 0 &&
      slot.area_offset + slot.area_size > info.layout.payload_offset_bytes) {
    return DataLoss(SlotName(i) + ": key material overlaps the payload");
  }
  return slot;
}

// The key-material areas must not overlap; they span the keyslots area, up to the end of the
// metadata.
Status SetKeyslotsArea(HeaderInfo& info) {
  std::vector<const KeyslotInfo*> by_offset;
  for (const auto& s : info.keyslots) by_offset.push_back(&s);
  std::sort(by_offset.begin(), by_offset.end(), [](const KeyslotInfo* x, const KeyslotInfo* y) {
    return x->area_offset < y->area_offset;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->area_offset + by_offset[i - 1]->area_size > by_offset[i]->area_offset) {
      return DataLoss(SlotName(by_offset[i - 1]->id) + " and " + SlotName(by_offset[i]->id) +
                      ": key material areas overlap");
    }
  }
  const uint64_t first = by_offset.front()->area_offset;
  info.metadata_end_bytes = by_offset.back()->area_offset + by_offset.back()->area_size;
  info.keyslots_area_bytes = info.metadata_end_bytes - first;
  return OkStatus();
}

}  // namespace

Result<HeaderInfo> ParseLuks1Header(std::span<const uint8_t> b) {
  if (b.size() < kLuks1HeaderSize) {
    return DataLoss("truncated LUKS1 header: " + std::to_string(b.size()) + " bytes, need " +
                    std::to_string(kLuks1HeaderSize));
  }
  HeaderInfo info;
  info.version = Version::kLuks1;
  info.header_size_bytes = kLuks1HeaderSize;
  const std::string cipher =
      VEIL_TRY_VALUE(FixedString(b, kCipherNameAt, kNameSize, "LUKS1 cipher name", false));
  const std::string mode =
      VEIL_TRY_VALUE(FixedString(b, kCipherModeAt, kNameSize, "LUKS1 cipher mode", false));
  info.hash_spec = VEIL_TRY_VALUE(FixedString(b, kHashSpecAt, kNameSize, "LUKS1 hash spec", false));
  if (cipher.empty() || mode.empty() || info.hash_spec.empty()) {
    return DataLoss("LUKS1 header: empty cipher name, cipher mode or hash spec");
  }
  if (std::find(kLuks1Hashes.begin(), kLuks1Hashes.end(), info.hash_spec) == kLuks1Hashes.end()) {
    std::string known;
    for (std::string_view h : kLuks1Hashes) known += (known.empty() ? "" : ", ") + std::string(h);
    return Unimplemented("LUKS1 hash spec '" + info.hash_spec + "' is not supported (Veil reads " +
                         known + ")");
  }
  const uint32_t payload_sectors = LoadBe32(b, kPayloadOffsetAt);
  const uint32_t key_bytes = LoadBe32(b, kKeyBytesAt);
  if (key_bytes == 0 || key_bytes > kMaxKeyBytes) {
    return DataLoss("LUKS1 header: key size of " + std::to_string(key_bytes) + " bytes");
  }
  const uint32_t mk_iterations = LoadBe32(b, kMkDigestIterAt);
  if (mk_iterations == 0) return DataLoss("LUKS1 header: zero master-key digest iterations");
  const std::string uuid = VEIL_TRY_VALUE(FixedString(b, kUuidAt, kUuidSize, "LUKS1 UUID", false));

  Layout& layout = info.layout;
  layout.version = Version::kLuks1;
  layout.cipher_spec = cipher + "-" + mode;
  layout.key_bytes = key_bytes;
  layout.sector_size = kIvUnitBytes;
  layout.payload_offset_bytes = uint64_t{payload_sectors} * kSector;
  layout.iv_tweak = 0;
  layout.uuid = uuid;

  DigestInfo digest;
  digest.id = 0;
  digest.type = "pbkdf2";
  digest.hash = info.hash_spec;
  digest.iterations = mk_iterations;
  digest.segments = {0};

  // Every slot, enabled or not, owns its key-material area: cryptsetup checks all eight.
  for (uint32_t i = 0; i < kLuks1KeyslotCount; ++i) {
    KeyslotInfo slot = VEIL_TRY_VALUE(ParseKeyslot(b, i, info, payload_sectors));
    if (slot.state == KeyslotState::kActive) digest.keyslots.push_back(i);
    info.keyslots.push_back(std::move(slot));
  }
  VEIL_TRY(SetKeyslotsArea(info));

  info.digests.push_back(std::move(digest));
  return info;
}

}  // namespace veil::luks
