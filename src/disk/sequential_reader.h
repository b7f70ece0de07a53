// SequentialReader: a disk read front to back, for inputs that cannot seek (raw images on a pipe,
// `veil image encrypt - out.luks`) and, through the same interface, any DiskReader, so the image
// pipeline has one reading loop for both.
//
// Only raw data (including a raw LUKS container) can stream: qcow2 and dynamic VHD need random
// access and are refused when they arrive on a pipe. A fixed VHD on a pipe is not recognised (its
// footer comes last) and reads as raw, footer included.
//
// Thread-safety: one thread at a time per reader.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "common/result.h"
#include "disk/disk_reader.h"

namespace veil::disk {

class SequentialReader {
 public:
  virtual ~SequentialReader() = default;

  // Reads the next bytes into `out`, filling it unless the input ends first. Returns the count; 0
  // means the end. After an error the reader is unusable.
  [[nodiscard]] virtual Result<size_t> Read(std::span<uint8_t> out) = 0;
  // The total size when known before reading (a DiskReader, or StreamOptions::size).
  virtual std::optional<uint64_t> size() const = 0;
  // kRaw or kLuks for streams; the DiskReader's format otherwise.
  virtual DiskFormat format() const = 0;
  // Bytes returned so far.
  virtual uint64_t position() const = 0;
};

struct StreamOptions {
  // The size the producer promised, if any. Then a stream that ends early fails with kDataLoss
  // ("input smaller than it claims") and one that goes on fails with kInvalidArgument.
  std::optional<uint64_t> size;
};

// Reads the stream on `fd` (not owned, never closed). Reads the first 4 KiB at once to detect the
// content: kFailedPrecondition for qcow2 or dynamic VHD, which need a seekable file; kInternal on
// read errors.
[[nodiscard]] Result<std::unique_ptr<SequentialReader>> OpenStream(int fd,
                                                                   const StreamOptions& options);

// Reads `disk` from offset 0 to its virtual size.
std::unique_ptr<SequentialReader> ReadSequentially(std::shared_ptr<const DiskReader> disk);

}  // namespace veil::disk
