#include "audit/jsonl_file_sink.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace veil::audit {
namespace {

tl::unexpected<Error> ErrnoError(int err, const std::string& what) {
  ErrorCode code = ErrorCode::kUnavailable;
  switch (err) {
    case ENOENT:
    case ENOTDIR:
      code = ErrorCode::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = ErrorCode::kPermissionDenied;
      break;
    case ENOSPC:
    case EDQUOT:
      code = ErrorCode::kResourceExhausted;
      break;
    case EISDIR:
    case ELOOP:
    case ENXIO:
      code = ErrorCode::kFailedPrecondition;
      break;
    default:
      break;
  }
  return MakeError(code, what + ": " + std::strerror(err));
}

// Opens for appending, creating with 0600; refuses anything but a regular file, and narrows
// the permissions of an existing file that is readable by others.
Result<int> OpenForAppend(const std::string& path) {
  // O_NOFOLLOW: a symlink planted at the audit path must not redirect the trail. O_NONBLOCK
  // keeps open(2) from hanging on a FIFO; it has no effect on a regular file.
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                  0600);
  if (fd < 0) return ErrnoError(errno, "cannot open audit log '" + path + "'");
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot stat audit log '" + path + "'");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return FailedPrecondition("audit log '" + path + "' is not a regular file");
  }
  if (::fcntl(fd, F_SETFL, O_APPEND) != 0) {  // drop O_NONBLOCK again
    int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot set flags on audit log '" + path + "'");
  }
  if ((st.st_mode & 0777) != 0600 && ::fchmod(fd, 0600) != 0) {
    int err = errno;
    ::close(fd);
    return ErrnoError(err, "cannot set mode 0600 on audit log '" + path + "'");
  }
  return fd;
}

}  // namespace

JsonLinesFileSink::JsonLinesFileSink(std::string path, JsonLinesFileSinkOptions options, int fd)
    : path_(std::move(path)), options_(options), fd_(fd) {}

JsonLinesFileSink::~JsonLinesFileSink() { ::close(fd_); }

Result<std::unique_ptr<JsonLinesFileSink>> JsonLinesFileSink::Open(
    const std::string& path, JsonLinesFileSinkOptions options) {
  if (path.empty()) return InvalidArgument("audit log path must not be empty");
  Result<int> fd = OpenForAppend(path);
  if (!fd) return tl::unexpected(std::move(fd).error());
  return std::unique_ptr<JsonLinesFileSink>(new JsonLinesFileSink(path, options, *fd));
}

Status JsonLinesFileSink::Reopen() {
  Result<int> fd = OpenForAppend(path_);
  if (!fd) return tl::unexpected(std::move(fd).error());
  int old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = std::exchange(fd_, *fd);
    torn_ = false;  // a fresh file (or the end of the old one, which we cannot fix from here)
  }
  ::close(old);
  return OkStatus();
}

Status JsonLinesFileSink::Emit(const Event& event) {
  // Serialize outside the lock: it is the expensive part. Into a per-thread buffer that keeps
  // its capacity: a KMS event line is ~1.5 KiB, and a fresh string of that size per event cost a
  // malloc large enough to make glibc consolidate its fast bins every time. Events hold no
  // secrets (event.h), so the bytes left in it between events need no wiping.
  thread_local std::string line;
  line.clear();
  AppendJson(event, &line);
  line += '\n';

  std::lock_guard<std::mutex> lock(mu_);
  std::string buffer;
  std::string_view out = line;
  if (torn_) {
    buffer = "\n" + line;
    out = buffer;
  }
  std::size_t done = 0;
  while (done < out.size()) {
    // One write(2) for the whole line; the loop only continues after a short write (disk nearly
    // full, a signal), which O_APPEND and our lock keep from interleaving with our own lines.
    ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      torn_ = torn_ || done > 0;
      return ErrnoError(err, "cannot append to audit log '" + path_ + "'");
    }
    done += static_cast<std::size_t>(n);
  }
  torn_ = false;
  if (options_.fsync == FsyncPolicy::kEveryEvent && ::fdatasync(fd_) != 0) {
    return ErrnoError(errno, "cannot sync audit log '" + path_ + "'");
  }
  return OkStatus();
}

}  // namespace veil::audit
