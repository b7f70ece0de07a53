#include "disk/file_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
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
  return std::unique_ptr<FileWriter>(new FileWriter(fd, path, options));
}

FileWriter::~FileWriter() {
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
