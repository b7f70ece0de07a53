// AddressLimits: per client address, how many connections are open and how many requests hold or
// wait for a worker, across every listener of a Runtime. One address (one attacker) can then take
// at most its share of the sockets and of the worker pool, whatever it sends. Internal to
// src/http.
//
// Addresses are compared as the text LimitKey() makes of them: an IPv4 address as itself (also
// when it arrives IPv4-mapped), an IPv6 address as its /64, since one IPv6 host is usually given a
// whole /64 and could otherwise take a fresh address for every connection. Behind a proxy every
// client has the proxy's address: raise the caps there (docs/http.md).
//
// Thread-safety: every function is safe from any thread; a Ticket is released by its owner.
#pragma once

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace veil::http::internal {

// The key an address is counted under: "192.0.2.7" for IPv4 (and ::ffff:192.0.2.7), the /64 as
// "2001:db8:1:2::/64" for IPv6. `bytes` is the address in network order: 4 or 16 bytes.
std::string LimitKey(const unsigned char* bytes, size_t size);

class AddressLimits {
 public:
  // A cap of 0 means no cap.
  AddressLimits(size_t max_connections, size_t max_requests);
  AddressLimits(const AddressLimits&) = delete;
  AddressLimits& operator=(const AddressLimits&) = delete;

  enum class Kind { kConnection, kRequest };

  // One counted connection or request; released on destruction.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;

   private:
    friend class AddressLimits;
    Ticket(AddressLimits* limits, std::string address, Kind kind);
    void Release();
    AddressLimits* limits_;
    std::string address_;
    Kind kind_;
  };

  // A ticket when `address` is under its cap of `kind`, else nullopt.
  [[nodiscard]] std::optional<Ticket> TryAcquire(const std::string& address, Kind kind);

  // Counted now for `address` (for tests and metrics).
  size_t count(const std::string& address, Kind kind) const;

 private:
  struct Counts {
    size_t connections = 0;
    size_t requests = 0;
  };
  void Release(const std::string& address, Kind kind);

  const size_t max_connections_;
  const size_t max_requests_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Counts> counts_;  // no entry for an address at zero
};

}  // namespace veil::http::internal
