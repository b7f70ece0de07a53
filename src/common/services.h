// The services of Veil and their port offsets: one table shared by veild (which listens) and
// veil (which finds each service from one base URL). Service k listens on port base + k.
//
// Thread-safety: constants only.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace veil {

struct ServiceInfo {
  std::string_view name;         // short name, also the CRN service name
  std::string_view description;  // one line for help text and status tables
  uint16_t port_offset;          // port = base + offset
};

inline constexpr uint16_t kDefaultPortBase = 8440;
inline constexpr std::string_view kVersion = "0.1.0";

inline constexpr std::array<ServiceInfo, 5> kServices{{
    {"iam", "identity and access management", 1},
    {"kms", "key management (Key Protect v2 API)", 2},
    {"cos", "object storage (S3 API)", 3},
    {"is", "images, volumes and instances", 4},
    {"audit", "audit trail", 5},
}};

}  // namespace veil
