#include "luks/luks2_metadata.h"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <map>
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
  if (ks.contains("priority")) {
    switch (VEIL_TRY_VALUE(IntField(ks, "priority", path))) {
      case 0:
        slot.priority = "ignore";
        break;
      case 1:
        slot.priority = "normal";
        break;
      case 2:
        slot.priority = "high";
        break;
      default:
        return tl::unexpected(Bad(path + ".priority", "not 0, 1 or 2"));
    }
  }

  const std::string area_path = path + ".area";
  const json::object& area = *VEIL_TRY_VALUE(ObjectField(ks, "area", path));
  const std::string area_type = VEIL_TRY_VALUE(StringField(area, "type", area_path));
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
  if (area_type == "raw") {
    slot.area_encryption = VEIL_TRY_VALUE(StringField(area, "encryption", area_path));
    slot.area_key_bytes =
        static_cast<size_t>(VEIL_TRY_VALUE(IntField(area, "key_size", area_path)));
  }

  if (slot.type == "luks2") {
    if (area_type != "raw") return tl::unexpected(Bad(area_path + ".type", "not \"raw\""));
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
    if (slot.area_size < key_size * kAfStripes) {
      return DataLoss("LUKS2 keyslot " + std::to_string(id) +
                      ": area is smaller than its split key material");
    }
  }
  return slot;
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

  HeaderInfo info;
  info.version = Version::kLuks2;
  info.label = header.label;
  info.subsystem = header.subsystem;
  info.seqid = header.seqid;
  info.header_size_bytes = header.hdr_size;

  // config: the sizes must agree with the binary header.
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
  const uint64_t area_begin = 2 * header.hdr_size;
  info.metadata_end_bytes = area_begin + keyslots_size;
  if (const json::value* flags = config.if_contains("flags")) {
    if (!flags->is_array()) return DataLoss("LUKS2 metadata: config.flags: not an array");
    info.flags = VEIL_TRY_VALUE(StringArray(flags->get_array(), "config.flags"));
  }
  if (const json::value* req = config.if_contains("requirements")) {
    std::vector<std::string> mandatory;
    if (req->is_array()) {
      mandatory = VEIL_TRY_VALUE(StringArray(req->get_array(), "config.requirements"));
    } else if (req->is_object()) {
      if (const json::value* m = req->get_object().if_contains("mandatory")) {
        if (!m->is_array()) {
          return DataLoss("LUKS2 metadata: config.requirements.mandatory: not an array");
        }
        mandatory = VEIL_TRY_VALUE(StringArray(m->get_array(), "config.requirements.mandatory"));
      }
    } else {
      return DataLoss("LUKS2 metadata: config.requirements: not an object");
    }
    if (!mandatory.empty()) {
      std::string names;
      for (const auto& n : mandatory) names += (names.empty() ? "" : ", ") + n;
      return Unimplemented("LUKS2 requirement not supported: " + names +
                           " (e.g. a reencryption in progress)");
    }
  }

  // keyslots
  const json::object& keyslots = *VEIL_TRY_VALUE(ObjectField(top, "keyslots", ""));
  std::map<uint32_t, KeyslotInfo> slots;
  for (const auto& kv : keyslots) {
    const std::string name(kv.key().data(), kv.key().size());
    const std::string path = "keyslots." + (IsDisplayable(name) ? name : "?");
    const uint32_t id = VEIL_TRY_VALUE(ParseId(name, path, kLuks2MaxKeyslots));
    if (!kv.value().is_object()) return tl::unexpected(Bad(path, "not an object"));
    if (slots.count(id) != 0) return tl::unexpected(Bad(path, "duplicate keyslot id"));
    slots[id] = VEIL_TRY_VALUE(
        ParseKeyslot(id, kv.value().get_object(), path, area_begin, info.metadata_end_bytes));
  }
  std::vector<const KeyslotInfo*> by_offset;
  for (const auto& [id, s] : slots) by_offset.push_back(&s);
  std::sort(by_offset.begin(), by_offset.end(), [](const KeyslotInfo* x, const KeyslotInfo* y) {
    return x->area_offset < y->area_offset;
  });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    if (by_offset[i - 1]->area_offset + by_offset[i - 1]->area_size > by_offset[i]->area_offset) {
      return DataLoss("LUKS2 keyslots " + std::to_string(by_offset[i - 1]->id) + " and " +
                      std::to_string(by_offset[i]->id) + ": areas overlap");
    }
  }

  // segments: exactly one crypt segment.
  const json::object& segments = *VEIL_TRY_VALUE(ObjectField(top, "segments", ""));
  if (segments.size() != 1) {
    return Unimplemented("LUKS2 header with " + std::to_string(segments.size()) +
                         " data segments (Veil reads exactly one; reencryption in progress?)");
  }
  const auto& seg_kv = *segments.begin();
  const std::string seg_name(seg_kv.key().data(), seg_kv.key().size());
  const std::string seg_path = "segments." + (IsDisplayable(seg_name) ? seg_name : "?");
  const uint32_t segment_id = VEIL_TRY_VALUE(ParseId(seg_name, seg_path, kMaxObjects));
  if (!seg_kv.value().is_object()) return tl::unexpected(Bad(seg_path, "not an object"));
  const json::object& seg = seg_kv.value().get_object();
  const std::string seg_type = VEIL_TRY_VALUE(StringField(seg, "type", seg_path));
  if (seg_type != "crypt") {
    return Unimplemented("LUKS2 data segment of type '" + seg_type + "' (Veil reads \"crypt\")");
  }
  if (seg.contains("integrity")) {
    return Unimplemented("LUKS2 data segment with integrity protection is not supported");
  }
  Layout& layout = info.layout;
  layout.version = Version::kLuks2;
  layout.uuid = header.uuid;
  layout.payload_offset_bytes = VEIL_TRY_VALUE(U64Field(seg, "offset", seg_path));
  layout.iv_tweak = VEIL_TRY_VALUE(U64Field(seg, "iv_tweak", seg_path));
  layout.cipher_spec = VEIL_TRY_VALUE(StringField(seg, "encryption", seg_path));
  const uint64_t sector_size = VEIL_TRY_VALUE(IntField(seg, "sector_size", seg_path));
  if (sector_size != 512 && sector_size != 1024 && sector_size != 2048 && sector_size != 4096) {
    return tl::unexpected(Bad(seg_path + ".sector_size", "not 512, 1024, 2048 or 4096"));
  }
  layout.sector_size = static_cast<uint32_t>(sector_size);
  const std::string size_text = VEIL_TRY_VALUE(StringField(seg, "size", seg_path));
  if (size_text != "dynamic") {
    const uint64_t size = VEIL_TRY_VALUE(ParseU64(size_text, seg_path + ".size"));
    if (size % sector_size != 0) {
      return tl::unexpected(Bad(seg_path + ".size", "not a multiple of the sector size"));
    }
    layout.payload_size_bytes = size;
  }
  if (layout.payload_offset_bytes % kIvUnitBytes != 0) {
    return tl::unexpected(Bad(seg_path + ".offset", "not a multiple of 512"));
  }
  // Offset 0 is a detached header (the data live elsewhere); otherwise the data must start after
  // the keyslots area.
  if (layout.payload_offset_bytes != 0 && layout.payload_offset_bytes < info.metadata_end_bytes) {
    return DataLoss("LUKS2 data segment at " + std::to_string(layout.payload_offset_bytes) +
                    " overlaps the metadata and keyslots area (ends at " +
                    std::to_string(info.metadata_end_bytes) + ")");
  }
  if (layout.payload_size_bytes &&
      *layout.payload_size_bytes > UINT64_MAX - layout.payload_offset_bytes) {
    return tl::unexpected(Bad(seg_path + ".size", "out of range"));
  }

  // digests
  const json::object& digests = *VEIL_TRY_VALUE(ObjectField(top, "digests", ""));
  std::optional<uint32_t> segment_digest;
  for (const auto& kv : digests) {
    const std::string name(kv.key().data(), kv.key().size());
    const std::string path = "digests." + (IsDisplayable(name) ? name : "?");
    DigestInfo d;
    d.id = VEIL_TRY_VALUE(ParseId(name, path, kMaxObjects));
    if (!kv.value().is_object()) return tl::unexpected(Bad(path, "not an object"));
    const json::object& dobj = kv.value().get_object();
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
    for (uint32_t k : d.keyslots) {
      auto it = slots.find(k);
      if (it == slots.end()) return tl::unexpected(Bad(path, "names a keyslot that is absent"));
      if (it->second.digest) {
        return tl::unexpected(Bad(path, "keyslot " + std::to_string(k) + " has two digests"));
      }
      it->second.digest = d.id;
    }
    for (uint32_t s : d.segments) {
      if (s != segment_id) return tl::unexpected(Bad(path, "names a segment that is absent"));
      if (segment_digest) return tl::unexpected(Bad(path, "the segment has two digests"));
      segment_digest = d.id;
    }
    info.digests.push_back(std::move(d));
  }

  // tokens: only their shape and their keyslot references are checked.
  const json::object& tokens = *VEIL_TRY_VALUE(ObjectField(top, "tokens", ""));
  for (const auto& kv : tokens) {
    const std::string name(kv.key().data(), kv.key().size());
    const std::string path = "tokens." + (IsDisplayable(name) ? name : "?");
    (void)VEIL_TRY_VALUE(ParseId(name, path, kLuks2MaxKeyslots));
    if (!kv.value().is_object()) return tl::unexpected(Bad(path, "not an object"));
    (void)VEIL_TRY_VALUE(StringField(kv.value().get_object(), "type", path));
    for (uint32_t k : VEIL_TRY_VALUE(IdArray(kv.value().get_object(), "keyslots", path, 32))) {
      if (slots.count(k) == 0) {
        return tl::unexpected(Bad(path, "names a keyslot that is absent"));
      }
    }
  }

  // The volume key size: that of the keyslots whose digest is bound to the segment.
  for (const auto& [id, s] : slots) {
    if (!segment_digest || s.digest != segment_digest) continue;
    if (layout.key_bytes != 0 && layout.key_bytes != s.key_bytes) {
      return DataLoss("LUKS2 keyslots of the data segment disagree on the key size");
    }
    layout.key_bytes = s.key_bytes;
  }
  for (auto& [id, s] : slots) info.keyslots.push_back(std::move(s));
  return info;
}

}  // namespace veil::luks
