// The dispatching parser behind Inspect(), also returning what OpenVolumeKey needs to build the
// private copy it hands to libcryptsetup. Internal to src/luks.
//
// Thread-safety: pure function.
#pragma once

#include <span>

#include "common/result.h"
#include "luks/luks2_header.h"

namespace veil::luks::internal {

// kInvalidArgument "not a LUKS image" without the LUKS magic (and, for LUKS2, without a
// recoverable secondary header); kUnimplemented for LUKS versions other than 1 and 2.
[[nodiscard]] Result<ParsedHeader> ParseHeader(std::span<const uint8_t> bytes);

}  // namespace veil::luks::internal
