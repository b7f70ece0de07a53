#include "http/body.h"

#include <algorithm>
#include <cstring>
#include <memory>

namespace veil::http {

Result<std::string> BodyReader::ReadAll(size_t limit) {
  std::string out;
  // Steps grow from 512 bytes to 64 KiB: most bodies are small, and each step is zero-filled
  // first (512 bytes also stays below glibc's large-request path).
  constexpr size_t kFirstStep = 512;
  constexpr size_t kMaxStep = 64 * 1024;
  for (;;) {
    size_t old = out.size();
    // Read one byte past the limit so that a body of exactly `limit` bytes is accepted.
    size_t room = limit - old;
    size_t step = std::clamp(old, kFirstStep, kMaxStep);
    size_t want = room >= step ? step : room + 1;
    out.resize(old + want);
    auto n = Read(std::span<char>(out.data() + old, want));
    if (!n) {
      out.clear();
      return tl::unexpected(n.error());
    }
    out.resize(old + *n);
    if (*n == 0) return out;
    if (out.size() > limit) {
      Error error(ErrorCode::kResourceExhausted,
                  "request body exceeds the limit of " + std::to_string(limit) + " bytes");
      SetFailure(error, 413);
      return tl::unexpected(std::move(error));
    }
  }
}

Result<size_t> StringBodyReader::Read(std::span<char> out) {
  if (out.empty()) return InvalidArgument("BodyReader::Read needs a non-empty buffer");
  size_t n = std::min(out.size(), data_.size() - offset_);
  if (n > 0) std::memcpy(out.data(), data_.data() + offset_, n);
  offset_ += n;
  return n;
}

BodySource StringSource(std::string data) {
  auto state = std::make_shared<std::pair<std::string, size_t>>(std::move(data), 0);
  return [state](std::span<char> out) -> Result<size_t> {
    auto& [d, off] = *state;
    size_t n = std::min(out.size(), d.size() - off);
    if (n > 0) std::memcpy(out.data(), d.data() + off, n);
    off += n;
    return n;
  };
}

}  // namespace veil::http
