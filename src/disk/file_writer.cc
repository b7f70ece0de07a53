#include "disk/file_writer.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "disk/internal/big_endian.h"

namespace veil::disk {

namespace {

Error IoError(const std::string& what, int err) {
  std::string message = what + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Error(ErrorCode::kResourceExhausted, message);
  if (err == EPIPE) return Error(ErrorCode::kUnavailable, message);
  return Error(ErrorCode::kInternal, message);
}

// O_DIRECT wants the buffer, the offset and the length aligned to the device's logical block
// (512 or 4096 bytes): 4096 suits both.
constexpr uint64_t kDirectAlignment = 4096;

bool DirectAligned(uint64_t offset, std::span<const uint8_t> data) {
  return (offset | data.size() | reinterpret_cast<uintptr_t>(data.data())) % kDirectAlignment == 0;
}

// A second descriptor of the file `fd` was just created at `path`, with O_DIRECT; -1 when the file
// system refuses O_DIRECT (tmpfs before Linux 6.6, some FUSE file systems), when the file lives in
// memory anyway (tmpfs and ramfs: since Linux 6.6 tmpfs accepts O_DIRECT, and its direct writes
// measured nearly twice as slow as its ordinary ones), or when `path` no longer names the same
// file (it was replaced meanwhile: then write nothing through it).
int OpenDirect(int fd, const std::string& path) {
  struct statfs fs {};
  if (::fstatfs(fd, &fs) == 0 && (static_cast<unsigned long>(fs.f_type) == TMPFS_MAGIC ||
                                  static_cast<unsigned long>(fs.f_type) == RAMFS_MAGIC)) {
    return -1;
  }
  int direct = ::open(path.c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
  if (direct < 0) return -1;
  struct stat a {
  }, b{};
  if (::fstat(fd, &a) != 0 || ::fstat(direct, &b) != 0 || a.st_dev != b.st_dev ||
      a.st_ino != b.st_ino) {
    ::close(direct);
    return -1;
  }
  return direct;
}

}  // namespace

Status PwriteAll(int fd, uint64_t offset, std::span<const uint8_t> data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(
          IoError("write " + what + " at offset " + std::to_string(offset), errno));
    }
    done += static_cast<size_t>(n);
  }
  return OkStatus();
}

Result<std::unique_ptr<FileWriter>> FileWriter::Create(const std::string& path,
                                                       const FileWriterOptions& options) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options.mode);
  if (fd < 0) {
    int err = errno;
    std::string message = "create " + path + ": " + std::strerror(err);
    if (err == EEXIST) return AlreadyExists(message);
    if (err == ENOENT || err == ENOTDIR) return NotFound(message);
    if (err == EACCES || err == EPERM || err == EROFS) return PermissionDenied(message);
    return Internal(message);
  }
  int direct_fd = -1;
  if (options.direct) direct_fd = OpenDirect(fd, path);
  return std::unique_ptr<FileWriter>(new FileWriter(fd, direct_fd, path, options));
}

FileWriter::~FileWriter() {
  if (direct_fd_ >= 0) ::close(direct_fd_);
  if (!finished_) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

Status FileWriter::WriteAt(uint64_t offset, std::span<const uint8_t> data) {
  const uint64_t end = offset + data.size();
  uint64_t seen = end_.load(std::memory_order_relaxed);
  while (seen < end && !end_.compare_exchange_weak(seen, end, std::memory_order_relaxed)) {
  }
  if (options_.skip_zeros && internal::IsAllZero(data.data(), data.size())) return OkStatus();
  if (direct() && DirectAligned(offset, data)) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(direct_fd_, data.data() + done, data.size() - done,
                           static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EINVAL) {
        // The device wants a larger alignment than 4096: write everything buffered from now on.
        direct_ok_.store(false, std::memory_order_relaxed);
        break;
      }
      if (n < 0) {
        return tl::unexpected(
            IoError("write " + path_ + " at offset " + std::to_string(offset + done), errno));
      }
      // A short write (the disk filling up) leaves an unaligned rest: buffered below.
      if (n == 0 || (static_cast<uint64_t>(n) % kDirectAlignment) != 0) {
        done += static_cast<size_t>(n);
        break;
      }
      done += static_cast<size_t>(n);
    }
    offset += done;
    data = data.subspan(done);
    if (data.empty()) return OkStatus();
  }
  return PwriteAll(fd_, offset, data, path_);
}

Status FileWriter::Finish() {
  if (finished_) return FailedPrecondition("FileWriter::Finish called twice");
  const uint64_t size = options_.size.value_or(end_.load());
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    return tl::unexpected(IoError("truncate " + path_, errno));
  }
  if (::fsync(fd_) != 0) return tl::unexpected(IoError("fsync " + path_, errno));
  finished_ = true;
  if (::close(fd_) != 0) return tl::unexpected(IoError("close " + path_, errno));
  return OkStatus();
}

Status StreamWriter::Write(std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(IoError("write output stream", errno));
    }
    done += static_cast<size_t>(n);
  }
  written_ += data.size();
  return OkStatus();
}

Status StreamWriter::Finish() {
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && ::fsync(fd_) != 0) {
    return tl::unexpected(IoError("fsync output stream", errno));
  }
  return OkStatus();
}

}  // namespace veil::disk
