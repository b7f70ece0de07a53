// IP address ranges for the allowedIP instance policy (docs/api-compatibility.md): CIDR
// blocks such as "10.0.0.0/8", "192.0.2.7/32" or "2001:db8::/32" (a bare address is its /32 or
// /128). IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) match IPv4 blocks.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil::kms {

struct IpBlock {
  bool v6 = false;
  std::array<uint8_t, 16> address{};  // network order; IPv4 in the first 4 bytes
  int prefix = 0;
};

// kInvalidArgument for anything that is not an IPv4 or IPv6 address with an optional /prefix
// (1-3 decimal digits, no sign, at most 32 or 128), and for text holding a NUL.
[[nodiscard]] Result<IpBlock> ParseIpBlock(std::string_view text);

// Whether `address` (as the server saw the peer: "192.0.2.7", "::1", "::ffff:10.1.2.3") lies in
// one of `blocks`; false for an address that does not parse.
bool IpAllowed(const std::vector<IpBlock>& blocks, std::string_view address);

}  // namespace veil::kms
