#include "image_json.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace veil::cli {

namespace {

namespace json = boost::json;

json::array Ids(const std::vector<uint32_t>& ids) {
  json::array a;
  for (uint32_t id : ids) a.emplace_back(id);
  return a;
}

json::object KdfJson(const luks::KdfInfo& kdf) {
  json::object o;
  o["type"] = kdf.type;
  if (kdf.type == "pbkdf2") {
    o["hash"] = kdf.hash;
    o["iterations"] = kdf.iterations;
  } else if (kdf.type == "argon2i" || kdf.type == "argon2id") {
    o["time"] = kdf.time;
    o["memory_kib"] = kdf.memory_kib;
    o["parallel"] = kdf.parallel;
  }
  o["salt_bytes"] = kdf.salt_bytes;
  return o;
}

}  // namespace

std::string HeaderInfoToJson(const luks::HeaderInfo& info) {
  json::object o;
  const luks::Layout& l = info.layout;
  o["version"] = luks::VersionName(info.version);
  o["uuid"] = l.uuid;
  o["cipher"] = l.cipher_spec;
  o["key_bits"] = l.key_bytes * 8;
  o["sector_size"] = l.sector_size;
  o["payload_offset"] = l.payload_offset_bytes;
  o["iv_tweak"] = l.iv_tweak;
  if (l.payload_size_bytes) {
    o["payload_size"] = *l.payload_size_bytes;
  } else {
    o["payload_size"] = "dynamic";
  }
  if (info.version == luks::Version::kLuks1) {
    o["hash_spec"] = info.hash_spec;
  } else {
    o["label"] = info.label;
    o["subsystem"] = info.subsystem;
    o["seqid"] = info.seqid;
    json::array flags;
    for (const auto& f : info.flags) flags.emplace_back(json::string_view(f));
    o["flags"] = std::move(flags);
  }
  o["header_size"] = info.header_size_bytes;
  o["keyslots_area_size"] = info.keyslots_area_bytes;
  o["metadata_end"] = info.metadata_end_bytes;
  json::array slots;
  for (const auto& s : info.keyslots) {
    json::object k;
    k["id"] = s.id;
    k["state"] = s.state == luks::KeyslotState::kActive ? "active" : "inactive";
    k["type"] = s.type;
    k["key_bits"] = s.key_bytes * 8;
    k["priority"] = s.priority;
    k["kdf"] = KdfJson(s.kdf);
    k["af"] = json::object{{"type", s.af_type}, {"hash", s.af_hash}, {"stripes", s.af_stripes}};
    k["area"] = json::object{{"encryption", s.area_encryption},
                             {"key_bits", s.area_key_bytes * 8},
                             {"offset", s.area_offset},
                             {"size", s.area_size}};
    if (s.digest) k["digest"] = *s.digest;
    slots.emplace_back(std::move(k));
  }
  o["keyslots"] = std::move(slots);
  json::array digests;
  for (const auto& d : info.digests) {
    json::object j;
    j["id"] = d.id;
    j["type"] = d.type;
    j["hash"] = d.hash;
    j["iterations"] = d.iterations;
    j["keyslots"] = Ids(d.keyslots);
    j["segments"] = Ids(d.segments);
    digests.emplace_back(std::move(j));
  }
  o["digests"] = std::move(digests);
  json::array warnings;
  for (const auto& w : info.warnings) warnings.emplace_back(json::string_view(w));
  o["warnings"] = std::move(warnings);
  return json::serialize(o);
}

namespace {

json::value ImageInfoValue(const image::ImageInfo& info) {
  json::object o;
  o["path"] = info.path;
  o["container"] = info.container;
  o["container_detail"] = info.container_detail;
  o["file_size"] = info.file_size;
  o["virtual_size"] = info.virtual_size;
  o["encrypted"] = info.encrypted;
  if (info.luks) {
    o["luks"] = json::parse(HeaderInfoToJson(*info.luks));
  } else {
    o["luks"] = nullptr;
  }
  if (info.container == "qcow2" && info.encrypted)
    o["luks_header_offset"] = info.luks_header_offset;
  return o;
}

json::value TableValue(const disk::PartitionTable& t) {
  json::object o;
  o["kind"] = disk::TableKindName(t.kind);
  o["block_size"] = t.block_size;
  if (t.kind == disk::TableKind::kGpt) o["disk_guid"] = t.disk_guid;
  json::array parts;
  for (const disk::Partition& p : t.partitions) {
    json::object j;
    j["number"] = p.number;
    j["first_byte"] = p.first_byte;
    j["size_bytes"] = p.size_bytes;
    j["type"] = p.type;
    j["type_name"] = p.type_name;
    if (t.kind == disk::TableKind::kGpt) {
      j["name"] = p.name;
      j["guid"] = p.guid;
    }
    j["bootable"] = p.bootable;
    parts.push_back(std::move(j));
  }
  o["partitions"] = std::move(parts);
  json::array problems, warnings;
  for (const auto& s : t.problems) problems.emplace_back(json::string_view(s));
  for (const auto& s : t.warnings) warnings.emplace_back(json::string_view(s));
  o["problems"] = std::move(problems);
  o["warnings"] = std::move(warnings);
  return o;
}

}  // namespace

std::string ImageInfoToJson(const image::ImageInfo& info) {
  return json::serialize(ImageInfoValue(info));
}

std::string VerifyReportToJson(const image::VerifyReport& report) {
  json::object o;
  o["image"] = ImageInfoValue(report.image);
  o["keyslot"] = report.keyslot;
  o["looks_like_disk"] = report.looks_like_disk;
  o["partition_table"] = TableValue(report.table);
  return json::serialize(o);
}

}  // namespace veil::cli
