#include "disk/disk_reader.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "disk/qcow2_writer.h"
#include "disk/raw_reader.h"
#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using testutil::TempDir;

std::vector<uint8_t> Bytes(std::string_view text, size_t size = 4096) {
  std::vector<uint8_t> b(size, 0);
  std::memcpy(b.data(), text.data(), text.size());
  return b;
}

DiskFormat Detect(std::vector<uint8_t> bytes) {
  MemoryFile file(std::move(bytes));
  auto format = DetectFormat(file);
  EXPECT_TRUE(format);
  return *format;
}

TEST(DetectFormatTest, NamesContainersByTheirMagic) {
  EXPECT_EQ(Detect(Bytes("QFI\xfb")), DiskFormat::kQcow2);
  EXPECT_EQ(Detect(Bytes(std::string_view("LUKS\xba\xbe\0\x01", 8))), DiskFormat::kLuks);
  EXPECT_EQ(Detect(Bytes("conectix")), DiskFormat::kVhd);
  std::vector<uint8_t> fixed(8192, 0x33);
  std::memcpy(&fixed[8192 - 512], "conectix", 8);
  EXPECT_EQ(Detect(fixed), DiskFormat::kVhd);
  EXPECT_EQ(Detect(Bytes("QFI")), DiskFormat::kRaw);
  EXPECT_EQ(Detect(Bytes("LUKS\xba")), DiskFormat::kRaw);
  EXPECT_EQ(Detect({}), DiskFormat::kRaw);
  EXPECT_EQ(Detect({'Q', 'F', 'I'}), DiskFormat::kRaw);  // shorter than the magic
  EXPECT_EQ(DiskFormatName(DiskFormat::kLuks), "luks");
  EXPECT_EQ(DetectFormatFromHead(Bytes("QFI\xfb")), DiskFormat::kQcow2);
}

TEST(OpenDiskTest, RawFileReadsAsItIs) {
  TempDir dir;
  std::vector<uint8_t> data(3 << 20);
  testutil::FillRandom(data, 1);
  testutil::WriteFile(dir / "disk.img", data);
  auto reader = OpenDisk(dir / "disk.img");
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ((*reader)->format(), DiskFormat::kRaw);
  EXPECT_EQ((*reader)->format_name(), "raw");
  EXPECT_EQ((*reader)->virtual_size(), data.size());
  EXPECT_EQ((*reader)->encryption(), nullptr);
  EXPECT_EQ(testutil::ReadAll(**reader, 100001), data);
  std::vector<uint8_t> buf(10);
  EXPECT_EQ((*reader)->ReadAt(data.size() + 1, buf).error().code, ErrorCode::kOutOfRange);
  EXPECT_EQ((*reader)->ReadRawAt(0, buf).error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ((*reader)
                ->SetDecryptor([](std::span<uint8_t>, uint64_t) { return OkStatus(); }, 512)
                .error()
                .code,
            ErrorCode::kFailedPrecondition);
}

TEST(OpenDiskTest, LuksFileIsReportedAsLuks) {
  TempDir dir;
  testutil::WriteFile(dir / "x.luks", Bytes(std::string_view("LUKS\xba\xbe\0\x02", 8), 1 << 16));
  auto reader = OpenDisk(dir / "x.luks");
  ASSERT_TRUE(reader);
  EXPECT_EQ((*reader)->format(), DiskFormat::kLuks);
  EXPECT_EQ((*reader)->format_name(), "luks");
}

TEST(OpenDiskTest, ErrorsNameTheFile) {
  TempDir dir;
  auto missing = OpenDisk(dir / "missing.img");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(OpenDisk(dir.path()).error().code, ErrorCode::kInvalidArgument);
  // A damaged qcow2: the message says which file.
  std::vector<uint8_t> bad = Bytes("QFI\xfb");
  bad[7] = 9;  // version 9
  testutil::WriteFile(dir / "bad.qcow2", bad);
  auto damaged = OpenDisk(dir / "bad.qcow2");
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(damaged.error().message.find("bad.qcow2: qcow2 version 9"), std::string::npos)
      << damaged.error().message;
}

TEST(OpenDiskTest, PipeIsRefusedWithAHint) {
  TempDir dir;
  ASSERT_EQ(::mkfifo((dir / "fifo").c_str(), 0600), 0);
  // Opening a FIFO for reading blocks until a writer appears: open a writer first, non-blocking.
  int keep = ::open((dir / "fifo").c_str(), O_RDWR | O_NONBLOCK);
  ASSERT_GE(keep, 0);
  auto reader = OpenDisk(dir / "fifo");
  ::close(keep);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(reader.error().message.find("stream"), std::string::npos);
}

TEST(OpenDiskTest, SparseRawFileReportsItsHoles) {
  TempDir dir;
  const std::string path = dir / "sparse.img";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> block(1 << 20, 0x77);
  ASSERT_EQ(::pwrite(fd, block.data(), block.size(), 4 << 20), static_cast<ssize_t>(block.size()));
  ASSERT_EQ(::ftruncate(fd, 16 << 20), 0);
  ::close(fd);
  auto reader = OpenDisk(path);
  ASSERT_TRUE(reader);
  auto extents = (*reader)->FullAllocation();
  ASSERT_TRUE(extents);
  // File systems without SEEK_HOLE report everything as data, which is also correct.
  if (extents->size() == 1) GTEST_SKIP() << "this file system does not report holes";
  EXPECT_EQ(*extents,
            (std::vector<Extent>{
                {0, 4 << 20, false}, {4 << 20, 1 << 20, true}, {5 << 20, 11 << 20, false}}));
  auto window = (*reader)->Allocation(3 << 20, 2 << 20);
  ASSERT_TRUE(window);
  EXPECT_EQ(*window, (std::vector<Extent>{{3 << 20, 1 << 20, false}, {4 << 20, 1 << 20, true}}));
}

TEST(OpenDiskTest, ConcurrentReadsOfQcow2AreConsistent) {
  TempDir dir;
  std::vector<uint8_t> disk = testutil::PatternDisk(16 << 20);
  {
    Qcow2WriterOptions o;
    o.virtual_size = disk.size();
    auto writer = Qcow2Writer::Create(dir / "c.qcow2", o);
    ASSERT_TRUE(writer);
    for (uint64_t c = 0; c < (*writer)->cluster_count(); ++c) {
      ASSERT_TRUE((*writer)->WriteCluster(c, std::span(disk).subspan(c * 65536, 65536)));
    }
    ASSERT_TRUE((*writer)->Finish());
  }
  auto reader = OpenDisk(dir / "c.qcow2");
  ASSERT_TRUE(reader);
  std::vector<uint8_t> out(disk.size());
  std::atomic<int> failures{0};
  auto work = [&](int id) {
    // Interleaved, odd-sized ranges so that threads touch the same L2 tables at once.
    const size_t chunk = 100003;
    for (size_t i = id; i * chunk < out.size(); i += 4) {
      size_t len = std::min(chunk, out.size() - i * chunk);
      auto n = (*reader)->ReadAt(i * chunk, std::span(out).subspan(i * chunk, len));
      if (!n || *n != len) ++failures;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(work, t);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(out, disk);
}

}  // namespace
}  // namespace veil::disk
