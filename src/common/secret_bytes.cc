#include "common/secret_bytes.h"

#include <openssl/crypto.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <ostream>

#include "common/result.h"

namespace veil {
namespace {

std::atomic<SecretBytes::FreeObserver> g_free_observer{nullptr};

size_t PageSize() {
  static const size_t page = [] {
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<size_t>(p) : size_t{4096};
  }();
  return page;
}

// A per-thread cache of locked, wiped one-page buffers: most secrets (keys, DEKs, PINs) fit in one
// page, and mlock/munlock/madvise per allocation cost more than the AES-GCM of a 32-byte DEK. A
// page enters the cache only after OPENSSL_cleanse (and the free observer) in Release(), stays
// locked and out of core dumps while cached, and is unlocked and freed when its thread ends. The
// state is trivially destructible so that it stays usable while other thread-locals and statics
// are destroyed; the reaper drains it and marks it dead.
struct PageCache {
  static constexpr size_t kMax = 16;
  void* pages[kMax];
  size_t count;
  bool dead;
};
thread_local PageCache t_pages{};

void FreePage(void* p, size_t capacity, bool locked) {
  if (locked) (void)munlock(p, capacity);
  (void)madvise(p, capacity, MADV_DODUMP);
  std::free(p);
}

struct PageCacheReaper {
  ~PageCacheReaper() {
    while (t_pages.count > 0) FreePage(t_pages.pages[--t_pages.count], PageSize(), true);
    t_pages.dead = true;
  }
};
thread_local PageCacheReaper t_reaper;

// A cached page for a secret of at most one page, or nullptr.
void* TakeCachedPage() {
  if (t_pages.count == 0) return nullptr;
  return t_pages.pages[--t_pages.count];
}

// Keeps a wiped, locked one-page buffer for reuse; false when the cache cannot take it.
bool CachePage(void* p) {
  if (t_pages.dead || t_pages.count == PageCache::kMax) return false;
  (void)&t_reaper;  // registers this thread's reaper on first use
  t_pages.pages[t_pages.count++] = p;
  return true;
}

}  // namespace

SecretBytes::SecretBytes(size_t size) {
  if (size == 0) return;
  const size_t page = PageSize();
  if (size <= page) {
    if (void* cached = TakeCachedPage()) {  // already zero: wiped before it was cached
      data_ = static_cast<uint8_t*>(cached);
      size_ = size;
      capacity_ = page;
      locked_ = true;
      return;
    }
  }
  VEIL_CHECK_MSG(size <= SIZE_MAX - page, "SecretBytes size overflow");
  const size_t capacity = (size + page - 1) / page * page;
  void* p = nullptr;
  // Like operator new, running out of memory is fatal.
  VEIL_CHECK_MSG(posix_memalign(&p, page, capacity) == 0, "SecretBytes allocation failed");
  std::memset(p, 0, capacity);
  // Best effort: without CAP_IPC_LOCK the RLIMIT_MEMLOCK budget may be exhausted.
  locked_ = mlock(p, capacity) == 0;
  (void)madvise(p, capacity, MADV_DONTDUMP);
  data_ = static_cast<uint8_t*>(p);
  size_ = size;
  capacity_ = capacity;
}

SecretBytes::SecretBytes(std::span<const uint8_t> data) : SecretBytes(data.size()) {
  if (!data.empty()) std::memcpy(data_, data.data(), data.size());
}

SecretBytes::~SecretBytes() { Release(); }

SecretBytes::SecretBytes(SecretBytes&& other) noexcept
    : data_(other.data_), size_(other.size_), capacity_(other.capacity_), locked_(other.locked_) {
  other.data_ = nullptr;
  other.size_ = 0;
  other.capacity_ = 0;
  other.locked_ = false;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Release();
    data_ = other.data_;
    size_ = other.size_;
    capacity_ = other.capacity_;
    locked_ = other.locked_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.capacity_ = 0;
    other.locked_ = false;
  }
  return *this;
}

SecretBytes SecretBytes::Clone() const { return SecretBytes(Reveal()); }

void SecretBytes::Wipe() {
  if (data_ != nullptr) OPENSSL_cleanse(data_, capacity_);
}

void SecretBytes::Clear() { Release(); }

void SecretBytes::Release() {
  if (data_ == nullptr) return;
  OPENSSL_cleanse(data_, capacity_);
  if (FreeObserver observer = g_free_observer.load(std::memory_order_acquire)) {
    observer(std::span<const uint8_t>(data_, capacity_));
  }
  if (!(locked_ && capacity_ == PageSize() && CachePage(data_))) {
    FreePage(data_, capacity_, locked_);
  }
  data_ = nullptr;
  size_ = 0;
  capacity_ = 0;
  locked_ = false;
}

bool SecretBytes::Equals(const SecretBytes& other) const { return Equals(other.Reveal()); }

bool SecretBytes::Equals(std::span<const uint8_t> other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return CRYPTO_memcmp(data_, other.data(), size_) == 0;
}

std::string SecretBytes::ToString() const { return "[redacted]"; }

void SecretBytes::SetFreeObserverForTesting(FreeObserver observer) {
  g_free_observer.store(observer, std::memory_order_release);
}

std::ostream& operator<<(std::ostream& os, const SecretBytes& secret) {
  return os << secret.ToString();
}

}  // namespace veil
