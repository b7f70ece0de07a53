// SecretBytes: the only type that holds key material, passphrases and tokens in memory.
//
// A move-only heap buffer that
//   - is wiped with OPENSSL_cleanse when destroyed, when moved over, and on Wipe()/Clear();
//   - lives in its own page-aligned allocation that is mlock()ed (best effort: a failure, e.g.
//     RLIMIT_MEMLOCK, is ignored) and excluded from core dumps (MADV_DONTDUMP, best effort);
//   - can be read only through Reveal()/RevealMutable(), so every read is greppable;
//   - prints as "[redacted]" (operator<< and ToString()), so it cannot leak into a log by accident;
//   - compares in constant time (Equals).
// Moving transfers the buffer itself: no copy of the secret is left behind in the moved-from
// object, which becomes empty. Copies are explicit (Clone()).
//
// Cost: each non-empty SecretBytes occupies at least one page (4 KiB), so that locking and
// unlocking it never touches another object's page. Hold keys in it, not bulk data.
//
// Thread-safety: like a std::vector: const methods may run concurrently; anything else needs
// external synchronization.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <span>
#include <string>

namespace veil {

class SecretBytes {
 public:
  // Empty; owns no memory.
  SecretBytes() = default;
  // `size` zero bytes.
  explicit SecretBytes(size_t size);
  // A copy of `data`. The caller remains responsible for wiping its own copy.
  explicit SecretBytes(std::span<const uint8_t> data);

  ~SecretBytes();
  SecretBytes(SecretBytes&& other) noexcept;
  // Wipes and frees this object's old buffer, then takes `other`'s.
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  // An explicit deep copy (in its own locked allocation).
  [[nodiscard]] SecretBytes Clone() const;

  // The secret bytes. The span is valid until this object is modified, moved or destroyed.
  std::span<const uint8_t> Reveal() const { return {data_, size_}; }
  std::span<uint8_t> RevealMutable() { return {data_, size_}; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Whether mlock() succeeded for the buffer (informational; false when empty).
  bool locked() const { return locked_; }

  // Overwrites the contents with zeros (OPENSSL_cleanse) and keeps the size.
  void Wipe();
  // Wipes, frees the buffer and becomes empty.
  void Clear();

  // Constant-time in the contents; the sizes are not secret (different sizes -> false at once).
  [[nodiscard]] bool Equals(const SecretBytes& other) const;
  [[nodiscard]] bool Equals(std::span<const uint8_t> other) const;

  // Always "[redacted]".
  std::string ToString() const;

  // Test seam: when set, called with every buffer after it has been wiped and just before it is
  // freed, so a test can prove that freed memory held no secret. Not for production use; set it
  // only while no other thread creates or destroys SecretBytes. nullptr removes it.
  using FreeObserver = void (*)(std::span<const uint8_t> wiped_buffer);
  static void SetFreeObserverForTesting(FreeObserver observer);

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // bytes allocated (a whole number of pages)
  bool locked_ = false;
};

// Writes "[redacted]".
std::ostream& operator<<(std::ostream& os, const SecretBytes& secret);

}  // namespace veil
