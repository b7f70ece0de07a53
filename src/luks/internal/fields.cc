#include "luks/internal/fields.h"

#include <algorithm>

namespace veil::luks::internal {

bool IsDisplayable(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 && u != 0x7f;
  });
}

bool AllZero(std::span<const uint8_t> b, size_t at, size_t size) {
  const auto field = b.subspan(at, size);
  return std::all_of(field.begin(), field.end(), [](uint8_t v) { return v == 0; });
}

Result<std::string> FixedString(std::span<const uint8_t> b, size_t at, size_t size,
                                std::string_view field, bool zero_tail) {
  const auto bytes = b.subspan(at, size);
  const auto nul = std::find(bytes.begin(), bytes.end(), uint8_t{0});
  if (nul == bytes.end()) {
    return DataLoss(std::string(field) + " is not NUL-terminated");
  }
  std::string text(bytes.begin(), nul);
  if (!IsDisplayable(text)) {
    return DataLoss(std::string(field) + " contains control characters");
  }
  if (zero_tail && !std::all_of(nul, bytes.end(), [](uint8_t v) { return v == 0; })) {
    return DataLoss(std::string(field) + " has non-zero bytes after its terminating NUL");
  }
  return text;
}

}  // namespace veil::luks::internal
