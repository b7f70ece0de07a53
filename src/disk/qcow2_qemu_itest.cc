// Qcow2Reader and Qcow2Writer against the real qemu-img and qemu-io (Debian's qemu-utils): images
// QEMU makes read back byte for byte, and images Veil makes pass `qemu-img check` and compare
// equal.
#include <gtest/gtest.h>

#include "disk/disk_reader.h"
#include "disk/internal/big_endian.h"
#include "disk/qcow2_reader.h"
#include "disk/qcow2_writer.h"
#include "disk/testing/disk_test_util.h"

namespace veil::disk {
namespace {

using testutil::QemuMap;
using testutil::ReadAll;
using testutil::RunCommand;

class Qcow2QemuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testutil::HaveTool("qemu-img") || !testutil::HaveTool("qemu-io")) {
      GTEST_FAIL() << "qemu-img/qemu-io missing (Debian package qemu-utils: make deps)";
    }
    source_ = testutil::PatternDisk(32 << 20);
    testutil::WriteFile(Path("src.raw"), source_);
  }
  std::string Path(const std::string& name) const { return dir_ / name; }

  // qemu-img convert src.raw -> name with `options`; returns the opened reader.
  std::unique_ptr<DiskReader> Convert(const std::string& name, const std::string& options) {
    auto r = RunCommand("qemu-img convert -f raw -O qcow2 " + options + " " + Path("src.raw") +
                        " " + Path(name));
    EXPECT_EQ(r.status, 0) << r.output;
    auto reader = OpenDisk(Path(name));
    EXPECT_TRUE(reader) << reader.error().ToString();
    return reader ? std::move(*reader) : nullptr;
  }

  void ExpectSameAllocationAsQemu(const DiskReader& reader, const std::string& name) {
    auto ours = reader.FullAllocation();
    ASSERT_TRUE(ours) << ours.error().ToString();
    EXPECT_EQ(*ours, QemuMap("-f qcow2 " + Path(name))) << name;
  }

  testutil::TempDir dir_;
  std::vector<uint8_t> source_;
};

TEST_F(Qcow2QemuTest, ReadsVersion3) {
  auto reader = Convert("v3.qcow2", "-o compat=1.1");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->format(), DiskFormat::kQcow2);
  EXPECT_EQ(static_cast<Qcow2Reader&>(*reader).version(), 3u);
  EXPECT_EQ(ReadAll(*reader), source_);
  EXPECT_EQ(ReadAll(*reader, 65537), source_);
  ExpectSameAllocationAsQemu(*reader, "v3.qcow2");
}

TEST_F(Qcow2QemuTest, ReadsVersion2) {
  auto reader = Convert("v2.qcow2", "-o compat=0.10");
  ASSERT_TRUE(reader);
  EXPECT_EQ(static_cast<Qcow2Reader&>(*reader).version(), 2u);
  EXPECT_EQ(ReadAll(*reader), source_);
  ExpectSameAllocationAsQemu(*reader, "v2.qcow2");
}

TEST_F(Qcow2QemuTest, ReadsCompressedClusters) {
  for (const char* compat : {"1.1", "0.10"}) {
    const std::string name = std::string("c") + compat + ".qcow2";
    auto reader = Convert(name, std::string("-c -o compat=") + compat);
    ASSERT_TRUE(reader);
    // qemu-img check confirms that the image really holds compressed clusters.
    auto check = RunCommand("qemu-img check " + Path(name));
    EXPECT_EQ(check.output.find(" 0.00% compressed"), std::string::npos) << check.output;
    EXPECT_EQ(ReadAll(*reader), source_) << compat;
    EXPECT_EQ(ReadAll(*reader, 4097), source_) << compat;
    ExpectSameAllocationAsQemu(*reader, name);
  }
}

TEST_F(Qcow2QemuTest, ReadsSmallestAndLargestClusters) {
  for (const char* size : {"512", "2M"}) {
    const std::string name = std::string("cs") + size + ".qcow2";
    auto reader = Convert(name, std::string("-o cluster_size=") + size);
    ASSERT_TRUE(reader);
    EXPECT_EQ(ReadAll(*reader), source_) << size;
    ExpectSameAllocationAsQemu(*reader, name);
  }
  auto reader = Convert("cs512c.qcow2", "-c -o cluster_size=512");
  ASSERT_TRUE(reader);
  EXPECT_EQ(ReadAll(*reader), source_);
}

// An image as a guest leaves it: partial-cluster writes, zero writes (the zero flag), discards,
// and an internal snapshot (ignored: the active state is read).
TEST_F(Qcow2QemuTest, ReadsWhatQemuIoWrote) {
  const std::string img = Path("live.qcow2");
  ASSERT_EQ(RunCommand("qemu-img create -q -f qcow2 " + img + " 24M").status, 0);
  auto io = [&](const std::string& commands) {
    auto r = RunCommand("qemu-io -f qcow2 " + commands + " " + img);
    ASSERT_EQ(r.status, 0) << r.output;
  };
  io("-c 'write -P 0x11 0 1M' -c 'write -P 0x22 3M 4k' -c 'write -P 0x33 8191k 2k'");
  ASSERT_EQ(RunCommand("qemu-img snapshot -c before " + img).status, 0);
  io("-c 'write -P 0x44 64k 64k' -c 'write -z 512k 128k' -c 'discard 0 64k' "
     "-c 'write -P 0x55 23M 1M' -c 'write -z -u 3M 64k'");
  ASSERT_EQ(RunCommand("qemu-img convert -f qcow2 -O raw " + img + " " + Path("live.raw")).status,
            0);
  auto reader = OpenDisk(img);
  ASSERT_TRUE(reader) << reader.error().ToString();
  EXPECT_EQ(ReadAll(**reader), testutil::ReadFile(Path("live.raw")));
  EXPECT_EQ(ReadAll(**reader, 1000), testutil::ReadFile(Path("live.raw")));
  ExpectSameAllocationAsQemu(**reader, "live.qcow2");
}

TEST_F(Qcow2QemuTest, RefusesWhatItDoesNotSupport) {
  ASSERT_EQ(RunCommand("qemu-img create -q -f qcow2 " + Path("base.qcow2") + " 4M").status, 0);
  ASSERT_EQ(RunCommand("qemu-img create -q -f qcow2 -b " + Path("base.qcow2") + " -F qcow2 " +
                       Path("overlay.qcow2"))
                .status,
            0);
  auto overlay = OpenDisk(Path("overlay.qcow2"));
  ASSERT_FALSE(overlay);
  EXPECT_EQ(overlay.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(overlay.error().message.find("qcow2 with a backing file is not supported"),
            std::string::npos);

  ASSERT_EQ(RunCommand("qemu-img create -q -f qcow2 -o extended_l2=on " + Path("sub.qcow2") + " 4M")
                .status,
            0);
  EXPECT_EQ(OpenDisk(Path("sub.qcow2")).error().code, ErrorCode::kInvalidArgument);

  if (RunCommand("qemu-img create -q -f qcow2 -o compression_type=zstd " + Path("z.qcow2") + " 4M")
          .status == 0) {
    auto zstd = OpenDisk(Path("z.qcow2"));
    ASSERT_FALSE(zstd);
    EXPECT_NE(zstd.error().message.find("zstd"), std::string::npos);
  }
  if (RunCommand("qemu-img create -q --object secret,id=s,data=abc -f qcow2 "
                 "-o encrypt.format=aes,encrypt.key-secret=s " +
                 Path("aes.qcow2") + " 4M")
          .status == 0) {
    auto aes = OpenDisk(Path("aes.qcow2"));
    ASSERT_FALSE(aes);
    EXPECT_NE(aes.error().message.find("legacy AES"), std::string::npos);
  }
}

// Writes `disk` through Qcow2Writer::WriteCluster.
void WriteQcow2(const std::string& path, std::span<const uint8_t> disk, uint32_t cluster_bits) {
  Qcow2WriterOptions options;
  options.virtual_size = disk.size();
  options.cluster_bits = cluster_bits;
  auto writer = Qcow2Writer::Create(path, options);
  ASSERT_TRUE(writer) << writer.error().ToString();
  const uint64_t cs = (*writer)->cluster_size();
  for (uint64_t c = 0; c < (*writer)->cluster_count(); ++c) {
    ASSERT_TRUE((*writer)->WriteCluster(c, disk.subspan(c * cs, cs)));
  }
  ASSERT_TRUE((*writer)->Finish());
}

TEST_F(Qcow2QemuTest, WriterOutputPassesQemuImgCheckAndCompare) {
  for (uint32_t bits : {9u, 16u, 21u}) {
    const std::string out = Path("veil" + std::to_string(bits) + ".qcow2");
    WriteQcow2(out, source_, bits);
    auto check = RunCommand("qemu-img check -f qcow2 " + out);
    EXPECT_EQ(check.status, 0) << check.output;
    EXPECT_NE(check.output.find("No errors were found on the image."), std::string::npos)
        << check.output;
    EXPECT_EQ(check.output.find("leaked"), std::string::npos) << check.output;
    auto compare = RunCommand("qemu-img compare -f raw -F qcow2 " + Path("src.raw") + " " + out);
    EXPECT_EQ(compare.status, 0) << compare.output;
    EXPECT_NE(compare.output.find("Images are identical."), std::string::npos);
    auto info = RunCommand("qemu-img info -f qcow2 " + out);
    EXPECT_NE(info.output.find("compat: 1.1"), std::string::npos) << info.output;

    // Holes stay holes: QEMU maps exactly the non-zero clusters as data.
    const uint64_t cs = uint64_t{1} << bits;
    std::vector<Extent> expected;
    for (uint64_t c = 0; c * cs < source_.size(); ++c) {
      AppendExtent(&expected, c * cs, cs, !internal::IsAllZero(source_.data() + c * cs, cs));
    }
    EXPECT_EQ(QemuMap("-f qcow2 " + out), expected) << bits;
  }
}

TEST_F(Qcow2QemuTest, QemuCanKeepWritingToWriterOutput) {
  // Refcounts must be right for QEMU's own allocator: grow the image with qemu-io, check again.
  const std::string out = Path("grow.qcow2");
  WriteQcow2(out, source_, 16);
  auto io =
      RunCommand("qemu-io -f qcow2 -c 'write -P 0x99 2M 3M' -c 'write -P 0x98 31M 1M' " + out);
  ASSERT_EQ(io.status, 0) << io.output;
  auto check = RunCommand("qemu-img check -f qcow2 " + out);
  EXPECT_EQ(check.status, 0) << check.output;
  std::vector<uint8_t> expected = source_;
  std::memset(expected.data() + (2 << 20), 0x99, 3 << 20);
  std::memset(expected.data() + (31 << 20), 0x98, 1 << 20);
  auto reader = OpenDisk(out);
  ASSERT_TRUE(reader);
  EXPECT_EQ(ReadAll(**reader), expected);
}

}  // namespace
}  // namespace veil::disk
