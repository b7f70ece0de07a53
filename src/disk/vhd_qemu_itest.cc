// VhdReader against VHDs made by qemu-img (the "vpc" driver): fixed, dynamic, with and without
// force_size.
//
// Without force_size qemu-img rounds the size up to a CHS geometry and records the image as made by
// "qemu", so both QEMU and Veil see a virtual disk slightly larger than the source: the source is
// then a prefix and the rest reads as zeros. With force_size ("qem2") the sizes match exactly.
#include <gtest/gtest.h>

#include "disk/disk_reader.h"
#include "disk/internal/big_endian.h"
#include "disk/testing/disk_test_util.h"
#include "disk/vhd_reader.h"

namespace veil::disk {
namespace {

using testutil::QemuMap;
using testutil::ReadAll;
using testutil::RunCommand;

class VhdQemuTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testutil::HaveTool("qemu-img")) GTEST_FAIL() << "qemu-img missing (qemu-utils: make deps)";
    source_ = testutil::PatternDisk(24 << 20);
    testutil::WriteFile(dir_ / "src.raw", source_);
  }

  std::unique_ptr<DiskReader> Convert(const std::string& name, const std::string& options) {
    auto r = RunCommand("qemu-img convert -f raw -O vpc " + options + " " + dir_ / "src.raw" + " " +
                        dir_ / name);
    EXPECT_EQ(r.status, 0) << r.output;
    auto reader = OpenDisk(dir_ / name);
    EXPECT_TRUE(reader) << reader.error().ToString();
    return reader ? std::move(*reader) : nullptr;
  }

  // QEMU's own view of the virtual disk (its virtual size and bytes).
  std::vector<uint8_t> QemuView(const std::string& name) {
    auto r =
        RunCommand("qemu-img convert -f vpc -O raw " + dir_ / name + " " + dir_ / (name + ".raw"));
    EXPECT_EQ(r.status, 0) << r.output;
    return testutil::ReadFile(dir_ / (name + ".raw"));
  }

  testutil::TempDir dir_;
  std::vector<uint8_t> source_;
};

TEST_F(VhdQemuTest, ReadsDynamic) {
  auto reader = Convert("d.vhd", "");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->format(), DiskFormat::kVhd);
  EXPECT_EQ(reader->format_name(), "vhd-dynamic");
  std::vector<uint8_t> seen = ReadAll(*reader);
  EXPECT_EQ(seen, QemuView("d.vhd"));
  // CHS rounding: the source is a prefix, the rest zeros.
  ASSERT_GE(seen.size(), source_.size());
  EXPECT_TRUE(std::equal(source_.begin(), source_.end(), seen.begin()));
  EXPECT_TRUE(internal::IsAllZero(seen.data() + source_.size(), seen.size() - source_.size()));
  auto ours = reader->FullAllocation();
  ASSERT_TRUE(ours);
  EXPECT_EQ(*ours, QemuMap("-f vpc " + dir_ / "d.vhd"));
}

TEST_F(VhdQemuTest, ReadsDynamicWithForcedSize) {
  auto reader = Convert("d2.vhd", "-o force_size=on");
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->virtual_size(), source_.size());
  EXPECT_EQ(ReadAll(*reader, 99999), source_);
  EXPECT_EQ(ReadAll(*reader), QemuView("d2.vhd"));
}

TEST_F(VhdQemuTest, ReadsFixed) {
  for (const char* options : {"-o subformat=fixed", "-o subformat=fixed,force_size=on"}) {
    auto reader = Convert("f.vhd", options);
    ASSERT_TRUE(reader);
    EXPECT_EQ(reader->format_name(), "vhd-fixed");
    std::vector<uint8_t> seen = ReadAll(*reader);
    EXPECT_EQ(seen, QemuView("f.vhd")) << options;
    ASSERT_GE(seen.size(), source_.size());
    EXPECT_TRUE(std::equal(source_.begin(), source_.end(), seen.begin()));
    std::filesystem::remove(dir_ / "f.vhd");
  }
}

TEST_F(VhdQemuTest, RefusesADamagedFooter) {
  auto reader = Convert("bad.vhd", "");
  ASSERT_TRUE(reader);
  reader.reset();
  std::vector<uint8_t> image = testutil::ReadFile(dir_ / "bad.vhd");
  image[48] ^= 0x40;  // current size in the footer copy at offset 0
  testutil::WriteFile(dir_ / "bad.vhd", image);
  auto damaged = OpenDisk(dir_ / "bad.vhd");
  ASSERT_FALSE(damaged);
  EXPECT_EQ(damaged.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(damaged.error().message.find("checksum"), std::string::npos);
  // QEMU agrees that the image is damaged.
  EXPECT_NE(RunCommand("qemu-img info -f vpc " + dir_ / "bad.vhd").status, 0);
}

}  // namespace
}  // namespace veil::disk
