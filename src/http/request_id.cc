#include "http/request_id.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <span>

#include "common/random.h"
#include "common/uuid.h"

namespace veil::http {

namespace {

// OsRandom's bytes, drawn 4 KiB at a time per thread: a request takes up to three ids, and one
// RAND_bytes call per 256 of them keeps the generator off the request path. Refilling goes
// through OsRandom, so a failing generator aborts the process rather than weaken the ids.
class BufferedOsRandom final : public Random {
 public:
  void Fill(std::span<uint8_t> out) override {
    while (!out.empty()) {
      if (pos_ == buf_.size()) {
        os_.Fill(buf_);
        pos_ = 0;
      }
      const size_t take = std::min(out.size(), buf_.size() - pos_);
      std::memcpy(out.data(), buf_.data() + pos_, take);
      pos_ += take;
      out = out.subspan(take);
    }
  }

 private:
  OsRandom os_;
  std::array<uint8_t, 4096> buf_{};
  size_t pos_ = buf_.size();
};

}  // namespace

std::string NewRequestId() {
  thread_local BufferedOsRandom random;
  return NewUuidV4String(random);
}

std::optional<std::string> ValidCorrelationId(std::string_view value) {
  if (value.empty() || value.size() > 128) return std::nullopt;
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return std::nullopt;
  }
  return std::string(value);
}

}  // namespace veil::http
