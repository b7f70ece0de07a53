#include "kms/ip_filter.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <string>

namespace veil::kms {
namespace {

// The address alone (no prefix): IPv4 or IPv6, IPv4-mapped IPv6 folded to IPv4.
bool ParseAddress(std::string_view text, IpBlock& out) {
  // inet_pton reads a C string: "10.0.0.1\0..." would be read as 10.0.0.1, the rest unseen.
  if (text.find('\0') != std::string_view::npos) return false;
  std::string s(text);
  if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out.v6 = false;
    std::memcpy(out.address.data(), &v4, 4);
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return false;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(&v6, kMapped, 12) == 0) {
    out.v6 = false;
    std::memcpy(out.address.data(), reinterpret_cast<const uint8_t*>(&v6) + 12, 4);
    return true;
  }
  out.v6 = true;
  std::memcpy(out.address.data(), &v6, 16);
  return true;
}

bool InBlock(const IpBlock& block, const IpBlock& address) {
  if (block.v6 != address.v6) return false;
  int bits = block.prefix;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - bits));
    if ((block.address[i] & mask) != (address.address[i] & mask)) return false;
  }
  return true;
}

}  // namespace

Result<IpBlock> ParseIpBlock(std::string_view text) {
  IpBlock block;
  const size_t slash = text.find('/');
  if (!ParseAddress(text.substr(0, slash), block)) {
    return InvalidArgument("not an IP address or CIDR block: " + std::string(text));
  }
  const int max = block.v6 ? 128 : 32;
  block.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    // One to three decimal digits: from_chars alone would take "-0" (and a sign is no part of a
    // prefix length).
    const bool digits =
        !p.empty() && p.size() <= 3 && p.find_first_not_of("0123456789") == std::string_view::npos;
    int prefix = -1;
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (!digits || ec != std::errc() || end != p.data() + p.size() || prefix < 0 || prefix > max) {
      return InvalidArgument("bad prefix length in " + std::string(text));
    }
    block.prefix = prefix;
  }
  return block;
}

bool IpAllowed(const std::vector<IpBlock>& blocks, std::string_view address) {
  IpBlock peer;
  if (!ParseAddress(address, peer)) return false;
  for (const IpBlock& b : blocks) {
    if (InBlock(b, peer)) return true;
  }
  return false;
}

}  // namespace veil::kms
