#include "disk/sequential_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace veil::disk {

namespace {

constexpr size_t kPeekSize = 4096;

// read(2) until `out` is full or the stream ends.
Result<size_t> ReadFully(int fd, std::span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Internal(std::string("read input stream: ") + std::strerror(errno));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

class FdStreamReader final : public SequentialReader {
 public:
  FdStreamReader(int fd, std::optional<uint64_t> size, std::vector<uint8_t> peeked,
                 DiskFormat format)
      : fd_(fd), size_(size), peeked_(std::move(peeked)), format_(format) {}

  Result<size_t> Read(std::span<uint8_t> out) override {
    if (failed_) return FailedPrecondition("the input stream already failed");
    auto result = ReadInner(out);
    if (!result) failed_ = true;
    return result;
  }
  std::optional<uint64_t> size() const override { return size_; }
  DiskFormat format() const override { return format_; }
  uint64_t position() const override { return position_; }

 private:
  Result<size_t> ReadInner(std::span<uint8_t> out) {
    if (size_) {
      const uint64_t left = *size_ - position_;
      if (left == 0) {
        if (!out.empty()) VEIL_TRY(CheckNoMore());
        return size_t{0};
      }
      out = out.first(static_cast<size_t>(std::min<uint64_t>(out.size(), left)));
    }
    size_t done = 0;
    if (peek_pos_ < peeked_.size() && !out.empty()) {
      done = std::min(out.size(), peeked_.size() - peek_pos_);
      std::memcpy(out.data(), peeked_.data() + peek_pos_, done);
      peek_pos_ += done;
    }
    if (done < out.size() && !ended_) {
      size_t n = VEIL_TRY_VALUE(ReadFully(fd_, out.subspan(done)));
      if (n < out.size() - done) ended_ = true;
      done += n;
    }
    position_ += done;
    if (size_ && done < out.size()) {
      return DataLoss("the input ended after " + std::to_string(position_) +
                      " bytes but was said to hold " + std::to_string(*size_) +
                      ": input smaller than it claims");
    }
    return done;
  }

  Status CheckNoMore() {
    if (peek_pos_ < peeked_.size()) return ExtraData();
    if (ended_) return OkStatus();
    uint8_t byte;
    size_t n = VEIL_TRY_VALUE(ReadFully(fd_, std::span<uint8_t>(&byte, 1)));
    if (n != 0) return ExtraData();
    ended_ = true;
    return OkStatus();
  }
  Status ExtraData() const {
    return InvalidArgument("the input is longer than the " + std::to_string(*size_) +
                           " bytes it was said to hold");
  }

  int fd_;
  std::optional<uint64_t> size_;
  std::vector<uint8_t> peeked_;
  size_t peek_pos_ = 0;
  DiskFormat format_;
  uint64_t position_ = 0;
  bool ended_ = false;
  bool failed_ = false;
};

class DiskSequentialReader final : public SequentialReader {
 public:
  explicit DiskSequentialReader(std::shared_ptr<const DiskReader> disk) : disk_(std::move(disk)) {}

  Result<size_t> Read(std::span<uint8_t> out) override {
    if (position_ >= disk_->virtual_size()) return size_t{0};
    size_t n = VEIL_TRY_VALUE(disk_->ReadAt(position_, out));
    position_ += n;
    return n;
  }
  std::optional<uint64_t> size() const override { return disk_->virtual_size(); }
  DiskFormat format() const override { return disk_->format(); }
  uint64_t position() const override { return position_; }

 private:
  std::shared_ptr<const DiskReader> disk_;
  uint64_t position_ = 0;
};

}  // namespace

Result<std::unique_ptr<SequentialReader>> OpenStream(int fd, const StreamOptions& options) {
  std::vector<uint8_t> peeked(kPeekSize);
  size_t n = VEIL_TRY_VALUE(ReadFully(fd, peeked));
  peeked.resize(n);
  // Only magic at offset 0 can be seen here; a fixed VHD's footer comes last.
  DiskFormat format = DetectFormatFromHead(peeked);
  if (format == DiskFormat::kQcow2 || format == DiskFormat::kVhd) {
    return FailedPrecondition(std::string(DiskFormatName(format)) +
                              " input cannot be read from a pipe: pass it as a file");
  }
  return std::unique_ptr<SequentialReader>(
      new FdStreamReader(fd, options.size, std::move(peeked), format));
}

std::unique_ptr<SequentialReader> ReadSequentially(std::shared_ptr<const DiskReader> disk) {
  return std::make_unique<DiskSequentialReader>(std::move(disk));
}

}  // namespace veil::disk
