// The JSON of `veil image inspect | verify --output json`: the CLI's rendering of what the image
// engine reports (image/image_ops.h) and of a LUKS header's public facts (luks/header_info.h).
// Keys as in docs/image-tool.md and docs/formats/luks.md. Nothing rendered here is secret: the
// structures hold no key material, salt or digest (only their lengths).
//
// Used by image_cmd.cc, and by fuzz/luks_header_fuzz.cc on every header Inspect() accepts.
//
// Thread-safety: pure functions.
#pragma once

#include <string>

#include "image/image_ops.h"
#include "luks/header_info.h"

namespace veil::cli {

// A JSON object for `veil image inspect --output json` (keys as in docs/formats/luks.md).
std::string HeaderInfoToJson(const luks::HeaderInfo& info);

// A JSON object: {"path","container","container_detail","file_size","virtual_size","encrypted",
// "luks":{...HeaderInfoToJson...}|null,"luks_header_offset"}.
std::string ImageInfoToJson(const image::ImageInfo& info);

// A JSON object: {"image":{...ImageInfoToJson...},"keyslot","looks_like_disk","partition_table"}.
std::string VerifyReportToJson(const image::VerifyReport& report);

}  // namespace veil::cli
