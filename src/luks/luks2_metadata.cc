#include "luks/luks2_metadata.h"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "luks/internal/fields.h"
#include "luks/internal/luks2_json.h"
#include "luks/luks1_header.h"

namespace veil::luks {
namespace {

namespace json = boost::json;
using internal::Bad;
using internal::Base64Field;
using internal::CheckJsonText;
using internal::IdArray;
using internal::IntField;
using internal::IsDisplayable;
using internal::ObjectField;
using internal::ParseId;
using internal::ParseU64;
using internal::StringArray;
using internal::StringField;
using internal::U64Field;

constexpr uint32_t kMaxObjects = 1u << 20;

Status ParseKdf(const json::object& kdf, const std::string& path, KdfInfo& out) {
  out.type = VEIL_TRY_VALUE(StringField(kdf, "type", path));
  out.salt_bytes = VEIL_TRY_VALUE(Base64Field(kdf, "salt", path));
  if (out.type == "pbkdf2") {
    out.hash = VEIL_TRY_VALUE(StringField(kdf, "hash", path));
    out.iterations = VEIL_TRY_VALUE(IntField(kdf, "iterations", path));
    if (out.iterations == 0) return tl::unexpected(Bad(path + ".iterations", "zero"));
  } else if (out.type == "argon2i" || out.type == "argon2id") {
    out.time = VEIL_TRY_VALUE(IntField(kdf, "time", path));
    out.memory_kib = VEIL_TRY_VALUE(IntField(kdf, "memory", path));
    out.parallel = VEIL_TRY_VALUE(IntField(kdf, "cpus", path));
    if (out.time == 0 || out.memory_kib == 0 || out.parallel == 0) {
      return tl::unexpected(Bad(path, "zero Argon2 cost"));
    }
  }
  // Any other type is kept as named: CheckKeyslotCost refuses what it cannot judge.
  return OkStatus();
}

Result<std::string> ParsePriority(const json::object& ks, const std::string& path) {
  if (!ks.contains("priority")) return std::string("normal");
  switch (VEIL_TRY_VALUE(IntField(ks, "priority", path))) {
    case 0:
      return std::string("ignore");
    case 1:
      return std::string("normal");
    case 2:
      return std::string("high");
    default:
      return tl::unexpected(Bad(path + ".priority", "not 0, 1 or 2"));
  }
}

// The parts of a keyslot of type "luks2" (cryptsetup's luks2_keyslot_validate): kdf, af, a raw area
// big enough for the split key.
Status ParseLuks2Keyslot(const json::object& ks, const std::string& path, KeyslotInfo& slot) {
  const std::string area_path = path + ".area";
  const json::object& area = *VEIL_TRY_VALUE(ObjectField(ks, "area", path));
  if (VEIL_TRY_VALUE(StringField(area, "type", area_path)) != "raw") {
    return tl::unexpected(Bad(area_path + ".type", "not \"raw\""));
  }
  slot.area_encryption = VEIL_TRY_VALUE(StringField(area, "encryption", area_path));
  slot.area_key_bytes = static_cast<size_t>(VEIL_TRY_VALUE(IntField(area, "key_size", area_path)));
  const json::object& kdf = *VEIL_TRY_VALUE(ObjectField(ks, "kdf", path));
  VEIL_TRY(ParseKdf(kdf, path + ".kdf", slot.kdf));
  const std::string af_path = path + ".af";
  const json::object& af = *VEIL_TRY_VALUE(ObjectField(ks, "af", path));
  slot.af_type = VEIL_TRY_VALUE(StringField(af, "type", af_path));
  if (slot.af_type != "luks1") return tl::unexpected(Bad(af_path + ".type", "not \"luks1\""));
  const uint64_t stripes = VEIL_TRY_VALUE(IntField(af, "stripes", af_path));
  if (stripes != kAfStripes) {
    return tl::unexpected(Bad(af_path + ".stripes", "only 4000 is valid"));
  }
  slot.af_stripes = kAfStripes;
  slot.af_hash = VEIL_TRY_VALUE(StringField(af, "hash", af_path));
  if (slot.area_size < slot.key_bytes * kAfStripes) {
    return DataLoss("LUKS2 keyslot " + std::to_string(slot.id) +
                    ": area is smaller than its split key material");
  }
  return OkStatus();
}

// Any keyslot: its type, key size, priority and binary area (cryptsetup checks the area of every
// keyslot, whatever its type); then the parts of a "luks2" keyslot.
Result<KeyslotInfo> ParseKeyslot(uint32_t id, const json::object& ks, const std::string& path,
                                 uint64_t area_begin, uint64_t area_end) {
  KeyslotInfo slot;
  slot.id = id;
  slot.state = KeyslotState::kActive;
  slot.type = VEIL_TRY_VALUE(StringField(ks, "type", path));
  if (slot.type == "reencrypt") {
    return Unimplemented("LUKS2 keyslot " + std::to_string(id) +
                         " is a reencryption keyslot: reencryption in progress is not supported");
  }
  const uint64_t key_size = VEIL_TRY_VALUE(IntField(ks, "key_size", path));
  if (key_size == 0 || key_size > kMaxKeyBytes) {
    return tl::unexpected(Bad(path + ".key_size", "out of range"));
  }
  slot.key_bytes = static_cast<size_t>(key_size);
  slot.priority = VEIL_TRY_VALUE(ParsePriority(ks, path));

  const std::string area_path = path + ".area";
  const json::object& area = *VEIL_TRY_VALUE(ObjectField(ks, "area", path));
  (void)VEIL_TRY_VALUE(StringField(area, "type", area_path));
  slot.area_offset = VEIL_TRY_VALUE(U64Field(area, "offset", area_path));
  slot.area_size = VEIL_TRY_VALUE(U64Field(area, "size", area_path));
  if (slot.area_size == 0) return tl::unexpected(Bad(area_path + ".size", "zero"));
  if (slot.area_offset < area_begin || slot.area_offset > area_end ||
      slot.area_size > area_end - slot.area_offset) {
    return DataLoss("LUKS2 keyslot " + std::to_string(id) + ": area [" +
                    std::to_string(slot.area_offset) + ", +" + std::to_string(slot.area_size) +
                    ") is outside the keyslots area [" + std::to_string(area_begin) + ", " +
                    std::to_string(area_end) + ")");
  }
  if (slot.type == "luks2") VEIL_TRY(ParseLuks2Keyslot(ks, path, slot));
  return slot;
}

// What the sections of one metadata copy add up to while they are read.
struct Metadata {
  HeaderInfo info;
  std::map<uint32_t, KeyslotInfo> slots;
  std::optional<uint32_t> segment_digest;
};

Status ParseRequirements(const json::object& config) {
  const json::value* req = config.if_contains("requirements");
  if (req == nullptr) return OkStatus();
  if (!req->is_object()) return tl::unexpected(Bad("config.requirements", "not an object"));
  const json::value* m = req->get_object().if_contains("mandatory");
  if (m == nullptr) return OkStatus();
  if (!m->is_array()) return tl::unexpected(Bad("config.requirements.mandatory", "not an array"));
  const std::vector<std::string> mandatory =
      VEIL_TRY_VALUE(StringArray(m->get_array(), "config.requirements.mandatory"));
  if (mandatory.empty()) return OkStatus();
  std::string names;
  for (const auto& n : mandatory) names += (names.empty() ? "" : ", ") + n;
  return Unimplemented("LUKS2 requirement not supported: " + names +
                       " (e.g. a reencryption in progress)");
}

// config: the sizes must agree with the binary header; optional flags and requirements.
Status ParseConfig(const json::object& top, const Luks2BinaryHeader& header, HeaderInfo& info) {
  const json::object& config = *VEIL_TRY_VALUE(ObjectField(top, "config", ""));
  const uint64_t json_size = VEIL_TRY_VALUE(U64Field(config, "json_size", "config"));
  if (json_size != header.hdr_size - kLuks2BinaryHeaderSize) {
    return DataLoss("LUKS2 metadata: config.json_size " + std::to_string(json_size) +
                    " does not match hdr_size " + std::to_string(header.hdr_size));
  }
  const uint64_t keyslots_size = VEIL_TRY_VALUE(U64Field(config, "keyslots_size", "config"));
  if (keyslots_size % 4096 != 0 || keyslots_size > (uint64_t{128} << 20)) {
    return DataLoss("LUKS2 metadata: config.keyslots_size " + std::to_string(keyslots_size) +
                    " is not a multiple of 4096 up to 128 MiB");
  }
  info.keyslots_area_bytes = keyslots_size;
  info.metadata_end_bytes = 2 * header.hdr_size + keyslots_size;
  if (const json::value* flags = config.if_contains("flags")) {
    if (!flags->is_array()) return tl::unexpected(Bad("config.flags", "not an array"));
    info.flags = VEIL_TRY_VALUE(StringArray(flags->get_array(), "config.flags"));
  }
  return ParseRequirements(config);
}

// keyslots: each one, then their areas must not overlap.
Status ParseKeyslots(const json::object& top, const Luks2BinaryHeader& header, Metadata& m) {
  const json::object& keyslots = *VEIL_TRY_VALUE(ObjectField(top, "keyslots", ""));
  for (const auto& kv : keyslots) {
    const std::string name(kv.key().data(), kv.key().size());
    const std::string path = "keyslots." + (IsDisplayable(name) ? name : "?");
    const uint32_t id = VEIL_TRY_VALUE(ParseId(name, path, kLuks2MaxKeyslots));
    if (!kv.value().is_object()) return tl::unexpected(Bad(path, "not an object"));
    m.slots[id] = VEIL_TRY_VALUE(ParseKeyslot(id, kv.value().get_object(), path,
                                              2 * header.hdr_size, m.info.metadata_end_bytes));
  }
  std::vector<const KeyslotInfo*> by_offset;
  for (const auto& [id, s] : m.slots) by_offset.push_back(&s);
  std::sort(by_offset.begin(), by_offset.end(), [](const KeyslotInfo* x, const KeyslotInfo* y) {
    return x->area_offset < y->area_offset;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->area_offset + by_offset[i - 1]->area_size > by_offset[i]->area_offset) {
      return DataLoss("LUKS2 keyslots " + std::to_string(by_offset[i - 1]->id) + " and " +
                      std::to_string(by_offset[i]->id) + ": areas overlap");
    }
  }
  return OkStatus();
}

// The fields of segment 0 that every segment type has (cryptsetup's hdr_validate_segments).
Status ParseSegmentPlacement(const json::object& seg, const std::string& path, Layout& layout) {
  (void)VEIL_TRY_VALUE(StringField(seg, "type", path));
  layout.payload_offset_bytes = VEIL_TRY_VALUE(U64Field(seg, "offset", path));
  if (layout.payload_offset_bytes % kIvUnitBytes != 0) {
    return tl::unexpected(Bad(path + ".offset", "not a multiple of 512"));
  }
  const std::string size_text = VEIL_TRY_VALUE(StringField(seg, "size", path));
  if (size_text != "dynamic") {
    const uint64_t size = VEIL_TRY_VALUE(ParseU64(size_text, path + ".size"));
    if (size == 0) return tl::unexpected(Bad(path + ".size", "zero"));
    if (size > UINT64_MAX - layout.payload_offset_bytes) {
      return tl::unexpected(Bad(path + ".size", "out of range"));
    }
    layout.payload_size_bytes = size;
  }
  if (const json::value* flags = seg.if_contains("flags")) {
    if (!flags->is_array()) return tl::unexpected(Bad(path + ".flags", "not an array"));
    if (!VEIL_TRY_VALUE(StringArray(flags->get_array(), path + ".flags")).empty()) {
      // Written only while a reencryption runs ("in-reencryption", "backup-final", ...); a lone
      // backup segment is not even valid to libcryptsetup ("No regular segment").
      return Unimplemented("LUKS2 segment flags (a reencryption's state) are not supported");
    }
  }
  return OkStatus();
}

// segments: exactly one, named "0" (cryptsetup numbers them from 0 without gaps), of type crypt.
Status ParseSegment(const json::object& top, HeaderInfo& info) {
  const json::object& segments = *VEIL_TRY_VALUE(ObjectField(top, "segments", ""));
  if (segments.empty()) return tl::unexpected(Bad("segments", "empty"));
  if (segments.size() != 1) {
    return Unimplemented("LUKS2 header with " + std::to_string(segments.size()) +
                         " data segments (Veil reads exactly one; reencryption in progress?)");
  }
  const auto& seg_kv = *segments.begin();
  const std::string seg_name(seg_kv.key().data(), seg_kv.key().size());
  const std::string path = "segments." + (IsDisplayable(seg_name) ? seg_name : "?");
  if (VEIL_TRY_VALUE(ParseId(seg_name, path, kMaxObjects)) != 0) {
    return tl::unexpected(Bad(path, "the only segment is not segment 0"));
  }
  if (!seg_kv.value().is_object()) return tl::unexpected(Bad(path, "not an object"));
  const json::object& seg = seg_kv.value().get_object();
  Layout& layout = info.layout;
  VEIL_TRY(ParseSegmentPlacement(seg, path, layout));
  const std::string seg_type = VEIL_TRY_VALUE(StringField(seg, "type", path));
  if (seg_type != "crypt") {
    return Unimplemented("LUKS2 data segment of type '" + seg_type + "' (Veil reads \"crypt\")");
  }
  if (seg.contains("integrity")) {
    return Unimplemented("LUKS2 data segment with integrity protection is not supported");
  }
  layout.iv_tweak = VEIL_TRY_VALUE(U64Field(seg, "iv_tweak", path));
  layout.cipher_spec = VEIL_TRY_VALUE(StringField(seg, "encryption", path));
  const uint64_t sector_size = VEIL_TRY_VALUE(IntField(seg, "sector_size", path));
  if (sector_size != 512 && sector_size != 1024 && sector_size != 2048 && sector_size != 4096) {
    return tl::unexpected(Bad(path + ".sector_size", "not 512, 1024, 2048 or 4096"));
  }
  layout.sector_size = static_cast<uint32_t>(sector_size);
  if (layout.payload_size_bytes && *layout.payload_size_bytes % sector_size != 0) {
    return tl::unexpected(Bad(path + ".size", "not a multiple of the sector size"));
  }
  // Offset 0 is a detached header (the data live elsewhere); otherwise the data must start after
  // the keyslots area.
  if (layout.payload_offset_bytes != 0 && layout.payload_offset_bytes < info.metadata_end_bytes) {
    return DataLoss("LUKS2 data segment at " + std::to_string(layout.payload_offset_bytes) +
                    " overlaps the metadata and keyslots area (ends at " +
                    std::to_string(info.metadata_end_bytes) + ")");
  }
  return OkStatus();
}

Result<DigestInfo> ParseDigest(const std::string& name, const json::value& value,
                               const std::string& path) {
  DigestInfo d;
  d.id = VEIL_TRY_VALUE(ParseId(name, path, kMaxObjects));
  if (!value.is_object()) return tl::unexpected(Bad(path, "not an object"));
  const json::object& dobj = value.get_object();
  d.type = VEIL_TRY_VALUE(StringField(dobj, "type", path));
  d.keyslots = VEIL_TRY_VALUE(IdArray(dobj, "keyslots", path, kLuks2MaxKeyslots));
  d.segments = VEIL_TRY_VALUE(IdArray(dobj, "segments", path, kMaxObjects));
  if (d.type == "pbkdf2") {
    d.hash = VEIL_TRY_VALUE(StringField(dobj, "hash", path));
    d.iterations = VEIL_TRY_VALUE(IntField(dobj, "iterations", path));
    if (d.iterations == 0) return tl::unexpected(Bad(path + ".iterations", "zero"));
    (void)VEIL_TRY_VALUE(Base64Field(dobj, "salt", path));
    (void)VEIL_TRY_VALUE(Base64Field(dobj, "digest", path));
  }
  return d;
}

// digests: each names existing keyslots (one digest per keyslot) and the segment (one digest).
Status ParseDigests(const json::object& top, Metadata& m) {
  const json::object& digests = *VEIL_TRY_VALUE(ObjectField(top, "digests", ""));
  for (const auto& kv : digests) {
    const std::string name(kv.key().data(), kv.key().size());
    const std::string path = "digests." + (IsDisplayable(name) ? name : "?");
    DigestInfo d = VEIL_TRY_VALUE(ParseDigest(name, kv.value(), path));
    for (uint32_t k : d.keyslots) {
      auto it = m.slots.find(k);
      if (it == m.slots.end()) return tl::unexpected(Bad(path, "names a keyslot that is absent"));
      if (it->second.digest) {
        return tl::unexpected(Bad(path, "keyslot " + std::to_string(k) + " has two digests"));
      }
      it->second.digest = d.id;
    }
    for (uint32_t s : d.segments) {
      if (s != 0) return tl::unexpected(Bad(path, "names a segment that is absent"));
      if (m.segment_digest) return tl::unexpected(Bad(path, "the segment has two digests"));
      m.segment_digest = d.id;
    }
    m.info.digests.push_back(std::move(d));
  }
  return OkStatus();
}

// tokens: only their shape and their keyslot references are checked.
Status ParseTokens(const json::object& top, const Metadata& m) {
  const json::object& tokens = *VEIL_TRY_VALUE(ObjectField(top, "tokens", ""));
  for (const auto& kv : tokens) {
    const std::string name(kv.key().data(), kv.key().size());
    const std::string path = "tokens." + (IsDisplayable(name) ? name : "?");
    (void)VEIL_TRY_VALUE(ParseId(name, path, kLuks2MaxKeyslots));
    if (!kv.value().is_object()) return tl::unexpected(Bad(path, "not an object"));
    const json::object& token = kv.value().get_object();
    (void)VEIL_TRY_VALUE(StringField(token, "type", path));
    for (uint32_t k : VEIL_TRY_VALUE(IdArray(token, "keyslots", path, kLuks2MaxKeyslots))) {
      if (m.slots.count(k) == 0) {
        return tl::unexpected(Bad(path, "names a keyslot that is absent"));
      }
    }
  }
  return OkStatus();
}

// The bindings libcryptsetup requires: every luks2 keyslot and the crypt segment have a digest
// ("Keyslot %d is not assigned to any digest", "Crypt segment %s not assigned to key digest").
// Then the volume key size: that of the keyslots whose digest is the segment's.
Status CheckBindings(Metadata& m) {
  for (const auto& [id, s] : m.slots) {
    if (s.type == "luks2" && !s.digest) {
      return DataLoss("LUKS2 keyslot " + std::to_string(id) + ": no digest covers it");
    }
  }
  if (!m.segment_digest) return DataLoss("LUKS2 data segment 0: no digest covers it");
  Layout& layout = m.info.layout;
  for (const auto& [id, s] : m.slots) {
    if (s.digest != m.segment_digest) continue;
    if (layout.key_bytes != 0 && layout.key_bytes != s.key_bytes) {
      return DataLoss("LUKS2 keyslots of the data segment disagree on the key size");
    }
    layout.key_bytes = s.key_bytes;
  }
  return OkStatus();
}

}  // namespace

Result<HeaderInfo> ParseLuks2Metadata(const Luks2BinaryHeader& header) {
  VEIL_TRY(CheckJsonText(header.json));
  json::monotonic_resource arena;
  json::error_code ec;
  const json::value root = json::parse(json::string_view(header.json.data(), header.json.size()),
                                       ec, &arena, internal::StrictJsonOptions());
  if (ec) return DataLoss("LUKS2 metadata: invalid JSON: " + ec.message());
  if (!root.is_object()) return DataLoss("LUKS2 metadata: not a JSON object");
  const json::object& top = root.get_object();

  Metadata m;
  HeaderInfo& info = m.info;
  info.version = Version::kLuks2;
  info.label = header.label;
  info.subsystem = header.subsystem;
  info.seqid = header.seqid;
  info.header_size_bytes = header.hdr_size;
  info.layout.version = Version::kLuks2;
  info.layout.uuid = header.uuid;
  VEIL_TRY(ParseConfig(top, header, info));
  VEIL_TRY(ParseKeyslots(top, header, m));
  VEIL_TRY(ParseSegment(top, info));
  VEIL_TRY(ParseDigests(top, m));
  VEIL_TRY(ParseTokens(top, m));
  VEIL_TRY(CheckBindings(m));
  for (auto& [id, s] : m.slots) info.keyslots.push_back(std::move(s));
  return std::move(m.info);
}

}  // namespace veil::luks
