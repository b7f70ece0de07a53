#include "disk/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace veil::disk {

namespace {

std::string ErrnoText(int err) { return std::strerror(err); }

}  // namespace

Result<std::vector<Extent>> RandomAccessFile::DataExtents(uint64_t offset, uint64_t length) const {
  std::vector<Extent> extents;
  AppendExtent(&extents, offset, length, true);
  return extents;
}

Status ReadExactly(const RandomAccessFile& file, uint64_t offset, std::span<uint8_t> out,
                   const char* what) {
  size_t n = VEIL_TRY_VALUE(file.ReadAt(offset, out));
  if (n != out.size()) {
    return DataLoss(std::string(what) + " at offset " + std::to_string(offset) + " (" +
                    std::to_string(out.size()) + " bytes): the file ends at " +
                    std::to_string(file.size()) + ", the image is truncated");
  }
  return OkStatus();
}

Result<std::unique_ptr<PosixFile>> PosixFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    std::string message = "open " + path + ": " + ErrnoText(err);
    if (err == ENOENT || err == ENOTDIR) return NotFound(message);
    if (err == EACCES || err == EPERM) return PermissionDenied(message);
    return Internal(message);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    return Internal("stat " + path + ": " + ErrnoText(err));
  }
  uint64_t size = 0;
  bool regular = S_ISREG(st.st_mode);
  if (regular) {
    size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(fd, 0, SEEK_END);
    if (end < 0) {
      int err = errno;
      ::close(fd);
      return Internal("size of block device " + path + ": " + ErrnoText(err));
    }
    size = static_cast<uint64_t>(end);
  } else {
    ::close(fd);
    if (S_ISDIR(st.st_mode)) return InvalidArgument(path + " is a directory");
    return FailedPrecondition(path +
                              " is not seekable (a pipe, socket or character device): read it as "
                              "a raw stream");
  }
  return std::unique_ptr<PosixFile>(new PosixFile(fd, size, regular, path));
}

PosixFile::~PosixFile() { ::close(fd_); }

Result<size_t> PosixFile::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  size_t done = 0;
  while (done < out.size()) {
    uint64_t at = offset + done;
    if (at >= static_cast<uint64_t>(INT64_MAX)) break;
    ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(at));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal("read " + path_ + " at offset " + std::to_string(at) + ": " +
                      ErrnoText(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

Result<std::vector<Extent>> PosixFile::DataExtents(uint64_t offset, uint64_t length) const {
  if (!regular_) return RandomAccessFile::DataExtents(offset, length);
  std::vector<Extent> extents;
  const uint64_t end = std::min(offset + length, size_);
  uint64_t pos = offset;
  while (pos < end) {
    // lseek moves the shared file position, but nothing here reads through it (pread only), and
    // each call returns its own answer: safe with concurrent callers.
    off_t data = ::lseek(fd_, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) {  // no data after pos: the rest is a hole
        AppendExtent(&extents, pos, end - pos, false);
        break;
      }
      // The file system cannot tell (EINVAL): call the rest data, which is always correct.
      AppendExtent(&extents, pos, end - pos, true);
      break;
    }
    uint64_t data_at = std::min<uint64_t>(static_cast<uint64_t>(data), end);
    AppendExtent(&extents, pos, data_at - pos, false);
    if (data_at >= end) break;
    off_t hole = ::lseek(fd_, static_cast<off_t>(data_at), SEEK_HOLE);
    uint64_t hole_at = hole < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(hole), end);
    AppendExtent(&extents, data_at, hole_at - data_at, true);
    pos = hole_at;
  }
  // Past the end of the host file (callers never ask, but stay exact): nothing is stored there.
  const uint64_t from = std::max(offset, end);
  AppendExtent(&extents, from, offset + length - from, false);
  return extents;
}

Result<size_t> MemoryFile::ReadAt(uint64_t offset, std::span<uint8_t> out) const {
  if (offset >= bytes_.size() || out.empty()) return size_t{0};
  size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), bytes_.size() - offset));
  std::memcpy(out.data(), bytes_.data() + offset, n);
  return n;
}

}  // namespace veil::disk
