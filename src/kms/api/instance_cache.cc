#include "kms/api/instance_cache.h"

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace veil::kms::api {
namespace {

// Lookups by string_view: a hit allocates nothing.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

struct Cache {
  struct Entry {
    InstanceRef instance;
    MonotonicTime expires;
  };
  std::mutex mu;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> entries;
};

}  // namespace

InstanceResolver CachedInstanceResolver(InstanceResolver inner, const Clock& clock,
                                        std::chrono::milliseconds ttl, size_t capacity) {
  auto cache = std::make_shared<Cache>();
  return [inner = std::move(inner), &clock, ttl, capacity,
          cache](std::string_view guid) -> Result<InstanceRef> {
    const MonotonicTime now = clock.Monotonic();
    {
      std::lock_guard lock(cache->mu);
      auto it = cache->entries.find(guid);
      if (it != cache->entries.end() && it->second.expires > now) return it->second.instance;
    }
    InstanceRef instance = VEIL_TRY_VALUE(inner(guid));
    std::lock_guard lock(cache->mu);
    if (cache->entries.size() >= capacity) cache->entries.clear();
    cache->entries[std::string(guid)] = {instance, now + ttl};
    return instance;
  };
}

}  // namespace veil::kms::api
