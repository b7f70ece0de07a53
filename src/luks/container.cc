#include "luks/container.h"

#include <libcryptsetup.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/bytes.h"
#include "luks/inspect.h"
#include "luks/internal/cryptsetup.h"
#include "luks/internal/parse_header.h"
#include "luks/sector_cipher.h"

namespace veil::luks {
namespace {

using internal::CryptDevice;
using internal::MemFile;

constexpr uint64_t kSector = 512;
constexpr uint64_t kDefaultLuks2Offset = uint64_t{16} << 20;
constexpr uint64_t kSlack = uint64_t{1} << 20;

Status CheckPassphrase(std::span<const uint8_t> passphrase) {
  if (passphrase.empty()) return InvalidArgument("the passphrase is empty");
  if (passphrase.size() > kMaxPassphraseBytes) {
    return InvalidArgument("the passphrase is longer than 8 MiB");
  }
  return OkStatus();
}

ErrorCode CodeOf(int r) {
  switch (-r) {
    case EINVAL:
      return ErrorCode::kInvalidArgument;
    case ENOMEM:
      return ErrorCode::kResourceExhausted;
    default:
      return ErrorCode::kInternal;
  }
}

std::string PbkdfType(const CreateOptions& o) {
  if (!o.pbkdf.type.empty()) return o.pbkdf.type;
  return o.version == Version::kLuks1 ? CRYPT_KDF_PBKDF2 : CRYPT_KDF_ARGON2ID;
}

Status ValidateCreate(const CreateOptions& o, const SecretBytes& volume_key,
                      std::span<const uint8_t> passphrase) {
  VEIL_TRY(CheckPassphrase(passphrase));
  if (o.cipher != "aes" || o.mode != "xts-plain64") {
    return Unimplemented("Veil writes aes-xts-plain64 only, not " + o.cipher + "-" + o.mode);
  }
  if (o.key_bytes != 32 && o.key_bytes != 64) {
    return InvalidArgument("AES-XTS keys are 256 or 512 bits");
  }
  if (volume_key.size() != o.key_bytes) {
    return InvalidArgument("the volume key is " + std::to_string(volume_key.size() * 8) +
                           " bits, the options say " + std::to_string(o.key_bytes * 8));
  }
  const std::string type = PbkdfType(o);
  if (type != CRYPT_KDF_PBKDF2 && type != CRYPT_KDF_ARGON2I && type != CRYPT_KDF_ARGON2ID) {
    return InvalidArgument("PBKDF '" + type + "' (use pbkdf2, argon2id or argon2i)");
  }
  const uint32_t ss = o.sector_size;
  if (o.version == Version::kLuks1) {
    if (type != CRYPT_KDF_PBKDF2) return InvalidArgument("LUKS1 keyslots use pbkdf2 only");
    if (ss != 512) return InvalidArgument("LUKS1 sectors are 512 bytes");
    if (!o.label.empty()) return InvalidArgument("LUKS1 headers have no label");
  } else if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096) {
    return InvalidArgument("LUKS2 sector size must be 512, 1024, 2048 or 4096");
  }
  if (o.data_offset_bytes % kSector != 0 || o.data_offset_bytes % ss != 0) {
    return InvalidArgument("the data offset must be a multiple of the sector size");
  }
  if (o.pbkdf.iterations && *o.pbkdf.iterations == 0) {
    return InvalidArgument("PBKDF iterations must be positive");
  }
  return OkStatus();
}

}  // namespace

Result<SecretBytes> GenerateVolumeKey(Random& random, size_t key_bytes) {
  if (key_bytes != 32 && key_bytes != 64) {
    return InvalidArgument("volume keys are 256 or 512 bits (AES-XTS)");
  }
  // XTS refuses a key whose halves are equal; with a working CSPRNG this never repeats.
  for (int attempt = 0; attempt < 4; ++attempt) {
    SecretBytes key = random.Secret(key_bytes);
    const auto k = key.Reveal();
    if (CRYPTO_memcmp(k.data(), k.data() + key_bytes / 2, key_bytes / 2) != 0) return key;
  }
  return Internal("the random generator returned keys with equal halves");
}

Result<HeaderBlob> CreateHeader(const CreateOptions& o, const SecretBytes& volume_key,
                                std::span<const uint8_t> passphrase) {
  VEIL_TRY(ValidateCreate(o, volume_key, passphrase));
  const std::string type = PbkdfType(o);
  const bool argon2 = type != CRYPT_KDF_PBKDF2;

  MemFile file = VEIL_TRY_VALUE(MemFile::Create());
  // libcryptsetup wants a device big enough for its default layout plus some data; the memfd is
  // sparse, so only the pages it writes cost memory.
  VEIL_TRY(file.Resize(std::max<uint64_t>(o.data_offset_bytes, kDefaultLuks2Offset) + kSlack));
  uint64_t payload_offset = 0;
  {
    CryptDevice dev = VEIL_TRY_VALUE(CryptDevice::Init(file.path()));
    crypt_pbkdf_type pbkdf{};
    pbkdf.type = type.c_str();
    pbkdf.hash = o.pbkdf.hash.c_str();
    if (o.pbkdf.iterations) {
      pbkdf.iterations = *o.pbkdf.iterations;
      pbkdf.flags = CRYPT_PBKDF_NO_BENCHMARK;
    } else {
      pbkdf.time_ms = o.pbkdf.iter_time_ms;
    }
    if (argon2) {
      pbkdf.max_memory_kb = o.pbkdf.memory_kib;
      pbkdf.parallel_threads = o.pbkdf.parallel;
    }
    int r = crypt_set_pbkdf_type(dev.get(), &pbkdf);
    if (r < 0) return tl::unexpected(dev.Failure(CodeOf(r), "PBKDF options", r));
    if (o.data_offset_bytes != 0) {
      r = crypt_set_data_offset(dev.get(), o.data_offset_bytes / kSector);
      if (r < 0) return tl::unexpected(dev.Failure(CodeOf(r), "data offset", r));
    }
    const char* uuid = o.uuid.empty() ? nullptr : o.uuid.c_str();
    const auto key = volume_key.Reveal();
    const char* key_chars = reinterpret_cast<const char*>(key.data());
    if (o.version == Version::kLuks1) {
      crypt_params_luks1 params{};
      params.hash = o.pbkdf.hash.c_str();
      r = crypt_format(dev.get(), CRYPT_LUKS1, o.cipher.c_str(), o.mode.c_str(), uuid, key_chars,
                       key.size(), &params);
    } else {
      crypt_params_luks2 params{};
      params.pbkdf = &pbkdf;
      params.sector_size = o.sector_size;
      params.label = o.label.empty() ? nullptr : o.label.c_str();
      r = crypt_format(dev.get(), CRYPT_LUKS2, o.cipher.c_str(), o.mode.c_str(), uuid, key_chars,
                       key.size(), &params);
    }
    if (r < 0) return tl::unexpected(dev.Failure(CodeOf(r), "format LUKS header", r));
    r = crypt_set_pbkdf_type(dev.get(), &pbkdf);
    if (r < 0) return tl::unexpected(dev.Failure(CodeOf(r), "PBKDF options", r));
    const std::string_view pass = AsStringView(passphrase);
    r = crypt_keyslot_add_by_volume_key(dev.get(), 0, key_chars, key.size(), pass.data(),
                                        pass.size());
    if (r < 0) return tl::unexpected(dev.Failure(CodeOf(r), "add keyslot", r));
    payload_offset = crypt_get_data_offset(dev.get()) * kSector;
  }  // crypt_free: everything libcryptsetup wrote is in the memfd.

  if (VEIL_TRY_VALUE(file.Size()) < payload_offset) {
    return Internal("libcryptsetup placed the payload past the end of its device");
  }
  HeaderBlob blob;
  blob.bytes = VEIL_TRY_VALUE(file.Read(0, static_cast<size_t>(payload_offset)));

  // Veil's own parser must accept what libcryptsetup wrote, and agree with what was asked.
  auto info = Inspect(blob.bytes);
  if (!info) return tl::unexpected(info.error().Wrap("Veil cannot parse the header it created"));
  VEIL_TRY(CheckContainerSize(*info, blob.bytes.size()));
  const Layout& l = info->layout;
  if (l.cipher_spec != o.cipher + "-" + o.mode || l.key_bytes != o.key_bytes ||
      l.sector_size != o.sector_size || l.payload_offset_bytes != payload_offset ||
      l.version != o.version) {
    return Internal("the created LUKS header does not match the options");
  }
  blob.layout = l;
  return blob;
}

Result<OpenedVolume> OpenVolumeKey(std::span<const uint8_t> header_bytes,
                                   std::span<const uint8_t> passphrase, const OpenLimits& limits) {
  VEIL_TRY(CheckPassphrase(passphrase));
  // 1. Veil's parser, on the very bytes libcryptsetup will see.
  const ParsedHeader parsed = VEIL_TRY_VALUE(internal::ParseHeader(header_bytes));
  const HeaderInfo& info = parsed.info;
  const Layout& layout = info.layout;
  if (header_bytes.size() < info.metadata_end_bytes) {
    return DataLoss("truncated LUKS header: metadata and keyslot areas need " +
                    std::to_string(info.metadata_end_bytes) + " bytes, " +
                    std::to_string(header_bytes.size()) + " present");
  }
  if (info.metadata_end_bytes > kMaxMetadataBytes) {
    return DataLoss("LUKS metadata and keyslots span more than Veil reads");
  }
  // 2. A key Veil could not use is not worth a PBKDF.
  VEIL_TRY(SectorCipher::CheckSupported(layout.cipher_spec, layout.key_bytes));

  // 3. The keyslots to try, in cryptsetup's order (priority high, then normal), within limits.
  const KeyslotChoice choice = ChooseKeyslots(info, limits);
  const std::vector<uint32_t>& candidates = choice.slots;
  const std::optional<Error>& refused = choice.refused;
  if (candidates.empty()) {
    if (refused) return tl::unexpected(*refused);
    return FailedPrecondition("no active keyslot protects the data segment");
  }

  // 4. libcryptsetup, on a private copy holding only the metadata Veil validated.
  MemFile file = VEIL_TRY_VALUE(MemFile::Create());
  VEIL_TRY(file.Write(header_bytes.first(static_cast<size_t>(info.metadata_end_bytes)), 0));
  if (parsed.unused_copy) {
    const auto [from, to] = *parsed.unused_copy;
    VEIL_TRY(file.Write(std::vector<uint8_t>(static_cast<size_t>(to - from), 0), from));
  }
  CryptDevice dev = VEIL_TRY_VALUE(CryptDevice::Init(file.path()));
  int r =
      crypt_load(dev.get(), info.version == Version::kLuks1 ? CRYPT_LUKS1 : CRYPT_LUKS2, nullptr);
  if (r < 0) {
    return tl::unexpected(dev.Failure(ErrorCode::kDataLoss, "libcryptsetup refused the header", r));
  }
  const char* cipher = crypt_get_cipher(dev.get());
  const char* mode = crypt_get_cipher_mode(dev.get());
  const std::string spec = std::string(cipher ? cipher : "") + "-" + (mode ? mode : "");
  // Not the IV tweak: crypt_get_iv_offset is 0 for every LUKS header (libcryptsetup 2.6 reports
  // only plain, loop-AES and TrueCrypt offsets), whatever the segment's iv_tweak.
  if (spec != layout.cipher_spec ||
      static_cast<size_t>(crypt_get_volume_key_size(dev.get())) != layout.key_bytes ||
      crypt_get_data_offset(dev.get()) * kSector != layout.payload_offset_bytes ||
      (info.version == Version::kLuks2 &&
       static_cast<uint32_t>(crypt_get_sector_size(dev.get())) != layout.sector_size)) {
    return Internal("Veil's LUKS parser and libcryptsetup disagree about this header");
  }

  // 5. Only now: key derivation, one permitted keyslot at a time.
  SecretBytes key(layout.key_bytes);
  const std::string_view pass = AsStringView(passphrase);
  for (uint32_t slot : candidates) {
    size_t size = key.size();
    dev.ClearErrors();
    r = crypt_volume_key_get(dev.get(), static_cast<int>(slot),
                             reinterpret_cast<char*>(key.RevealMutable().data()), &size,
                             pass.data(), pass.size());
    if (r >= 0 && size == layout.key_bytes) {
      return OpenedVolume{std::move(key), layout, slot};
    }
    if (r == -EPERM || r == -ENOENT) continue;
    if (r == -ENOMEM) {
      return tl::unexpected(dev.Failure(ErrorCode::kResourceExhausted, "key derivation", r));
    }
    return tl::unexpected(dev.Failure(ErrorCode::kInternal, "key derivation", r));
  }
  std::string message = "no keyslot opens with this passphrase";
  if (refused) message += " (other keyslots were not tried: " + refused->message + ")";
  return PermissionDenied(message);
}

Result<OpenedVolume> OpenVolumeKey(const std::string& path, std::span<const uint8_t> passphrase,
                                   const OpenLimits& limits) {
  VEIL_TRY(CheckPassphrase(passphrase));
  const MetadataRegion region = VEIL_TRY_VALUE(ReadMetadataRegion(path));
  const HeaderInfo info = VEIL_TRY_VALUE(Inspect(region.bytes));
  VEIL_TRY(CheckContainerSize(info, region.file_size));
  return OpenVolumeKey(std::span<const uint8_t>(region.bytes), passphrase, limits);
}

}  // namespace veil::luks
