// Files: an owned descriptor, reading a whole (small) file, replacing a file atomically, and an
// exclusive lock file.
//
// The one place Veil's libraries and tools write a file that must be either all old or all new
// (the CLI profile and its tokens, the HSM token's PINs) and own a raw descriptor (the image
// engine, the LUKS header reader). In LevelDB's Env spirit: a few plain functions over POSIX with
// errno turned into an Error that names the file, not a seam (no second implementation exists).
//
// Thread-safety: Fd is a value owned by one thread at a time; the functions are safe to call from
// any thread (two concurrent WriteFileAtomically to the same path race on its ".tmp" file: callers
// serialise them).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace veil {

// A file descriptor, closed when destroyed. Move-only; -1 means none.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) Reset(other.Release());
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership: the caller closes the returned descriptor.
  int Release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the descriptor held (if any) and takes `fd`.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Errors: kUnavailable with
// `what` and errno's text (a write returning 0 reads as ENOSPC).
[[nodiscard]] Status WriteAll(int fd, std::span<const uint8_t> bytes, const std::string& what);

// fsyncs the directory `dir`, so that a name just created or renamed in it survives a crash.
// Errors: kUnavailable.
[[nodiscard]] Status SyncDirectory(const std::string& dir);

// Replaces (or creates) `path` with `bytes` so that a crash leaves either the old content or the
// new one, never a mix: writes "<path>.tmp" (created afresh, O_NOFOLLOW, `mode` whatever the
// umask), fsyncs it, renames it over `path`, then fsyncs the directory. A failure removes the
// temporary file. Errors: kInternal naming the file and the failing step (the callers' one code
// for a local file they cannot write).
[[nodiscard]] Status WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes,
                                         mode_t mode = 0600);

// Reads the whole file at `path`, refusing one larger than `max_bytes`. Errors: kNotFound (no
// such file), kPermissionDenied, kResourceExhausted (too large), kUnavailable (other I/O).
[[nodiscard]] Result<std::vector<uint8_t>> ReadFile(const std::string& path, size_t max_bytes);

// Takes an exclusive advisory lock (flock) on `path`, created with mode 0600 if absent, and
// writes `holder` (e.g. "pid 1234") into it. The lock lasts while the returned Fd is open: a
// process that dies releases it. Errors: kFailedPrecondition when someone else holds it, whose
// message is the holder's text as they wrote it (at most 200 bytes, printable ASCII); kInternal
// for I/O errors, naming the file.
[[nodiscard]] Result<Fd> LockFile(const std::string& path, std::string_view holder);

}  // namespace veil
