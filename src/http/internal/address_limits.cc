#include "http/internal/address_limits.h"

#include <cstdio>
#include <cstring>
#include <utility>

namespace veil::http::internal {

std::string LimitKey(const unsigned char* b, size_t size) {
  static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (size == 16 && std::memcmp(b, kMapped, sizeof kMapped) == 0) {
    b += 12;
    size = 4;
  }
  char out[48];
  if (size == 4) {
    std::snprintf(out, sizeof out, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  } else if (size == 16) {
    std::snprintf(out, sizeof out, "%x:%x:%x:%x::/64", (b[0] << 8) | b[1], (b[2] << 8) | b[3],
                  (b[4] << 8) | b[5], (b[6] << 8) | b[7]);
  } else {
    return "?";
  }
  return out;
}

AddressLimits::AddressLimits(size_t max_connections, size_t max_requests)
    : max_connections_(max_connections), max_requests_(max_requests) {}

AddressLimits::Ticket::Ticket(AddressLimits* limits, std::string address, Kind kind)
    : limits_(limits), address_(std::move(address)), kind_(kind) {}

AddressLimits::Ticket::Ticket(Ticket&& other) noexcept
    : limits_(std::exchange(other.limits_, nullptr)),
      address_(std::move(other.address_)),
      kind_(other.kind_) {}

AddressLimits::Ticket& AddressLimits::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    limits_ = std::exchange(other.limits_, nullptr);
    address_ = std::move(other.address_);
    kind_ = other.kind_;
  }
  return *this;
}

AddressLimits::Ticket::~Ticket() { Release(); }

void AddressLimits::Ticket::Release() {
  if (limits_ != nullptr) limits_->Release(address_, kind_);
  limits_ = nullptr;
}

std::optional<AddressLimits::Ticket> AddressLimits::TryAcquire(const std::string& address,
                                                               Kind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  Counts& c = counts_[address];
  size_t& n = kind == Kind::kConnection ? c.connections : c.requests;
  const size_t cap = kind == Kind::kConnection ? max_connections_ : max_requests_;
  if (cap != 0 && n >= cap) {
    if (c.connections == 0 && c.requests == 0) counts_.erase(address);
    return std::nullopt;
  }
  ++n;
  return Ticket(this, address, kind);
}

size_t AddressLimits::count(const std::string& address, Kind kind) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(address);
  if (it == counts_.end()) return 0;
  return kind == Kind::kConnection ? it->second.connections : it->second.requests;
}

void AddressLimits::Release(const std::string& address, Kind kind) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = counts_.find(address);
  if (it == counts_.end()) return;
  size_t& n = kind == Kind::kConnection ? it->second.connections : it->second.requests;
  if (n > 0) --n;
  if (it->second.connections == 0 && it->second.requests == 0) counts_.erase(it);
}

}  // namespace veil::http::internal
