#include "disk/sequential_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <thread>

#include "disk/raw_reader.h"
#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

// A pipe fed by a thread with `data`, the way `cat disk.img | veil image encrypt - ...` feeds us.
class FedPipe {
 public:
  explicit FedPipe(std::vector<uint8_t> data) : data_(std::move(data)) {
    // A reader that stops early closes the pipe under the writer: EPIPE, not a kill.
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    if (::pipe(fds) != 0) std::abort();
    read_fd_ = fds[0];
    writer_ = std::thread([this, fd = fds[1]] {
      size_t done = 0;
      while (done < data_.size()) {
        ssize_t n = ::write(fd, data_.data() + done, std::min<size_t>(data_.size() - done, 7000));
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
      ::close(fd);
    });
  }
  ~FedPipe() {
    ::close(read_fd_);  // unblocks the writer if the reader stopped early (EPIPE)
    writer_.join();
  }
  int fd() const { return read_fd_; }

 private:
  std::vector<uint8_t> data_;
  int read_fd_;
  std::thread writer_;
};

std::vector<uint8_t> Drain(SequentialReader& reader, size_t chunk,
                           std::optional<Error>* error = nullptr) {
  std::vector<uint8_t> out;
  std::vector<uint8_t> buf(chunk);
  for (;;) {
    auto n = reader.Read(buf);
    if (!n) {
      if (error) *error = n.error();
      return out;
    }
    if (*n == 0) return out;
    out.insert(out.end(), buf.begin(), buf.begin() + *n);
  }
}

TEST(SequentialReaderTest, StreamsARawPipe) {
  std::vector<uint8_t> data(3 << 20);
  testutil::FillRandom(data, 4);
  for (size_t chunk : {size_t{1}, size_t{4095}, size_t{1} << 20}) {
    if (chunk == 1) data.resize(20000);  // byte at a time: keep it short
    FedPipe pipe(data);
    auto reader = OpenStream(pipe.fd(), {});
    ASSERT_TRUE(reader) << reader.error().ToString();
    EXPECT_EQ((*reader)->format(), DiskFormat::kRaw);
    EXPECT_FALSE((*reader)->size());
    EXPECT_EQ(Drain(**reader, chunk), data);
    EXPECT_EQ((*reader)->position(), data.size());
    if (chunk == 1) data.resize(3 << 20);
  }
}

TEST(SequentialReaderTest, PromisedSizeIsEnforced) {
  std::vector<uint8_t> data(100000, 0x42);
  {
    FedPipe pipe(data);
    auto reader = OpenStream(pipe.fd(), StreamOptions{data.size()});
    ASSERT_TRUE(reader);
    EXPECT_EQ((*reader)->size(), data.size());
    std::optional<Error> error;
    EXPECT_EQ(Drain(**reader, 8192, &error), data);
    EXPECT_FALSE(error);
  }
  {
    FedPipe pipe(data);
    auto reader = OpenStream(pipe.fd(), StreamOptions{data.size() + 1});
    ASSERT_TRUE(reader);
    std::optional<Error> error;
    Drain(**reader, 8192, &error);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::kDataLoss);
    EXPECT_NE(error->message.find("input smaller than it claims"), std::string::npos);
  }
  for (uint64_t claimed : {uint64_t{100}, uint64_t{99999}}) {  // inside and past the peek
    FedPipe pipe(data);
    auto reader = OpenStream(pipe.fd(), StreamOptions{claimed});
    ASSERT_TRUE(reader);
    std::optional<Error> error;
    auto got = Drain(**reader, 8192, &error);
    EXPECT_EQ(got.size(), claimed);
    ASSERT_TRUE(error);
    EXPECT_EQ(error->code, ErrorCode::kInvalidArgument);
    EXPECT_NE(error->message.find("longer than"), std::string::npos);
    // The reader stays failed.
    std::vector<uint8_t> buf(10);
    EXPECT_FALSE((*reader)->Read(buf));
  }
}

TEST(SequentialReaderTest, RefusesContainersThatNeedSeeking) {
  std::vector<uint8_t> qcow2(8192, 0);
  std::memcpy(qcow2.data(), "QFI\xfb", 4);
  {
    FedPipe pipe(qcow2);
    auto reader = OpenStream(pipe.fd(), {});
    ASSERT_FALSE(reader);
    EXPECT_EQ(reader.error().code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(reader.error().message.find("qcow2 input cannot be read from a pipe"),
              std::string::npos);
  }
  std::vector<uint8_t> vhd(8192, 0);
  std::memcpy(vhd.data(), "conectix", 8);
  {
    FedPipe pipe(vhd);
    EXPECT_EQ(OpenStream(pipe.fd(), {}).error().code, ErrorCode::kFailedPrecondition);
  }
  std::vector<uint8_t> luks(8192, 0);
  std::memcpy(luks.data(), "LUKS\xba\xbe", 6);
  {
    FedPipe pipe(luks);
    auto reader = OpenStream(pipe.fd(), {});
    ASSERT_TRUE(reader);
    EXPECT_EQ((*reader)->format(), DiskFormat::kLuks);
    EXPECT_EQ(Drain(**reader, 1000), luks);
  }
  {
    FedPipe pipe({});
    auto reader = OpenStream(pipe.fd(), {});
    ASSERT_TRUE(reader);
    EXPECT_TRUE(Drain(**reader, 1000).empty());
  }
}

TEST(SequentialReaderTest, ReadsADiskReaderFrontToBack) {
  std::vector<uint8_t> data(1 << 20);
  testutil::FillRandom(data, 9);
  auto disk = std::make_shared<RawReader>(std::make_shared<MemoryFile>(data), DiskFormat::kRaw);
  auto reader = ReadSequentially(disk);
  EXPECT_EQ(reader->size(), data.size());
  EXPECT_EQ(reader->format(), DiskFormat::kRaw);
  EXPECT_EQ(Drain(*reader, 300000), data);
}

}  // namespace
}  // namespace veil::disk
