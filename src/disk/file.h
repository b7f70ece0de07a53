// RandomAccessFile: the one OS seam of src/disk. Every container reader reads its input through it,
// so that the same parsers run on a real file (PosixFile, pread) and on bytes in memory
// (MemoryFile: unit tests with crafted headers, the fuzz target).
//
// Thread-safety: ReadAt and DataExtents are const and safe to call from many threads at once
// (PosixFile uses pread, never a shared file position for reads).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "disk/extent.h"

namespace veil::disk {

class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;

  // Size in bytes, fixed when the file was opened.
  virtual uint64_t size() const = 0;
  // A name for messages (the path).
  virtual const std::string& name() const = 0;

  // Reads up to out.size() bytes at `offset`. Returns the number of bytes read: fewer than asked
  // only at the end of the file (0 at or past it). kInternal on an I/O error.
  [[nodiscard]] virtual Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const = 0;

  // Which parts of [offset, offset + length) of the host file hold data and which are holes
  // (SEEK_DATA/SEEK_HOLE where the file system supports them). The default says "all data",
  // which is always correct. The extents cover the range exactly, in order.
  [[nodiscard]] virtual Result<std::vector<Extent>> DataExtents(uint64_t offset,
                                                                uint64_t length) const;
};

// Reads exactly out.size() bytes at `offset`. kDataLoss ("<what> at offset N: file ends at M")
// when the file is shorter: every caller reads structures the image says are there.
[[nodiscard]] Status ReadExactly(const RandomAccessFile& file, uint64_t offset,
                                 std::span<uint8_t> out, const char* what);

// A regular file or block device opened read-only.
class PosixFile final : public RandomAccessFile {
 public:
  // kNotFound (no such file), kPermissionDenied, kFailedPrecondition when the path is not seekable
  // (a pipe, FIFO, socket or character device: read those with OpenStream), kInternal otherwise.
  [[nodiscard]] static Result<std::unique_ptr<PosixFile>> Open(const std::string& path);
  ~PosixFile() override;
  PosixFile(const PosixFile&) = delete;
  PosixFile& operator=(const PosixFile&) = delete;

  uint64_t size() const override { return size_; }
  const std::string& name() const override { return path_; }
  [[nodiscard]] Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const override;
  [[nodiscard]] Result<std::vector<Extent>> DataExtents(uint64_t offset,
                                                        uint64_t length) const override;

 private:
  PosixFile(int fd, uint64_t size, bool regular, std::string path)
      : fd_(fd), size_(size), regular_(regular), path_(std::move(path)) {}
  int fd_;
  uint64_t size_;
  bool regular_;
  std::string path_;
};

// Bytes in memory, read as a file.
class MemoryFile final : public RandomAccessFile {
 public:
  explicit MemoryFile(std::vector<uint8_t> bytes, std::string name = "<memory>")
      : bytes_(std::move(bytes)), name_(std::move(name)) {}

  uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }
  [[nodiscard]] Result<size_t> ReadAt(uint64_t offset, std::span<uint8_t> out) const override;

 private:
  std::vector<uint8_t> bytes_;
  std::string name_;
};

}  // namespace veil::disk
