#include "common/file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace veil {

namespace {

std::string Because(const std::string& what, int err) { return what + ": " + std::strerror(err); }

}  // namespace

void Fd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Status WriteAll(int fd, std::span<const uint8_t> bytes, const std::string& what) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Unavailable(Because(what, n == 0 ? ENOSPC : errno));
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return OkStatus();
}

Status SyncDirectory(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid() || ::fsync(fd.get()) != 0) return Unavailable(Because("fsync " + dir, errno));
  return OkStatus();
}

Status WriteFileAtomically(const std::string& path, std::span<const uint8_t> bytes, mode_t mode) {
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());  // a leftover of a crashed writer
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.valid()) return Internal(Because("cannot create " + tmp, errno));
  auto fail = [&tmp](const std::string& what) {
    Status failed = Internal(Because(what, errno));
    ::unlink(tmp.c_str());
    return failed;
  };
  if (::fchmod(fd.get(), mode) != 0) return fail("cannot set the mode of " + tmp);
  if (Status st = WriteAll(fd.get(), bytes, "cannot write " + tmp); !st) {
    ::unlink(tmp.c_str());
    return Internal(st.error().message);
  }
  if (::fsync(fd.get()) != 0) return fail("cannot fsync " + tmp);
  if (::close(fd.Release()) != 0) return fail("cannot write " + tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return fail("cannot replace " + path);
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  if (Status st = SyncDirectory(dir); !st) return Internal(st.error().message);
  return OkStatus();
}

Result<std::vector<uint8_t>> ReadFile(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    const std::string message = Because("cannot open " + path, err);
    if (err == ENOENT || err == ENOTDIR) return NotFound(message);
    if (err == EACCES || err == EPERM) return PermissionDenied(message);
    return Unavailable(message);
  }
  std::vector<uint8_t> bytes;
  uint8_t buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Unavailable(Because("cannot read " + path, errno));
    if (n == 0) return bytes;
    if (bytes.size() + static_cast<size_t>(n) > max_bytes) {
      return ResourceExhausted(path + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
}

Result<Fd> LockFile(const std::string& path, std::string_view holder) {
  Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd.valid()) return Internal(Because("cannot open " + path, errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return Internal(Because("cannot lock " + path, errno));
    char buffer[200];
    const ssize_t n = ::pread(fd.get(), buffer, sizeof(buffer), 0);
    std::string text;
    for (ssize_t i = 0; i < n; ++i) {
      const char c = buffer[i];
      if (c >= 0x20 && c < 0x7f) text.push_back(c);
    }
    return FailedPrecondition(text.empty() ? "an unknown holder" : text);
  }
  if (::ftruncate(fd.get(), 0) != 0) return Internal(Because("cannot truncate " + path, errno));
  VEIL_TRY(WriteAll(fd.get(), {reinterpret_cast<const uint8_t*>(holder.data()), holder.size()},
                    "write " + path));
  return fd;
}

}  // namespace veil
