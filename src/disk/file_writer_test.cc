#include "disk/file_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using testutil::TempDir;

TEST(FileWriterTest, WritesAtOffsetsFromManyThreadsAndKeepsZerosAsHoles) {
  TempDir dir;
  const std::string path = dir / "out.img";
  const size_t block = 1 << 20;
  std::vector<uint8_t> expected(32 * block, 0);
  for (size_t b = 0; b < 32; b += 3)
    testutil::FillRandom(std::span(expected).subspan(b * block, block), b);
  FileWriterOptions options;
  options.size = expected.size();  // the last block is zeros: only the size makes it exist
  auto writer = FileWriter::Create(path, options);
  ASSERT_TRUE(writer);
  auto work = [&](size_t first) {
    for (size_t b = first; b < 32; b += 2) {
      ASSERT_TRUE((*writer)->WriteAt(b * block, std::span(expected).subspan(b * block, block)));
    }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  ASSERT_TRUE((*writer)->Finish());
  EXPECT_EQ(testutil::ReadFile(path), expected);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // 11 data blocks written; the 21 zero blocks stay holes (allow file system metadata slack).
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 13 * block);
  EXPECT_EQ((*writer)->Finish().error().code, ErrorCode::kFailedPrecondition);
}

TEST(FileWriterTest, DirectWritesAlignedRangesAndBuffersTheRest) {
  TempDir dir;
  const std::string path = dir / "direct.img";
  const size_t block = 1 << 20;
  const size_t size = 8 * block + 1536;  // a tail that is a multiple of 512 only
  std::vector<uint8_t> expected(size);
  testutil::FillRandom(expected, 7);
  // Aligned memory, as the pipeline's buffers are. aligned_alloc wants a size that is a multiple
  // of the alignment (C11 7.22.3.1; ASan reports any other size).
  const size_t capacity = (size + 4095) / 4096 * 4096;
  auto* aligned = static_cast<uint8_t*>(std::aligned_alloc(4096, capacity));
  ASSERT_NE(aligned, nullptr);
  std::unique_ptr<uint8_t, decltype(&std::free)> owner(aligned, &std::free);
  std::memcpy(aligned, expected.data(), size);
  FileWriterOptions options;
  options.direct = true;
  options.size = size;
  auto writer = FileWriter::Create(path, options);
  ASSERT_TRUE(writer);
  // Whether O_DIRECT is used depends on the file system under TMPDIR: the bytes must be right
  // either way.
  auto work = [&](size_t first) {
    for (size_t b = first; b < 8; b += 2) {
      ASSERT_TRUE((*writer)->WriteAt(b * block, std::span(aligned + b * block, block)));
    }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  // Unaligned: a tail whose length is not a multiple of 4096, and a range from unaligned memory.
  ASSERT_TRUE((*writer)->WriteAt(8 * block, std::span(aligned + 8 * block, 1536)));
  ASSERT_TRUE((*writer)->WriteAt(4096, std::span(expected).subspan(4096, 8192)));
  ASSERT_TRUE((*writer)->Finish());
  EXPECT_EQ(testutil::ReadFile(path), expected);
}

// In a tmpfs the file is memory already: O_DIRECT (accepted there since Linux 6.6) is not used.
TEST(FileWriterTest, NoDirectWritesInATmpfs) {
  struct statfs fs {};
  ASSERT_EQ(::statfs("/dev/shm", &fs), 0) << "this test needs the tmpfs at /dev/shm";
  ASSERT_EQ(static_cast<unsigned long>(fs.f_type), TMPFS_MAGIC) << "/dev/shm is not a tmpfs";
  char tmpl[] = "/dev/shm/veil-writer-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/out.img";
  FileWriterOptions options;
  options.direct = true;
  auto writer = FileWriter::Create(path, options);
  ASSERT_TRUE(writer);
  EXPECT_FALSE((*writer)->direct());
  std::vector<uint8_t> bytes(8192, 0x5a);
  ASSERT_TRUE((*writer)->WriteAt(0, bytes));
  ASSERT_TRUE((*writer)->Finish());
  EXPECT_EQ(testutil::ReadFile(path), bytes);
  ::unlink(path.c_str());
  ::rmdir(tmpl);
}

TEST(FileWriterTest, SizeDefaultsToTheFurthestWriteAndZerosCanBeWritten) {
  TempDir dir;
  FileWriterOptions options;
  options.skip_zeros = false;
  auto writer = FileWriter::Create(dir / "dense.img", options);
  ASSERT_TRUE(writer);
  std::vector<uint8_t> zeros(8192, 0);
  ASSERT_TRUE((*writer)->WriteAt(4096, zeros));
  ASSERT_TRUE((*writer)->Finish());
  EXPECT_EQ(testutil::ReadFile(dir / "dense.img"), std::vector<uint8_t>(12288, 0));
}

TEST(FileWriterTest, RefusesExistingPathsAndCleansUpWhenAbandoned) {
  TempDir dir;
  testutil::WriteFile(dir / "there", std::vector<uint8_t>{1, 2, 3});
  EXPECT_EQ(FileWriter::Create(dir / "there", {}).error().code, ErrorCode::kAlreadyExists);
  EXPECT_EQ(testutil::ReadFile(dir / "there"), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(FileWriter::Create(dir / "none/x", {}).error().code, ErrorCode::kNotFound);
  {
    auto writer = FileWriter::Create(dir / "tmp.img", {});
    ASSERT_TRUE(writer);
    ASSERT_TRUE((*writer)->WriteAt(0, std::vector<uint8_t>(100, 9)));
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "tmp.img"));
}

TEST(StreamWriterTest, WritesAPipeInOrderAndReportsAClosedReader) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::vector<uint8_t> data(1 << 20);
  testutil::FillRandom(data, 3);
  std::vector<uint8_t> received;
  std::thread reader([&] {
    std::vector<uint8_t> buf(65536);
    ssize_t n;
    while ((n = ::read(fds[0], buf.data(), buf.size())) > 0) {
      received.insert(received.end(), buf.begin(), buf.begin() + n);
    }
  });
  {
    StreamWriter writer(fds[1]);
    ASSERT_TRUE(writer.Write(std::span(data).first(1000)));
    ASSERT_TRUE(writer.Write(std::span(data).subspan(1000)));
    ASSERT_TRUE(writer.Finish());
    EXPECT_EQ(writer.bytes_written(), data.size());
  }
  ::close(fds[1]);
  reader.join();
  ::close(fds[0]);
  EXPECT_EQ(received, data);

  signal(SIGPIPE, SIG_IGN);
  ASSERT_EQ(::pipe(fds), 0);
  ::close(fds[0]);
  StreamWriter orphan(fds[1]);
  auto status = orphan.Write(data);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
  ::close(fds[1]);
}

TEST(StreamWriterTest, FsyncsARegularFile) {
  TempDir dir;
  int fd = ::open((dir / "stdout.img").c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  StreamWriter writer(fd);
  ASSERT_TRUE(writer.Write(std::vector<uint8_t>(5000, 1)));
  ASSERT_TRUE(writer.Finish());
  ::close(fd);
  EXPECT_EQ(testutil::ReadFile(dir / "stdout.img"), std::vector<uint8_t>(5000, 1));
}

}  // namespace
}  // namespace veil::disk
