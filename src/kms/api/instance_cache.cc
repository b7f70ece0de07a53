#include "kms/api/instance_cache.h"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace veil::kms::api {
namespace {

struct Cache {
  struct Entry {
    InstanceRef instance;
    MonotonicTime expires;
  };
  std::mutex mu;
  std::unordered_map<std::string, Entry> entries;
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
      auto it = cache->entries.find(std::string(guid));
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
