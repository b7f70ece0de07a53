#include "kms/wdek.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "common/encoding.h"
#include "common/uuid.h"

namespace veil::kms {
namespace {

constexpr std::string_view kAadLabel = "veil-kms-wdek/v1";

Error BadCiphertext(std::string_view why) {
  return Error(ErrorCode::kInvalidArgument,
               "the ciphertext is not a Veil KMS ciphertext: " + std::string(why));
}

}  // namespace

std::string FormatWdek(const Wdek& wdek) {
  // Built by hand to fix the key order and spacing byte for byte (docs/formats/wdek.md).
  std::string json = "{\"ciphertext\":\"" + Base64Encode(wdek.sealed) + "\",\"iv\":\"" +
                     Base64Encode(wdek.iv) + "\",\"version\":\"" + std::string(kWdekVersion) +
                     "\",\"handle\":\"" + wdek.handle + "\"}";
  return Base64Encode({reinterpret_cast<const uint8_t*>(json.data()), json.size()});
}

Result<Wdek> ParseWdek(std::string_view text) {
  if (text.empty()) return tl::unexpected(BadCiphertext("it is empty"));
  if (text.size() > kMaxWdekText) return tl::unexpected(BadCiphertext("it is too long"));
  auto raw = Base64Decode(text);
  if (!raw) return tl::unexpected(BadCiphertext("it is not base64"));
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(
      std::string_view(reinterpret_cast<const char*>(raw->data()), raw->size()), ec);
  if (ec || !v.is_object()) return tl::unexpected(BadCiphertext("it does not hold a JSON object"));
  const boost::json::object& o = v.get_object();
  auto text_field = [&](std::string_view name) -> Result<std::string> {
    const boost::json::value* f = o.if_contains(name);
    if (f == nullptr || !f->is_string()) {
      return tl::unexpected(BadCiphertext("the field " + std::string(name) + " is missing"));
    }
    return std::string(f->get_string());
  };
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    if (k != "ciphertext" && k != "iv" && k != "version" && k != "handle") {
      return tl::unexpected(BadCiphertext("unknown field " + std::string(k)));
    }
  }
  std::string version = VEIL_TRY_VALUE(text_field("version"));
  if (version != kWdekVersion) return tl::unexpected(BadCiphertext("unknown version"));
  Wdek wdek;
  wdek.handle = VEIL_TRY_VALUE(text_field("handle"));
  if (!IsUuidV4(wdek.handle))
    return tl::unexpected(BadCiphertext("the handle is not a key version"));
  auto sealed = Base64Decode(VEIL_TRY_VALUE(text_field("ciphertext")));
  if (!sealed || sealed->size() <= kWdekTagSize ||
      sealed->size() > kMaxWrapPlaintext + kWdekTagSize) {
    return tl::unexpected(BadCiphertext("the sealed key has a wrong length"));
  }
  auto iv = Base64Decode(VEIL_TRY_VALUE(text_field("iv")));
  if (!iv || iv->size() != kWdekIvSize)
    return tl::unexpected(BadCiphertext("the iv is not 12 bytes"));
  wdek.sealed = std::move(*sealed);
  wdek.iv = std::move(*iv);
  // One spelling per WDEK: the JSON above also reads other key orders, spaces, escapes
  // ("\u0069v") and repeated keys, none of which FormatWdek writes.
  if (FormatWdek(wdek) != text) return tl::unexpected(BadCiphertext("it is not in canonical form"));
  return wdek;
}

std::vector<uint8_t> WdekAad(std::string_view version_id, const std::vector<std::string>& aad) {
  std::vector<uint8_t> out;
  size_t total = kAadLabel.size() + version_id.size() + 2;
  for (const std::string& s : aad) total += 4 + s.size();
  out.reserve(total);
  out.insert(out.end(), kAadLabel.begin(), kAadLabel.end());
  out.push_back(0);
  out.insert(out.end(), version_id.begin(), version_id.end());
  out.push_back(0);
  for (const std::string& s : aad) {
    uint32_t n = static_cast<uint32_t>(s.size());
    out.push_back(static_cast<uint8_t>(n >> 24));
    out.push_back(static_cast<uint8_t>(n >> 16));
    out.push_back(static_cast<uint8_t>(n >> 8));
    out.push_back(static_cast<uint8_t>(n));
    out.insert(out.end(), s.begin(), s.end());
  }
  return out;
}

}  // namespace veil::kms
