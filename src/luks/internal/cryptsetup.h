// RAII wrappers for libcryptsetup and for the anonymous in-memory file it works on. Internal to
// src/luks: libcryptsetup's header stays out of every public header.
//
// libcryptsetup's log lines go to Veil's log facade at debug level (they carry no secrets); error
// lines are also kept per context so that a failure can say why.
//
// Thread-safety: one CryptDevice / MemFile per thread; distinct instances are independent.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct crypt_device;

namespace veil::luks::internal {

// An anonymous file in RAM (memfd_create). libcryptsetup opens it as path(). On destruction its
// pages are released (truncate to 0) and it is closed: it never had a name in any filesystem.
class MemFile {
 public:
  [[nodiscard]] static Result<MemFile> Create();
  ~MemFile();
  MemFile(MemFile&& other) noexcept;
  MemFile& operator=(MemFile&& other) noexcept;

  const std::string& path() const { return path_; }
  [[nodiscard]] Status Write(std::span<const uint8_t> bytes, uint64_t offset);
  [[nodiscard]] Status Resize(uint64_t size);
  [[nodiscard]] Result<uint64_t> Size() const;
  [[nodiscard]] Result<std::vector<uint8_t>> Read(uint64_t offset, size_t size) const;

 private:
  explicit MemFile(int fd);
  int fd_ = -1;
  std::string path_;
};

class CryptDevice {
 public:
  // crypt_init on `path`. Metadata locking is off process-wide (the path is Veil's private memfd;
  // locking would need /run/cryptsetup, i.e. root).
  [[nodiscard]] static Result<CryptDevice> Init(const std::string& path);
  ~CryptDevice();
  CryptDevice(CryptDevice&&) noexcept;
  CryptDevice& operator=(CryptDevice&&) noexcept;

  crypt_device* get() const;
  // Error{code, "<what>: <libcryptsetup's last error line, or strerror(-r)>"}.
  Error Failure(ErrorCode code, std::string_view what, int r) const;
  // Forgets the error lines logged so far.
  void ClearErrors();

 private:
  struct State;
  explicit CryptDevice(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace veil::luks::internal
