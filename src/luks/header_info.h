// HeaderInfo: the public facts of a LUKS1 or LUKS2 header, as parsed by Inspect().
//
// Everything here may be shown to a user (`veil image inspect`; the CLI renders it,
// apps/veil/image_json.h): versions, ciphers, sizes, offsets, PBKDF parameters. Nothing secret is
// ever stored: no key material, no digests, no salts (only their lengths).
//
// Thread-safety: plain values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "luks/layout.h"

namespace veil::luks {

// Password-based key derivation of a keyslot.
struct KdfInfo {
  // "pbkdf2", "argon2i", "argon2id" (or whatever unknown type the header names).
  std::string type;
  // PBKDF2 only: "sha256", "sha1", ...
  std::string hash;
  // PBKDF2 only.
  uint64_t iterations = 0;
  // Argon2 only: time cost (passes), memory cost in KiB, lanes (threads).
  uint64_t time = 0;
  uint64_t memory_kib = 0;
  uint64_t parallel = 0;
  size_t salt_bytes = 0;
};

enum class KeyslotState { kActive, kInactive };

struct KeyslotInfo {
  uint32_t id = 0;
  // LUKS1 lists its 8 slots, enabled or not; LUKS2 lists the keyslots present (all active).
  KeyslotState state = KeyslotState::kInactive;
  // "luks1" (a LUKS1 slot), "luks2", "reencrypt", or another LUKS2 type.
  std::string type;
  // Size of the key stored in the slot.
  size_t key_bytes = 0;
  // LUKS2 "ignore" | "normal" | "high"; LUKS1 slots are "normal".
  std::string priority = "normal";
  KdfInfo kdf;
  // Anti-forensic splitter: "luks1", its hash and stripes (4000).
  std::string af_type;
  std::string af_hash;
  uint32_t af_stripes = 0;
  // Encryption of the keyslot area (LUKS2 area.encryption; LUKS1 uses the data cipher).
  std::string area_encryption;
  size_t area_key_bytes = 0;
  // Byte range of the keyslot's binary area from the start of the container.
  uint64_t area_offset = 0;
  uint64_t area_size = 0;
  // The digest that checks this slot's key (LUKS1: always 0).
  std::optional<uint32_t> digest;
};

struct DigestInfo {
  uint32_t id = 0;
  std::string type;  // "pbkdf2"
  std::string hash;
  uint64_t iterations = 0;
  std::vector<uint32_t> keyslots;
  std::vector<uint32_t> segments;
};

struct HeaderInfo {
  Version version = Version::kLuks1;
  Layout layout;
  // LUKS1 hash-spec (PBKDF2 and AF hash of every slot).
  std::string hash_spec;
  // LUKS2 binary-header fields.
  std::string label;
  std::string subsystem;
  uint64_t seqid = 0;
  // LUKS2 hdr_size (binary header + JSON area); 592 for LUKS1.
  uint64_t header_size_bytes = 0;
  // LUKS2 config.keyslots_size; for LUKS1 the span of the 8 key-material areas.
  uint64_t keyslots_area_bytes = 0;
  // Bytes from the start of the container that hold metadata and keyslots: what a copy of the
  // header must contain to be opened (LUKS2: 2 * hdr_size + keyslots_size; LUKS1: the end of the
  // last key-material area).
  uint64_t metadata_end_bytes = 0;
  std::vector<std::string> flags;
  std::vector<KeyslotInfo> keyslots;
  std::vector<DigestInfo> digests;
  // Facts worth telling a user that do not stop Veil (e.g. "secondary LUKS2 header damaged").
  std::vector<std::string> warnings;
};

}  // namespace veil::luks
