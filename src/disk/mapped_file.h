// MappedFile: a regular file mapped read-only, for readers that transform the bytes out of place
// (the encrypting workers of `veil image encrypt` read the plaintext straight from the page cache
// into their output buffers: one copy of the image fewer than pread into a buffer).
//
// A mapped file that shrinks while mapped makes the pages past its new end fault with SIGBUS,
// which would kill the process. While a MappedFile exists, a SIGBUS handler catches faults inside
// its range: it maps a zero page over the faulting page, so the access completes reading zeros,
// and records the fault; readers check faulted() after reading and report the input as shrunk
// (the same error as a short pread). A SIGBUS anywhere else takes its previous disposition.
//
// Only one MappedFile exists at a time in a process (the handler is process-wide): Map() returns
// nullptr while another is alive, and the caller reads with pread instead.
//
// Thread-safety: bytes() and faulted() may be used from any thread; Map() and the destructor are
// serialised by the single-instance rule.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace veil::disk {

class MappedFile {
 public:
  // Maps `path` when it is still the regular file `expected` describes (same device, inode and
  // size) and `size` > 0 bytes long. nullptr when it cannot (not a regular file, replaced,
  // another MappedFile alive, mmap refused): the caller falls back to reading.
  static std::unique_ptr<MappedFile> Map(const std::string& path, const struct stat& expected,
                                         uint64_t size);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

  // Whether a read of bytes() faulted because the file shrank (those bytes read as zeros).
  bool faulted() const;

  // Done reading [offset, offset + length): drops its pages from the process's page tables (they
  // stay in the page cache), so that the resident size stays bounded whatever the file's size.
  void Release(uint64_t offset, uint64_t length) const;

 private:
  MappedFile(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  const uint8_t* data_;
  size_t size_;
};

}  // namespace veil::disk
