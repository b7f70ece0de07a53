#include "luks/limits.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace veil::luks {
namespace {

std::string Over(const std::string& who, std::string_view what, uint64_t value,
                 std::string_view unit, uint64_t limit) {
  return who + ": " + std::string(what) + " " + std::to_string(value) + std::string(unit) +
         " is over the limit of " + std::to_string(limit) + std::string(unit);
}

}  // namespace

Status CheckKeyslotCost(const KeyslotInfo& keyslot, const OpenLimits& limits) {
  const std::string who = "keyslot " + std::to_string(keyslot.id);
  const KdfInfo& kdf = keyslot.kdf;
  if (kdf.type == "pbkdf2") {
    if (kdf.iterations > limits.pbkdf2_max_iterations) {
      return ResourceExhausted(
          Over(who, "PBKDF2 iterations", kdf.iterations, "", limits.pbkdf2_max_iterations));
    }
    return OkStatus();
  }
  if (kdf.type == "argon2i" || kdf.type == "argon2id") {
    if (kdf.memory_kib > limits.argon2_max_memory_kib) {
      return ResourceExhausted(
          Over(who, "Argon2 memory cost", kdf.memory_kib, " KiB", limits.argon2_max_memory_kib));
    }
    if (kdf.time > limits.argon2_max_time) {
      return ResourceExhausted(
          Over(who, "Argon2 time cost", kdf.time, " passes", limits.argon2_max_time));
    }
    if (kdf.parallel > limits.argon2_max_parallel) {
      return ResourceExhausted(
          Over(who, "Argon2 parallel cost", kdf.parallel, " lanes", limits.argon2_max_parallel));
    }
    // time <= max_time and memory <= max_memory keep the product far from overflowing.
    const uint64_t work = kdf.time * kdf.memory_kib;
    if (work > limits.argon2_max_work_kib) {
      return ResourceExhausted(
          Over(who, "Argon2 work (time x memory)", work, " KiB", limits.argon2_max_work_kib));
    }
    return OkStatus();
  }
  return Unimplemented(who + ": key derivation '" + kdf.type + "' is not supported");
}

Status CheckDigestCost(const DigestInfo& digest, const OpenLimits& limits) {
  const std::string who = "digest " + std::to_string(digest.id);
  if (digest.type != "pbkdf2") {
    return Unimplemented(who + ": digest type '" + digest.type + "' is not supported");
  }
  if (digest.iterations > limits.pbkdf2_max_iterations) {
    return ResourceExhausted(
        Over(who, "PBKDF2 iterations", digest.iterations, "", limits.pbkdf2_max_iterations));
  }
  return OkStatus();
}

namespace {

// A keyslot's cost with its digest, as a fraction of the limits (1.0: one keyslot at the limit).
double Work(const KdfInfo& kdf, const DigestInfo& digest, const OpenLimits& limits) {
  const double pbkdf2 = static_cast<double>(std::max<uint64_t>(limits.pbkdf2_max_iterations, 1));
  const double argon2 = static_cast<double>(std::max<uint64_t>(limits.argon2_max_work_kib, 1));
  const double kdf_work = kdf.type == "pbkdf2"
                              ? static_cast<double>(kdf.iterations) / pbkdf2
                              : static_cast<double>(kdf.time * kdf.memory_kib) / argon2;
  return kdf_work + static_cast<double>(digest.iterations) / pbkdf2;
}

}  // namespace

KeyslotChoice ChooseKeyslots(const HeaderInfo& info, const OpenLimits& limits) {
  const DigestInfo* digest = nullptr;
  for (const auto& d : info.digests) {
    if (!d.segments.empty()) digest = &d;
  }
  KeyslotChoice choice;
  if (digest == nullptr) return choice;
  double spent = 0;
  for (const char* priority : {"high", "normal"}) {
    for (const KeyslotInfo& s : info.keyslots) {
      if (s.priority != priority || s.state != KeyslotState::kActive ||
          (s.type != "luks1" && s.type != "luks2") || s.digest != digest->id) {
        continue;
      }
      Status cost = CheckKeyslotCost(s, limits);
      if (cost) cost = CheckDigestCost(*digest, limits);
      // Within each limit, so every term is at most 1 and the sum cannot overflow.
      const double work = cost ? Work(s.kdf, *digest, limits) : 0;
      if (cost && spent + work > limits.total_work) {
        char total[32];
        std::snprintf(total, sizeof total, "%g", limits.total_work);
        cost = ResourceExhausted("keyslot " + std::to_string(s.id) +
                                 ": not tried, the keyslots before it take the key-derivation "
                                 "work allowed for one passphrase (" +
                                 total + " keyslots at the limits)");
      }
      if (!cost) {
        if (!choice.refused) choice.refused = cost.error();
        continue;
      }
      spent += work;
      choice.slots.push_back(s.id);
    }
  }
  return choice;
}

Status CheckContainerSize(const HeaderInfo& info, uint64_t size_bytes) {
  const std::string have = " bytes, the container has " + std::to_string(size_bytes) + ")";
  if (info.metadata_end_bytes > size_bytes) {
    return DataLoss("truncated LUKS container: its metadata and keyslot areas end past the end (" +
                    std::to_string(info.metadata_end_bytes) + have);
  }
  const Layout& l = info.layout;
  if (l.payload_offset_bytes > size_bytes) {
    return DataLoss("truncated LUKS container: its payload starts past the end (" +
                    std::to_string(l.payload_offset_bytes) + have);
  }
  if (l.payload_size_bytes && *l.payload_size_bytes > size_bytes - l.payload_offset_bytes) {
    // The header is whole; the image is shorter than the payload it describes.
    return OutOfRange("truncated LUKS container: its payload ends past the end (" +
                      std::to_string(l.payload_offset_bytes + *l.payload_size_bytes) + have);
  }
  return OkStatus();
}

}  // namespace veil::luks
