#include "common/uuid.h"

#include "common/encoding.h"

namespace veil {
namespace {

bool IsHyphenOffset(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int HexValue(char c, bool allow_upper) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (allow_upper && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseInto(std::string_view text, bool allow_upper, Uuid* out) {
  if (text.size() != 36) return false;
  size_t b = 0;
  for (size_t i = 0; i < 36;) {
    if (IsHyphenOffset(i)) {
      if (text[i] != '-') return false;
      ++i;
      continue;
    }
    int hi = HexValue(text[i], allow_upper);
    int lo = HexValue(text[i + 1], allow_upper);
    if (hi < 0 || lo < 0) return false;
    out->bytes[b++] = static_cast<uint8_t>((hi << 4) | lo);
    i += 2;
  }
  return true;
}

}  // namespace

Result<Uuid> Uuid::Parse(std::string_view text) {
  Uuid uuid;
  if (!ParseInto(text, /*allow_upper=*/true, &uuid)) {
    return InvalidArgument("not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
  }
  return uuid;
}

std::string Uuid::ToString() const {
  std::string out;
  out.reserve(36);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    AppendHex(&out, bytes[i]);
  }
  return out;
}

Uuid NewUuidV4(Random& random) {
  Uuid uuid;
  random.Fill(uuid.bytes);
  uuid.bytes[6] = static_cast<uint8_t>((uuid.bytes[6] & 0x0f) | 0x40);
  uuid.bytes[8] = static_cast<uint8_t>((uuid.bytes[8] & 0x3f) | 0x80);
  return uuid;
}

std::string NewUuidV4String(Random& random) { return NewUuidV4(random).ToString(); }

bool IsUuidV4(std::string_view text) {
  Uuid uuid;
  return ParseInto(text, /*allow_upper=*/false, &uuid) && uuid.version() == 4 &&
         uuid.is_rfc_variant();
}

}  // namespace veil
