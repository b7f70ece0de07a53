// Raw output: FileWriter writes a new file at chosen offsets from many threads (pwrite), leaving
// all-zero blocks as holes; StreamWriter writes a stream in order (stdout, a pipe).
//
// O_DIRECT (FileWriterOptions::direct): ranges whose buffer address, offset and length are
// multiples of 4096 go through a second descriptor opened with O_DIRECT, from the caller's memory
// straight to the device; the rest (a LUKS header in a std::vector, an image's last partial
// block) through the ordinary one, so any write is accepted. A fresh output in the page cache
// costs the kernel a page allocation and a copy per 4 KiB, and its writeback competes with the
// writer: for one big sequential file, O_DIRECT is several times cheaper in CPU and, on the
// virtual disks measured (docs/benchmarks.md), faster. Where the file system refuses O_DIRECT,
// or the device wants a larger alignment (EINVAL), everything goes through the page cache.
// Finish() fsyncs either way: O_DIRECT alone does not flush the device's cache or the metadata.
//
// The image pipeline writes to a temporary path and renames it on success; a FileWriter destroyed
// without Finish() removes its file, so a failed run leaves nothing behind (a killed process
// cannot run destructors: the pipeline's signal handling covers that).
//
// Thread-safety: FileWriter::WriteAt may be called concurrently on disjoint ranges; Finish() after
// all writes returned. StreamWriter: one thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"

namespace veil::disk {

struct FileWriterOptions {
  // The final size, set by Finish() (ftruncate), so that skipped zero blocks at the end count.
  // Unset: the file ends at the end of the furthest range passed to WriteAt.
  std::optional<uint64_t> size;
  // Do not write ranges that are all zeros (they stay holes and read as zeros). Each range must
  // then be written at most once: a skipped write does not erase older data.
  bool skip_zeros = true;
  // Permissions of the new file.
  mode_t mode = 0600;
  // Write aligned ranges with O_DIRECT (see the top of this file). Ignored where the file system
  // refuses O_DIRECT.
  bool direct = false;
};

class FileWriter {
 public:
  // Creates `path`, which must not exist (O_EXCL: a temporary name the caller chose).
  // kAlreadyExists, kNotFound (no such directory), kPermissionDenied, kInternal.
  [[nodiscard]] static Result<std::unique_ptr<FileWriter>> Create(const std::string& path,
                                                                  const FileWriterOptions& options);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Writes `data` at `offset`. kInternal on I/O errors (ENOSPC: kResourceExhausted).
  [[nodiscard]] Status WriteAt(uint64_t offset, std::span<const uint8_t> data);
  // Sets the size, fsyncs and closes. kFailedPrecondition when called twice.
  [[nodiscard]] Status Finish();

  const std::string& path() const { return path_; }
  // Whether aligned writes go through O_DIRECT (asked for, and the file system accepted it).
  bool direct() const { return direct_fd_ >= 0 && direct_ok_.load(std::memory_order_relaxed); }

 private:
  FileWriter(int fd, int direct_fd, std::string path, const FileWriterOptions& options)
      : fd_(fd), direct_fd_(direct_fd), path_(std::move(path)), options_(options) {}

  int fd_;
  int direct_fd_;  // -1 without O_DIRECT
  std::atomic<bool> direct_ok_{true};
  std::string path_;
  FileWriterOptions options_;
  std::atomic<uint64_t> end_{0};
  bool finished_ = false;
};

class StreamWriter {
 public:
  // `fd` is not owned and not closed (STDOUT_FILENO). A process writing to a pipe should ignore
  // SIGPIPE so that a closed reader becomes an error here (kUnavailable) instead of a kill.
  explicit StreamWriter(int fd) : fd_(fd) {}

  // Writes all of `data`, in order.
  [[nodiscard]] Status Write(std::span<const uint8_t> data);
  // fsyncs when the stream is a regular file (a shell redirection); pipes need nothing.
  [[nodiscard]] Status Finish();
  uint64_t bytes_written() const { return written_; }

 private:
  int fd_;
  uint64_t written_ = 0;
};

// pwrite(2) of all of `data`, retrying short writes and EINTR. Shared with Qcow2Writer.
[[nodiscard]] Status PwriteAll(int fd, uint64_t offset, std::span<const uint8_t> data,
                               const std::string& what);

}  // namespace veil::disk
