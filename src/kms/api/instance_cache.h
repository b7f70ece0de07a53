// CachedInstanceResolver: remembers the answers of an InstanceResolver for `ttl`, so that wrap and
// unwrap at full rate do not read the resource controller on every request. A deleted instance is
// refused at the latest `ttl` after its deletion; unknown GUIDs are not cached (a new instance
// works at once).
//
// Thread-safety: the returned resolver may be called from any thread.
#pragma once

#include <chrono>

#include "common/clock.h"
#include "kms/api/kms_api.h"

namespace veil::kms::api {

// `clock` must outlive the resolver. At most `capacity` GUIDs are kept (the cache empties when
// full).
InstanceResolver CachedInstanceResolver(InstanceResolver inner, const Clock& clock,
                                        std::chrono::milliseconds ttl, size_t capacity = 10000);

}  // namespace veil::kms::api
